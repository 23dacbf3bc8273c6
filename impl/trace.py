"""JSONL traces of a node's observable events (format: ``impl/TRACE_FORMAT.md``).

One JSON object per line: ``node``, ``event``, ``msg`` (not for crash/restart), and the optional
``t`` (seconds, from a monotonic clock shared by all processes on the host, so a restarted node's
lines keep increasing), ``seq`` (per-node line counter, continued across restarts by counting the
lines already in the file), ``frame`` and ``guarantee``. Lines are buffered and written by
:meth:`Tracer.flush`, which the shell calls after every batch of steps.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

    from ackproof.impl.codec import Frame
    from ackproof.impl.events import Guarantee

NodeName = Literal["sender", "receiver"]


class TraceEvent(StrEnum):
    SUBMIT = "submit"
    SEND = "send"
    RECEIVE = "receive"
    PROCESS = "process"
    ACK = "ack"
    CRASH = "crash"
    RESTART = "restart"


NO_MSG = frozenset({TraceEvent.CRASH, TraceEvent.RESTART})


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
                seq = sum(1 for _ in existing)
        return cls(path.open("a", encoding="utf-8"), node=node, guarantee=guarantee, seq=seq)

    def line(
        self,
        event: TraceEvent,
        msg: int | None = None,
        frame: Frame | None = None,
        *,
        recovered: bool = False,
    ) -> str:
        obj: dict[str, object] = {"node": self._node, "event": str(event)}
        if msg is not None and event not in NO_MSG:
            obj["msg"] = msg
        obj["t"] = round(self._clock(), 6)
        obj["seq"] = self._seq
        self._seq += 1
        if frame is not None:
            obj["frame"] = frame.to_json()
        if self._guarantee is not None:
            obj["guarantee"] = self._guarantee
        if recovered:
            obj["recovered"] = True
        return json.dumps(obj, separators=(",", ":"))

    def emit(
        self,
        event: TraceEvent,
        msg: int | None = None,
        frame: Frame | None = None,
        *,
        recovered: bool = False,
    ) -> None:
        self._lines.append(self.line(event, msg, frame, recovered=recovered))

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


def reconcile_processed(
    path: str | Path,
    processed: list[int],
    *,
    node: NodeName,
    guarantee: Guarantee | None = None,
) -> int:
    """Append the ``process`` lines a killed node committed but never flushed.

    ``processed`` is the durable processed log (one entry per processing, in order).  For
    every message the log holds more often than the trace shows, the missing lines are
    appended, marked ``"recovered": true``.  Returns how many were added.
    """
    path = Path(path)
    _drop_torn_tail(path)
    seen: Counter[int] = Counter()
    if path.exists():
        with path.open(encoding="utf-8") as fh:
            for raw in fh:
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError:
                    continue  # a line torn by the kill; validate will name it
                if isinstance(obj, dict) and obj.get("event") == "process":
                    msg = obj.get("msg")
                    if isinstance(msg, int):
                        seen[msg] += 1
    missing = Counter(processed) - seen
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


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line the kill left half-written (no trailing newline)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        path.write_bytes(data[: data.rfind(b"\n") + 1])
