"""Partial-order reduction for proving invariants: stubborn sets from static read/write sets.

Theory of operation
-------------------
Two actions that touch disjoint parts of the state commute: from a state where both are
enabled, taking them in either order reaches the same state, and neither enables or
disables the other.  A breadth-first search that explores every interleaving of such
actions visits every intermediate state; the reduced search here explores, where it can,
only a *stubborn* subset of the enabled actions (Valmari; the ample sets of Clarke,
Grumberg and Peled), so that every state the full search reaches that matters for the
checked properties has a stand-in the reduced search reaches.

The read and write sets are static (:class:`Independence`): an action *writes* the slots
its update may change (an update ``x_i := x_i`` is no write) and *reads* every slot of its
guard, its checks and its update values.  Actions ``a`` and ``b`` are *dependent* when
one writes a slot the other reads or writes.  In a state ``s``, the stubborn set grown
from a seed action is closed under:

* an enabled action brings every action dependent on it (so nothing outside the set can
  disable it, enable something inside, or fail to commute with it);
* a disabled action brings every action that writes a slot of one conjunct of its guard
  false in ``s`` (its *necessary enabling set*: nothing outside the set can enable it).

The enabled part of the set is explored (the *ample* set) when it is a proper subset of
the enabled actions and it satisfies:

* **C2 (invisibility)**: no action in it writes a slot that a checked invariant or
  witness reads, and none has a well-formedness check (a failing check is an error the
  full search would meet: taking it as a visible step keeps it reachable);
* **C3 (cycle proviso, breadth-first form)**: no successor by it was visited before;
  otherwise the state is expanded fully, so every cycle of the reduced graph has a fully
  expanded state and no action is ignored for ever.

With C0 (the set is non-empty when anything is enabled: the seed is enabled) these are
the conditions under which every reachable state's valuation of the visible slots is
reachable in the reduced graph too (the stutter-equivalence of the two graphs restricted
to the visible slots): an invariant violated in the full graph is violated in the reduced
one, and a witness reached in the full graph is reached in the reduced one.

What is *not* preserved, and so where the reduction is never used: the shortest path to a
state (counterexamples here are shortest: a violation found by the reduced search is
real, and the caller searches again in full for the shortest one), "holds up to depth k"
(only a complete reduced search proves anything), and the edges of the state graph the
liveness checks (``eventually`` obligations) need.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .commute import commute, counters
from .explore import Exploration, memory, packed_path, record_hits
from .expr import Expr, walk
from .interp import Compiled, PredFn, compile_system
from .ops import Leaf, Op
from .packsource import interval_under
from .system import State, System


def _slots(roots: Sequence[Expr]) -> frozenset[int]:
    return frozenset(e.value for e in walk(roots) if e.op is Leaf.SLOT)


def _conjuncts(e: Expr) -> list[Expr]:
    if e.op is not Op.AND:
        return [e]
    return [c for a in e.args for c in _conjuncts(a)]


def writes(system: System, index: int) -> frozenset[int]:
    """The slots action ``index`` may change (an update to the slot's own value is none)."""
    a = system.actions[index]
    return frozenset(i for i, v in a.updates if not (v.op is Leaf.SLOT and v.value == i))


def reads(system: System, index: int) -> frozenset[int]:
    """The slots action ``index`` reads: its guard's, its checks' and its updates'."""
    a = system.actions[index]
    return _slots([a.guard, *(c.cond for c in a.checks), *(v for _, v in a.updates)])


def _unchecked(system: System, index: int) -> bool:
    """Action ``index`` can never fail at run time: no well-formedness check that is not
    constantly true, and every update's value inside its slot's range wherever the guard
    holds (the packed search range-checks an update whose declared interval is not)."""
    a = system.actions[index]
    if any(not (c.cond.is_const and c.cond.value) for c in a.checks):
        return False
    for i, v in a.updates:
        lo, hi = interval_under(a.guard, v)
        if not system.slots[i].lo <= lo <= hi <= system.slots[i].hi:
            return False
    return True


def visible_slots(system: System, properties: Sequence[str]) -> frozenset[int]:
    """The slots the invariants and witnesses of ``properties`` read."""
    props = [system.properties[p] for p in properties]
    return _slots([e for p in props for e in (p.invariant, p.witness)])


@dataclass(frozen=True)
class Independence:
    """What the reduction knows of a system statically, for one set of properties."""

    #: Per action: the actions dependent on it (itself included).
    dependent: tuple[tuple[int, ...], ...]
    #: Per action: its guard's conjuncts, each with the actions that write a slot it reads.
    conjuncts: tuple[tuple[tuple[Expr, tuple[int, ...]], ...], ...]
    #: Per action: may it be in a proper ample set?  It writes no visible slot and cannot
    #: fail (:func:`_unchecked`).
    invisible: tuple[bool, ...]
    #: Per action: is it worth growing a stubborn set from?  Invisible, and it changes some
    #: slot (an action that changes none is a self-loop everywhere).
    seeds: tuple[bool, ...]

    @classmethod
    def of(cls, system: System, properties: Sequence[str]) -> Independence:
        n = len(system.actions)
        w = [writes(system, a) for a in range(n)]
        r = [reads(system, a) for a in range(n)]
        writers: dict[int, list[int]] = {}
        for a in range(n):
            for i in w[a]:
                writers.setdefault(i, []).append(a)
        counting = [counters(act) for act in system.actions]
        dependent = []
        for a in range(n):
            dep = [a]
            for b in range(n):  # one writes what the other reads or writes
                shared = (w[a] & (r[b] | w[b])) | (w[b] & r[a])
                if b != a and shared and not commute(counting[a], counting[b], shared):
                    dep.append(b)
            dependent.append(tuple(sorted(dep)))
        conjuncts = []
        for act in system.actions:
            own = []
            for c in _conjuncts(act.guard):
                enablers = sorted({b for i in _slots([c]) for b in writers.get(i, ())})
                own.append((c, tuple(enablers)))
            conjuncts.append(tuple(own))
        seen = visible_slots(system, properties)
        invisible = tuple(not (w[a] & seen) and _unchecked(system, a) for a in range(n))
        seeds = tuple(bool(w[a]) and invisible[a] for a in range(n))
        return cls(tuple(dependent), tuple(conjuncts), invisible, seeds)

    def stubborn(
        self, seed: int, enabled: frozenset[int], holds: Callable[[Expr], bool]
    ) -> set[int] | None:
        """The enabled actions of the stubborn set grown from ``seed`` (an enabled,
        invisible action), or ``None`` if it holds a visible enabled action or every
        enabled action (no reduction from this seed).  ``holds(e)``: ``e`` in the state."""
        todo = [seed]
        inside = {seed}
        ample: set[int] = set()
        while todo:
            a = todo.pop()
            if a in enabled:
                if not self.invisible[a]:
                    return None
                ample.add(a)
                if len(ample) == len(enabled):
                    return None
                more: Sequence[int] = self.dependent[a]
            else:
                more = next(en for c, en in self.conjuncts[a] if not holds(c))
            for b in more:
                if b not in inside:
                    inside.add(b)
                    todo.append(b)
        return ample


def invariant_only(system: System, properties: Sequence[str]) -> bool:
    """No property of ``properties`` has an ``eventually`` obligation: the reduced search
    can decide all of them."""
    return not any(system.properties[p].eventually for p in properties)


def explore_por(
    system: System,
    properties: Sequence[str] | None = None,
    *,
    max_states: int = 2_000_000,
    compiled: Compiled | None = None,
    stop: Callable[[int], bool] | None = None,
    until_violation: bool = False,
    keep: bool = False,
) -> Exploration:
    """Breadth-first search over packed states, each state expanded by an ample set (see
    the module doc) where one qualifies, fully otherwise; checks the invariants and
    witnesses of ``properties`` (which must have no ``eventually`` obligation).

    Its paths are real runs of the system (replayable) but not necessarily the shortest;
    a "no violation" says something only when the result is ``complete``.
    ``until_violation`` stops after the level where a first violation is found (the caller
    searches again in full for the shortest); ``keep`` keeps the visited states (``keys``,
    ``links``, as :func:`.explore` does with ``graph``).  ``reduced`` counts the states
    expanded by a proper ample set; the rest is :func:`.explore`'s."""
    props = list(system.properties) if properties is None else list(properties)
    if not invariant_only(system, props):
        raise ValueError("partial-order reduction checks invariants only (no `eventually`)")
    comp = compiled if compiled is not None else compile_system(system)
    pk = comp.packed()
    layout, succ, decode = pk.layout, pk.succ, pk.layout.decoder()
    ind = Independence.of(system, props)
    preds: dict[int, PredFn] = {}
    probe = pk.probe(
        [system.properties[p].invariant for p in props],
        [system.properties[p].witness for p in props],
    )
    abits = pk.action_bits
    init = layout.encode(system.initial())
    parent: dict[int, int] = {init: -1}
    result = Exploration(system, 1, 0, 0, False, reduced=0)
    want = probe.everything

    def check(s: int) -> None:
        nonlocal want
        hit = probe.fn(s, want)
        record_hits(result, props, hit, lambda: packed_path(system, parent, s, abits, decode))
        want &= ~hit

    def holds_in(state: State) -> Callable[[Expr], bool]:
        def holds(e: Expr) -> bool:
            f = preds.get(id(e))
            if f is None:
                f = preds[id(e)] = comp.predicate(e)
            return bool(f(state))

        return holds

    check(init)
    frontier = [init]
    depth = transitions = reduced = 0
    while frontier:
        if until_violation and result.violations:
            break
        nxt: list[int] = []
        fresh: set[int] = set()  # discovered at this level: one deeper than ``frontier``
        for s in frontier:
            moves = succ(s)
            chosen = _ample(ind, s, moves, parent, fresh, holds_in, decode)
            if chosen is not moves:
                reduced += 1
            base = s << abits
            for a, t in chosen:
                transitions += 1
                if t in parent:
                    continue
                parent[t] = base | a
                nxt.append(t)
                fresh.add(t)
                if want and probe.fn(t, want):
                    check(t)
                n = len(parent)
                if n >= max_states or (stop is not None and n % 1024 == 0 and stop(n)):
                    result.states, result.depth = n, depth + 1
                    result.timed_out = n < max_states
                    result.transitions, result.reduced = transitions, reduced
                    return _done(result, parent, abits, keep)
        frontier = nxt
        if frontier:
            depth += 1
    result.states, result.depth, result.complete = len(parent), depth, not frontier
    result.transitions, result.reduced = transitions, reduced
    return _done(result, parent, abits, keep)


def _done(result: Exploration, parent: dict[int, int], abits: int, keep: bool) -> Exploration:
    result.memory = memory(parent)
    if keep:
        result.keys, result.links, result.action_bits = list(parent), parent, abits
    return result


def _ample(
    ind: Independence,
    s: int,
    moves: list[tuple[int, int]],
    parent: dict[int, int],
    fresh: set[int],
    holds_in: Callable[[State], Callable[[Expr], bool]],
    decode: Callable[[int], State],
) -> list[tuple[int, int]]:
    """The moves of the smallest ample set of ``s`` that qualifies, or ``moves`` (all of
    them).  A move back to ``s`` itself is left out (it adds nothing; a set of nothing but
    such moves does not qualify); C3: no move may lead to a state visited at ``s``'s
    depth or above (every such state is visited and not ``fresh``)."""
    if len(moves) < 2:
        return moves
    enabled = frozenset(a for a, _ in moves)
    holds: Callable[[Expr], bool] | None = None
    found: list[set[int]] = []
    for a in sorted(enabled):
        if not ind.seeds[a]:
            continue
        if holds is None:
            holds = holds_in(decode(s))
        got = ind.stubborn(a, enabled, holds)
        if got is not None and got not in found:
            found.append(got)
    for ample in sorted(found, key=len):
        chosen = [(a, t) for a, t in moves if a in ample and t != s]
        if chosen and all(t not in parent or t in fresh for _, t in chosen):
            return chosen
    return moves
