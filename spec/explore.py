"""A breadth-first explorer over concrete states: shortest counterexamples, exhaustively.

Breadth-first order makes the first violating state found for a property one at the
smallest depth, so its path is a shortest counterexample.  When the whole reachable
state space is visited (``complete``), a property with no violation holds for every
run of the system, not just up to a depth.
"""

from __future__ import annotations

import sys
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
    #: Bytes the visited set held at the end, estimated (``sys.getsizeof`` of the dict,
    #: its keys and its parent links).
    memory: int = 0
    #: With ``keep`` (or ``graph``) on the packed search: the visited states packed
    #: (:mod:`.packed`), in breadth-first order (the order of ``visited``).
    keys: list[int] | None = None
    #: With ``keep`` (or ``graph``) on the packed search: every visited packed state ->
    #: its link (``parent << action_bits | action``; ``-1`` for the initial state).
    links: dict[int, int] | None = None
    #: Bits of a link that hold the action (the packed search's ``action_bits``).
    action_bits: int = 0
    #: A search with partial-order reduction (:func:`.por.explore_por`): the states it
    #: expanded by a proper ample set (``None``: an ordinary search).
    reduced: int | None = None

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
    graph: bool = False,
    packed: bool = True,
) -> Exploration:
    """Visit the reachable states breadth-first, checking ``properties`` in each.

    ``stop_when_decided`` stops as soon as every property is violated (with its witness
    found for the rest): useful for bug hunting, while a full run proves what holds.
    ``stop(states)``, asked every 1024 new states, stops the search like ``max_states``
    does (not ``complete``, ``stopped`` set): the caller's time or memory policy — this
    module reads no clock.

    ``keep`` keeps the visited states (``visited``, as tuples; and, when packed, ``keys``
    and ``links``); ``graph`` keeps only the packed ones (``keys``, ``links``: the
    liveness graph decodes a state only where it needs one, and every state as a tuple
    costs time and memory); the tuple search ignores it.

    ``packed`` (the default) searches over packed states (:mod:`.packed`); ``False``
    keeps the tuple search, the reference the packed one is tested against.  Both visit
    the same states in the same order and return the same result.
    """
    comp = compiled if compiled is not None else compile_system(system)
    if packed:
        return _explore_packed(
            system,
            comp,
            properties,
            max_states=max_states,
            max_depth=max_depth,
            stop_when_decided=stop_when_decided,
            stop=stop,
            keep=keep,
            graph=graph,
        )
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
                    result.memory = _memory_tuples(parent)
                    return result
        frontier = nxt
        if frontier:
            depth += 1
    result.states = len(parent)
    result.depth = depth
    result.complete = not frontier
    result.memory = _memory_tuples(parent)
    return result


def packed_path(
    system: System, links: dict[int, int], key: int, abits: int, decode: Callable[[int], State]
) -> Path:
    """The path to packed state ``key`` by the search's parent links (a link is the
    parent's key shifted by ``abits``, or'd with the action; the initial state's is -1)."""
    amask = (1 << abits) - 1
    steps: list[tuple[int, State]] = []
    while (link := links[key]) >= 0:
        steps.append((link & amask, decode(key)))
        key = link >> abits
    steps.reverse()
    return Path(system.initial(), tuple(steps))


def record_hits(
    result: Exploration, props: Sequence[str], hit: int, path: Callable[[], Path]
) -> None:
    """Record in ``result`` the violations and witnesses a probe's ``hit`` mask shows (bit
    ``2k``: property ``k`` violated, ``2k + 1``: its witness reached) at ``path()``."""
    for k, p in enumerate(props):
        if hit & (1 << 2 * k):
            result.violations[p] = path()
        if hit & (1 << (2 * k + 1)):
            result.witnesses[p] = path()


def _explore_packed(
    system: System,
    comp: Compiled,
    properties: Sequence[str] | None,
    *,
    max_states: int,
    max_depth: int | None,
    stop_when_decided: bool,
    stop: Callable[[int], bool] | None,
    keep: bool,
    graph: bool,
) -> Exploration:
    """:func:`explore` over packed states: the same visiting order, the same result."""
    pk = comp.packed()
    layout = pk.layout
    props = list(system.properties) if properties is None else list(properties)
    probe = pk.probe(
        [system.properties[p].invariant for p in props],
        [system.properties[p].witness for p in props],
    )
    init = layout.encode(system.initial())
    abits = pk.action_bits
    amask = (1 << abits) - 1
    none = -1  # the initial state's link: no parent
    parent: dict[int, int] = {init: none}
    result = Exploration(system, 1, 0, 0, False)

    decode = layout.decoder()
    want = probe.everything
    probe_fn = probe.fn

    def check(s: int) -> int:
        """Record what ``s`` shows; the bits still wanted after it."""
        nonlocal want
        hit = probe_fn(s, want)
        record_hits(result, props, hit, lambda: packed_path(system, parent, s, abits, decode))
        want &= ~hit
        return want

    check(init)
    all_violated = 0
    for k in range(len(props)):
        all_violated |= 1 << 2 * k
    frontier = [init]
    depth = 0
    expand = pk.expand
    # ``expand`` links a state's successors all at once; near a state count where the
    # search must stop (the cap, or a ``stop`` question every 1024 states) the state is
    # expanded one successor at a time instead, so the search stops where the tuple
    # search does.
    room = len(system.actions)
    transitions = 0
    finished = False
    while frontier:
        if stop_when_decided and not want & all_violated:
            break
        if max_depth is not None and depth >= max_depth:
            break
        nxt: list[int] = []
        new: list[int] = []
        for s in frontier:
            n = len(parent)
            if n + room < max_states and (stop is None or n // 1024 == (n + room) // 1024):
                transitions += expand(s, parent, new)
                if new:
                    if want:
                        for t in new:
                            if probe_fn(t, want):
                                check(t)
                    nxt += new
                    new.clear()
                continue
            base = s << abits
            for a, t in pk.succ(s):  # compiled on first use
                transitions += 1
                if t in parent:
                    continue
                parent[t] = base | a
                nxt.append(t)
                if want and probe_fn(t, want):
                    check(t)
                n = len(parent)
                if n >= max_states or (stop is not None and n % 1024 == 0 and stop(n)):
                    result.states = n
                    result.depth = depth + 1
                    result.timed_out = n < max_states
                    finished = True
                    break
            if finished:
                break
        if finished:
            break
        frontier = nxt
        if frontier:
            depth += 1
    result.transitions = transitions
    if not finished:
        result.states = len(parent)
        result.depth = depth
        result.complete = not frontier
    result.memory = memory(parent)
    if keep or graph:
        result.keys = list(parent)
        result.links = parent
        result.action_bits = abits
    if keep:
        result.visited = _unpack(parent, decode, abits, amask)
    return result


def memory(parent: dict[int, int]) -> int:
    """Bytes the visited set holds, estimated: the dict and one key and link per state
    (sizes taken from a state in it)."""
    if not parent:
        return sys.getsizeof(parent)
    k, v = next(reversed(parent.items()))
    return sys.getsizeof(parent) + len(parent) * (sys.getsizeof(k) + sys.getsizeof(v))


def _memory_tuples(parent: dict[State, tuple[State, int] | None]) -> int:
    """:func:`memory` for the tuple search: the dict, one state tuple and one link tuple
    per state (the slot values themselves are small shared ints)."""
    if not parent:
        return sys.getsizeof(parent)
    k = next(iter(parent))
    return sys.getsizeof(parent) + len(parent) * (sys.getsizeof(k) + sys.getsizeof((k, 0)))


def _unpack(
    parent: dict[int, int], decode: Callable[[int], State], abits: int, amask: int
) -> dict[State, tuple[State, int] | None]:
    """The visited states as tuples with their links, in the same (breadth-first) order."""
    tuples: dict[int, State] = {}
    out: dict[State, tuple[State, int] | None] = {}
    for s, link in parent.items():
        t = tuples[s] = decode(s)
        out[t] = None if link < 0 else (tuples[link >> abits], link & amask)
    return out
