"""Counter moves that commute although they share a slot (for :mod:`.por`).

Theory of operation
-------------------
A bag channel is a count per frame, and every move on it adds or takes one: a send adds
one under a capacity guard (``DATA0 + DATA1 < 2``), a delivery takes one under
``0 < DATA0``.  Read and write sets alone make the two dependent (both write ``DATA0``);
yet wherever both are enabled, neither disables the other (the send only raises ``DATA0``,
which the delivery needs to be positive; the delivery only lowers it, which the capacity
guard needs to be small) and their effects add up the same in either order.  That is
independence in the sense partial-order reduction needs.

An action uses a slot *as a counter* (:func:`counters`) when every use of it is:

* its update to the slot is ``x + k`` or ``x - k`` (``k`` a constant), possibly clamped by
  ``min`` / ``max`` where the action's guard keeps the clamp from ever applying (the
  ranges the guard implies, as the packed code generator narrows them);
* its guard's conjuncts that read it are thresholds over a sum of slots, ``sum < k`` /
  ``sum <= k`` (an *upper* bound: stays true when the slot falls) or ``k < sum`` /
  ``k <= sum`` (a *lower* bound: stays true when it rises);
* nothing else reads it (no check, no other update, no other kind of conjunct).

Two actions commute on a slot both use as counters when neither's change can falsify the
other's bounds (:func:`commute`): a rise against no upper bound, a fall against no lower
bound.  Then, from any state where both are enabled, both orders are possible and reach the
same state (each guard still holds after the other's move, so each clamp still does not
apply and each update still adds its constant).
"""

from __future__ import annotations

from dataclasses import dataclass

from .expr import Expr, walk
from .ops import Leaf, Op
from .packsource import interval_under
from .system import Action


@dataclass(frozen=True, slots=True)
class Counter:
    """How one action uses one slot, when it uses it only as a counter."""

    #: What its update adds to the slot (0: it does not write it).
    delta: int = 0
    #: Some guard conjunct over it is a lower bound (false if it falls).
    lower: bool = False
    #: Some guard conjunct over it is an upper bound (false if it rises).
    upper: bool = False


def _terms(e: Expr) -> list[Expr] | None:
    """The slots ``e`` sums, or ``None`` if it is not a sum of slots."""
    if e.op is Leaf.SLOT:
        return [e]
    if e.op is not Op.ADD:
        return None
    out: list[Expr] = []
    for a in e.args:
        got = _terms(a)
        if got is None:
            return None
        out += got
    return out


def _delta(guard: Expr, i: int, v: Expr) -> int | None:
    """What update ``x_i := v`` adds to ``x_i`` wherever ``guard`` holds, if it adds a
    constant; ``None`` otherwise."""
    if v.op in (Op.MIN, Op.MAX):
        a, b = v.args
        inner, cap = (a, b) if b.is_const else (b, a)
        if not cap.is_const:
            return None
        lo, hi = interval_under(guard, inner)
        if (v.op is Op.MIN and hi > cap.value) or (v.op is Op.MAX and lo < cap.value):
            return None  # the clamp may apply
        v = inner
    if v.op not in (Op.ADD, Op.SUB):
        return None
    x, k = v.args
    if v.op is Op.ADD and x.is_const:
        x, k = k, x
    if not (x.op is Leaf.SLOT and x.value == i and k.is_const):
        return None
    return int(k.value) if v.op is Op.ADD else -int(k.value)


def counters(action: Action) -> dict[int, Counter]:
    """The slots ``action`` reads or writes only as counters (see the module doc)."""
    found: dict[int, Counter] = {}
    other: set[int] = set()
    for i, v in action.updates:
        if v.op is Leaf.SLOT and v.value == i:
            continue  # no write
        d = _delta(action.guard, i, v)
        if d is None:
            other.update(e.value for e in walk([v]) if e.op is Leaf.SLOT)
            other.add(i)
        else:
            found[i] = Counter(delta=d)
    for check in action.checks:
        other.update(e.value for e in walk([check.cond]) if e.op is Leaf.SLOT)
    conj = [action.guard]
    while any(c.op is Op.AND for c in conj):
        conj = [x for c in conj for x in (c.args if c.op is Op.AND else (c,))]
    for c in conj:
        lower = upper = None
        if c.op in (Op.LT, Op.LE):
            a, b = c.args
            if b.is_const:
                upper = _terms(a)
            elif a.is_const:
                lower = _terms(b)
        if lower is None and upper is None:
            other.update(e.value for e in walk([c]) if e.op is Leaf.SLOT)
            continue
        for t in lower or ():
            old = found.get(t.value, Counter())
            found[t.value] = Counter(old.delta, True, old.upper)
        for t in upper or ():
            old = found.get(t.value, Counter())
            found[t.value] = Counter(old.delta, old.lower, True)
    return {i: u for i, u in found.items() if i not in other}


def commute(a: dict[int, Counter], b: dict[int, Counter], shared: frozenset[int]) -> bool:
    """Two actions (their :func:`counters`) are independent on the ``shared`` slots: each
    uses every one of them as a counter, and neither's change falsifies a bound of the
    other's guard."""
    for i in shared:
        x, y = a.get(i), b.get(i)
        if x is None or y is None:
            return False
        for mine, theirs in ((x, y), (y, x)):
            if (theirs.delta > 0 and mine.upper) or (theirs.delta < 0 and mine.lower):
                return False
    return True
