"""Sender cores, one per guarantee: ``handle(event, now) -> effects``.

Theory of operation
-------------------
* Ids: a sender hands out ids 0, 1, 2, ... and reserves them durably (``ReserveIds``) before
  first use, so a restarted sender never reuses an id that left it: the at-most-once sender in
  blocks, the retrying senders exactly, with each outbox row (no gaps after a restart: the
  exactly-once receiver's dedup watermark needs contiguous ids).
* At-most-once: send once; no ack, no retry, no outbox. Anything lost stays lost.
* At-least-once and exactly-once (the same sender; the receivers differ): the payload goes into
  the durable outbox (``Persist(OutboxPut)``) *before* its first transmission; it is retransmitted
  with exponential backoff until its ACK arrives; then ``Persist(OutboxDelete)`` and ``Acked``.
  Many messages are in flight at once (pipelined, not stop-and-wait); the window is the shell's.
* Timeouts: ``rto * multiplier**attempt``; ``rto`` adapts to measured round trips (RFC 6298,
  Karn's rule), so a slow receiver is not buried under retransmissions.
* Timers: each in-flight message has a deadline; the core keeps them in a heap (stale entries are
  skipped lazily) and emits ``SetTimer`` whenever the earliest deadline changes. Time only comes in
  as ``now``; nothing here reads a clock, does I/O or draws random numbers.
* Restart: the outbox from the snapshot is retransmitted at once.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Protocol, assert_never

from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.errors import UsageError
from ackproof.impl.events import (
    Accepted,
    Acked,
    Discarded,
    Effect,
    Event,
    FrameIn,
    Guarantee,
    OutboxDelete,
    OutboxPut,
    Persist,
    ReserveIds,
    Restart,
    SendFrame,
    SetTimer,
    Submit,
    TimerFired,
    Write,
)

ID_BLOCK = 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retransmission timing: ``rto * multiplier**attempt``, within ``[minimum, maximum]``.

    ``rto`` starts at ``initial`` and, when ``adaptive``, follows the measured round-trip time
    (RFC 6298: ``srtt + 4 * rttvar``, sampled only from messages sent once — Karn's rule), but
    never below ``minimum`` (default: ``initial``; a floor far below the receiver's commit
    latency only buys spurious retransmissions).
    """

    initial: float = 0.2
    minimum: float | None = None
    maximum: float = 2.0
    multiplier: float = 2.0
    adaptive: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.floor <= self.initial <= self.maximum or self.multiplier < 1:
            raise UsageError(f"bad retry policy: {self}")

    @property
    def floor(self) -> float:
        return self.initial if self.minimum is None else self.minimum


class _Rto:
    """Round-trip estimator (RFC 6298, alpha 1/8, beta 1/4); pure arithmetic on given samples."""

    __slots__ = ("policy", "rto", "rttvar", "srtt")

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.rto = policy.initial
        self.srtt: float | None = None
        self.rttvar = 0.0

    def sample(self, rtt: float) -> None:
        if not self.policy.adaptive:
            return
        if self.srtt is None:
            self.srtt, self.rttvar = rtt, rtt / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - rtt)
            self.srtt = 0.875 * self.srtt + 0.125 * rtt
        p = self.policy
        self.rto = min(p.maximum, max(p.floor, self.srtt + 4 * self.rttvar))

    def timeout(self, attempt: int) -> float:
        return min(self.policy.maximum, self.rto * self.policy.multiplier ** min(attempt, 64))


class SenderCore(Protocol):
    guarantee: Guarantee

    @property
    def in_flight(self) -> int: ...

    @property
    def span(self) -> int:
        """Ids from the oldest unacknowledged one to the next to hand out (0: none pending)."""
        ...

    @property
    def retransmissions(self) -> int:
        """DATA frames sent again: on a timeout, or from the outbox after a restart."""
        ...

    def handle(self, event: Event, now: float) -> list[Effect]: ...


class _Ids:
    """Id allocation with durable block reservation."""

    __slots__ = ("next_id", "reserved")

    def __init__(self) -> None:
        self.next_id = 0
        self.reserved = 0

    def take(self) -> tuple[int, ReserveIds | None]:
        msg = self.next_id
        self.next_id += 1
        if msg < self.reserved:
            return msg, None
        self.reserved = msg + ID_BLOCK
        return msg, ReserveIds(self.reserved)

    def restart(self, next_id: int) -> None:
        self.next_id = self.reserved = next_id


class AtMostOnceSender:
    """Send once; never retry; never wait for an ack."""

    guarantee = Guarantee.AT_MOST_ONCE

    def __init__(self) -> None:
        self._ids = _Ids()

    @property
    def in_flight(self) -> int:
        return 0

    @property
    def span(self) -> int:
        return 0

    @property
    def retransmissions(self) -> int:
        return 0

    def handle(self, event: Event, now: float) -> list[Effect]:
        match event:
            case Submit(payload):
                msg, reserve = self._ids.take()
                out: list[Effect] = [] if reserve is None else [Persist((reserve,))]
                out += [Accepted(msg), SendFrame(Frame(FrameKind.DATA, msg, payload))]
                return out
            case FrameIn(frame):
                return [Discarded(frame.msg, f"unexpected {frame.kind.name}")]
            case TimerFired():
                return []
            case Restart(snapshot):
                self._ids.restart(snapshot.next_id)
                return []
            case _:
                assert_never(event)


@dataclass(slots=True)
class _Pending:
    payload: bytes
    attempt: int
    deadline: float
    first_sent: float


class RetryingSender:
    """At-least-once / exactly-once sender: durable outbox, retransmit with backoff until ACK."""

    def __init__(self, guarantee: Guarantee, *, policy: RetryPolicy | None = None) -> None:
        if guarantee is Guarantee.AT_MOST_ONCE:
            raise UsageError("RetryingSender does not do at-most-once; use AtMostOnceSender")
        self.guarantee: Guarantee = guarantee
        self._rto = _Rto(policy or RetryPolicy())
        self._ids = _Ids()
        self._unacked: dict[int, _Pending] = {}
        self._heap: list[tuple[float, int, int]] = []  # (deadline, msg, attempt)
        self._armed: float | None = None
        self._retransmissions = 0

    @property
    def in_flight(self) -> int:
        return len(self._unacked)

    @property
    def retransmissions(self) -> int:
        return self._retransmissions

    @property
    def span(self) -> int:
        return self._ids.next_id - min(self._unacked) if self._unacked else 0

    def unacked(self) -> frozenset[int]:
        return frozenset(self._unacked)

    def handle(self, event: Event, now: float) -> list[Effect]:
        out: list[Effect] = []
        match event:
            case Submit(payload):
                msg, _ = self._ids.take()
                # The next id, exactly, with the outbox row: a restart resumes at it, so the ids
                # have no gap (the receiver's dedup watermark climbs over contiguous ids only).
                # An id handed out and never persisted was never sent: reusing it is safe.
                writes: tuple[Write, ...] = (ReserveIds(msg + 1), OutboxPut(msg, payload))
                out += [Persist(writes), Accepted(msg)]
                self._transmit(msg, payload, 0, now, out)
            case FrameIn(frame):
                if frame.kind is not FrameKind.ACK:
                    out.append(Discarded(frame.msg, f"unexpected {frame.kind.name}"))
                elif (pending := self._unacked.pop(frame.msg, None)) is None:
                    out.append(Discarded(frame.msg, "duplicate ACK"))
                else:
                    if pending.attempt == 0:
                        self._rto.sample(now - pending.first_sent)
                    out += [Persist((OutboxDelete(frame.msg),)), Acked(frame.msg)]
            case TimerFired():
                self._retransmit_due(now, out)
            case Restart(snapshot):
                self._ids.restart(snapshot.next_id)
                self._unacked.clear()
                self._heap.clear()
                for msg in sorted(snapshot.outbox):
                    self._transmit(msg, snapshot.outbox[msg], 0, now, out)
                self._retransmissions += len(snapshot.outbox)
            case _:
                assert_never(event)
        deadline = self._earliest()
        if deadline != self._armed:
            self._armed = deadline
            out.append(SetTimer(deadline))
        return out

    def _transmit(
        self, msg: int, payload: bytes, attempt: int, now: float, out: list[Effect]
    ) -> None:
        deadline = now + self._rto.timeout(attempt)
        self._unacked[msg] = _Pending(payload, attempt, deadline, now)
        heapq.heappush(self._heap, (deadline, msg, attempt))
        out.append(SendFrame(Frame(FrameKind.DATA, msg, payload)))

    def _retransmit_due(self, now: float, out: list[Effect]) -> None:
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, msg, attempt = heapq.heappop(heap)
            pending = self._unacked.get(msg)
            if pending is None or pending.attempt != attempt:
                continue  # stale: acked or already rescheduled
            self._retransmissions += 1
            self._transmit(msg, pending.payload, attempt + 1, now, out)

    def _earliest(self) -> float | None:
        heap = self._heap
        while heap:
            _, msg, attempt = heap[0]
            pending = self._unacked.get(msg)
            if pending is not None and pending.attempt == attempt:
                return heap[0][0]
            heapq.heappop(heap)
        return None


def make_sender(guarantee: Guarantee, *, policy: RetryPolicy | None = None) -> SenderCore:
    match guarantee:
        case Guarantee.AT_MOST_ONCE:
            return AtMostOnceSender()
        case Guarantee.AT_LEAST_ONCE | Guarantee.EXACTLY_ONCE:
            return RetryingSender(guarantee, policy=policy)
        case _:
            assert_never(guarantee)
