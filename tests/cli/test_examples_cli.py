"""``ackproof check`` on every shipped example and broken variant; the pytest helper; progress."""

from __future__ import annotations

import io
import json

import pytest

from ackproof.cli import main
from ackproof.output import Progress
from ackproof.proofs import check
from ackproof.proofs.trace import decode, mermaid, table, to_json
from ackproof.spec.examples import EXAMPLES
from ackproof.spec.explore import explore
from ackproof.spec.protocols import BROKEN, BUILTIN
from ackproof.testing import assert_verdicts

#: Examples whose liveness part the bounded model cannot decide (exit 3): each run that
#: fails to deliver gets stuck only because every step that would go on must send into a
#: full channel (premature timers fill both directions).
UNDECIDED = {"mqtt-qos2-two-ids": "undecided at channel capacity 2"}


def expected_exit(name: str) -> int:
    """1 when the explicit engine finds a claimed property violated, 3 when it cannot
    decide, else 0."""
    pdef = EXAMPLES[name]
    r = explore(pdef.system(), pdef.claims, stop_when_decided=True)
    return 1 if r.violations else 3 if name in UNDECIDED else 0


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_check_gives_each_example_its_verdict_and_exit_code(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["check", name, "--json", "--quiet", "--engine", "explicit"])
    doc = json.loads(capsys.readouterr().out)
    assert code == expected_exit(name)
    verdicts = {r["property"]: r["verdict"] for r in doc["results"]}
    assert set(verdicts) == set(EXAMPLES[name].claims)
    if code == 0:
        assert set(verdicts.values()) <= {"proved", "holds"}
    elif code == 3:
        details = [r["detail"] for r in doc["results"] if r["verdict"] == "inconclusive"]
        assert details
        assert all(UNDECIDED[name] in d for d in details)
    else:
        assert "violated" in verdicts.values()


CASES = [(p, prop) for p, prop in BROKEN.values()] + [
    (p, prop) for p in EXAMPLES.values() for prop in p.claims
]


@pytest.mark.parametrize(("pdef", "prop"), CASES, ids=[f"{p.name}:{q}" for p, q in CASES])
def test_every_counterexample_renders_and_replays(pdef: object, prop: str) -> None:
    from ackproof.spec import ProtocolDef

    assert isinstance(pdef, ProtocolDef)
    system = pdef.system()
    result = check(system, prop, engine="explicit")
    if result.counterexample is None:
        ok = ("proved", "holds", "inconclusive") if pdef.name in UNDECIDED else ("proved", "holds")
        assert result.verdict in ok
        return
    cx = decode(system, prop, result.counterexample)  # replays on the interpreter first
    assert cx.length == len(result.counterexample) > 0
    text = table(cx)
    assert text.count("\n") >= cx.length + 2
    assert f"{prop} violated" in text
    chart = mermaid(cx)
    assert chart.startswith("sequenceDiagram")
    assert f"VIOLATED {prop}" in chart
    doc = json.loads(json.dumps(to_json(cx)))
    assert doc["length"] == len(doc["steps"]) == cx.length


def test_assert_verdicts_passes_and_fails_honestly() -> None:
    assert_verdicts(BUILTIN["exactly-once"], holds=["no-loss", "no-duplicate"], messages=1)
    assert_verdicts(BROKEN["mark-before-process"][0], violated={"no-loss": 5}, messages=1)
    with pytest.raises(AssertionError, match="expected it to hold, got violated"):
        assert_verdicts(BUILTIN["at-least-once"], holds=["no-duplicate"], messages=1)
    with pytest.raises(AssertionError, match="expected a shortest counterexample of 3 steps"):
        assert_verdicts(BROKEN["mark-before-process"][0], violated={"no-loss": 3}, messages=1)


class FakeTTY(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def test_progress_only_on_a_terminal_and_not_when_quiet() -> None:
    for tty, quiet, shown in ((True, False, True), (False, False, False), (True, True, False)):
        stream = FakeTTY(tty)
        p = Progress(quiet, stream)
        p.show("[1/2] exactly-once / loss / no-loss")
        p.done()
        assert ("exactly-once" in stream.getvalue()) is shown
