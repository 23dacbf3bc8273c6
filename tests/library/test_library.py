"""The library: every entry gives exactly the verdicts it pins, at its own bounds.

Parametrized over :data:`ackproof.spec.library.LIBRARY`, so a new module's entries are
checked here with no edit.  For each entry the explicit engine explores the state space
(in full whenever some property is expected to hold):

* a property expected to hold is not violated anywhere, and its witness (a run that
  submits and processes every message) is reachable — no verdict is vacuous;
* a property expected to be violated is, with a shortest counterexample of exactly the
  pinned length (breadth-first: the first violation found is a shortest one).

For the entries whose counterexamples are short, BMC must agree with the explicit
engine on the verdict and on the shortest length; and every library module loads through
the CLI's loader (``ackproof check spec/library/<file>.py``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from ackproof.cli import main
from ackproof.proofs import check, check_many
from ackproof.spec import explore
from ackproof.spec.library import LIBRARY, Entry

LIBRARY_DIR = Path(__file__).resolve().parents[2] / "spec" / "library"
MODULES = sorted(p for p in LIBRARY_DIR.glob("*.py") if not p.name.startswith("_"))
SYSTEMS = {
    "MQTT",
    "AMQP",
    "Kafka",
    "Dedup windows",
    "Consumer patterns",
    "Outbox/inbox",
    "Textbook",
}
#: BMC re-checks the violated properties whose shortest counterexample is at most this long.
BMC_MAX_LENGTH = 7


def _id(entry: Entry) -> str:
    return entry.name


@pytest.mark.parametrize("entry", LIBRARY, ids=_id)
def test_an_entry_gives_exactly_its_expected_verdicts(entry: Entry) -> None:
    props = list(entry.expected)
    everything_violated = all(v == "violated" for v in entry.expected.values())
    r = explore(entry.protocol.system(entry.bound), props, stop_when_decided=everything_violated)
    if not everything_violated:
        assert r.complete, f"{entry.name}: a 'holds' verdict needs the whole state space"
    got = {p: "violated" if p in r.violations else "holds" for p in props}
    assert got == entry.expected
    for p, verdict in entry.expected.items():
        if verdict == "holds":
            assert p in r.witnesses, f"{entry.name}: {p} holds vacuously (no witness)"
    assert {p: len(path) for p, path in r.violations.items()} == entry.shortest


@pytest.mark.parametrize("entry", LIBRARY, ids=_id)
def test_an_entry_is_described(entry: Entry) -> None:
    assert entry.system in SYSTEMS, f"{entry.name}: unknown system {entry.system!r}"
    assert entry.source.strip(), f"{entry.name}: cite the source"
    assert entry.protocol.description.strip(), f"{entry.name}: describe the protocol"
    assert entry.expected, f"{entry.name}: expects nothing"


FAST = [
    (e, p)
    for e in LIBRARY
    for p, n in sorted(e.shortest.items())
    if n <= BMC_MAX_LENGTH and e.expected[p] == "violated"
]


@pytest.mark.parametrize(("entry", "prop"), FAST, ids=[f"{e.name}:{p}" for e, p in FAST])
def test_bmc_agrees_with_explicit_on_the_short_counterexamples(entry: Entry, prop: str) -> None:
    system = entry.protocol.system(entry.bound)
    got = check(system, prop, engine="bmc", depth=entry.shortest[prop])
    assert got.verdict == "violated", got.detail
    assert got.counterexample is not None
    assert len(got.counterexample) == entry.shortest[prop]


#: Entries small enough for BMC to check every pinned property, holding ones included, to
#: a depth that reaches their witnesses.
BMC_WHOLE = ("mqtt-qos2-method-b", "amqp-settle-second", "consumer-inbox")
BMC_DEPTH = 8


@pytest.mark.parametrize("name", BMC_WHOLE)
def test_bmc_agrees_with_explicit_on_every_pinned_property(name: str) -> None:
    entry = next((e for e in LIBRARY if e.name == name), None)
    if entry is None:
        pytest.skip(f"{name} is not in this library")
    results = check_many(
        entry.protocol.system(entry.bound), list(entry.expected), engine="bmc", depth=BMC_DEPTH
    )
    for prop, want in entry.expected.items():
        got = results[prop]
        if want == "holds":
            assert got.verdict == "holds", (prop, got.detail)  # witness reached, no violation
        else:
            assert got.verdict == "violated", (prop, got.detail)
            assert got.counterexample is not None
            assert len(got.counterexample) == entry.shortest[prop]


#: What a library module may import besides the standard library: the spec, and
#: ``Entry`` — a file a user could have written.
ALLOWED_IMPORTS = {"ackproof.spec", "ackproof.spec.library"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_a_library_module_imports_only_the_spec(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            imported.add(node.module or "")
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    stdlib = {m for m in imported if m.split(".")[0] in sys.stdlib_module_names}
    stdlib.add("__future__")
    other = imported - stdlib - ALLOWED_IMPORTS
    assert not other, f"{path.name}: imports {sorted(other)}"


def test_every_library_module_defines_entries_and_cites_its_source() -> None:
    assert MODULES, "the library is empty"
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        assert "ENTRIES: list[Entry]" in text, path.name
        head = text.split('"""')[1]
        assert "http" in head or "§" in head or "KIP" in head, f"{path.name}: cite the source"


@pytest.mark.parametrize("module", ["mqtt.py", "consumer.py"])
def test_a_library_module_loads_through_the_cli(
    module: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = LIBRARY_DIR / module
    if not path.exists():
        pytest.skip(f"{module} is not in this library")
    mine = [e for e in LIBRARY if e.protocol.build.__module__.endswith("." + path.stem)]
    assert mine, f"{module}: no entries"
    # The first entry whose claims are decided by the safety properties it pins.
    entry = next(e for e in mine if set(e.protocol.claims) <= set(e.expected))
    code = main(["check", str(path), "--protocol", entry.name, "--engine", "explicit", "--quiet"])
    out = capsys.readouterr()
    broken = any(entry.expected[p] == "violated" for p in entry.protocol.claims)
    assert code == (1 if broken else 0), out.err
    assert entry.name in out.out
