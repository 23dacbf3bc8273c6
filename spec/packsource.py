"""The Python source of a packed system's functions (:mod:`ackproof.spec.packed`): the
successor function (``expand``, ``succ``, ``calm``) and the probe of every property.

Each generated function decodes the slots it reads into locals once, shares the
sub-expressions of its guards, narrows values by what the guards already settle (so
``min``/``max`` can be inlined or dropped), then runs each enabled action's checks and
builds its successor from the fields it changes.  The meaning is the tuple interpreter's;
``tests/proofs/test_explicit_packed.py`` pins the two to agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, assert_never

from .errors import SpecError
from .expr import Expr, walk
from .ops import PYTHON, Leaf, Op
from .system import System

if TYPE_CHECKING:
    from .packed import Layout


class _Names:
    """Structural common-subexpression naming: equal sub-trees share one temporary, even
    when they are distinct ``Expr`` objects (every action is built from a fresh run)."""

    def __init__(self) -> None:
        self.keys: dict[int, int] = {}  # id(expr) -> structural key
        self.table: dict[tuple[object, ...], int] = {}

    def key(self, e: Expr) -> int:
        k = self.keys.get(id(e))
        if k is None:
            sig = (e.op, e.sort, e.value, *(self.key(a) for a in e.args))
            k = self.table.setdefault(sig, len(self.table))
            self.keys[id(e)] = k
        return k


class _Emitter:
    def __init__(self, names: _Names, lines: list[str]) -> None:
        self.names = names
        self.lines = lines
        self.temps = 0
        #: Slot ranges narrowed by the guard of the action being emitted (``None``: the
        #: declared ranges); ``min`` / ``max`` whose answer they settle are not emitted.
        self.bounds: dict[int, tuple[int, int]] | None = None
        self._ranges: dict[int, tuple[int, int]] = {}

    def narrow(self, guard: Expr | None) -> None:
        """Take the ranges ``guard`` implies (``None``: forget them)."""
        self._ranges = {}
        self.bounds = None if guard is None else _implied(guard)

    def _range(self, e: Expr) -> tuple[int, int]:
        """An interval containing every value of ``e`` where the guard holds."""
        got = self._ranges.get(id(e))
        if got is not None:
            return got
        r = (e.lo, e.hi)  # the declared interval (every Expr carries a sound one), ...
        match e.op:  # ... narrowed where the guard's ranges of the arguments say more
            case Leaf.SLOT:
                if self.bounds is not None and e.value in self.bounds:
                    r = self.bounds[e.value]
            case Op.ADD:
                (la, ha), (lb, hb) = (self._range(a) for a in e.args)
                r = (la + lb, ha + hb)
            case Op.SUB:
                (la, ha), (lb, hb) = (self._range(a) for a in e.args)
                r = (la - hb, ha - lb)
            case Op.MIN:
                (la, ha), (lb, hb) = (self._range(a) for a in e.args)
                r = (min(la, lb), min(ha, hb))
            case Op.MAX:
                (la, ha), (lb, hb) = (self._range(a) for a in e.args)
                r = (max(la, lb), max(ha, hb))
            case Op.ITE:
                (la, ha), (lb, hb) = (self._range(a) for a in e.args[1:])
                r = (min(la, lb), max(ha, hb))
            case Op.MUL | Op.MOD | Op.NOT | Op.AND | Op.OR | Op.EQ | Op.LT | Op.LE:
                pass
            case Leaf.CONST | Leaf.ARRAY:
                pass
            case _:
                assert_never(e.op)
        self._ranges[id(e)] = r
        return r

    def shared(
        self, roots: Sequence[Expr], scope: dict[int, str], indent: str, *, structural: bool
    ) -> None:
        """Name, in ``scope``, every non-trivial node used more than once under ``roots``:
        counted by structure (equal sub-trees of different actions' guards), or by object
        as the tuple interpreter does (inside one action, where a temporary is computed
        even when the ``ite`` branch that needs it is not taken: the fewer the better)."""
        count = _uses(roots, self.names) if structural else _object_uses(roots)
        for e in walk(roots):  # children before parents
            k = self.names.key(e)
            c = count.get(k if structural else id(e), 0)
            if k in scope or isinstance(e.op, Leaf) or c < 2:
                continue
            name = f"t{self.temps}"
            self.temps += 1
            self.lines.append(f"{indent}{name} = {self.src(e, scope)}")
            scope[k] = name

    def src(self, e: Expr, scope: dict[int, str]) -> str:
        named = scope.get(self.names.key(e))
        if named is not None:
            return named
        match e.op:
            case Leaf.CONST:
                return repr(bool(e.value)) if e.sort == "bool" else repr(e.value)
            case Leaf.SLOT:
                return f"x{e.value}"
            case Leaf.ARRAY:
                raise SpecError("an array is not a value")
            case Op.MIN | Op.MAX as op:  # inline: a call to the builtin costs more than this
                return self._extremum(e, op, [self.src(x, scope) for x in e.args])
            case Op() as op:
                return PYTHON[op]([self.src(x, scope) for x in e.args])
            case _:
                assert_never(e.op)

    def _extremum(self, e: Expr, op: Op, a: list[str]) -> str:
        """``min`` / ``max`` inline, or one argument if the guard's ranges settle it."""
        if self.bounds is not None:  # settled by the guard's ranges?
            (la, ha), (lb, hb) = self._range(e.args[0]), self._range(e.args[1])
            if (op is Op.MIN and ha <= lb) or (op is Op.MAX and la >= hb):
                return a[0]
            if (op is Op.MIN and hb <= la) or (op is Op.MAX and lb >= ha):
                return a[1]
        cmp = "<=" if op is Op.MIN else ">="
        m = f"m{self.temps}"
        self.temps += 1
        if isinstance(e.args[1].op, Leaf) or a[1].isidentifier():
            return f"({m} if ({m} := {a[0]}) {cmp} {a[1]} else {a[1]})"
        k = f"m{self.temps}"
        self.temps += 1
        return f"({m} if ({m} := {a[0]}) {cmp} ({k} := {a[1]}) else {k})"


def interval_under(guard: Expr, e: Expr) -> tuple[int, int]:
    """An interval holding every value of ``e`` in a state where ``guard`` holds (the
    declared one, narrowed by the slot ranges the guard's conjuncts imply, as the
    generated code narrows ``min`` / ``max``)."""
    em = _Emitter(_Names(), [])
    em.narrow(guard)
    return em._range(e)


def _junction_args(e: Expr, op: Op) -> list[Expr]:
    if e.op is not op:
        return [e]
    return [x for a in e.args for x in _junction_args(a, op)]


def _implied(guard: Expr) -> dict[int, tuple[int, int]]:
    """Slot ranges every state satisfying ``guard`` keeps: from its conjuncts of the
    forms ``k < x``, ``k <= x``, ``x < k``, ``x <= k``, ``x == k`` (``x`` a slot) and
    ``x_1 + … + x_n < k`` / ``<= k`` (each ``x_i`` then at most ``k`` less the others'
    least values).  A conjunct of another form adds nothing."""
    out: dict[int, tuple[int, int]] = {}

    def meet(x: Expr, lo: int, hi: int) -> None:
        old = out.get(x.value, (x.lo, x.hi))
        out[x.value] = (max(old[0], lo), min(old[1], hi))

    for c in _junction_args(guard, Op.AND):
        if c.op not in (Op.LT, Op.LE, Op.EQ):
            continue
        a, b = c.args
        strict = 1 if c.op is Op.LT else 0
        if c.op is Op.EQ:
            for x, k in ((a, b), (b, a)):
                if x.op is Leaf.SLOT and x.sort == "int" and k.is_const:
                    meet(x, k.value, k.value)
        elif b.is_const:  # terms of a, summed, are at most b (less one if strict)
            terms = _junction_args(a, Op.ADD)
            if all(t.op is Leaf.SLOT for t in terms):
                least = sum(t.lo for t in terms)
                for t in terms:
                    meet(t, t.lo, b.value - strict - (least - t.lo))
        elif a.is_const and b.op is Leaf.SLOT:
            meet(b, a.value + strict, b.hi)
    return out


def _object_uses(roots: Sequence[Expr]) -> dict[int, int]:
    """Per node object (``id``), how many parents refer to it under ``roots``."""
    count: dict[int, int] = {}
    for e in walk(roots):
        for a in e.args:
            count[id(a)] = count.get(id(a), 0) + 1
    return count


def _uses(roots: Sequence[Expr], names: _Names) -> dict[int, int]:
    """Per structural key, how often it is used: once per root it is, once per edge from a
    parent node (each root's DAG walked on its own, so the same sub-tree under two roots
    counts twice).  A key used twice or more is worth a temporary."""
    count: dict[int, int] = {}
    for r in roots:
        k = names.key(r)
        count[k] = count.get(k, 0) + 1
        for e in walk([r]):
            for a in e.args:
                k = names.key(a)
                count[k] = count.get(k, 0) + 1
    return count


def _slots_read(roots: Sequence[Expr]) -> list[int]:
    return sorted({e.value for e in walk(roots) if e.op is Leaf.SLOT})


def _decode_lines(layout: Layout, slots: Sequence[int], indent: str) -> list[str]:
    out = []
    for i in slots:
        off, mask, lo = layout.offsets[i], (1 << layout.widths[i]) - 1, layout.los[i]
        src = f"s & {mask}" if off == 0 else f"s >> {off} & {mask}"
        out.append(f"{indent}x{i} = ({src}) + {lo}" if lo else f"{indent}x{i} = {src}")
    return out


def step_source(
    system: System,
    layout: Layout,
    abits: int,
    *,
    expand: bool,
    calm: bool = False,
) -> str:
    """``succ(s)``: the list of ``(action, successor)``; or, with ``expand``,
    ``expand(s, parent, new)``: every successor not in ``parent`` is linked there
    (``s << abits | action``) and appended to ``new``; returns the number of successors;
    or, with ``calm``, ``calm(s)``: ``succ`` over the fault-free actions only
    (:meth:`System.calm_actions`) and the tuple of those of them starved in ``s`` (their
    ``starved`` condition holds), for the liveness checks."""
    actions = system.calm_actions() if calm else system.actions
    starving = [a for a in actions if a.starved is not None] if calm else []
    roots: list[Expr] = []
    for a in actions:
        roots += [a.guard, *(c.cond for c in a.checks), *(v for _, v in a.updates)]
    roots += [a.starved for a in starving if a.starved is not None]
    names = _Names()
    head = "def calm(s):" if calm else "def expand(s, parent, new):" if expand else "def succ(s):"
    lines = [head]
    written = {i for a in actions for i, _ in a.updates}  # ``x_i`` is in every delta
    lines += _decode_lines(layout, sorted(set(_slots_read(roots)) | written), "    ")
    em = _Emitter(names, lines)
    top: dict[int, str] = {}
    em.shared([a.guard for a in actions], top, "    ", structural=True)
    if expand:
        lines.append(f"    base = s << {abits}")
        lines.append("    n = 0")
    else:
        lines.append("    out = []")
    for a in actions:
        em.narrow(None)  # a guard is emitted under the declared ranges only
        lines.append(f"    if {em.src(a.guard, top)}:")
        em.narrow(a.guard)
        scope = dict(top)
        body = [c.cond for c in a.checks] + [v for _, v in a.updates]
        em.shared(body, scope, "        ", structural=False)
        for k, c in enumerate(a.checks):
            lines.append(f"        if not {em.src(c.cond, scope)}:")
            lines.append(f"            _fail({a.index}, {k}, s)")
        terms = []
        for i, v in a.updates:
            val = em.src(v, scope)
            if val == f"x{i}":
                continue  # unchanged
            slot = system.slots[i]
            if v.is_const:
                name = str(int(v.value))
            else:
                name = f"u{i}"
                lines.append(f"        {name} = {val}")
                if not (slot.lo <= v.lo and v.hi <= slot.hi):
                    lines.append(f"        if not {slot.lo} <= {name} <= {slot.hi}:")
                    lines.append(f"            _range({a.index}, {i}, {name}, s)")
            off = layout.offsets[i]
            terms.append(f"(({name} - x{i}) << {off})" if off else f"({name} - x{i})")
        t = " + ".join(["s", *terms])
        if expand:
            lines.append(f"        t = {t}")
            lines.append("        n += 1")
            lines.append("        if t not in parent:")
            lines.append(
                f"            parent[t] = base + {a.index}"
                if a.index
                else "            parent[t] = base"
            )
            lines.append("            new.append(t)")
        else:
            lines.append(f"        out.append(({a.index}, {t}))")
    em.narrow(None)
    if calm:
        lines.append("    st = []")
        for a in starving:
            assert a.starved is not None
            lines.append(f"    if {em.src(a.starved, top)}:")
            lines.append(f"        st.append({a.index})")
        lines.append("    return out, tuple(st)")
    else:
        lines.append("    return n" if expand else "    return out")
    return "\n".join(lines)


def probe_source(layout: Layout, invs: Sequence[Expr], wits: Sequence[Expr]) -> str:
    """``probe(s, want)``: bit ``2k`` set when invariant ``k`` is false, bit ``2k + 1``
    when witness ``k`` holds, for the bits set in ``want`` only."""
    roots = [*invs, *wits]
    names = _Names()
    lines = ["def probe(s, want):"]
    lines += _decode_lines(layout, _slots_read(roots), "    ")
    lines.append("    r = 0")
    em = _Emitter(names, lines)
    scope: dict[int, str] = {}
    for k, (inv, wit) in enumerate(zip(invs, wits, strict=True)):
        lines.append(f"    if want & {1 << 2 * k} and not {em.src(inv, scope)}:")
        lines.append(f"        r |= {1 << 2 * k}")
        lines.append(f"    if want & {1 << (2 * k + 1)} and {em.src(wit, scope)}:")
        lines.append(f"        r |= {1 << (2 * k + 1)}")
    lines.append("    return r")
    return "\n".join(lines)
