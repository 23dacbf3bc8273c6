"""Liveness on the explicit state graph: response obligations under fairness, and lassos
re-checked step by step.

Theory of operation
-------------------
An :class:`~ackproof.spec.system.Eventually` obligation says: whenever ``trigger`` holds,
every fair run with no further faults reaches ``goal``.  A violation is a run that reaches
a trigger state (faults allowed on the way) and from there, without faults, avoids the
goal forever: it gets **stuck** (no fault-free action is enabled) or it repeats a **fair
cycle**.  Fairness is strong fairness per fault-free action (submit, delivery, timer): an
action enabled again and again is eventually taken.  A lost frame is never delivered, a
crashed node never comes back by itself; what the protocol does about it is what counts.

On the whole reachable graph (a complete exploration), per obligation:

1. ``G`` = the reachable states where the goal is false; its edges are fault-free steps
   that stay in ``G``.
2. ``Bad`` = the stuck states of ``G`` and the states of fair components of ``G``.  A
   strongly connected component ``C`` (with at least one edge) is fair iff every action
   enabled somewhere in ``C`` has an edge inside ``C``.  If not, no fair run stays in ``C``
   through a state where an offending action is enabled: those states are removed and
   the rest split again (the Emerson–Lei refinement for strong fairness).
3. The obligation is violated iff a reachable trigger state in ``G`` reaches ``Bad``
   inside ``G``.

The lasso shown: a shortest path to a trigger state that can go wrong and a shortest
path from it inside ``G`` to ``Bad``, the trigger state chosen so that the two together
are as short as possible (so a stuck lasso is as short as BMC's on the lasso system),
then, for a cycle, a loop inside
``C`` that takes an edge of every action enabled somewhere in ``C`` — so each action
enabled on the loop is taken on it.  :func:`check_lasso` re-checks a lasso without
trusting how it was found: it replays it, checks that the faults stop where it says, the
trigger, the goal never reached, and the fairness of the loop (or that it is stuck).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ackproof.spec.explore import Path
from ackproof.spec.expr import evaluate
from ackproof.spec.interp import Compiled
from ackproof.spec.system import Eventually, State

from .budget import Clock
from .calmgraph import CalmGraph
from .result import EngineError, replay


@dataclass(frozen=True)
class LivenessViolation:
    obligation: Eventually
    path: Path
    #: The node whose ``holds()`` claim was not backed (``None`` for plain delivery).
    claim: str | None


@dataclass(frozen=True)
class Liveness:
    """What the liveness check found: a ``violation`` (with channels as big as needed),
    or else, possibly, a run that fails only because a channel of the bounded model is
    full (``capacity``): then the bounded model cannot decide."""

    violation: LivenessViolation | None = None
    capacity: LivenessViolation | None = None


def check_obligations(graph: CalmGraph, obligations: Sequence[Eventually]) -> Liveness:
    """The first violated obligation's lasso, if any; else, a reachable deadlock of the
    bounded model (every fault-free step waits for room on a full channel) in which an
    obligation is pending, if any."""
    marks = graph.truth([x for ob in obligations for x in (ob.goal, ob.trigger)])
    for k, ob in enumerate(obligations):
        goal, trig = graph.bit(2 * k), graph.bit(2 * k + 1)
        if not _doomed_somewhere(graph, marks, goal, trig, room=True):
            continue
        found = _violation(graph, ob, marks, goal, trig, room=True)
        if found is not None:
            return Liveness(violation=found)
    for v in range(graph.n):
        if graph.succ[v] or not graph.starved[v]:
            continue
        s = graph.state(v)
        for ob in obligations:
            if evaluate(ob.trigger, s) and not evaluate(ob.goal, s):
                stem = graph.stem(v)
                path = Path(stem.initial, stem.steps, calm=len(stem.steps), stuck=True)
                check_lasso(graph.comp, path, ob, room=False)
                return Liveness(capacity=LivenessViolation(ob, path, None))
    return Liveness()


def _doomed_somewhere(
    graph: CalmGraph, marks: list[int], goal: int, trig: int, *, room: bool
) -> bool:
    """Whether :func:`_violation` finds a lasso, decided on ``R``: the states of ``G``
    reachable inside ``G`` from its trigger states (``marks``: :meth:`CalmGraph.truth`
    masks; ``goal`` and ``trig``, the bits of this obligation's goal and trigger).

    ``R`` is closed under ``G``'s edges, so a component of ``G`` that meets ``R`` lies in
    it and is a component of ``R`` (with the same edges, so equally fair), a stuck state
    of ``R`` is one of ``G``, and a trigger state reaches ``Bad`` inside ``G`` iff
    ``Bad`` meets ``R``.  ``R`` is usually a small part of ``G`` (for a claim's
    obligation: the states between losing the last copy and resending it), and the
    component analysis costs the same per state: the common case, where nothing is
    violated, is decided here; a violation is then found (and shown) on ``G`` as before,
    so the lasso shown is the same."""
    succ, starved = graph.succ, graph.starved
    stack = [v for v, m in enumerate(marks) if m & trig and not m & goal]
    seen = bytearray(graph.n)
    for v in stack:
        seen[v] = 1
    while stack:
        for _, w in succ[stack.pop()]:
            if not seen[w] and not marks[w] & goal:
                seen[w] = 1
                stack.append(w)
    part = [v for v in range(graph.n) if seen[v]]
    if any(not succ[v] and not (room and starved[v]) for v in part):
        return True  # a stuck state
    return bool(graph.fair_components(part, room=room))


def _violation(
    graph: CalmGraph, ob: Eventually, marks: list[int], goal: int, trig: int, *, room: bool
) -> LivenessViolation | None:
    n = graph.n
    in_g = [not m & goal for m in marks]
    if not any(m & trig and not m & goal for m in marks):
        return None
    part = [v for v in range(n) if in_g[v]]
    stuck = {v for v in part if not graph.enabled(v, room=room)}
    fair = graph.fair_components(part, room=room)
    bad_comp: dict[int, int] = {v: k for k, comp in enumerate(fair) for v in comp}
    bad = stuck | set(bad_comp)
    if not bad:
        return None
    # backward: the states of G that reach Bad inside G, with how many steps it takes
    preds: list[list[int]] = [[] for _ in range(n)]
    for v in part:
        for _, w in graph.succ[v]:
            if in_g[w]:
                preds[w].append(v)
    doomed = dict.fromkeys(bad, 0)
    queue = deque(bad)
    while queue:
        w = queue.popleft()
        for v in preds[w]:
            if v not in doomed:
                doomed[v] = doomed[w] + 1
                queue.append(v)
    # the trigger state whose stem and way to Bad are shortest together
    firsts = [(graph.depth[v] + doomed[v], v) for v in range(n) if marks[v] & trig and v in doomed]
    if not firsts:
        return None
    _, first = min(firsts)
    stem = graph.stem(first)
    to_bad = graph.bfs(first, in_g.__getitem__, bad)
    end = to_bad[-1][1] if to_bad else first
    steps = list(stem.steps) + graph.steps(to_bad)
    calm = len(stem.steps)
    if end in stuck:
        path = Path(stem.initial, tuple(steps), calm=calm, stuck=True)
    else:
        loop = graph.fair_loop(end, fair[bad_comp[end]])
        loop_at = len(steps)
        steps += graph.steps(loop)
        path = Path(stem.initial, tuple(steps), calm=calm, loop=loop_at)
    check_lasso(graph.comp, path, ob, room=room)
    at = graph.state(first)
    claim = next((who for who, c in ob.claims if evaluate(c, at)), None)
    return LivenessViolation(ob, path, claim)


def check_lasso(comp: Compiled, path: Path, ob: Eventually, *, room: bool = True) -> None:
    """Re-check a lasso for ``ob`` step by step; :class:`EngineError` if it is not one.
    ``room``: an action that waits only for room on a full channel counts as enabled."""
    system = comp.system
    replay(comp, path)
    states = [path.initial, *(s for _, s in path.steps)]
    calm = path.calm
    if calm is None or not 0 <= calm < len(states) or (path.loop is None) == (not path.stuck):
        raise EngineError(f"{system.protocol}: a lasso needs a calm point and a loop or stuck end")
    if not evaluate(ob.trigger, states[calm]):
        raise EngineError(f"{system.protocol}: lasso: the trigger does not hold at step {calm}")
    quiet = {a.index for a in system.calm_actions()}
    if any(a not in quiet for a, _ in path.steps[calm:]):
        raise EngineError(f"{system.protocol}: lasso: a fault after the calm point")
    if any(evaluate(ob.goal, s) for s in states[calm:]):
        raise EngineError(f"{system.protocol}: lasso: the goal is reached")
    enabled = _enabled(comp, quiet, room)
    if path.stuck:
        if enabled(states[-1]):
            raise EngineError(f"{system.protocol}: lasso: the last state is not stuck")
        return
    assert path.loop is not None
    if states[-1] != states[path.loop] or path.loop >= len(path.steps):
        raise EngineError(f"{system.protocol}: lasso: the loop does not close")
    taken = {a for a, _ in path.steps[path.loop :]}
    for s in states[path.loop : -1]:
        missed = enabled(s) - taken
        if missed:
            a = system.actions[min(missed)]
            raise EngineError(f"{system.protocol}: lasso: unfair loop ({a.label} never taken)")


def _enabled(comp: Compiled, quiet: set[int], room: bool) -> Callable[[State], set[int]]:
    actions = comp.system.actions
    starving = {
        a: comp.predicate(s) for a in quiet if room and (s := actions[a].starved) is not None
    }

    def enabled(s: State) -> set[int]:
        on = {a for a in quiet if comp.steps[a](s) is not None}
        return on.union(a for a, p in starving.items() if p(s))

    return enabled


def lasso_detail(v: LivenessViolation) -> str:
    """One line: what the lasso shows."""
    p = v.path
    m = v.obligation.msg
    how = "then nothing can happen" if p.stuck else f"steps {(p.loop or 0) + 1}-{len(p)} repeat"
    if v.claim is not None:
        what = f"{v.claim} claims a copy of message {m} it never sends or processes"
    else:
        what = f"message {m} is never processed"
    return f"violated: {what} once faults stop after step {p.calm} ({how}; {len(p)} steps)"


def revival(
    comp: Compiled, state: State, msg: int, *, max_states: int, clock: Clock
) -> Path | None:
    """A fault-free run from ``state`` that processes ``msg`` (breadth-first), or ``None``
    if there is none within ``max_states`` states (or before ``clock`` runs out, asked
    every 4096 states)."""
    system = comp.system
    done = system.history.processed[msg]
    calm = [(a.index, comp.steps[a.index]) for a in system.calm_actions()]
    parent: dict[State, tuple[State, int] | None] = {state: None}
    queue = deque([state])
    while queue and len(parent) < max_states:
        s = queue.popleft()
        if s[done]:
            steps: list[tuple[int, State]] = []
            while (link := parent[s]) is not None:
                prev, a = link
                steps.append((a, s))
                s = prev
            return Path(state, tuple(reversed(steps)))
        if len(parent) % 4096 == 0 and clock.expired():
            return None
        for a, f in calm:
            t = f(s)
            if t is not None and t not in parent:
                parent[t] = (s, a)
                queue.append(t)
    return None
