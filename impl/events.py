"""Inputs to and outputs from the sans-I/O cores.

Events go in (``Submit``, ``FrameIn``, ``TimerFired``, ``Restart``), effects come out, in order.
Durable writes travel inside ``Persist`` effects; a shell must complete a ``Persist`` (commit it)
before it carries out any later effect of the same step. All of these are frozen, slotted values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ackproof.impl.codec import Frame


class Guarantee(StrEnum):
    AT_MOST_ONCE = "at-most-once"
    AT_LEAST_ONCE = "at-least-once"
    EXACTLY_ONCE = "exactly-once"


# --- durable writes (what a store commits, one transaction per Persist) -------------------------


@dataclass(frozen=True, slots=True)
class ReserveIds:
    """Message ids below ``upto`` may have been handed out; never reuse them."""

    upto: int


@dataclass(frozen=True, slots=True)
class OutboxPut:
    msg: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class OutboxDelete:
    msg: int


@dataclass(frozen=True, slots=True)
class MarkSeen:
    """The receiver's dedup/inbox row for ``msg``."""

    msg: int


@dataclass(frozen=True, slots=True)
class RecordProcessed:
    """The application's processed record (an append-only log: duplicates stay visible)."""

    msg: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class CompactSeen:
    """The receiver's dedup watermark moved to ``low``: every id below it was processed, so
    their dedup rows go (in the same transaction as the processing that moved it)."""

    low: int


Write = ReserveIds | OutboxPut | OutboxDelete | MarkSeen | RecordProcessed | CompactSeen

_EMPTY: Mapping[int, bytes] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Durable state recovered on restart."""

    next_id: int = 0
    outbox: Mapping[int, bytes] = field(default_factory=lambda: _EMPTY)
    seen: frozenset[int] = frozenset()
    #: The dedup watermark: every id below it was processed (``seen`` holds ids above it).
    low: int = 0


# --- events --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Submit:
    payload: bytes


@dataclass(frozen=True, slots=True)
class FrameIn:
    frame: Frame


@dataclass(frozen=True, slots=True)
class TimerFired:
    pass


@dataclass(frozen=True, slots=True)
class Restart:
    snapshot: Snapshot


Event = Submit | FrameIn | TimerFired | Restart

# --- effects -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Persist:
    writes: tuple[Write, ...]


@dataclass(frozen=True, slots=True)
class SendFrame:
    frame: Frame


@dataclass(frozen=True, slots=True)
class Accepted:
    """A submitted payload got message id ``msg`` (trace: ``submit``)."""

    msg: int


@dataclass(frozen=True, slots=True)
class Deliver:
    """Hand a processed message to the application (trace: ``process``)."""

    msg: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Acked:
    """The sender learned ``msg`` was delivered (trace: ``ack``)."""

    msg: int


@dataclass(frozen=True, slots=True)
class Discarded:
    """An input was ignored on purpose (a duplicate DATA or ACK, an unexpected frame)."""

    msg: int
    reason: str


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Fire ``TimerFired`` at ``deadline`` (replacing any earlier timer); None disarms."""

    deadline: float | None


Effect = Persist | SendFrame | Accepted | Deliver | Acked | Discarded | SetTimer
