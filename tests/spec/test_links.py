"""Per-link faults, per-node crash budgets, connections and timeouts that wait.

Each construct is checked for its meaning (which actions exist, what a step does) and
for engine agreement (the explicit engine and BMC give the same verdicts and shortest
lengths on it).
"""

from __future__ import annotations

import pytest
from protocols_testing import SESSION, retrying

from ackproof.proofs import check
from ackproof.proofs.result import EngineName
from ackproof.spec import (
    Faults,
    ProtocolDef,
    SpecError,
    explore,
)
from ackproof.spec.interp import compile_system
from ackproof.spec.links import Connection, Link


def labels(pdef: ProtocolDef, n: int = 1) -> list[str]:
    return [a.label for a in pdef.system(n).actions]


def test_a_link_can_narrow_the_fault_model() -> None:
    faults = Faults(loss=True, links={"receiver->sender": Link(loss=False)})
    names = labels(retrying("acks-never-lost", faults))
    assert any(n.startswith("network loses") and "sender->receiver" in n for n in names)
    assert not any(n.startswith("network loses") and "receiver->sender" in n for n in names)


def test_a_link_budget_is_its_own() -> None:
    faults = Faults(loss=True, links={"receiver->sender": Link(max_losses=1)})
    system = retrying("one-ack-loss", faults).system(1)
    assert [s.name for s in system.slots if s.owner == "budget"] == [
        "budget.losses@receiver->sender"
    ]
    r = explore(system, ["no-loss"])
    assert r.complete
    assert not r.violations


def test_a_node_crash_budget_limits_that_node_only() -> None:
    faults = Faults(crash=("receiver",), crash_budgets={"sender": 1})
    system = retrying("crash-budgets", faults).system(1)
    assert {s.name for s in system.slots if s.owner == "budget"} == {"budget.crashes@sender"}
    comp = compile_system(system)
    crash_sender = next(a for a in system.actions if a.label == "crash sender (restart)")
    once = comp.step(system.initial(), crash_sender.index)
    assert once is not None
    assert comp.step(once, crash_sender.index) is None  # its budget is spent
    crash_receiver = next(a for a in system.actions if a.label == "crash receiver (restart)")
    assert comp.step(once, crash_receiver.index) is not None  # the receiver has none


def test_a_connection_drops_both_directions_and_reconnects() -> None:
    system = retrying("session", SESSION).system(1)
    kinds = {a.label: a.kind for a in system.actions}
    assert kinds["connection sender<->receiver drops"] == "drop"
    assert kinds["connection sender<->receiver up again"] == "connect"
    assert not any(k in ("lose", "duplicate") for k in kinds.values())  # FIFO, reliable
    comp = compile_system(system)
    by = {a.label: a.index for a in system.actions}
    s = comp.step(system.initial(), by["submit(m=0)"])
    assert s is not None
    s = comp.step(s, by["receiver <- DATA(msg=0)"])  # the ACK is now in flight back
    assert s is not None
    s = comp.step(s, by["connection sender<->receiver drops"])
    assert s is not None
    assert all(ch.contents(s) == [] for ch in system.channels)
    assert comp.step(s, by["sender <- ACK(msg=0)"]) is None
    s = comp.step(s, by["connection sender<->receiver up again"])  # on_connect resends
    assert s is not None
    (to_receiver,) = [c for c in system.channels if c.dst == "receiver"]
    assert [str(f) for f in to_receiver.contents(s)] == ["DATA(msg=0)"]


def test_a_crash_drops_the_nodes_connections() -> None:
    system = retrying("session", SESSION).system(1)
    comp = compile_system(system)
    by = {a.label: a.index for a in system.actions}
    s = comp.step(system.initial(), by["submit(m=0)"])
    assert s is not None
    s = comp.step(s, by["crash sender (restart)"])
    assert s is not None
    assert all(ch.contents(s) == [] for ch in system.channels)
    assert comp.step(s, by["connection sender<->receiver up again"]) is not None


@pytest.mark.parametrize(
    ("durable", "verdicts"),
    [
        (True, {"no-loss": "proved", "eventual-delivery": "proved"}),
        (False, {"no-loss": "violated", "eventual-delivery": "violated"}),
    ],
    ids=["persistent-session", "volatile-session"],
)
def test_resending_on_reconnect_needs_a_persistent_session(
    durable: bool, verdicts: dict[str, str]
) -> None:
    system = retrying("session", SESSION, durable=durable).system(2)
    got = {p: check(system, p, engine="explicit").verdict for p in verdicts}
    assert got == verdicts


def test_a_timer_that_waits_fires_only_when_nothing_is_in_flight() -> None:
    faults = Faults(loss=True)
    system = retrying("patient", faults, early=False).system(1)
    comp = compile_system(system)
    by = {a.label: a.index for a in system.actions}
    s = comp.step(system.initial(), by["submit(m=0)"])
    assert s is not None
    assert comp.step(s, by["sender timer retransmit(0)"]) is None  # DATA still in flight
    lost = next(a.index for a in system.actions if a.kind == "lose")
    s = comp.step(s, lost)
    assert s is not None
    assert comp.step(s, by["sender timer retransmit(0)"]) is not None
    assert check(system, "eventual-delivery", engine="explicit").verdict == "proved"


CASES = {
    "one-ack-loss": retrying(
        "one-ack-loss",
        Faults(
            loss=True,
            duplicate=True,
            links={"receiver->sender": Link(max_losses=1, duplicate=False)},
        ),
    ),
    "session": retrying("session", SESSION),
    "volatile-session": retrying("volatile-session", SESSION, durable=False),
    "patient": retrying("patient", Faults(loss=True, reorder=True), early=False),
}
ENGINES: tuple[EngineName, ...] = ("bmc", "pdr", "kinduction")


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("prop", ["no-loss", "no-duplicate"])
def test_the_engines_agree_on_the_new_constructs(name: str, prop: str) -> None:
    system = CASES[name].system(2)
    want = check(system, prop, engine="explicit")
    for engine in ENGINES:
        got = check(system, prop, engine=engine, depth=12, timeout=60)
        assert (got.verdict == "violated") == (want.verdict == "violated"), (engine, got.detail)
        if want.counterexample is not None and want.counterexample.calm is None:
            assert got.counterexample is not None
            assert len(got.counterexample) == len(want.counterexample), engine


@pytest.mark.parametrize(
    ("links", "message"),
    [
        ({"a->b": Link()}, "unknown node 'a'"),
        ({"sender->receiver": Connection()}, "name it 'a<->b'"),
        ({"sender<->receiver": Link()}, "name it 'a->b'"),
        ({"sender=>receiver": Link()}, "a link is named"),
    ],
)
def test_a_malformed_link_is_a_clear_error(links: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        retrying("bad", Faults(loss=True, links=links)).system(1)  # type: ignore[arg-type]
