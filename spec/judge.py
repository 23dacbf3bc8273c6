"""The one judge: a recorded run, its observable history, and whether a promise was kept.

Every reader of a run calls :func:`judge` — ``ackproof validate`` (JSONL traces), the
demo's harness (durable records: the sender's accepted ids and outbox, the receiver's
processed log), ``ackproof probe`` (brokers' traces) and the conformance tests (the
abstraction function's history slots).  Nothing else decides lost, duplicated, phantom,
corrupted or in flight, or whether a guarantee's promise was kept.

Theory of operation
-------------------
A run is reduced to a sequence of :class:`Observation` (``submit``, ``process``, ``ack`` of
a message id, in the order they happened; ``payload`` where the reader knows it) and, at
its end, to what is still *held*: the ids of which some node keeps a copy it will still
(re)send or process (the demo's outbox; ``None`` when the reader cannot know, as a trace).
The semantics are those of :mod:`ackproof.spec.history` (what the model checker proves;
``tests/spec/test_judge.py`` pins the two on generated histories):

* **phantom** — an id processed while not (yet) submitted: never submitted, or first
  processed before its submission (``no-phantom`` is a state invariant: the state between
  the two already breaks it);
* **corrupted** — a processing of a submitted id whose payload is not the submitted one
  (only when both are known).  The spec's history has ids, not payloads, so this is the
  judge's reading of ``no-phantom``: what was processed was never submitted.  A corrupted
  processing still counts as a processing of its id (for loss and duplicates);
* **duplicated** — an id processed more than once (``extra_deliveries``: processings
  beyond each id's first);
* **lost** — submitted, never processed, and no copy left: not held at the end.  Where
  holdings are unknown, a *finished* run holds nothing (record until the system is quiet)
  and an unfinished one may still hold every pending id;
* **in flight** — submitted, never processed, but (possibly) held: not lost, not kept yet;
* **out of order** — first processed after an id submitted later was first processed.
  Ids count in submission order; ids never submitted come after every submitted one
  (in the spec, submission is in id order), in id order among themselves.

*eventual-delivery* on a recorded run (finite, so no fairness to speak of) is violated
exactly when an id is lost.  :meth:`Judgement.verdict` decides a promise (property ids, as
:data:`ackproof.spec.history.GUARANTEES` lists them): *broken* if the run violates one of
them, else *unfinished* if the run did not finish or (no-loss or eventual-delivery
promised) an id is still in flight, else *kept*.  The words are those of the trace
vocabulary, :class:`ackproof.events.TraceEvent`.  Pure Python: no z3, no trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Literal, NamedTuple

from ..events import NEEDS_MSG, TraceEvent
from .history import EVENTUAL_DELIVERY, IN_ORDER, NO_DUPLICATE, NO_LOSS, NO_PHANTOM, PROPERTIES

Verdict = Literal["kept", "broken", "unfinished"]


class Observation(NamedTuple):
    """One event of the observable history: ``kind`` (submit, process or ack) of ``msg``.
    (A named tuple: a trace makes millions of them.)"""

    kind: TraceEvent
    msg: int
    #: submit: the payload submitted; process: the payload processed; None: not known.
    payload: bytes | None = None
    #: Where it was seen (a trace's ``file:line``), for the culprits of a report.
    where: str = ""


class Culprit(NamedTuple):
    msg: int
    where: str  # the processing that shows it


class Lost(NamedTuple):
    msg: int
    submit: str  # where it was submitted
    ack: str | None  # where it was acked (the strongest evidence), or None


class Duplicated(NamedTuple):
    msg: int
    process: tuple[str, ...]  # its first two processings


@dataclass(frozen=True, slots=True)
class Tally:
    """A judgement's numbers, per message id (see :class:`Judgement`)."""

    submitted: int
    processed: int
    lost: int
    in_flight: int
    duplicated: int
    extra_deliveries: int
    phantom: int
    corrupted: int

    def as_dict(self) -> dict[str, int]:
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


@dataclass(slots=True)
class _Msg:
    submitted: str | None = None
    submit_order: int = -1
    payload: bytes | None = None
    processed: list[str] = field(default_factory=list)  # the first two processings
    times: int = 0
    first_process_order: int = -1
    acked: str | None = None


@dataclass(frozen=True)
class Judgement:
    """What a run shows, per message id (the module docstring defines each field)."""

    submitted: frozenset[int]
    times: Mapping[int, int]  # id -> how many times it was processed (ids processed only)
    acked: frozenset[int]
    lost: tuple[Lost, ...]
    in_flight: tuple[int, ...]
    duplicated: tuple[Duplicated, ...]
    phantom: tuple[Culprit, ...]
    corrupted: tuple[Culprit, ...]  # one per corrupted processing
    out_of_order: tuple[Culprit, ...]
    finished: bool

    @property
    def processed(self) -> int:
        """Ids processed at least once (submitted or not)."""
        return len(self.times)

    @property
    def extra_deliveries(self) -> int:
        return sum(n - 1 for n in self.times.values())

    @property
    def counts(self) -> Tally:
        return Tally(
            submitted=len(self.submitted),
            processed=self.processed,
            lost=len(self.lost),
            in_flight=len(self.in_flight),
            duplicated=len(self.duplicated),
            extra_deliveries=self.extra_deliveries,
            phantom=len(self.phantom),
            corrupted=len(self.corrupted),
        )

    def violated(self, prop: str) -> bool:
        """Whether the run breaks property ``prop`` (an id of ``history.PROPERTIES``)."""
        if prop not in PROPERTIES:
            raise KeyError(f"unknown property {prop!r}")
        culprits = {
            NO_LOSS: self.lost,
            NO_DUPLICATE: self.duplicated,
            NO_PHANTOM: self.phantom or self.corrupted,
            IN_ORDER: self.out_of_order,
            # a recorded run is finite: what it shows of eventual delivery is what it loses
            EVENTUAL_DELIVERY: self.lost,
        }
        return bool(culprits[prop])

    def violations(self, props: Iterable[str]) -> tuple[str, ...]:
        return tuple(p for p in props if self.violated(p))

    def verdict(self, props: Collection[str]) -> Verdict:
        """Whether the promise made of ``props`` was kept (see the module docstring)."""
        if self.violations(props):
            return "broken"
        waits = NO_LOSS in props or EVENTUAL_DELIVERY in props
        if not self.finished or (waits and self.in_flight):
            return "unfinished"
        return "kept"

    @property
    def order_broken(self) -> bool:
        """The spec's ``order_broken`` history slot."""
        return bool(self.out_of_order)


def judge(
    history: Iterable[Observation],
    *,
    holding: Collection[int] | None = None,
    finished: bool = True,
) -> Judgement:
    """Judge a run: its ``history`` in order (streamed, never kept whole); ``holding``: the
    ids some node still holds a copy of at the end (None: unknown); ``finished``: the run
    ran to its end rather than being cut short."""
    msgs: dict[int, _Msg] = {}
    phantom: list[Culprit] = []
    corrupted: list[Culprit] = []
    order = 0
    for o in history:
        m = msgs.get(o.msg)
        if m is None:
            m = msgs[o.msg] = _Msg()
        if o.kind is TraceEvent.SUBMIT:
            if m.submitted is None:
                m.submitted, m.submit_order, m.payload = o.where, order, o.payload
                order += 1
        elif o.kind is TraceEvent.PROCESS:
            if m.submitted is None and not m.times:
                phantom.append(Culprit(o.msg, o.where))
            elif m.payload is not None and o.payload is not None and o.payload != m.payload:
                corrupted.append(Culprit(o.msg, o.where))
            m.times += 1
            if len(m.processed) < 2:
                m.processed.append(o.where)
            if m.first_process_order < 0:
                m.first_process_order = order
                order += 1
        elif o.kind is TraceEvent.ACK:
            if m.acked is None:
                m.acked = o.where
        else:
            raise ValueError(f"{o.kind!r} is not part of the history ({sorted(NEEDS_MSG)})")
    return _judgement(msgs, phantom, corrupted, holding, finished)


def _judgement(
    msgs: dict[int, _Msg],
    phantom: list[Culprit],
    corrupted: list[Culprit],
    holding: Collection[int] | None,
    finished: bool,
) -> Judgement:
    lost: list[Lost] = []
    in_flight: list[int] = []
    duplicated: list[Duplicated] = []
    firsts: list[tuple[int, tuple[int, int], int, str]] = []
    for i, m in sorted(msgs.items()):
        if m.times:
            # the spec's ids: submission order, then ids never submitted, in id order
            rank = (0, m.submit_order) if m.submitted is not None else (1, i)
            firsts.append((m.first_process_order, rank, i, m.processed[0]))
        if m.times >= 2:
            duplicated.append(Duplicated(i, tuple(m.processed)))
        if m.submitted is not None and not m.times:
            held = (not finished) if holding is None else i in holding
            if held:
                in_flight.append(i)
            else:
                lost.append(Lost(i, m.submitted, m.acked))
    firsts.sort()
    out_of_order: list[Culprit] = []
    latest: tuple[int, int] = (-1, -1)
    for _, rank, i, where in firsts:
        if rank < latest:
            out_of_order.append(Culprit(i, where))
        latest = max(latest, rank)
    return Judgement(
        submitted=frozenset(i for i, m in msgs.items() if m.submitted is not None),
        times={i: m.times for i, m in msgs.items() if m.times},
        acked=frozenset(i for i, m in msgs.items() if m.acked is not None),
        lost=tuple(lost),
        in_flight=tuple(in_flight),
        duplicated=tuple(duplicated),
        phantom=tuple(phantom),
        corrupted=tuple(corrupted),
        out_of_order=tuple(out_of_order),
        finished=finished,
    )


def overall(verdicts: Iterable[Verdict]) -> Verdict:
    """Several runs' verdicts as one: broken beats unfinished beats kept."""
    seen = set(verdicts)
    return "broken" if "broken" in seen else "unfinished" if "unfinished" in seen else "kept"
