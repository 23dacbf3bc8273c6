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
folded in.  Within a group the input (``receive``, ``submit``) must come first; the order of
the effects after it is not compared (implementations may record a step's effects in
another order); across the groups of one node, order is kept.

The spec is instantiated with as many messages as the trace names (ids ``0..N-1``), so this
check is for small traces — counterexamples exported with ``--trace-out``, hand-written
scenarios, short recorded runs.  The first event no configuration can consume is the
report: the line where the run left what the spec allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ackproof.loader import InputError, resolve
from ackproof.proofs.trace import Observation, decode_step, observations
from ackproof.spec import SpecError, System, compile_system
from ackproof.spec.system import Action, FrameValue, State

from .validate import Event

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


def _consume(obs: list[Observation], queue: Sequence[Event], pos: int) -> bool:
    """Whether the next ``len(obs)`` events of this node are exactly ``obs``: the input
    first, its effects in any order."""
    if pos + len(obs) > len(queue):
        return False
    pending = list(queue[pos : pos + len(obs)])
    if obs[0][1] in ("receive", "submit") and pending[0].event != obs[0][1]:
        return False  # the input comes first; only the effects after it may be reordered
    for _node, event, what in obs:
        for i, e in enumerate(pending):
            if e.event != event:
                continue
            if event in ("receive", "send"):
                assert isinstance(what, FrameValue)
                if not _frame_matches(what, e.frame):
                    continue
            elif event in ("submit", "process", "ack") and e.msg != what:
                continue
            del pending[i]
            break
        else:
            return False
    return True


def replay_trace(trace: Sequence[Event], target: str, name: str | None = None) -> Replay:
    """Replay ``trace`` on the protocol ``target`` (a shipped name or a file; ``name``
    picks one protocol of a file that defines several)."""
    pdef = resolve(target, name, flag="--protocol-name NAME")
    relevant = [e for e in trace if e.node != "network"]
    msgs = {e.msg for e in relevant if e.msg is not None}
    n = max(msgs) + 1 if msgs else 1
    if min(msgs, default=0) < 0 or n > MAX_MESSAGES:
        raise InputError(
            f"frame-level replay instantiates the spec with one message per id; this trace "
            f"uses ids up to {n - 1} (at most {MAX_MESSAGES - 1}): validate it without "
            "--protocol, or record a shorter run"
        )
    try:
        system = pdef.system(n)
    except SpecError as e:
        raise InputError(str(e)) from None
    comp = compile_system(system)
    nodes = sorted({e.node for e in relevant})
    unknown = [nd for nd in nodes if nd not in system.nodes]
    if unknown:
        raise InputError(f"the trace has node {unknown[0]!r}; {pdef.name} has {system.nodes}")
    queues = {nd: [e for e in relevant if e.node == nd] for nd in nodes}
    order = list(queues)
    total = len(relevant)

    Config = tuple[State, tuple[int, ...]]
    start: Config = (system.initial(), tuple(0 for _ in order))
    seen: set[Config] = {start}
    frontier: list[Config] = [start]
    best: Config = start
    obs_cache: dict[tuple[State, int], list[Observation]] = {}
    while frontier:
        nxt: list[Config] = []
        stack = list(frontier)
        while stack:
            state, pos = stack.pop()
            if sum(pos) > sum(best[1]):
                best = (state, pos)
            if sum(pos) == total:
                return Replay(pdef.name, True, False, total, total, len(seen), None, "")
            for ai, t in comp.successors(state):
                key = (state, ai)
                obs = obs_cache.get(key)
                if obs is None:
                    obs = _observations(system, system.actions[ai], state, t)
                    obs_cache[key] = obs
                if not obs:
                    cfg: Config = (t, pos)
                    if cfg not in seen:
                        seen.add(cfg)
                        stack.append(cfg)  # invisible: same progress level
                    continue
                node = obs[0][0]
                if node not in queues:
                    continue
                k = order.index(node)
                if not _consume(obs, queues[node], pos[k]):
                    continue
                newpos = (*pos[:k], pos[k] + len(obs), *pos[k + 1 :])
                cfg = (t, newpos)
                if cfg not in seen:
                    seen.add(cfg)
                    nxt.append(cfg)
            if len(seen) > MAX_CONFIGURATIONS:
                return Replay(
                    pdef.name,
                    False,
                    True,
                    sum(best[1]),
                    total,
                    len(seen),
                    None,
                    f"gave up after {len(seen)} configurations",
                )
        frontier = nxt
    _, pos = best
    heads = [queues[nd][pos[k]] for k, nd in enumerate(order) if pos[k] < len(queues[nd])]
    first = min(heads, key=lambda e: (e.file, e.line))
    return Replay(pdef.name, False, False, sum(pos), total, len(seen), first, "")
