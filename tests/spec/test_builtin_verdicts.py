"""The three guarantees' verdicts, and every broken variant caught at its shortest length."""

from __future__ import annotations

import pytest

from ackproof.spec import Faults, ProtocolDef, explore
from ackproof.spec.protocols import BROKEN, BUILTIN

LOSS = Faults(loss=True)
LOSS_CRASH = Faults(loss=True, crash=("*",))
ACK_LOSS = Faults(loss=True)  # ACKs can be lost like any frame
EVERYTHING = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))
DUP_REORDER_RESTART = Faults(duplicate=True, reorder=True, crash=("receiver",))

SAFETY = ("no-loss", "no-duplicate", "no-phantom")


def verdicts(pdef: ProtocolDef, n: int, faults: Faults) -> dict[str, int | None]:
    """Property -> shortest counterexample length, or None when it holds (exhaustively)."""
    r = explore(pdef.system(n, faults), SAFETY)
    assert r.complete, "the state space must be explored in full for a 'holds' verdict"
    for p in SAFETY:
        if p not in r.violations:
            assert p in r.witnesses, f"{p} holds vacuously: nothing is ever processed"
    return {p: (len(r.violations[p]) if p in r.violations else None) for p in SAFETY}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_at_most_once_loses_under_loss_and_never_duplicates(n: int) -> None:
    v = verdicts(BUILTIN["at-most-once"], n, LOSS)
    assert v == {"no-loss": 2, "no-duplicate": None, "no-phantom": None}


@pytest.mark.parametrize("n", [1, 2, 3])
def test_at_most_once_never_duplicates_when_the_network_duplicates_and_receiver_restarts(
    n: int,
) -> None:
    v = verdicts(BUILTIN["at-most-once"], n, DUP_REORDER_RESTART)
    assert v["no-duplicate"] is None
    assert v["no-phantom"] is None


@pytest.mark.parametrize("n", [1, 2, 3])
def test_at_least_once_never_loses_under_loss_and_crash(n: int) -> None:
    v = verdicts(BUILTIN["at-least-once"], n, LOSS_CRASH)
    assert v["no-loss"] is None
    assert v["no-phantom"] is None


@pytest.mark.parametrize("n", [1, 2, 3])
def test_at_least_once_duplicates_under_ack_loss(n: int) -> None:
    r = explore(BUILTIN["at-least-once"].system(n, ACK_LOSS), ["no-duplicate"])
    path = r.violations["no-duplicate"]
    assert len(path) == 4
    # The shortest duplicate needs no loss at all: a premature timeout is enough.
    kinds = [r.system.actions[a].kind for a in path.actions]
    assert kinds.count("deliver") == 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_exactly_once_keeps_all_three_under_every_fault(n: int) -> None:
    assert verdicts(BUILTIN["exactly-once"], n, EVERYTHING) == dict.fromkeys(SAFETY)


#: Broken variant -> (N, shortest counterexample length of the property it breaks).
PINNED = {
    "fire-and-forget": 4,
    "volatile-dedup": 4,
    "ack-before-persist": 3,
    "mark-before-process": 5,
    "at-least-once-as-exactly-once": 4,
}


@pytest.mark.parametrize("name", sorted(BROKEN))
@pytest.mark.parametrize("n", [1, 2])
def test_every_broken_variant_is_caught(name: str, n: int) -> None:
    pdef, prop = BROKEN[name]
    assert prop in pdef.claims, "a broken variant must claim what it breaks"
    r = explore(pdef.system(n), [prop], stop_when_decided=True)
    assert prop in r.violations
    assert len(r.violations[prop]) == PINNED[name]


def test_mark_before_process_counterexample_reads_as_the_bug() -> None:
    pdef, _ = BROKEN["mark-before-process"]
    r = explore(pdef.system(1), ["no-loss"], stop_when_decided=True)
    labels = r.labels("no-loss")
    assert labels[0] == "submit(m=0)"
    assert any("crash after 1 effect" in label for label in labels)
    assert labels[-1].startswith("sender <- ACK")


def test_every_builtin_claims_its_guarantee() -> None:
    assert BUILTIN["at-most-once"].claims == ("no-duplicate", "no-phantom")
    assert BUILTIN["at-least-once"].claims == ("no-loss", "no-phantom")
    assert BUILTIN["exactly-once"].claims == ("no-loss", "no-duplicate", "no-phantom")
