"""Conformance of the sans-I/O cores to the spec: a lockstep Hypothesis state machine.

Rules are the environment's moves: submit, deliver any in-flight frame (which is reordering),
lose one, duplicate one, fire the sender's timer, crash a node — on its own, or in the middle of
a step after any prefix of that step's effects (and, when the crash lands on a ``Persist``, in
the middle of that commit).  Each move is carried out on the implementation's cores with
in-memory stores, and the corresponding spec actions (by label) are taken by the spec's concrete
interpreter.  After every move:

1. the guarantee's properties (``system.properties[p].invariant``) hold on the abstracted impl
   state, and the one judge (``ackproof.spec.judge``) finds none of them violated by the
   observer's history (accepted ids, processed log, acked set, copies held);
2. the abstraction of the impl state equals the spec state reached by the spec's steps;
3. the sender core's unacked set is its durable outbox.

At the end the network turns fair; at-least-once and exactly-once must then deliver and ack
every accepted message.  Moves the spec's bounds do not allow (a channel holding more than
``CAPACITY`` frames) are undone and counted as skipped.  Broken receivers must be caught, with a
short shrunk example (``test_broken_*``).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from typing import ClassVar

import pytest
from conformance_support import (
    ImplWorld,
    ReceiverFactory,
    Skip,
    SpecSide,
    SpecStep,
    abstract,
    internal_consistency,
    profile,
)
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ackproof.impl.events import Effect, Event, Guarantee, Restart, SendFrame, Snapshot
from ackproof.impl.receiver import ExactlyOnceReceiver, ReceiverCore, make_receiver
from ackproof.spec.expr import Value
from ackproof.spec.history import GUARANTEES

AMO, ALO, EO = Guarantee.AT_MOST_ONCE, Guarantee.AT_LEAST_ONCE, Guarantee.EXACTLY_ONCE
MESSAGES = 3
CAPACITY = 4

INDEX = st.integers(0, 7)  # taken modulo the number of frames in flight; shrinks to the oldest
CRASH = st.none() | st.integers(0, 4)  # crash after this many effects of the step (None: no)


# --- broken receivers (tests of the tests) ------------------------------------------------------


class VolatileDedupReceiver(ExactlyOnceReceiver):
    """Writes its dedup rows but never reads them back: the dedup set is volatile in effect."""

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, Restart):
            s = event.snapshot
            event = Restart(Snapshot(s.next_id, s.outbox, frozenset()))
        return super().handle(event, now)


class AckBeforePersistReceiver(ExactlyOnceReceiver):
    """Sends the ACK before the dedup row and processed record are committed."""

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        effects = super()._on_data(msg, payload)
        sends = [e for e in effects if isinstance(e, SendFrame)]
        return sends + [e for e in effects if not isinstance(e, SendFrame)]


def _real(g: Guarantee) -> ReceiverCore:
    return make_receiver(g)


def _volatile(g: Guarantee) -> ReceiverCore:
    assert g is EO
    return VolatileDedupReceiver()


def _ack_first(g: Guarantee) -> ReceiverCore:
    assert g is EO
    return AckBeforePersistReceiver()


RECEIVERS: dict[str, ReceiverFactory] = {
    "real": _real,
    "volatile-dedup": _volatile,
    "ack-before-persist": _ack_first,
}

_SPECS: dict[Guarantee, SpecSide] = {}


def spec_for(g: Guarantee) -> SpecSide:
    if g not in _SPECS:
        _SPECS[g] = SpecSide(g, MESSAGES, CAPACITY)
    return _SPECS[g]


# --- the state machine --------------------------------------------------------------------------


class Conformance(RuleBasedStateMachine):
    guarantee: ClassVar[Guarantee] = EO
    receiver: ClassVar[str] = "real"
    #: The moves of the latest run (after a failure: the shrunk example, replayed last).
    steps: ClassVar[list[str]] = []
    #: Skips and witnesses, over all runs since the last reset.
    coverage: ClassVar[Counter[str]] = Counter()
    #: The spec actions taken, over all runs since the last reset.
    taken: ClassVar[Counter[SpecStep]] = Counter()

    def __init__(self) -> None:
        super().__init__()
        self.spec = spec_for(self.guarantee)
        self.world = ImplWorld(self.guarantee, receiver_factory=RECEIVERS[self.receiver])
        self.state: tuple[Value, ...] = self.spec.system.initial()
        self.healthy = True
        type(self).steps = []

    # --- one move in lockstep -----------------------------------------------------------------

    def _apply(self, what: str, move: Callable[[ImplWorld], list[SpecStep]]) -> None:
        saved = copy.deepcopy(self.world)
        self.healthy = False
        try:
            steps = move(self.world)
        except Skip as why:
            self.world = saved
            self.coverage[f"skipped: {why}"] += 1
            self.healthy = True
            return
        w = self.world
        if len(w.to_receiver) > CAPACITY or len(w.to_sender) > CAPACITY:
            self.world = saved  # the spec bounds each channel; it has no such move
            self.coverage["skipped: channel capacity"] += 1
            self.healthy = True
            return
        labels = [self.spec.label(step) for step in steps]
        self.steps.append(f"{what} -> {labels}")
        self.coverage["moves applied"] += 1
        self.taken.update(steps)
        got = abstract(w, self.spec.system)
        self._check_promise(got)
        state = self.state
        for step in steps:
            state = self.spec.step(state, step)
        assert state == got, (
            f"after {what} (spec: {labels}) the impl's state is not the spec's: "
            f"{self.spec.diff(state, got)}"
        )
        self.state = state
        internal_consistency(w)
        self.healthy = True

    def _check_promise(self, got: tuple[Value, ...]) -> None:
        for prop, holds in self.spec.invariants.items():
            assert holds(got), f"{prop} violated: {self.spec.system.show_state(got)}"
        seen = self.world.judgement(finished=False)
        broken = seen.violations(GUARANTEES[str(self.guarantee)])
        assert not broken, f"{', '.join(broken)} violated (the judge): {seen}"
        if self.guarantee in (ALO, EO):
            assert seen.acked <= set(seen.times), "acked implies processed"
        if max(seen.times.values(), default=0) >= 2:
            self.coverage["witness: a message processed twice"] += 1
        if self.spec.witness(got):
            self.coverage["witness: every message processed"] += 1

    # --- rules: the environment's moves -------------------------------------------------------

    @precondition(lambda self: len(self.world.index) < MESSAGES)
    @rule(crash=CRASH)
    def submit(self, crash: int | None) -> None:
        n = len(self.world.index)
        if crash is not None and len(self.world.to_receiver) >= CAPACITY:
            # A crash may cut the send off, but the spec's submit (which sends) needs room.
            self.coverage["skipped: channel capacity"] += 1
            return
        self._apply(f"submit (crash after {crash})", lambda w: w.submit(b"p%d" % n, crash))

    @precondition(lambda self: self.world.to_receiver)
    @rule(i=INDEX, crash=CRASH)
    def deliver_data(self, i: int, crash: int | None) -> None:
        i %= len(self.world.to_receiver)
        if i:
            self.coverage["reordered delivery"] += 1
        self._apply(
            f"deliver DATA #{i} (crash after {crash})", lambda w: w.deliver_to_receiver(i, crash)
        )

    @precondition(lambda self: self.world.to_sender)
    @rule(i=INDEX, crash=CRASH)
    def deliver_ack(self, i: int, crash: int | None) -> None:
        i %= len(self.world.to_sender)
        if i:
            self.coverage["reordered delivery"] += 1
        self._apply(
            f"deliver ACK #{i} (crash after {crash})", lambda w: w.deliver_to_sender(i, crash)
        )

    @precondition(lambda self: self.world.to_receiver)
    @rule(i=INDEX)
    def lose_data(self, i: int) -> None:
        i %= len(self.world.to_receiver)
        self._apply(f"lose DATA #{i}", lambda w: w.lose(True, i))

    @precondition(lambda self: self.world.to_sender)
    @rule(i=INDEX)
    def lose_ack(self, i: int) -> None:
        i %= len(self.world.to_sender)
        self._apply(f"lose ACK #{i}", lambda w: w.lose(False, i))

    @precondition(lambda self: 0 < len(self.world.to_receiver) < CAPACITY)
    @rule(i=INDEX)
    def duplicate_data(self, i: int) -> None:
        i %= len(self.world.to_receiver)
        self._apply(f"duplicate DATA #{i}", lambda w: w.duplicate(True, i))

    @precondition(lambda self: 0 < len(self.world.to_sender) < CAPACITY)
    @rule(i=INDEX)
    def duplicate_ack(self, i: int) -> None:
        i %= len(self.world.to_sender)
        self._apply(f"duplicate ACK #{i}", lambda w: w.duplicate(False, i))

    @precondition(
        lambda self: self.world.timer is not None and len(self.world.to_receiver) < CAPACITY
    )
    @rule(crash=CRASH)
    def fire_timer(self, crash: int | None) -> None:
        self._apply(f"timer (crash after {crash})", lambda w: w.fire_timer(crash))

    @precondition(lambda self: self.world.index)  # crashing an idle system tests nothing
    @rule(node=st.sampled_from(["receiver", "sender"]))
    def crash(self, node: str) -> None:
        self._apply(f"crash {node}", lambda w: w.crash(node))

    def teardown(self) -> None:
        if not self.healthy:
            return  # a check failed mid-move; report that, not a follow-on error
        w = self.world
        w.drain()
        if self.spec.witness(abstract(w, self.spec.system)):
            self.coverage["witness: every message processed"] += 1
        # The judge, on the finished run: at-least-once and exactly-once processed every
        # accepted message (not every one need be acked: a sender crash between deleting it
        # from the outbox and telling the producer is allowed by the spec too).
        seen = w.judgement()
        promise = GUARANTEES[str(self.guarantee)]
        broken = seen.violations(promise)
        assert not broken, f"{', '.join(broken)} violated after draining: {seen}"
        assert seen.verdict(promise) == "kept", f"still in flight after draining: {seen}"
        if self.guarantee in (ALO, EO):
            assert seen.acked <= set(seen.times), "acked implies processed"


def machine_for(g: Guarantee, receiver: str = "real") -> type[Conformance]:
    name = f"Conformance_{g.name}_{receiver.replace('-', '_')}"
    return type(name, (Conformance,), {"guarantee": g, "receiver": receiver, "steps": []})


# --- tests ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("guarantee", list(Guarantee), ids=str)
def test_cores_conform_to_the_spec_in_lockstep(guarantee: Guarantee) -> None:
    machine = machine_for(guarantee)
    machine.coverage = Counter()
    machine.taken = Counter()
    run_state_machine_as_test(machine, settings=profile())
    cov = machine.coverage
    # Every "always" needs its "sometimes": the moves that matter were really exercised.
    taken = list(machine.taken)
    assert any(s.crash_after is not None for s in taken), "no crash between two effects"
    assert machine.taken[SpecStep("crash", "sender")] > 0
    assert machine.taken[SpecStep("crash", "receiver")] > 0
    assert any(s.kind == "lose" for s in taken)
    assert any(s.kind == "duplicate" for s in taken)
    assert cov["reordered delivery"] > 0
    assert cov["witness: every message processed"] > 0
    if guarantee is not AMO:
        assert any(s.kind == "timer" for s in taken)
        assert any(s.kind == "deliver" and s.where == "sender" for s in taken)
    if guarantee is ALO:
        assert cov["witness: a message processed twice"] > 0  # duplicates really happen
    skipped = sum(v for k, v in cov.items() if k.startswith("skipped"))
    assert skipped < cov["moves applied"] // 2, f"too many moves skipped: {cov}"


def _shrunk_failure(receiver: str) -> tuple[str, list[str]]:
    machine = machine_for(EO, receiver)
    with pytest.raises(AssertionError) as caught:
        run_state_machine_as_test(
            machine,
            settings=settings(
                profile(),
                max_examples=max(200, profile().max_examples),
                stateful_step_count=12,
                report_multiple_bugs=False,
            ),
        )
    return str(caught.value), list(machine.steps)


def test_broken_volatile_dedup_is_caught_by_no_duplicate_and_shrunk() -> None:
    message, steps = _shrunk_failure("volatile-dedup")
    assert "no-duplicate violated" in message
    assert len(steps) <= 6, steps  # shrinks to 5: submit, dup, deliver, crash, deliver
    assert any("crash" in s for s in steps), steps  # the restart is what forgets


def test_broken_ack_before_persist_is_caught_in_lockstep_and_shrunk() -> None:
    message, steps = _shrunk_failure("ack-before-persist")
    assert "no spec counterpart" in message or "not the spec's" in message
    assert len(steps) <= 3, steps  # shrinks to 2: submit, deliver with a crash after the ACK
    assert "crash after" in steps[-1], steps  # the crash between the ACK and the commit
