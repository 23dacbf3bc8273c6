"""Frame-level trace validation: is a recorded run a behaviour the spec allows?

Theory of operation
-------------------
Every spec action, taken from a concrete state, shows an observer a short group of events
on one node: ``submit``; or ``receive`` of a frame followed by what the handler did
(``process``, ``send``, ``ack``, and ``crash``/``restart`` if it crashed part-way); or a
timer's sends; or a crash and restart.  Network losses and duplications show nothing.

A trace is a behaviour of the spec when it can be cut, node by node, into such groups
in an order the spec can take them.  The search is breadth-first over configurations
(spec state, how far each node's events have been consumed), with the invisible actions
folded in.

Batches.  An implementation may take several inputs in one batch and record them as
``receive, receive, ..., effects``, all the effects after all the inputs (the reference
implementation does: one transaction per batch).  So a node's events are cut into batches —
a batch starts at a ``receive`` that follows a non-``receive`` line, and ``crash, restart``
is a batch of its own — and a spec step consumes its ``receive`` as the batch's next unconsumed
one (inputs keep their order) and its other events from anywhere in the same batch (the
effects' order is not compared).  A batch is consumed completely before the next one starts;
one-step-per-batch traces (the hand-written kind) are the special case.

Crashes.  A batch followed by a ``crash`` line may be torn: the node died before the batch's
lines reached the file.  In such a batch a step's ``send`` may be missing (its frame never left:
lines are written ahead of frames), and a step may consume a ``recovered`` line (appended after
the death from the durable records) without its ``receive``.

Bounds.  The spec is instantiated with one message per distinct id in the trace; ids are
renamed ``0..N-1`` in increasing order (a sender hands out increasing ids; a restarted one may
skip a block), so this check is for small traces — counterexamples exported with
``--trace-out``, hand-written scenarios, short recorded runs.  Each channel holds as many
frames as the trace ever had in flight at once (a receive paired with the latest send of the
same frame before it, in the merged order), plus one, and at least the protocol's own
capacity.  The first event no configuration can consume is the report: the line where the
run left what the spec allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ackproof.loader import InputError, resolve
from ackproof.proofs.trace import Observation, decode_step, observations
from ackproof.spec import SpecError, System, compile_system
from ackproof.spec.system import Action, FrameValue, State

from .events import Event

MAX_MESSAGES = 6
MAX_CONFIGURATIONS = 1_000_000


@dataclass(frozen=True)
class Replay:
    protocol: str
    allowed: bool
    inconclusive: bool
    consumed: int
    total: int
    configurations: int
    first_bad: Event | None
    detail: str

    def describe(self) -> str:
        head = f"spec {self.protocol}: "
        if self.allowed:
            return head + f"a behaviour the spec allows ({self.total} events matched)"
        if self.inconclusive:
            return head + f"inconclusive: {self.detail}"
        assert self.first_bad is not None
        e = self.first_bad
        what = e.event + (f" msg={e.msg}" if e.msg is not None else "")
        return (
            head + f"NOT a behaviour the spec allows: {e.where} ({e.node} {what}) cannot follow "
            f"the {self.consumed} events before it"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "allowed": self.allowed,
            "inconclusive": self.inconclusive,
            "matched": self.consumed,
            "events": self.total,
            "first_bad": None if self.first_bad is None else self.first_bad.where,
        }


def _frame_matches(g: FrameValue, frame: tuple[tuple[str, object], ...] | None) -> bool:
    if frame is None:
        return False
    d = dict(frame)
    if d.get("kind") != g.kind:
        return False
    return all(d.get(k) == v for k, v in g.fields)


def _observations(system: System, a: Action, s: State, t: State) -> list[Observation]:
    """What an observer sees when ``a`` takes ``s`` to ``t`` (empty: an invisible step)."""
    return observations(decode_step(system, 0, a, s, t))


def _matches(obs: Observation, e: Event) -> bool:
    _node, event, what = obs
    if e.event != event:
        return False
    if event in ("receive", "send"):
        assert isinstance(what, FrameValue)
        return _frame_matches(what, e.frame)
    if event in ("submit", "process", "ack"):
        return e.msg == what
    return True


#: How far one node's events are consumed: every line before ``pos``, and the lines in
#: ``taken`` (all in the batch ``pos`` is in).
Progress = tuple[int, frozenset[int]]


class _Queue:
    """One node's events, cut into batches (see the module's docstring)."""

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = list(events)
        n = len(self.events)
        self.end = [n] * n  # exclusive end of the batch each line is in
        starts = [
            i
            for i in range(n)
            if i == 0
            or self._kind(i) == "crash"
            or self._kind(i - 1) == "restart"
            or (self._kind(i) == "receive" and self._kind(i - 1) != "receive")
        ]
        for a, b in zip(starts, [*starts[1:], n], strict=True):
            for i in range(a, b):
                self.end[i] = b
        #: The last recovered line (one may stand in for a receive that left no line).
        self.last_recovered = max((i for i, e in enumerate(self.events) if e.recovered), default=-1)

    def _kind(self, i: int) -> str:
        return self.events[i].event

    def torn(self, pos: int) -> bool:
        """Whether the batch at ``pos`` is followed by a crash (its lines may be incomplete)."""
        end = self.end[pos]
        return end < len(self.events) and self._kind(end) == "crash"

    def consume(self, obs: list[Observation], at: Progress) -> Progress | None:
        """The progress after a step that shows ``obs``, or None if this node's next events
        cannot be that step."""
        pos, taken = at
        q = self.events
        if pos >= len(q):
            return None
        if any(event == "crash" for _, event, _ in obs):
            return self._consume_crash(obs, at)
        if q[pos].event == "crash":
            return None  # only a crash step consumes a crash batch
        end, torn = self.end[pos], self.torn(pos)
        free = [i for i in range(pos, end) if i not in taken]
        used: list[int] = []
        rest = obs
        if obs[0][1] == "receive":
            first = next((i for i in free if q[i].event == "receive"), None)
            if first is not None and _matches(obs[0], q[first]):
                used.append(first)
            elif not torn:
                return None
            else:
                used.append(-1)  # a torn batch: the input's line may be lost (checked below)
            rest = obs[1:]
        for o in rest:
            i = next((i for i in free if i not in used and _matches(o, q[i])), None)
            if i is not None:
                used.append(i)
            elif not (torn and o[1] == "send"):
                return None
        if -1 in used:
            used.remove(-1)
            if not any(q[i].recovered for i in used):
                return None  # only a recovered line stands in for a lost receive
        if not used:
            return None  # a step with nothing of its own on the trace is not this node's
        left = taken.union(used)
        while pos in left:
            left = left - {pos}
            pos += 1
        return pos, left

    def _consume_crash(self, obs: list[Observation], at: Progress) -> Progress | None:
        """A step that ends in a crash: what came before the crash from the current batch
        (which it must finish), then the ``crash, restart`` lines."""
        pos, taken = at
        q = self.events
        before = [o for o in obs if o[1] not in ("crash", "restart")]
        if before:
            done = self.consume(before, at)
            if done is None or done[1] or done[0] != self.end[pos]:
                return None
            pos = done[0]
        elif taken:
            return None
        if pos + 1 >= len(q) or q[pos].event != "crash" or q[pos + 1].event != "restart":
            return None
        return pos + 2, frozenset()


def _dense(trace: Sequence[Event]) -> tuple[list[Event], int]:
    """The trace with its ids renamed ``0..N-1`` in increasing order, and N."""
    ids = sorted({e.msg for e in trace if e.msg is not None})
    rename = {m: k for k, m in enumerate(ids)}

    def frame(f: tuple[tuple[str, object], ...] | None) -> tuple[tuple[str, object], ...] | None:
        if f is None:
            return None
        return tuple(
            (k, rename.get(v, v) if k == "msg" and isinstance(v, int) else v) for k, v in f
        )

    out = [
        replace(e, msg=None if e.msg is None else rename[e.msg], frame=frame(e.frame))
        for e in trace
    ]
    return out, len(ids)


def _in_flight(trace: Sequence[Event]) -> int:
    """The most frames one channel had in flight at once: each receive paired with the latest
    send of the same frame by another node before it, in the trace's (merged) order."""
    last_send: dict[tuple[str, object], int] = {}
    opened: list[int] = [0] * (len(trace) + 1)
    for j, e in enumerate(trace):
        if e.frame is None:
            continue
        if e.event == "send":
            last_send[(e.node, e.frame)] = j
        elif e.event == "receive":
            sends = [i for (node, f), i in last_send.items() if f == e.frame and node != e.node]
            if sends:
                opened[max(sends)] += 1
                opened[j] -= 1
    most = now = 0
    for d in opened:
        now += d
        most = max(most, now)
    return most


def _spare(
    system: System,
    state: State,
    prog: tuple[Progress, ...],
    queues: dict[str, _Queue],
    slot: dict[str, int],
    successors: Sequence[tuple[int, State]],
) -> State | None:
    """The state after losing a frame copy that no later line of its destination receives, if
    an unordered channel holds one and may lose it (else None).  Such a copy can only fill the
    channel; losing it at once is a reduction, not a restriction: every way to accept the
    trace from here also accepts it without the copy."""
    for ai, t in successors:
        a = system.actions[ai]
        if a.kind != "lose" or a.frame is None or a.channel is None:
            continue
        ch = next(c for c in system.channels if c.name == a.channel)
        if ch.ordered:
            continue
        k = slot.get(ch.dst, -1)
        later = 0
        if k >= 0:
            q = queues[ch.dst]
            pos, taken = prog[k]
            if q.last_recovered >= pos:
                continue  # a torn batch ahead may have received it without a line
            later = sum(
                1
                for i in range(pos, len(q.events))
                if i not in taken
                and q.events[i].event == "receive"
                and _frame_matches(a.frame, q.events[i].frame)
            )
        if ch.contents(state).count(a.frame) > later:
            return t
    return None


def replay_trace(trace: Sequence[Event], target: str, name: str | None = None) -> Replay:
    """Replay ``trace`` on the protocol ``target`` (a shipped name or a file; ``name``
    picks one protocol of a file that defines several)."""
    pdef = resolve(target, name, flag="--protocol-name")
    original = [e for e in trace if e.node != "network" and e.event != "reject"]
    relevant, n = _dense(original)
    n = max(n, 1)
    if n > MAX_MESSAGES:
        raise InputError(
            f"frame-level replay instantiates the spec with one message per id; this trace "
            f"uses {n} distinct ids (at most {MAX_MESSAGES}): validate it without "
            "--protocol, or record a shorter run"
        )
    faults = pdef.faults
    crashed = tuple(sorted({e.node for e in relevant if e.event == "crash"}))
    faults = replace(
        faults,
        capacity=max(faults.capacity, _in_flight(relevant) + 1),
        crash=faults.crash + tuple(nd for nd in crashed if not faults.crashes(nd)),
    )
    try:
        system = pdef.system(n, faults)
    except SpecError as e:
        raise InputError(str(e)) from None
    comp = compile_system(system)
    nodes = sorted({e.node for e in relevant})
    unknown = [nd for nd in nodes if nd not in system.nodes]
    if unknown:
        raise InputError(f"the trace has node {unknown[0]!r}; {pdef.name} has {system.nodes}")
    index = {nd: [k for k, e in enumerate(relevant) if e.node == nd] for nd in nodes}
    queues = {nd: _Queue([relevant[k] for k in index[nd]]) for nd in nodes}
    order = list(queues)
    slot = {nd: k for k, nd in enumerate(order)}
    total = len(relevant)

    def done(progress: tuple[Progress, ...]) -> int:
        return sum(p + len(t) for p, t in progress)

    Config = tuple[State, tuple[Progress, ...]]
    start: Config = (system.initial(), tuple((0, frozenset()) for _ in order))
    seen: set[Config] = {start}
    stack: list[Config] = [start]
    best: Config = start
    obs_cache: dict[tuple[State, int], list[Observation]] = {}
    while stack:  # depth first, visible steps tried before invisible ones
        state, prog = stack.pop()
        if done(prog) > done(best[1]):
            best = (state, prog)
        if done(prog) == total:
            return Replay(pdef.name, True, False, total, total, len(seen), None, "")
        successors = comp.successors(state)
        spare = _spare(system, state, prog, queues, slot, successors)
        if spare is not None:  # a copy no later line receives: lose it, nothing else to try
            cfg = (spare, prog)
            if cfg not in seen:
                seen.add(cfg)
                stack.append(cfg)
            continue
        invisible: list[Config] = []
        visible: list[tuple[int, Config]] = []
        for ai, t in successors:
            action = system.actions[ai]
            if action.kind in ("lose", "duplicate"):
                invisible.append((t, prog))  # the network's own moves: nothing to see
                continue
            k = slot.get(action.node or "", -1)
            if k < 0 or prog[k][0] >= len(queues[order[k]].events):
                continue  # a node with no events (left)
            key = (state, ai)
            obs = obs_cache.get(key)
            if obs is None:
                obs = _observations(system, action, state, t)
                obs_cache[key] = obs
            if not obs:
                invisible.append((t, prog))
                continue
            after = queues[order[k]].consume(obs, prog[k])
            if after is not None:
                at = index[order[k]][prog[k][0]]  # where this node stood, in the trace's order
                visible.append((-at, (t, (*prog[:k], after, *prog[k + 1 :]))))
        visible.sort(key=lambda v: v[0])  # the step at the earliest line is tried first
        for cfg in [*invisible, *(c for _, c in visible)]:
            if cfg not in seen:
                seen.add(cfg)
                stack.append(cfg)
        if len(seen) > MAX_CONFIGURATIONS:
            return Replay(
                pdef.name,
                False,
                True,
                done(best[1]),
                total,
                len(seen),
                None,
                f"gave up after {len(seen)} configurations",
            )
    _, prog = best
    heads = [index[nd][p] for k, nd in enumerate(order) if (p := prog[k][0]) < len(index[nd])]
    first = original[min(heads)]  # the earliest stuck line, in the trace's (merged) order
    return Replay(pdef.name, False, False, done(prog), total, len(seen), first, "")
