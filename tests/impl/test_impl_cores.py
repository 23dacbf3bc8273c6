"""The sans-I/O cores: scenario tests, crash-between-effects tests, and a stateful test."""

from __future__ import annotations

import pytest
from cores_testing import CorePair
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.errors import UsageError
from ackproof.impl.events import (
    Accepted,
    FrameIn,
    Guarantee,
    MarkSeen,
    OutboxPut,
    Persist,
    RecordProcessed,
    SendFrame,
    SetTimer,
    Submit,
    TimerFired,
)
from ackproof.impl.receiver import AtMostOnceReceiver, ExactlyOnceReceiver
from ackproof.impl.sender import ID_BLOCK, RetryingSender, RetryPolicy

AMO, ALO, EO = Guarantee.AT_MOST_ONCE, Guarantee.AT_LEAST_ONCE, Guarantee.EXACTLY_ONCE


def test_retrying_sender_persists_before_first_transmission() -> None:
    core = RetryingSender(ALO, policy=RetryPolicy(initial=1.0))
    effects = core.handle(Submit(b"p"), 0.0)
    kinds = [type(e) for e in effects]
    assert kinds.index(Persist) < kinds.index(SendFrame)
    persist = next(e for e in effects if isinstance(e, Persist))
    assert OutboxPut(0, b"p") in persist.writes
    assert effects[-1] == SetTimer(1.0)


def test_retransmission_backs_off_until_acked() -> None:
    core = RetryingSender(EO, policy=RetryPolicy(initial=1.0, maximum=3.0))
    core.handle(Submit(b"p"), 0.0)
    deadlines = []
    now = 1.0
    for _ in range(4):
        effects = core.handle(TimerFired(), now)
        assert SendFrame(Frame(FrameKind.DATA, 0, b"p")) in effects
        (timer,) = [e for e in effects if isinstance(e, SetTimer)]
        assert timer.deadline is not None
        deadlines.append(timer.deadline - now)
        now = timer.deadline
    assert deadlines == [2.0, 3.0, 3.0, 3.0]
    effects = core.handle(FrameIn(Frame(FrameKind.ACK, 0)), now)
    assert SetTimer(None) in effects
    assert core.in_flight == 0
    again = core.handle(FrameIn(Frame(FrameKind.ACK, 0)), now)
    assert [type(e).__name__ for e in again] == ["Discarded"]


def test_sender_pipelines_many_messages() -> None:
    pair = CorePair(ALO)
    for i in range(50):
        pair.submit(b"%d" % i)
    assert len(pair.to_receiver) == 50  # all in flight at once, not stop-and-wait
    assert pair.sender.in_flight == 50


def test_ids_are_reserved_in_blocks_and_never_reused_after_restart() -> None:
    pair = CorePair(AMO)
    first = [pair.submit(b"x") for _ in range(3)]
    assert first == [0, 1, 2]
    assert pair.sender_disk.next_id == ID_BLOCK
    pair.restart_sender()
    assert pair.submit(b"y") == ID_BLOCK


def test_at_most_once_never_acks_and_drops_duplicates() -> None:
    pair = CorePair(AMO)
    pair.submit(b"a")
    pair.duplicate(to_receiver=True)
    pair.deliver_to_receiver()
    pair.deliver_to_receiver()
    assert pair.processed_counts() == {0: 1}
    assert pair.to_sender == []
    assert pair.timer is None  # no retry timer at all


def test_at_most_once_records_id_before_processing() -> None:
    effects = AtMostOnceReceiver().handle(FrameIn(Frame(FrameKind.DATA, 7, b"x")), 0.0)
    assert effects[0] == Persist((MarkSeen(7),))
    assert effects[1] == Persist((RecordProcessed(7, b"x"),))


def test_at_most_once_crash_between_record_and_process_loses_never_duplicates() -> None:
    pair = CorePair(AMO)
    pair.submit(b"a")
    pair.duplicate(to_receiver=True)
    assert pair.deliver_to_receiver(crash_at=1)  # MarkSeen committed, crash before processing
    pair.deliver_to_receiver()  # the network's duplicate reaches the restarted receiver
    assert pair.processed_counts() == {}  # lost (allowed) and never processed twice


def test_at_least_once_processes_again_when_the_ack_is_lost() -> None:
    pair = CorePair(ALO)
    pair.submit(b"a")
    pair.deliver_to_receiver()
    pair.drop(to_receiver=False)  # the ACK
    pair.fire_timer()
    pair.deliver_to_receiver()
    pair.deliver_to_sender()
    assert pair.processed_counts() == {0: 2}
    assert pair.acked == {0}


def test_at_least_once_crash_before_ack_means_redelivery_not_loss() -> None:
    pair = CorePair(ALO)
    pair.submit(b"a")
    assert pair.deliver_to_receiver(crash_at=2)  # processed, then crashed before the ACK
    pair.drain()
    assert pair.processed_counts() == {0: 2}
    assert pair.acked == {0}


def test_exactly_once_dedup_row_and_processed_record_are_one_persist() -> None:
    effects = ExactlyOnceReceiver().handle(FrameIn(Frame(FrameKind.DATA, 3, b"x")), 0.0)
    assert effects[0] == Persist((MarkSeen(3), RecordProcessed(3, b"x")))
    assert isinstance(effects[-1], SendFrame)
    assert effects[-1].frame == Frame(FrameKind.ACK, 3)


@pytest.mark.parametrize("crash_at", [0, 1, 2])
def test_exactly_once_survives_a_crash_between_any_two_effects(crash_at: int) -> None:
    pair = CorePair(EO)
    pair.submit(b"a")
    pair.duplicate(to_receiver=True)
    pair.deliver_to_receiver(crash_at=crash_at)
    pair.drain()
    assert pair.processed_counts() == {0: 1}
    assert pair.acked == {0}


def test_sender_restart_retransmits_the_outbox() -> None:
    pair = CorePair(EO)
    pair.submit(b"a")
    pair.submit(b"b")
    pair.drop(to_receiver=True)
    pair.drop(to_receiver=True)
    pair.restart_sender()
    assert sorted(f.msg for f in pair.to_receiver) == [0, 1]
    pair.drain()
    assert pair.processed_counts() == {0: 1, 1: 1}
    assert pair.sender_disk.outbox == {}


def test_misuse_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        RetryingSender(AMO)
    with pytest.raises(UsageError):
        RetryPolicy(initial=0)
    with pytest.raises(UsageError):
        ExactlyOnceReceiver().handle(Submit(b"x"), 0.0)


def test_accepted_ids_are_consecutive() -> None:
    core = RetryingSender(ALO)
    ids = [
        e.msg
        for i in range(5)
        for e in core.handle(Submit(b"%d" % i), 0.0)
        if isinstance(e, Accepted)
    ]
    assert ids == [0, 1, 2, 3, 4]


class PairMachine(RuleBasedStateMachine):
    """Both cores under an adversarial network and receiver crashes placed between effects."""

    guarantee: Guarantee = AMO

    def __init__(self) -> None:
        super().__init__()
        self.pair = CorePair(self.guarantee)
        self.crashes = 0

    @rule(payload=st.binary(max_size=4))
    def submit(self, payload: bytes) -> None:
        self.pair.submit(payload)

    @precondition(lambda self: self.pair.to_receiver)
    @rule(data=st.data(), crash_at=st.none() | st.integers(0, 3))
    def deliver_to_receiver(self, data: st.DataObject, crash_at: int | None) -> None:
        index = data.draw(st.integers(0, len(self.pair.to_receiver) - 1))
        self.crashes += self.pair.deliver_to_receiver(index, crash_at=crash_at)

    @precondition(lambda self: self.pair.to_sender)
    @rule(data=st.data())
    def deliver_to_sender(self, data: st.DataObject) -> None:
        self.pair.deliver_to_sender(data.draw(st.integers(0, len(self.pair.to_sender) - 1)))

    @precondition(lambda self: self.pair.to_receiver)
    @rule(dup=st.booleans())
    def fault_to_receiver(self, dup: bool) -> None:
        if dup:
            self.pair.duplicate(to_receiver=True)
        else:
            self.pair.drop(to_receiver=True)

    @precondition(lambda self: self.pair.to_sender)
    @rule(dup=st.booleans())
    def fault_to_sender(self, dup: bool) -> None:
        if dup:
            self.pair.duplicate(to_receiver=False)
        else:
            self.pair.drop(to_receiver=False)

    @rule()
    def timer(self) -> None:
        self.pair.fire_timer()

    @rule()
    def restart_receiver(self) -> None:
        self.pair.restart_receiver()

    @invariant()
    def no_phantom(self) -> None:
        for msg, payload in self.pair.receiver_disk.processed:
            assert self.pair.submitted.get(msg) == payload

    @invariant()
    def promise_holds_so_far(self) -> None:
        counts = self.pair.processed_counts()
        if self.guarantee in (AMO, EO):
            assert all(c == 1 for c in counts.values()), counts
        if self.guarantee in (ALO, EO):
            assert self.pair.acked <= set(counts), "acked implies processed"
        if self.guarantee is AMO:
            assert not self.pair.to_sender

    def teardown(self) -> None:
        if self.guarantee in (ALO, EO):
            self.pair.drain()
            assert set(self.pair.processed_counts()) == set(self.pair.submitted), "no loss"
            assert self.pair.acked == set(self.pair.submitted)


def _machine(g: Guarantee) -> type[PairMachine]:
    return type(f"PairMachine_{g.name}", (PairMachine,), {"guarantee": g})


_SETTINGS = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestAtMostOncePair = _machine(AMO).TestCase
TestAtMostOncePair.settings = _SETTINGS
TestAtLeastOncePair = _machine(ALO).TestCase
TestAtLeastOncePair.settings = _SETTINGS
TestExactlyOncePair = _machine(EO).TestCase
TestExactlyOncePair.settings = _SETTINGS
