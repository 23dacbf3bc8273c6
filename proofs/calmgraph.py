"""The fault-free state graph of a complete exploration, for the liveness checks.

Theory of operation
-------------------
:class:`CalmGraph` numbers the reachable states of a complete exploration in
breadth-first order (state ``0`` is the initial one) and keeps, per state, its fault-free
successors (``succ``), the fault-free actions that wait only for room on a full channel
(``starved``) and its depth.  :mod:`.liveness` asks it for strongly connected components,
fair components, shortest hops and fair loops.

From the packed search (:mod:`ackproof.spec.packed`; ``explore(..., graph=True)``) the
graph is built over the packed ints alone: the successors by the generated ``calm()``,
the truth of goals and triggers by one generated probe per obligation, and a state is
decoded to a tuple only where a path or a claim shows it (:meth:`CalmGraph.state`).  From
the tuple search (``explore(..., packed=False, keep=True)``, the reference) it is built by
the tuple interpreter; both give the same graph (a test pins it).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Container, Sequence

from ackproof.spec.explore import Exploration, Path, packed_path
from ackproof.spec.expr import TRUE, Expr
from ackproof.spec.interp import Compiled
from ackproof.spec.system import State

from .result import EngineError

Edges = list[list[tuple[int, int]]]  # per state: (action, successor state id)
Hops = list[tuple[int, int]]  # a path: (action, state id after it) per step


class OutOfTime(Exception):
    """The liveness check was stopped (its time limit, or its caller's stop hook)."""


class CalmGraph:
    """Every reachable state of a complete exploration, with its fault-free successors."""

    def __init__(self, comp: Compiled, ex: Exploration, stop: Callable[[int], bool] | None) -> None:
        assert ex.complete
        system = comp.system
        self.system = system
        self.comp = comp
        self.ex = ex
        self.stop = stop
        self.succ: Edges = []
        #: Per state, the fault-free actions that wait only for room on a full channel.
        self.starved: list[tuple[int, ...]] = []
        #: Per state, the length of a shortest path to it (parents come first).
        self.depth: list[int] = []
        self._keys = ex.keys if ex.links is not None else None
        self._tuples: list[State] | None = None
        if self._keys is not None:  # the packed search's states: the packed graph is faster
            self.n = len(self._keys)
            self._packed(self._keys)
            return
        assert ex.visited is not None, "explore(..., keep=True) keeps the visited states"
        self._tuples = states = list(ex.visited)  # breadth-first order
        self.n = len(states)
        index = {s: i for i, s in enumerate(states)}
        for s in states:
            link = ex.visited[s]
            self.depth.append(0 if link is None else self.depth[index[link[0]]] + 1)
        calm = [(a.index, comp.steps[a.index]) for a in system.calm_actions()]
        starving = [
            (a.index, comp.predicate(a.starved))
            for a in system.calm_actions()
            if a.starved is not None
        ]
        for k, s in enumerate(states):
            if k % 4096 == 0:
                self.tick()
            out = []
            for a, f in calm:
                t = f(s)
                if t is not None:
                    out.append((a, index[t]))
            self.succ.append(out)
            self.starved.append(tuple(a for a, p in starving if p(s)))

    def _packed(self, keys: list[int]) -> None:
        """The same graph from the packed states (``keys[i]`` is state ``i`` packed)."""
        links = self.ex.links
        assert links is not None
        abits = self.ex.action_bits
        index = {s: i for i, s in enumerate(keys)}
        calm = self.comp.packed().calm()
        depth, succ, starved = self.depth, self.succ, self.starved
        for k, s in enumerate(keys):
            if not k & 4095:
                self.tick()
            out, st = calm(s)
            succ.append([(a, index[t]) for a, t in out])
            starved.append(st)
            link = links[s]  # parents come first: one more than the parent's depth
            depth.append(0 if link < 0 else depth[index[link >> abits]] + 1)

    @property
    def states(self) -> list[State]:
        """Every state as a tuple, in breadth-first order (decoded once, on first use)."""
        if self._tuples is None:
            self._tuples = [self.state(v) for v in range(self.n)]
        return self._tuples

    def state(self, v: int) -> State:
        """State ``v`` as a tuple."""
        if self._tuples is not None:
            return self._tuples[v]
        assert self._keys is not None
        return self.comp.packed().layout.decode(self._keys[v])

    def stem(self, v: int) -> Path:
        """A shortest path from the initial state to state ``v``."""
        if self._keys is None:
            return self.ex.path_to(self.state(v))
        links = self.ex.links
        assert links is not None
        decode = self.comp.packed().layout.decoder()
        return packed_path(self.system, links, self._keys[v], self.ex.action_bits, decode)

    def tick(self) -> None:
        if self.stop is not None and self.stop(self.n):
            raise OutOfTime

    @staticmethod
    def bit(k: int) -> int:
        """The bit of :meth:`truth`'s masks that says ``exprs[k]`` holds (a probe's
        witness bit)."""
        return 1 << (2 * k + 1)

    def truth(self, exprs: Sequence[Expr]) -> list[int]:
        """Per state, a mask with :meth:`bit` ``(k)`` set where ``exprs[k]`` holds (one
        pass; over packed states, one generated probe)."""
        want = sum(self.bit(k) for k in range(len(exprs)))
        if self._keys is not None:
            probe = self.comp.packed().probe([TRUE] * len(exprs), list(exprs)).fn
            self.tick()
            return [probe(s, want) for s in self._keys]
        preds = [self.comp.predicate(e) for e in exprs]
        return [sum(self.bit(k) for k, p in enumerate(preds) if p(s)) for s in self.states]

    # -- components ------------------------------------------------------------------------
    def components(self, part: Sequence[int]) -> list[list[int]]:
        """Strongly connected components of the subgraph induced by ``part`` (Tarjan,
        iterative)."""
        inside = set(part)
        order: dict[int, int] = {}
        low: dict[int, int] = {}
        stack: list[int] = []
        on_stack: set[int] = set()
        out: list[list[int]] = []
        counter = 0
        for root in part:
            if root in order:
                continue
            work = [(root, 0)]
            order[root] = low[root] = counter
            counter += 1
            stack.append(root)
            on_stack.add(root)
            while work:
                v, k = work[-1]
                edges = self.succ[v]
                if k < len(edges):
                    work[-1] = (v, k + 1)
                    w = edges[k][1]
                    if w not in inside:
                        continue
                    if w not in order:
                        order[w] = low[w] = counter
                        counter += 1
                        stack.append(w)
                        on_stack.add(w)
                        work.append((w, 0))
                    elif w in on_stack:
                        low[v] = min(low[v], order[w])
                    continue
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == order[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    out.append(comp)
            if len(order) % 4096 == 0:
                self.tick()
        return out

    def fair_components(self, part: Sequence[int], *, room: bool) -> list[list[int]]:
        """The fair components inside ``part``: each has an edge, and every action enabled
        somewhere in it has an edge inside it (with ``room``, an action that waits only
        for room on a full channel counts as enabled: channels are as big as needed)."""
        out: list[list[int]] = []
        work = [list(part)]
        while work:
            self.tick()
            for comp in self.components(work.pop()):
                members = set(comp)
                enabled: set[int] = set()
                internal: set[int] = set()
                for v in comp:
                    for a, w in self.succ[v]:
                        enabled.add(a)
                        if w in members:
                            internal.add(a)
                    if room:
                        enabled.update(self.starved[v])
                if not internal:
                    continue  # a single state without a self-loop: no cycle here
                unfair = enabled - internal
                if not unfair:
                    out.append(comp)
                    continue
                rest = [v for v in comp if not unfair.intersection(self.enabled(v, room=room))]
                if rest:
                    work.append(rest)
        return out

    def enabled(self, v: int, *, room: bool) -> set[int]:
        on = {a for a, _ in self.succ[v]}
        return on.union(self.starved[v]) if room else on

    # -- paths -------------------------------------------------------------------------------
    def bfs(self, start: int, allowed: Callable[[int], bool], targets: Container[int]) -> Hops:
        """A shortest list of (action, state id) hops from ``start`` to a state in
        ``targets`` through ``allowed`` states (empty if ``start`` is a target)."""
        parent: dict[int, tuple[int, int] | None] = {start: None}
        queue = deque([start])
        while queue:
            v = queue.popleft()
            if v in targets:
                hops: Hops = []
                while (link := parent[v]) is not None:
                    a, u = link
                    hops.append((a, v))
                    v = u
                return hops[::-1]
            for a, w in self.succ[v]:
                if w not in parent and allowed(w):
                    parent[w] = (a, v)
                    queue.append(w)
        raise EngineError("liveness: no path where the graph analysis found one")

    def fair_loop(self, start: int, comp: Sequence[int]) -> Hops:
        """A cycle from ``start`` through ``comp`` that takes an internal edge of every
        action enabled somewhere in ``comp``."""
        members = set(comp)
        wanted: dict[int, tuple[int, int]] = {}  # action -> one of its edges inside comp
        for v in comp:
            for a, w in self.succ[v]:
                if w in members and a not in wanted:
                    wanted[a] = (v, w)
        loop: Hops = []
        cur = start
        while wanted:
            hop = self.bfs(cur, members.__contains__, {v for v, _ in wanted.values()})
            loop += hop
            cur = hop[-1][1] if hop else cur
            a = next(a for a, (v, _) in wanted.items() if v == cur)
            loop.append((a, wanted[a][1]))
            cur = wanted[a][1]
            for b, _ in loop:
                wanted.pop(b, None)
        return loop + self.bfs(cur, members.__contains__, {start})

    def steps(self, hops: Hops) -> list[tuple[int, State]]:
        return [(a, self.state(w)) for a, w in hops]
