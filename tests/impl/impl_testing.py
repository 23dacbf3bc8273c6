"""Helpers for the impl tests: run trio code, and a pair of cores wired by hand.

:class:`CorePair` wires a sender core and a receiver core with no network: frames in flight sit in
two lists (one per direction) and a test says what happens to each — ``transfer``, ``drop``,
``duplicate``, or delivering out of order by index (aioquic/h11-style pair helper). Persists are
applied to :class:`MemoryDisk` objects atomically; a receiver crash can be placed between any two
effects of a step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import trio

from ackproof.impl.codec import Frame
from ackproof.impl.events import (
    Accepted,
    Acked,
    Deliver,
    Discarded,
    Effect,
    Event,
    FrameIn,
    Guarantee,
    Persist,
    Restart,
    SendFrame,
    SetTimer,
    Snapshot,
    Submit,
    TimerFired,
)
from ackproof.impl.receiver import ReceiverCore, make_receiver
from ackproof.impl.sender import RetryPolicy, SenderCore, make_sender
from ackproof.impl.store import MemoryDisk

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


def run_trio(fn: Callable[[], Awaitable[T]], *, clock: trio.abc.Clock | None = None) -> T:
    async def main() -> T:
        return await fn()

    return trio.run(main, clock=clock)


def snapshot_of(disk: MemoryDisk) -> Snapshot:
    return Snapshot(disk.next_id, dict(disk.outbox), frozenset(disk.seen), disk.low)


class CorePair:
    def __init__(self, guarantee: Guarantee, *, rto: float = 1.0) -> None:
        self.guarantee = guarantee
        self.policy = RetryPolicy(initial=rto, maximum=4 * rto)
        self.sender: SenderCore = make_sender(guarantee, policy=self.policy)
        self.receiver: ReceiverCore = make_receiver(guarantee)
        self.sender_disk = MemoryDisk()
        self.receiver_disk = MemoryDisk()
        self.to_receiver: list[Frame] = []
        self.to_sender: list[Frame] = []
        self.now = 0.0
        self.timer: float | None = None
        self.submitted: dict[int, bytes] = {}
        self.acked: set[int] = set()
        self.delivered: list[int] = []
        self.discarded = 0

    # --- stepping ---------------------------------------------------------------------------

    def _run(self, effects: list[Effect], *, to_sender: bool, crash_at: int | None = None) -> bool:
        """Carry out effects in order; stop before effect ``crash_at``. True if it crashed."""
        disk = self.receiver_disk if not to_sender else self.sender_disk
        net = self.to_sender if not to_sender else self.to_receiver
        for i, effect in enumerate(effects):
            if crash_at is not None and i >= crash_at:
                return True
            match effect:
                case Persist(writes):
                    for w in writes:
                        disk.apply(w)
                case SendFrame(frame):
                    net.append(frame)
                case Accepted(msg):
                    assert isinstance(self.submitted, dict)
                case Acked(msg):
                    self.acked.add(msg)
                case Deliver(msg, _):
                    self.delivered.append(msg)
                case Discarded():
                    self.discarded += 1
                case SetTimer(deadline):
                    self.timer = deadline
        return False

    def _sender_step(self, event: Event) -> list[Effect]:
        effects = self.sender.handle(event, self.now)
        self._run(effects, to_sender=True)
        return effects

    def submit(self, payload: bytes) -> int:
        effects = self._sender_step(Submit(payload))
        (msg,) = [e.msg for e in effects if isinstance(e, Accepted)]
        self.submitted[msg] = payload
        return msg

    def deliver_to_receiver(self, index: int = 0, *, crash_at: int | None = None) -> bool:
        frame = self.to_receiver.pop(index)
        effects = self.receiver.handle(FrameIn(frame), self.now)
        crashed = self._run(effects, to_sender=False, crash_at=crash_at)
        if crashed:
            self.restart_receiver()
        return crashed

    def deliver_to_sender(self, index: int = 0) -> None:
        self._sender_step(FrameIn(self.to_sender.pop(index)))

    def duplicate(self, *, to_receiver: bool, index: int = 0) -> None:
        net = self.to_receiver if to_receiver else self.to_sender
        net.append(net[index])

    def drop(self, *, to_receiver: bool, index: int = 0) -> None:
        net = self.to_receiver if to_receiver else self.to_sender
        net.pop(index)

    def fire_timer(self) -> bool:
        if self.timer is None:
            return False
        self.now = max(self.now, self.timer)
        self._sender_step(TimerFired())
        return True

    def restart_receiver(self) -> None:
        self.receiver = make_receiver(self.guarantee)
        self.receiver.handle(Restart(snapshot_of(self.receiver_disk)), self.now)

    def restart_sender(self) -> None:
        self.sender = make_sender(self.guarantee, policy=self.policy)
        self.timer = None
        self._sender_step(Restart(snapshot_of(self.sender_disk)))

    def drain(self, *, max_rounds: int = 200) -> None:
        """A fair network from here on: deliver everything, fire timers, until quiet."""
        for _ in range(max_rounds):
            while self.to_receiver or self.to_sender:
                if self.to_receiver:
                    self.deliver_to_receiver()
                if self.to_sender:
                    self.deliver_to_sender()
            if self.sender.in_flight == 0 or not self.fire_timer():
                return

    # --- observations -----------------------------------------------------------------------

    def processed_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for msg, _ in self.receiver_disk.processed:
            counts[msg] = counts.get(msg, 0) + 1
        return counts
