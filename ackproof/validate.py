"""``ackproof validate``: check a recorded JSONL trace of any implementation.

The trace format is the one ``impl/`` writes (``impl/TRACE_FORMAT.md``): one JSON object
per line with ``node``, ``event`` and, except for ``crash``/``restart``, ``msg``;
optionally ``t`` (seconds, non-decreasing per node), ``seq``, ``frame``, ``guarantee``.
Counterexamples exported with ``--trace-out`` add ``drop``/``duplicate`` lines from the
``network`` node.

Theory of operation
-------------------
The trace is streamed, never loaded whole: its ``submit``, ``process`` and ``ack`` lines
go to :func:`ackproof.spec.judge.judge`, the one judge (the demo, the probe and the
conformance tests call it too), which keeps per message id the line of its first submit,
of its first two processings and of its ack, and judges the history predicates of
:mod:`ackproof.spec.history` on that summary:

* **duplicate** — a message processed twice (both lines reported);
* **phantom** — a message processed with no earlier submit;
* **loss** — a message submitted and never processed in the whole trace (a run cut short
  while frames were in flight shows up here too: record until the system is quiet);
  an *acked* message never processed is the strongest evidence and is reported as such;
* **out of order** — (with ``in-order`` in the guarantee) a message first processed
  after a later-submitted one (a message never submitted counts as submitted last).

Several files (one per node) are merged by ``t``, so each line needs ``t`` then.  ``-``
(or ``/dev/stdin``, a pipe) reads standard input; a UTF-8 byte-order mark is skipped.  Every
malformed line — bad JSON, JSON nested too deeply, a number too long, a ``t`` that is not
finite, a field of the wrong type, a negative id — is an error naming ``file:line``.
"""

from __future__ import annotations

import codecs
import heapq
import json
import math
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ackproof.events import NEEDS_MSG, Event, TraceEvent
from ackproof.loader import InputError
from ackproof.output import Status
from ackproof.spec.history import GUARANTEES, PROPERTIES, resolve
from ackproof.spec.judge import Culprit, Duplicated, Judgement, Lost, Observation, Tally
from ackproof.spec.judge import judge as judge_history

if TYPE_CHECKING:
    from ackproof.replay import Replay

#: The words a trace may use (ackproof/events.py is their one definition), by their text.
EVENTS = {str(e): e for e in TraceEvent}
#: Message ids are 64-bit unsigned on the wire (impl/codec.py).
MAX_ID = 2**64 - 1


@dataclass
class Report:
    """A trace judged: its lines and crashes, and :func:`ackproof.spec.judge.judge`'s
    judgement (the one definition of lost, duplicated, phantom, out of order)."""

    lines: int = 0
    crashes: int = 0
    judgement: Judgement = field(default_factory=lambda: judge_history(()))

    @property
    def counts(self) -> Tally:
        return self.judgement.counts

    @property
    def submitted(self) -> int:  # ids submitted
        return len(self.judgement.submitted)

    @property
    def processed(self) -> int:  # ids processed at least once
        return self.judgement.processed

    @property
    def extra_deliveries(self) -> int:  # processings beyond each id's first
        return self.judgement.extra_deliveries

    @property
    def lost(self) -> tuple[Lost, ...]:
        return self.judgement.lost

    @property
    def duplicated(self) -> tuple[Duplicated, ...]:
        return self.judgement.duplicated

    @property
    def phantom(self) -> tuple[Culprit, ...]:
        return self.judgement.phantom

    @property
    def out_of_order(self) -> tuple[Culprit, ...]:
        return self.judgement.out_of_order

    def violated(self, prop: str) -> bool:
        return self.judgement.violated(prop)


def _lines(file: str, stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """The numbered lines of ``stream`` as text (a UTF-8 byte-order mark at the start is
    skipped); a byte that is not UTF-8 is an error naming this file and line."""
    for n, raw in enumerate(stream, 1):
        if n == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            yield n, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise InputError(f"{file}:{n}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def _constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def _parse(file: str, stream: BinaryIO) -> Iterator[Event]:
    last_t: dict[str, float] = {}
    for n, raw in _lines(file, stream):
        text = raw.strip()
        if not text:
            continue
        try:
            obj = json.loads(text, parse_constant=_constant)
        except json.JSONDecodeError as e:
            raise InputError(f"{file}:{n}: not valid JSON ({e.msg})") from None
        except RecursionError:
            raise InputError(f"{file}:{n}: JSON nested too deeply") from None
        except ValueError as e:  # a number with too many digits, NaN, Infinity
            why = "a number with too many digits" if "digits" in str(e) else str(e)
            raise InputError(f"{file}:{n}: not valid JSON ({why})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{file}:{n}: expected a JSON object, got {type(obj).__name__}")
        yield _event(file, n, obj, last_t)


def _event(file: str, n: int, obj: dict[str, Any], last_t: dict[str, float]) -> Event:
    where = f"{file}:{n}"
    node = obj.get("node")
    if node is None:
        raise InputError(f"{where}: missing field 'node' (a string such as \"sender\")")
    if not isinstance(node, str) or not node:
        raise InputError(f"{where}: field 'node' must be a non-empty string, got {_short(node)}")
    event = obj.get("event")
    if event is None:
        raise InputError(f"{where}: missing field 'event'")
    if not isinstance(event, str):
        raise InputError(f"{where}: field 'event' must be a string, got {_short(event)}")
    if event not in EVENTS:
        raise InputError(f"{where}: unknown event {event!r} (known: {', '.join(sorted(EVENTS))})")
    kind = EVENTS[event]
    msg = obj.get("msg")
    if kind in NEEDS_MSG and msg is None:
        raise InputError(f"{where}: event {event!r} needs field 'msg' (the message id)")
    if msg is not None and (not isinstance(msg, int) or isinstance(msg, bool)):
        raise InputError(f"{where}: field 'msg' must be an integer, got {_short(msg)}")
    if msg is not None and not 0 <= msg <= MAX_ID:
        raise InputError(f"{where}: field 'msg' must be an id in 0..2**64-1, got {_short(msg)}")
    t = obj.get("t")
    if t is not None:
        if not isinstance(t, int | float) or isinstance(t, bool) or not math.isfinite(t):
            raise InputError(f"{where}: field 't' must be a finite number, got {_short(t)}")
        prev = last_t.get(node)
        if prev is not None and t < prev:
            raise InputError(
                f"{where}: timestamp {t} goes back in time for node {node!r} (previous {prev})"
            )
        last_t[node] = float(t)
    frame = obj.get("frame")
    if frame is not None and (
        not isinstance(frame, dict) or not isinstance(frame.get("kind"), str)
    ):
        raise InputError(f"{where}: field 'frame' must be an object with a 'kind', got {frame!r}")
    fields = None if frame is None else tuple(sorted(frame.items()))
    recovered = obj.get("recovered") is True
    return Event(file, n, node, kind, msg, None if t is None else float(t), fields, recovered)


def _short(v: object) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


STDIN = ("-", "/dev/stdin")


def _open(p: str) -> BinaryIO:
    """A trace file, standard input (``-``) or any readable non-directory (a pipe)."""
    if p in STDIN:
        return open(sys.stdin.fileno(), "rb", closefd=False)
    path = Path(p)
    if not path.exists():
        raise InputError(f"{p}: no such file")
    if path.is_dir():
        raise InputError(f"{p}: is a directory, not a trace file")
    try:
        return path.open("rb")
    except OSError as e:
        raise InputError(f"{p}: cannot read: {e.strerror}") from None


def events(paths: Sequence[str]) -> Iterator[Event]:
    """The events of one trace, or of several merged by ``t``."""
    if sum(p in STDIN for p in paths) > 1:
        raise InputError("standard input ('-' or /dev/stdin) can be read only once")
    streams: list[Iterator[Event]] = []
    handles: list[BinaryIO] = []
    try:
        for p in paths:
            h = _open(p)
            handles.append(h)
            streams.append(_parse(p, h))
        if len(streams) == 1:
            yield from streams[0]
            return
        yield from heapq.merge(*(_timed(s) for s in streams), key=lambda e: e.t or 0.0)
    finally:
        for h in handles:
            h.close()


def _timed(stream: Iterator[Event]) -> Iterator[Event]:
    for e in stream:
        if e.t is None:
            raise InputError(f"{e.where}: merging several files needs field 't' on every line")
        yield e


def judge(stream: Iterator[Event], *, finished: bool = True) -> Report:
    """Judge a trace (streamed) by :func:`ackproof.spec.judge.judge`; ``finished``: the run
    was recorded to its end (else a submitted, unprocessed id may still be in flight)."""
    report = Report()

    def history() -> Iterator[Observation]:
        for e in stream:
            report.lines += 1
            if e.event is TraceEvent.CRASH:
                report.crashes += 1
            elif e.msg is not None and e.event in NEEDS_MSG:
                yield Observation(e.event, e.msg, where=e.where)

    report.judgement = judge_history(history(), finished=finished)
    return report


def _properties(guarantee: str) -> tuple[str, ...]:
    """A guarantee, or a comma-separated list of guarantees and properties, as property ids."""
    parts = [p.strip() for p in guarantee.split(",") if p.strip()]
    try:
        props = resolve(parts)
    except KeyError:
        props = ()
    if not props:
        known = ", ".join([*GUARANTEES, *PROPERTIES])
        raise InputError(f"unknown guarantee {guarantee!r} (known: {known})")
    return props


def _show(report: Report, props: Sequence[str], limit: int = 5) -> list[str]:
    out = [
        f"{report.lines} lines: {report.submitted} submitted, {report.processed} processed, "
        f"{len(report.lost)} lost, {len(report.duplicated)} duplicated "
        f"({report.extra_deliveries} extra deliveries), "
        f"{len(report.phantom)} phantom, {report.crashes} crashes"
    ]
    for prop in props:
        out.append(f"  {prop:13} {'VIOLATED' if report.violated(prop) else 'holds'}")
        if prop == "no-loss":
            for msg, sub, ack in report.lost[:limit]:
                why = f", acked at {ack} but never processed" if ack else ", never processed"
                out.append(f"    message {msg}: submitted at {sub}{why}")
        elif prop == "no-duplicate":
            for msg, lines in report.duplicated[:limit]:
                out.append(f"    message {msg}: processed at {lines[0]} and again at {lines[1]}")
        elif prop == "no-phantom":
            for msg, where in report.phantom[:limit]:
                out.append(f"    message {msg}: processed at {where}, never submitted before")
        elif prop == "in-order":
            for msg, where in report.out_of_order[:limit]:
                out.append(f"    message {msg}: first processed at {where}, after a later one")
    return out


@dataclass(frozen=True, slots=True)
class Request:
    """What ``ackproof validate`` was asked: the trace files (``-`` reads stdin), the
    guarantee (or a comma-separated list of guarantees and properties) and, optionally, a
    protocol to replay the trace on (``protocol_name`` picks one of its file's)."""

    traces: tuple[str, ...]
    guarantee: str = "exactly-once"
    protocol: str | None = None
    protocol_name: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What validating found: the judged trace, the properties checked, those violated
    (plus ``spec-behaviour`` when the replay refused the trace) and the replay, if any."""

    request: Request
    properties: tuple[str, ...]
    report: Report
    violated: tuple[str, ...]
    replay: Replay | None

    @property
    def status(self) -> Status:
        """Violated beats an inconclusive replay, which beats holds."""
        if self.violated:
            return "violated"
        return "inconclusive" if self.replay is not None and self.replay.inconclusive else "ok"

    def lines(self) -> list[str]:
        """The text report: the counts, a line per property, the replay's verdict."""
        out = _show(self.report, self.properties)
        return out if self.replay is None else [*out, self.replay.describe()]

    def to_json(self) -> dict[str, Any]:
        report = self.report
        return {
            "lines": report.lines,
            "guarantee": self.request.guarantee,
            "verdict": "violated" if self.violated else "holds",
            "violated": list(self.violated),
            "submitted": report.submitted,
            "processed": report.processed,
            "extra_deliveries": report.extra_deliveries,
            "lost": [{"msg": m, "submit": s, "ack": a} for m, s, a in report.lost],
            "duplicated": [{"msg": m, "process": ls} for m, ls in report.duplicated],
            "phantom": [{"msg": m, "process": w} for m, w in report.phantom],
            "out_of_order": [{"msg": m, "process": w} for m, w in report.out_of_order],
            "spec": None if self.replay is None else self.replay.to_json(),
        }


def run(request: Request) -> Outcome:
    """Judge the trace against the guarantee and, with ``request.protocol``, replay it on
    that spec; a bad trace, guarantee or protocol is an :class:`InputError`."""
    props = _properties(request.guarantee)
    # A trace read from a pipe can be read once: keep it when the replay needs it again.
    kept = list(events(request.traces)) if request.protocol else None
    report = judge(iter(kept) if kept is not None else events(request.traces))
    if report.lines == 0:
        raise InputError(f"{request.traces[0]}: the trace is empty")
    bad = [p for p in props if report.violated(p)]
    replay = None
    if request.protocol and kept is not None:
        from ackproof.replay import replay_trace  # loads z3: only when a replay is asked

        replay = replay_trace(kept, request.protocol, request.protocol_name)
        if not replay.allowed and not replay.inconclusive:
            bad.append("spec-behaviour")
    return Outcome(request, props, report, tuple(bad), replay)
