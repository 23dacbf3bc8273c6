"""The clients' durable records: a JSONL trace and the producer's outbox.

Theory of operation
-------------------
A client process may be SIGKILLed at any instruction. Every record is therefore appended
with one ``os.write`` of a whole line to a file opened with ``O_APPEND``: a kill leaves the
line written or not, never half of it, and what was written survives the process (the
faults injected are process kills, not power cuts, so no ``fsync``).

*Trace* (``impl/TRACE_FORMAT.md``): ``node``, ``event``, ``msg``, ``t`` (``time.monotonic()``,
one clock for every process on the host, so lines of a restarted process continue the
dead one's), ``seq`` (continued across restarts) and ``guarantee``.

A consumer in an ``-inbox`` setting skips ids its trace already shows processed: the
``process`` line is its durable dedup record (the inbox pattern, atomic by construction).

*Outbox* (producer only): a ``submit`` record is durable before the message is traced as
submitted or published, an ``acked`` record once the broker confirmed it. A restarted
producer resends every submitted, unacked id and continues after the last submitted one;
a submit that was durable but not yet traced when the producer died is traced on restart
with ``"recovered": true`` (the format's flag for lines written from durable records).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ackproof.events import TraceEvent


def _append(fd: int, obj: dict[str, object]) -> None:
    os.write(fd, (json.dumps(obj, separators=(",", ":")) + "\n").encode())


def _lines(path: Path) -> list[dict[str, object]]:
    """The complete JSON lines of ``path`` (a missing file has none)."""
    if not path.exists():
        return []
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            continue  # cannot happen with one write per line; tolerated anyway
        if isinstance(obj, dict):
            out.append(obj)
    return out


class Trace:
    """Append-only trace of one node (``"sender"`` or ``"receiver"``), across restarts."""

    def __init__(self, path: Path, *, node: str, guarantee: str) -> None:
        self.path = path
        self.node = node
        self.guarantee = guarantee
        existing = _lines(path)
        self.seq = len(existing)
        self.submitted = {
            int(str(o["msg"]))
            for o in existing
            if o.get("event") == TraceEvent.SUBMIT and "msg" in o
        }
        self.processed = {
            int(str(o["msg"]))
            for o in existing
            if o.get("event") == TraceEvent.PROCESS and "msg" in o
        }
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()

    def line(
        self,
        event: TraceEvent,
        msg: int | None = None,
        *,
        recovered: bool = False,
        frame: Mapping[str, object] | None = None,
    ) -> None:
        """Append one line; ``frame`` describes a received delivery (``kind`` DATA, ``msg``,
        and what the broker said of it: ``redelivered``, its own sequence number)."""
        obj: dict[str, object] = {"node": self.node, "event": event}
        if msg is not None:
            obj["msg"] = msg
        with self._lock:  # paho calls back on its own thread: t and seq in file order
            obj["t"] = time.monotonic()
            obj["seq"] = self.seq
            if frame is not None:
                obj["frame"] = {"kind": "DATA", "msg": msg, **frame}
            obj["guarantee"] = self.guarantee
            if recovered:
                obj["recovered"] = True
            _append(self._fd, obj)
            self.seq += 1
            if event is TraceEvent.SUBMIT and msg is not None:
                self.submitted.add(msg)
            elif event is TraceEvent.PROCESS and msg is not None:
                self.processed.add(msg)

    def process(self, msg: int, *, inbox: bool) -> bool:
        """The consumer's effect: a ``process`` line. With ``inbox`` (the inbox pattern), an
        id whose line is already in the trace is skipped: the line is the dedup record and
        the effect in one write, so no kill can fall between them. True if processed."""
        if inbox and msg in self.processed:
            return False
        self.line(TraceEvent.PROCESS, msg)
        return True

    def close(self) -> None:
        os.close(self._fd)


def append_line(path: Path, obj: dict[str, object]) -> None:
    """Append one line to someone else's trace (the harness writes ``crash`` lines)."""
    seq = len(_lines(path))
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        _append(fd, {**obj, "t": time.monotonic(), "seq": seq})
    finally:
        os.close(fd)


@dataclass
class Outbox:
    """The producer's durable outbox: submitted ids, and which of them the broker confirmed."""

    path: Path
    submitted: list[int] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    _fd: int = -1

    @classmethod
    def open(cls, path: Path) -> Outbox:
        box = cls(path)
        for obj in _lines(path):
            msg = obj.get("msg")
            if not isinstance(msg, int):
                continue
            if obj.get("op") == "submit":
                box.submitted.append(msg)
            elif obj.get("op") == "acked":
                box.acked.add(msg)
        box._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        return box

    @property
    def next_id(self) -> int:
        return max(self.submitted, default=-1) + 1

    def unacked(self) -> list[int]:
        return [m for m in self.submitted if m not in self.acked]

    def submit(self, msg: int) -> None:
        _append(self._fd, {"op": "submit", "msg": msg})
        self.submitted.append(msg)

    def ack(self, msg: int) -> None:
        if msg not in self.acked:
            _append(self._fd, {"op": "acked", "msg": msg})
            self.acked.add(msg)


def recover_submits(outbox: Outbox, trace: Trace) -> None:
    """Trace (as recovered) the submits that were durable when the producer died untraced."""
    for msg in outbox.submitted:
        if msg not in trace.submitted:
            trace.line(TraceEvent.SUBMIT, msg, recovered=True)
