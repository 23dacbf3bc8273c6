"""A breadth-first explorer over concrete states: shortest counterexamples, exhaustively.

Breadth-first order makes the first violating state found for a property one at the
smallest depth, so its path is a shortest counterexample.  When the whole reachable
state space is visited (``complete``), a property with no violation holds for every
run of the system, not just up to a depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .interp import Compiled, compile_system
from .system import State, System


@dataclass(frozen=True, slots=True)
class Path:
    """A run: the initial state, then (action index, state after it) per step.

    A path that shows a liveness violation (a lasso) also says where faults stop
    (``calm``: the steps from this index on are fault-free) and how it goes on forever:
    ``loop`` — the steps from this index on repeat forever (the last state is the state
    before ``steps[loop]``), or ``stuck`` — in the last state nothing but a fault can
    happen."""

    initial: State
    steps: tuple[tuple[int, State], ...]
    calm: int | None = None
    loop: int | None = None
    stuck: bool = False

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def actions(self) -> tuple[int, ...]:
        return tuple(a for a, _ in self.steps)


@dataclass
class Exploration:
    system: System
    states: int
    transitions: int
    depth: int
    complete: bool
    #: Property id -> shortest path to a violating state (absent: no violation found).

    violations: dict[str, Path] = field(default_factory=dict)
    #: Property id -> shortest path to a state where its witness holds.
    witnesses: dict[str, Path] = field(default_factory=dict)
    #: The search was stopped by its ``stop`` hook (a time or memory limit; ``complete``
    #: is then false).
    timed_out: bool = False
    #: Every visited state -> (its parent, the action from it), in breadth-first order
    #: (kept only with ``explore(..., keep=True)``, for the liveness checks).
    visited: dict[State, tuple[State, int] | None] | None = None

    def violated(self, prop: str) -> bool:
        return prop in self.violations

    def labels(self, prop: str) -> list[str]:
        return [self.system.actions[a].label for a in self.violations[prop].actions]

    def path_to(self, state: State) -> Path:
        """A shortest path from the initial state to ``state`` (a visited state; needs
        ``explore(..., keep=True)``)."""
        assert self.visited is not None, "explore(..., keep=True) keeps the visited states"
        steps: list[tuple[int, State]] = []
        cur = state
        while (link := self.visited[cur]) is not None:
            prev, a = link
            steps.append((a, cur))
            cur = prev
        steps.reverse()
        return Path(self.system.initial(), tuple(steps))


def explore(
    system: System,
    properties: Sequence[str] | None = None,
    *,
    max_states: int = 2_000_000,
    max_depth: int | None = None,
    compiled: Compiled | None = None,
    stop_when_decided: bool = False,
    stop: Callable[[int], bool] | None = None,
    keep: bool = False,
) -> Exploration:
    """Visit the reachable states breadth-first, checking ``properties`` in each.

    ``stop_when_decided`` stops as soon as every property is violated (with its witness
    found for the rest): useful for bug hunting, while a full run proves what holds.
    ``stop(states)``, asked every 1024 new states, stops the search like ``max_states``
    does (not ``complete``, ``stopped`` set): the caller's time or memory policy — this
    module reads no clock.
    """
    comp = compiled if compiled is not None else compile_system(system)
    props = list(system.properties) if properties is None else list(properties)
    inv = {p: comp.predicate(system.properties[p].invariant) for p in props}
    wit = {p: comp.predicate(system.properties[p].witness) for p in props}
    init = system.initial()
    parent: dict[State, tuple[State, int] | None] = {init: None}
    result = Exploration(system, 1, 0, 0, False)
    if keep:
        result.visited = parent

    def path_to(s: State) -> Path:
        steps: list[tuple[int, State]] = []
        cur = s
        while True:
            link = parent[cur]
            if link is None:
                break
            prev, a = link
            steps.append((a, cur))
            cur = prev
        steps.reverse()
        return Path(init, tuple(steps))

    def check(s: State) -> None:
        for p in props:
            if p not in result.violations and not inv[p](s):
                result.violations[p] = path_to(s)
            if p not in result.witnesses and wit[p](s):
                result.witnesses[p] = path_to(s)

    check(init)
    frontier = [init]
    depth = 0
    steps = comp.steps
    while frontier:
        if stop_when_decided and len(result.violations) == len(props):
            break
        if max_depth is not None and depth >= max_depth:
            break
        nxt: list[State] = []
        for s in frontier:
            for a, f in enumerate(steps):
                t = f(s)
                if t is None:
                    continue
                result.transitions += 1
                if t in parent:
                    continue
                parent[t] = (s, a)
                nxt.append(t)
                check(t)
                if len(parent) >= max_states or (
                    stop is not None and len(parent) % 1024 == 0 and stop(len(parent))
                ):
                    result.states = len(parent)
                    result.depth = depth + 1
                    result.timed_out = len(parent) < max_states
                    return result
        frontier = nxt
        if frontier:
            depth += 1
    result.states = len(parent)
    result.depth = depth
    result.complete = not frontier
    return result
