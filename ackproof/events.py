"""The trace vocabulary, and one line of a recorded trace.

This module is the one definition of the events a JSONL trace may name (the format:
``impl/TRACE_FORMAT.md``, which documents exactly :class:`TraceEvent`).  Everything that
writes a trace (``ackproof.impl.trace``, ``ackproof.probe``, ``--trace-out``) and everything
that reads one (:mod:`ackproof.validate`, :mod:`ackproof.replay`, the judge in
:mod:`ackproof.spec.judge`) imports the words from here.  Pure Python, no imports from the
package: ``spec`` may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TraceEvent(StrEnum):
    """What a trace line says happened (its ``event`` field)."""

    SUBMIT = "submit"  # sender: the application handed message ``msg`` to the sender
    SEND = "send"  # either: a frame about ``msg`` was handed to the network
    RECEIVE = "receive"  # either: a well-formed frame about ``msg`` arrived
    PROCESS = "process"  # receiver: the application's side effect for ``msg`` ran
    ACK = "ack"  # sender: the sender learned that ``msg`` was delivered
    CRASH = "crash"  # either: the node died; everything not durable is gone
    RESTART = "restart"  # either: the node came back from its durable state
    REJECT = "reject"  # either: a readable frame was refused before the protocol saw it
    DROP = "drop"  # network (``--trace-out``): the network lost a frame
    DUPLICATE = "duplicate"  # network (``--trace-out``): the network duplicated a frame


#: The events that carry no ``msg``.
NO_MSG = frozenset({TraceEvent.CRASH, TraceEvent.RESTART})
#: The events that must carry a ``msg``: the observable history the guarantees speak of
#: (``submitted``, ``processed``, ``acked`` in :mod:`ackproof.spec.history`).
NEEDS_MSG = frozenset({TraceEvent.SUBMIT, TraceEvent.PROCESS, TraceEvent.ACK})


@dataclass(frozen=True, slots=True)
class Event:
    """One line of a trace, as :mod:`ackproof.validate` reads it and
    :mod:`ackproof.replay` replays it."""

    file: str
    line: int
    node: str
    event: TraceEvent
    msg: int | None
    t: float | None
    frame: tuple[tuple[str, object], ...] | None = None
    #: Appended after the node died, from its durable records (the original line was lost).
    recovered: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"
