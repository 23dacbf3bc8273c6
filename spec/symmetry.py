"""Symmetry over message ids: detected on the lowered system, never assumed.

Theory of operation
-------------------
Exchanging two message ids ``i`` and ``j`` suggests a permutation ``π`` of the slots:
``submitted[i]`` <-> ``submitted[j]``, ``DATA(msg=i)`` <-> ``DATA(msg=j)``, found from the
ids each slot is about (:meth:`System.id_swap`: ``Slot.msgs`` and ``Slot.family``, set by
the lowering from fields typed ``p.msg``).  That is only a *candidate*; ``π`` is an
automorphism of the transition system only if every check below passes:

* every slot and its image have the same sort, range and initial value (so ``π`` maps the
  initial state to itself and a state to a state);
* renaming every slot ``k`` to ``π(k)`` in each action's guard, checks and updates (an
  update of ``k`` becoming an update of ``π(k)``) gives exactly some action of the system
  (up to commutativity of ``&``, ``|``, ``+``, ``*``, ``==``, ``min``, ``max`` and
  associativity of all but ``==``): then
  ``π(step_a(s)) = step_π(a)(π(s))`` for every state, so the state graph is mapped onto
  itself, and the map on actions is a bijection;
* the invariant and the witness of every property asked about are mapped to themselves:
  then a state violates (witnesses) a property exactly when its image does.

Adjacent swaps ``(0 1), (1 2), …`` generate every permutation of the ids, so when they
all pass the system is symmetric under the full group.  The built-in protocols are not:
the producer submits ids in order (``submit(m=1)`` needs ``submitted[0]``) and in-order
tracking compares ids (``order_broken``); :func:`detect` says which check failed, first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .explore import Exploration, Path
from .expr import Expr
from .interp import Compiled, compile_system
from .ops import ASSOCIATIVE, COMMUTATIVE, Leaf
from .system import Action, State, System


def _flatten(e: Expr) -> list[Expr]:
    """The operands of a chain of one associative operator."""
    out: list[Expr] = []
    stack = list(reversed(e.args))
    while stack:
        a = stack.pop()
        if a.op is e.op:
            stack.extend(reversed(a.args))
        else:
            out.append(a)
    return out


class _Canon:
    """Canonical structural keys of expressions under a slot renaming: two expressions
    get the same key exactly when they are equal up to commutativity."""

    def __init__(self) -> None:
        self.table: dict[tuple[object, ...], int] = {}

    def key(self, e: Expr, perm: Sequence[int], memo: dict[int, int]) -> int:
        k = memo.get(id(e))
        if k is not None:
            return k
        if e.op is Leaf.SLOT:
            sig: tuple[object, ...] = (Leaf.SLOT, perm[e.value])
        else:
            parts = _flatten(e) if e.op in ASSOCIATIVE else list(e.args)
            args = [self.key(a, perm, memo) for a in parts]
            if e.op in COMMUTATIVE:
                args.sort()
            sig = (e.op, e.sort, e.value, *args)
        k = self.table.setdefault(sig, len(self.table))
        memo[id(e)] = k
        return k


def _signature(
    canon: _Canon, a: Action, perm: Sequence[int], memo: dict[int, int]
) -> tuple[object, ...]:
    def key(e: Expr) -> int:
        return canon.key(e, perm, memo)

    updates = sorted(
        (perm[i], key(v)) for i, v in a.updates if not (v.op is Leaf.SLOT and v.value == i)
    )
    starved = None if a.starved is None else key(a.starved)
    return (
        a.kind,
        a.crash_after is None,
        key(a.guard),
        tuple(sorted(key(c.cond) for c in a.checks)),
        tuple(updates),
        starved,
    )


@dataclass(frozen=True)
class Swap:
    """An automorphism exchanging two message ids: the slot and action permutations."""

    ids: tuple[int, int]
    slots: tuple[int, ...]
    actions: tuple[int, ...]


@dataclass(frozen=True)
class Verdict:
    """What :func:`check` found for one pair of ids: the swap, or why there is none."""

    ids: tuple[int, int]
    swap: Swap | None
    why: str = ""


def check(system: System, i: int, j: int, properties: Sequence[str] | None = None) -> Verdict:
    """Whether exchanging ids ``i`` and ``j`` is an automorphism of ``system`` preserving
    ``properties`` (default: all of them); see the module docstring."""
    ids = (i, j)
    perm = system.id_swap(i, j)
    if perm is None:
        return Verdict(ids, None, "some slot has no counterpart with the ids exchanged")
    if sorted(perm) != list(range(len(perm))):
        return Verdict(ids, None, "exchanging the ids is not a permutation of the slots")
    for k, s in enumerate(system.slots):
        t = system.slots[perm[k]]
        if (s.sort, s.lo, s.hi, s.init) != (t.sort, t.lo, t.hi, t.init):
            return Verdict(ids, None, f"{s.name} and {t.name} differ in type or initial value")
    canon = _Canon()
    ident = list(range(len(perm)))
    plain: dict[int, int] = {}
    renamed: dict[int, int] = {}
    where: dict[tuple[object, ...], list[int]] = {}
    for a in system.actions:
        where.setdefault(_signature(canon, a, ident, plain), []).append(a.index)
    images: list[int] = []
    taken: set[int] = set()
    for a in system.actions:
        sig = _signature(canon, a, perm, renamed)
        match = [b for b in where.get(sig, []) if b not in taken]
        if not match:
            return Verdict(ids, None, f"no action is the image of {a.label!r}")
        images.append(match[0])
        taken.add(match[0])
    props = list(system.properties) if properties is None else list(properties)
    for p in props:
        prop = system.properties[p]
        for what, e in (("invariant", prop.invariant), ("witness", prop.witness)):
            if canon.key(e, perm, renamed) != canon.key(e, ident, plain):
                return Verdict(ids, None, f"the {what} of {p} is not mapped to itself")
    return Verdict(ids, Swap(ids, tuple(perm), tuple(images)))


@dataclass(frozen=True)
class Report:
    """The symmetry of a system over its message ids."""

    system: str
    messages: int
    #: Per adjacent pair of ids, what :func:`check` found.
    pairs: tuple[Verdict, ...]

    @property
    def symmetric(self) -> bool:
        """Every permutation of the ids is an automorphism (with two ids or more)."""
        return bool(self.pairs) and all(v.swap is not None for v in self.pairs)

    def describe(self) -> str:
        if self.messages < 2:
            return f"{self.system}: one message id, nothing to exchange"
        if self.symmetric:
            return f"{self.system}: symmetric in its {self.messages} message ids"
        bad = next(v for v in self.pairs if v.swap is None)
        return f"{self.system}: not symmetric — exchanging ids {bad.ids}: {bad.why}"


def detect(system: System, properties: Sequence[str] | None = None) -> Report:
    """Check every adjacent swap of message ids (they generate every permutation)."""
    pairs = tuple(check(system, m, m + 1, properties) for m in range(system.messages - 1))
    return Report(system.protocol, system.messages, pairs)


# -- the reduced search ---------------------------------------------------------------------
@dataclass(frozen=True)
class Blocks:
    """The state as one block of slots per message id, plus slots no swap moves: every
    permutation of ids permutes whole blocks, so sorting the blocks picks one state per
    orbit (the canonical representative)."""

    #: Per message id, its slots, in the same order for every id.
    slots: tuple[tuple[int, ...], ...]

    def canonical(self, state: State) -> State:
        blocks = sorted(tuple(state[k] for k in b) for b in self.slots)
        out = list(state)
        for b, values in zip(self.slots, blocks, strict=True):
            for k, v in zip(b, values, strict=True):
                out[k] = v
        return tuple(out)


def blocks(system: System, report: Report) -> Blocks | None:
    """The block structure of a symmetric system, or ``None`` if its swaps do not just
    exchange two blocks (a slot about two ids, say): checked against every swap found."""
    if not report.symmetric:
        return None
    per_id: list[list[int]] = [[] for _ in range(system.messages)]
    for k, s in enumerate(system.slots):
        ids = frozenset(s.msgs)
        if len(ids) > 1:
            return None
        if ids:
            (m,) = ids
            if m >= system.messages:
                return None
            per_id[m].append(k)
    if len({len(b) for b in per_id}) != 1:
        return None
    for v in report.pairs:
        assert v.swap is not None
        i, j = v.ids
        want = list(range(len(system.slots)))
        for a, b in zip(per_id[i], per_id[j], strict=True):
            want[a], want[b] = b, a
        if list(v.swap.slots) != want:
            return None
    return Blocks(tuple(tuple(b) for b in per_id))


def explore_reduced(
    system: System,
    structure: Blocks,
    properties: Sequence[str] | None = None,
    *,
    max_states: int = 2_000_000,
    max_depth: int | None = None,
    compiled: Compiled | None = None,
) -> Exploration:
    """Breadth-first search over canonical representatives (one state per orbit).

    Only for a system :func:`detect` found symmetric, with ``structure`` from
    :func:`blocks`, and properties it checked.  ``states`` counts orbits.  Paths are
    concrete: each representative path is replayed on the unreduced system from the
    initial state, taking at each step an enabled action whose successor lies in the
    orbit of the next representative (one exists: the swaps map transitions to
    transitions), so lengths, and whether the last state violates or witnesses a
    property, are those of the representative path."""
    comp = compiled if compiled is not None else compile_system(system)
    canon = structure.canonical
    props = list(system.properties) if properties is None else list(properties)
    inv = {p: comp.predicate(system.properties[p].invariant) for p in props}
    wit = {p: comp.predicate(system.properties[p].witness) for p in props}
    init = system.initial()
    if canon(init) != init:
        raise ValueError(f"{system.protocol}: the initial state is not its own representative")
    parent: dict[State, State | None] = {init: None}
    result = Exploration(system, 1, 0, 0, False)

    def concrete(rep: State) -> Path:
        reps = [rep]
        while (p := parent[reps[-1]]) is not None:
            reps.append(p)
        reps.reverse()
        cur, steps = init, []
        for want in reps[1:]:
            for a, t in comp.successors(cur):
                if canon(t) == want:
                    steps.append((a, t))
                    cur = t
                    break
            else:  # the swaps were checked to map transitions onto transitions
                raise AssertionError("a representative path has no concrete counterpart")
        return Path(init, tuple(steps))

    def check(s: State) -> None:
        for p in props:
            if p not in result.violations and not inv[p](s):
                result.violations[p] = concrete(s)
            if p not in result.witnesses and wit[p](s):
                result.witnesses[p] = concrete(s)

    check(init)
    frontier, depth = [init], 0
    while frontier:
        if max_depth is not None and depth >= max_depth:
            break
        nxt: list[State] = []
        for s in frontier:
            for f in comp.steps:
                t = f(s)
                if t is None:
                    continue
                result.transitions += 1
                r = canon(t)
                if r in parent:
                    continue
                parent[r] = s
                nxt.append(r)
                check(r)
                if len(parent) >= max_states:
                    result.states, result.depth = len(parent), depth + 1
                    return result
        frontier = nxt
        if frontier:
            depth += 1
    result.states, result.depth, result.complete = len(parent), depth, not frontier
    return result
