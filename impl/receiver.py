"""Receiver cores, one per guarantee: ``handle(event, now) -> effects``.

Theory of operation
-------------------
Processing a message means committing its processed record (``RecordProcessed``, an append-only
log) and then handing it to the application (``Deliver``). The rule each receiver keeps:

* At-most-once: record the id (``MarkSeen``) durably *before* processing; a copy whose id is in
  the seen set is dropped. A crash between the two loses the message (allowed); nothing can make
  it run twice, not network duplicates and not a restart. No ACK is ever sent.
* At-least-once: process every copy, *then* ACK. A crash after processing and before the ACK
  means the sender retries and the message runs again (allowed); an ACK never precedes processing.
* Exactly-once: dedup by id in durable state; the dedup row and the processed record are written
  in ONE ``Persist`` (one transaction), then ACK. A copy already seen is only re-ACKed. The dedup
  state stays bounded (``spec/examples/compaction.py``, proved there): a watermark ``low`` (every
  id below it was processed) plus the sparse set of processed ids above it; when ``low`` itself
  is processed it climbs over the set, and ``CompactSeen`` (same transaction) drops the rows it
  passed. With the sender's ids in order and gapless, the set holds at most the ids that
  overtook a missing one: fewer than the sender's window.

The seen set is loaded from the snapshot on ``Restart``. No clock, I/O or randomness here.
"""

from __future__ import annotations

from typing import Protocol, assert_never

from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.errors import UsageError
from ackproof.impl.events import (
    CompactSeen,
    Deliver,
    Discarded,
    Effect,
    Event,
    FrameIn,
    Guarantee,
    MarkSeen,
    Persist,
    RecordProcessed,
    Restart,
    SendFrame,
    Submit,
    TimerFired,
    Write,
)


class ReceiverCore(Protocol):
    guarantee: Guarantee

    def handle(self, event: Event, now: float) -> list[Effect]: ...


class _Receiver:
    guarantee: Guarantee

    def __init__(self) -> None:
        self._seen: set[int] = set()

    @property
    def seen(self) -> frozenset[int]:
        return frozenset(self._seen)

    def handle(self, event: Event, now: float) -> list[Effect]:
        match event:
            case FrameIn(frame):
                if frame.kind is FrameKind.DATA:
                    return self._on_data(frame.msg, frame.payload)
                return [Discarded(frame.msg, f"unexpected {frame.kind.name}")]
            case Restart(snapshot):
                self._seen = set(snapshot.seen)
                return []
            case TimerFired():
                return []
            case Submit():
                raise UsageError("a receiver does not take submissions")
            case _:
                assert_never(event)

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        raise NotImplementedError


class AtMostOnceReceiver(_Receiver):
    guarantee = Guarantee.AT_MOST_ONCE

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        if msg in self._seen:
            return [Discarded(msg, "duplicate DATA")]
        self._seen.add(msg)
        return [
            Persist((MarkSeen(msg),)),
            Persist((RecordProcessed(msg, payload),)),
            Deliver(msg, payload),
        ]


class AtLeastOnceReceiver(_Receiver):
    guarantee = Guarantee.AT_LEAST_ONCE

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        return [
            Persist((RecordProcessed(msg, payload),)),
            Deliver(msg, payload),
            SendFrame(Frame(FrameKind.ACK, msg)),
        ]


class ExactlyOnceReceiver(_Receiver):
    guarantee = Guarantee.EXACTLY_ONCE

    def __init__(self) -> None:
        super().__init__()
        self.low = 0  # every id below it was processed; ``_seen`` holds those above

    @property
    def dedup_size(self) -> int:
        """Ids the dedup state holds one by one (the watermark is one number)."""
        return len(self._seen)

    def handle(self, event: Event, now: float) -> list[Effect]:
        if isinstance(event, Restart):
            self.low = event.snapshot.low
        return super().handle(event, now)

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        ack = SendFrame(Frame(FrameKind.ACK, msg))
        if msg < self.low or msg in self._seen:
            return [Discarded(msg, "duplicate DATA"), ack]
        seen, low = self._seen, self.low
        seen.add(msg)
        while low in seen:
            seen.remove(low)
            low += 1
        writes: list[Write] = [RecordProcessed(msg, payload)]
        if msg >= low:
            writes.insert(0, MarkSeen(msg))  # it overtook a missing id: a row above the mark
        if low != self.low:
            self.low = low
            writes.append(CompactSeen(low))
        return [Persist(tuple(writes)), Deliver(msg, payload), ack]


def make_receiver(guarantee: Guarantee) -> ReceiverCore:
    match guarantee:
        case Guarantee.AT_MOST_ONCE:
            return AtMostOnceReceiver()
        case Guarantee.AT_LEAST_ONCE:
            return AtLeastOnceReceiver()
        case Guarantee.EXACTLY_ONCE:
            return ExactlyOnceReceiver()
        case _:
            assert_never(guarantee)
