"""A pytest helper: assert the verdicts of your own variants in your own test suite.

    from ackproof.testing import assert_verdicts
    from my_variant import my_protocol

    def test_my_protocol() -> None:
        assert_verdicts(my_protocol, holds=["no-loss", "no-phantom"],
                        violated={"no-duplicate": 4}, messages=2)

``violated`` maps a property to the exact length of its shortest counterexample (or
``None`` for any length).  A failing assertion shows the counterexample as a table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ackproof.proofs import EngineName
from ackproof.run import run_one
from ackproof.spec import Faults, ProtocolDef


def assert_verdicts(
    protocol: ProtocolDef,
    *,
    holds: Iterable[str] = (),
    violated: Mapping[str, int | None] | None = None,
    messages: int | None = None,
    faults: Faults | None = None,
    engine: EngineName = "auto",
    depth: int = 30,
) -> None:
    """Fail (``AssertionError``) unless every property has the stated verdict."""
    from ackproof.proofs.trace import table

    system = protocol.system(messages, faults)
    problems: list[str] = []
    for prop in holds:
        result, cx = run_one(system, prop, engine=engine, depth=depth)
        if result.verdict not in ("proved", "holds"):
            extra = f"\n{table(cx)}" if cx is not None else ""
            problems.append(f"{prop}: expected it to hold, got {result.verdict}{extra}")
    for prop, length in (violated or {}).items():
        result, cx = run_one(system, prop, engine=engine, depth=depth)
        if result.verdict != "violated" or cx is None:
            problems.append(f"{prop}: expected a violation, got {result.verdict}")
        elif length is not None and cx.length != length:
            problems.append(
                f"{prop}: expected a shortest counterexample of {length} steps, "
                f"got {cx.length}\n{table(cx)}"
            )
    if problems:
        raise AssertionError(f"{protocol.name}: " + "\n".join(problems))
