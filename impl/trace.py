"""JSONL traces of a node's observable events (format: ``impl/TRACE_FORMAT.md``).

One JSON object per line: ``node``, ``event`` (a :class:`ackproof.events.TraceEvent`, the
one vocabulary), ``msg`` (not for crash/restart), and the optional ``t`` (seconds, from a
monotonic clock shared by all processes on the host, so a restarted node's lines keep
increasing), ``seq`` (per-node line counter, continued across restarts by counting the lines
already in the file), ``frame`` and ``guarantee``. Lines are buffered and written by
:meth:`Tracer.flush`, which the shell calls after every batch of steps.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

# The vocabulary is defined once, in ackproof/events.py (re-exported for the shell).
from ackproof.events import NO_MSG
from ackproof.events import TraceEvent as TraceEvent

if TYPE_CHECKING:
    from collections.abc import Callable

    from ackproof.impl.codec import Frame
    from ackproof.impl.events import Guarantee

NodeName = Literal["sender", "receiver"]


class Tracer:
    def __init__(
        self,
        file: TextIO,
        *,
        node: NodeName,
        guarantee: Guarantee | None = None,
        clock: Callable[[], float] = time.monotonic,
        seq: int = 0,
    ) -> None:
        self._file = file
        self._node = node
        self._guarantee = None if guarantee is None else str(guarantee)
        self._clock = clock
        self._seq = seq
        self._lines: list[str] = []

    @classmethod
    def open(
        cls, path: str | Path, *, node: NodeName, guarantee: Guarantee | None = None
    ) -> Tracer:
        """Append to ``path``, continuing ``seq`` after the lines already there."""
        path = Path(path)
        seq = 0
        if path.exists():
            with path.open("rb") as existing:
                while chunk := existing.read(1 << 20):
                    seq += chunk.count(b"\n")
        return cls(path.open("a", encoding="utf-8"), node=node, guarantee=guarantee, seq=seq)

    def line(
        self,
        event: TraceEvent,
        msg: int | None = None,
        frame: Frame | None = None,
        *,
        recovered: bool = False,
        fields: dict[str, object] | None = None,
        reason: str | None = None,
    ) -> str:
        obj: dict[str, object] = {"node": self._node, "event": str(event)}
        if msg is not None and event not in NO_MSG:
            obj["msg"] = msg
        obj["t"] = round(self._clock(), 6)
        obj["seq"] = self._seq
        self._seq += 1
        if frame is not None:
            obj["frame"] = frame.to_json()
        elif fields is not None:
            obj["frame"] = fields
        if self._guarantee is not None:
            obj["guarantee"] = self._guarantee
        if recovered:
            obj["recovered"] = True
        if reason is not None:
            obj["reason"] = reason
        return json.dumps(obj, separators=(",", ":"))

    def emit(
        self,
        event: TraceEvent,
        msg: int | None = None,
        frame: Frame | None = None,
        *,
        recovered: bool = False,
        fields: dict[str, object] | None = None,
        reason: str | None = None,
    ) -> None:
        self._lines.append(
            self.line(event, msg, frame, recovered=recovered, fields=fields, reason=reason)
        )

    def flush(self) -> None:
        if self._lines:
            self._file.write("\n".join(self._lines) + "\n")
            self._lines.clear()
        self._file.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()


def append_event(
    path: str | Path, event: TraceEvent, *, node: NodeName, guarantee: Guarantee | None = None
) -> None:
    """Append one line (e.g. ``crash``, written by whoever saw the node die) to a trace file."""
    tracer = Tracer.open(path, node=node, guarantee=guarantee)
    tracer.emit(event)
    tracer.close()


class EventCounts:
    """How many lines of one event each ``msg`` has in a trace file, kept up to date by reading
    only what was appended since the last :meth:`update` (a supervisor reconciles after every
    death: rereading the whole file each time made a run with many kills quadratic)."""

    __slots__ = ("_offset", "counts", "event", "path")

    def __init__(self, path: str | Path, event: TraceEvent) -> None:
        self.path = Path(path)
        self.event = str(event)
        self.counts: Counter[int] = Counter()
        self._offset = 0

    def update(self) -> Counter[int]:
        _drop_torn_tail(self.path)
        if not self.path.exists():
            return self.counts
        with self.path.open("rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for raw in data[:end].splitlines():
            try:
                obj = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a line torn by a kill and since overwritten; validate will name it
            if isinstance(obj, dict) and obj.get("event") == self.event:
                msg = obj.get("msg")
                if isinstance(msg, int):
                    self.counts[msg] += 1
        return self.counts


def reconcile_processed(
    path: str | Path,
    processed: list[int],
    *,
    node: NodeName,
    guarantee: Guarantee | None = None,
    counts: EventCounts | None = None,
) -> int:
    """Append the ``process`` lines a killed node committed but never flushed.

    ``processed`` is the durable processed log (one entry per processing, in order).  For
    every message the log holds more often than the trace shows, the missing lines are
    appended, marked ``"recovered": true``.  Returns how many were added.  ``counts`` (of
    ``process`` lines, for this file) makes repeated calls read only what is new.
    """
    counts = EventCounts(path, TraceEvent.PROCESS) if counts is None else counts
    missing = Counter(processed) - counts.update()
    if not missing:
        return 0
    tracer = Tracer.open(path, node=node, guarantee=guarantee)
    added = 0
    for msg in processed:
        if missing[msg] > 0:
            missing[msg] -= 1
            tracer.emit(TraceEvent.PROCESS, msg, recovered=True)
            added += 1
    tracer.close()
    return added


def reconcile_submitted(
    path: str | Path,
    submitted: list[int],
    *,
    node: NodeName = "sender",
    guarantee: Guarantee | None = None,
    counts: EventCounts | None = None,
) -> int:
    """Append the ``submit`` lines a killed sender committed (or reported) but never flushed.

    ``submitted`` are the ids known to be accepted: reported by the node before it died, or
    found in its durable outbox. Trace lines are flushed before the frames they lead to leave
    (:mod:`ackproof.impl.shell`), so none of these ids has left the node yet: an appended line,
    marked ``"recovered": true``, still comes before any processing of it. Returns how many
    were added.
    """
    counts = EventCounts(path, TraceEvent.SUBMIT) if counts is None else counts
    seen = counts.update()
    missing = [m for m in dict.fromkeys(submitted) if seen[m] == 0]
    if not missing:
        return 0
    tracer = Tracer.open(path, node=node, guarantee=guarantee)
    for msg in missing:
        tracer.emit(TraceEvent.SUBMIT, msg, recovered=True)
    tracer.close()
    return len(missing)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line the kill left half-written (no trailing newline); reads only the tail."""
    if not path.exists():
        return
    with path.open("r+b") as fh:
        size = fh.seek(0, 2)
        if size == 0:
            return
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        pos = size
        while pos > 0:
            start = max(0, pos - 65536)
            fh.seek(start)
            chunk = fh.read(pos - start)
            cut = chunk.rfind(b"\n")
            if cut >= 0:
                fh.truncate(start + cut + 1)
                return
            pos = start
        fh.truncate(0)
