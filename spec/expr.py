"""Typed finite expressions: the one language every meaning of a protocol is built from.

Theory of operation
-------------------
A protocol's handlers are ordinary Python functions, but they never compute on values:
they build ``Expr`` trees.  Reading a state field gives an ``Expr``; ``+``, ``==``, ``&``
and friends build bigger ones.  The kernel runs each handler once per ground action, at
definition time, and what comes out is a guard and a parallel update, both ``Expr`` over
the pre-state's slots.  Two engines then give those trees a meaning:

* the concrete interpreter (:mod:`ackproof.spec.interp`) compiles them to Python;
* the z3 encoding (:mod:`ackproof.proofs`) translates them to z3 terms.

A node's ``op`` is an operator (:class:`~ackproof.spec.ops.Op`) or a leaf
(:class:`~ackproof.spec.ops.Leaf`); each meaning of the operators is one table in
:mod:`ackproof.spec.ops` or in the back end that gives it.

Rules this module keeps:

1. Every expression has a sort (``bool`` or ``int``) and, for ints, a closed interval
   ``[lo, hi]`` that contains every value it can take.  Enum values are ints tagged with
   their enum so that comparing two different enums is a definition-time error.
2. ``bool(expr)`` raises :class:`SpecError`: Python ``if``/``and``/``or``/``not`` on a
   symbolic value would silently pick one branch.  Use ``ite``, ``&``, ``|``, ``~`` and
   ``ctx.when``.
3. Constructors fold constants and apply a few local simplifications, so ground actions
   stay small.  Folding uses :data:`~ackproof.spec.ops.CONCRETE`, the same table the
   reference evaluator uses.
4. A *ghost* value (a logical message identity the real protocol would not have on the
   wire) taints every expression built from it; the kernel refuses ghost values in guards
   and in non-ghost state.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, TypeAlias

from .errors import SpecError
from .ops import CONCRETE, SPELLING, Kind, Leaf, Op
from .reading import Names as Names
from .reading import evaluate as evaluate
from .reading import render as render
from .reading import walk as walk

Sort: TypeAlias = Literal["bool", "int"]
Value: TypeAlias = bool | int

_SYMBOLIC_BOOL = (
    "a symbolic value was used in Python control flow (if / and / or / not / bool()); "
    "use ctx.when(...), ite(...), &, | and ~ instead"
)


class Expr:
    """A node of the expression DAG.  Build with operators and the helpers below."""

    __slots__ = ("args", "enum", "ghost", "hi", "lo", "op", "sort", "value")

    op: Kind
    args: tuple[Expr, ...]
    value: int
    sort: Sort
    lo: int
    hi: int
    enum: str | None
    ghost: bool

    def __init__(
        self,
        op: Kind,
        args: tuple[Expr, ...],
        sort: Sort,
        lo: int,
        hi: int,
        *,
        value: int = 0,
        enum: str | None = None,
        ghost: bool = False,
    ) -> None:
        self.op = op
        self.args = args
        self.sort = sort
        self.lo = lo
        self.hi = hi
        self.value = value
        self.enum = enum
        self.ghost = ghost or any(a.ghost for a in args)

    # -- Python protocol -------------------------------------------------------------
    def __bool__(self) -> bool:
        e = SpecError(_SYMBOLIC_BOOL)
        e.expr = self  # the lowering names the field it reads and the line
        raise e

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return render(self)

    @property
    def is_const(self) -> bool:
        return self.op is Leaf.CONST

    def const_value(self) -> Value:
        if self.op is not Leaf.CONST:
            raise SpecError(f"expected a constant, got {render(self)}")
        return bool(self.value) if self.sort == "bool" else self.value

    # -- boolean operators -----------------------------------------------------------
    def __invert__(self) -> Expr:
        return not_(self)

    def __and__(self, other: ExprLike) -> Expr:
        return and_(self, other)

    def __rand__(self, other: ExprLike) -> Expr:
        return and_(other, self)

    def __or__(self, other: ExprLike) -> Expr:
        return or_(self, other)

    def __ror__(self, other: ExprLike) -> Expr:
        return or_(other, self)

    # -- comparisons -----------------------------------------------------------------
    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return eq(self, _coerce(other))

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return not_(eq(self, _coerce(other)))

    def __lt__(self, other: ExprLike) -> Expr:
        return lt(self, other)

    def __le__(self, other: ExprLike) -> Expr:
        return le(self, other)

    def __gt__(self, other: ExprLike) -> Expr:
        return lt(other, self)

    def __ge__(self, other: ExprLike) -> Expr:
        return le(other, self)

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other: ExprLike) -> Expr:
        return add(self, other)

    def __radd__(self, other: ExprLike) -> Expr:
        return add(other, self)

    def __sub__(self, other: ExprLike) -> Expr:
        return sub(self, other)

    def __rsub__(self, other: ExprLike) -> Expr:
        return sub(other, self)

    def __mul__(self, other: ExprLike) -> Expr:
        return mul(self, other)

    def __rmul__(self, other: ExprLike) -> Expr:
        return mul(other, self)

    def __mod__(self, other: ExprLike) -> Expr:
        return mod(self, other)

    # -- arrays (only array places support these; see context.ArrayPlace) ------------
    def __getitem__(self, index: ExprLike) -> Expr:
        raise SpecError(f"{render(self)} is not an array; it cannot be indexed")

    def __setitem__(self, index: ExprLike, value: ExprLike) -> None:
        raise SpecError(f"{render(self)} is not an array field; it cannot be assigned into")


ExprLike: TypeAlias = Expr | bool | int

TRUE = Expr(Leaf.CONST, (), "bool", 1, 1, value=1)
FALSE = Expr(Leaf.CONST, (), "bool", 0, 0, value=0)


def const(v: Value, *, enum: str | None = None) -> Expr:
    if isinstance(v, bool):
        return TRUE if v else FALSE
    if isinstance(v, int):
        return Expr(Leaf.CONST, (), "int", v, v, value=v, enum=enum)
    raise SpecError(f"expected a bool or an int, got {type(v).__name__} {v!r}")


def _coerce(x: object) -> Expr:
    if isinstance(x, Expr):
        return x
    if isinstance(x, bool | int):
        return const(x)
    raise SpecError(f"expected a bool, an int or an expression, got {type(x).__name__} {x!r}")


def lift(x: ExprLike) -> Expr:
    """An ``Expr`` for a Python bool or int (an ``Expr`` is returned as it is)."""
    return _coerce(x)


def _need(e: Expr, sort: Sort, what: str) -> None:
    if e.sort != sort:
        raise SpecError(f"{what} needs a {sort} operand, got {render(e)} ({e.sort})")
    if sort == "int" and e.op is Leaf.ARRAY:
        raise SpecError(f"{what}: an array is not a value")


def _same_enum(a: Expr, b: Expr, what: str) -> None:
    if a.enum != b.enum and not (a.is_const and a.enum is None and b.enum is None):
        if a.enum is None and a.is_const and b.enum is not None:
            raise SpecError(f"{what}: compare {b.enum} values with {b.enum} members, not {a.value}")
        if b.enum is None and b.is_const and a.enum is not None:
            raise SpecError(f"{what}: compare {a.enum} values with {a.enum} members, not {b.value}")
        raise SpecError(
            f"{what}: cannot mix {a.enum or 'int'} and {b.enum or 'int'} ({render(a)}, {render(b)})"
        )


def _fold(op: Op, args: Sequence[Expr], sort: Sort, enum: str | None = None) -> Expr:
    v = CONCRETE[op](*(a.const_value() for a in args))
    if any(a.ghost for a in args):
        n = int(v)
        return Expr(Leaf.CONST, (), sort, n, n, value=n, enum=enum, ghost=True)
    return const(bool(v)) if sort == "bool" else const(int(v), enum=enum)


# -- booleans ---------------------------------------------------------------------------
def not_(x: ExprLike) -> Expr:
    e = lift(x)
    _need(e, "bool", SPELLING[Op.NOT].text)
    if e.is_const:
        return _fold(Op.NOT, [e], "bool")
    if e.op is Op.NOT:
        return e.args[0]
    return Expr(Op.NOT, (e,), "bool", 0, 1)


def _junction(op: Literal[Op.AND, Op.OR], xs: Iterable[ExprLike]) -> Expr:
    unit, zero = (TRUE, FALSE) if op is Op.AND else (FALSE, TRUE)
    out: list[Expr] = []
    for x in xs:
        e = lift(x)
        _need(e, "bool", SPELLING[op].text)
        if e is zero:
            return zero
        if e.is_const and e.value == zero.value:
            return e  # a ghost constant: it decides the junction and keeps its taint
        if e is unit:
            continue
        if e.op is op:
            out.extend(a for a in e.args if all(a is not b for b in out))
        elif all(e is not b for b in out):
            out.append(e)
    if not out:
        return unit
    if len(out) == 1:
        return out[0]
    return Expr(op, tuple(out), "bool", 0, 1)


def and_(*xs: ExprLike) -> Expr:
    return _junction(Op.AND, xs)


def or_(*xs: ExprLike) -> Expr:
    return _junction(Op.OR, xs)


def all_(xs: Iterable[ExprLike]) -> Expr:
    return _junction(Op.AND, xs)


def any_(xs: Iterable[ExprLike]) -> Expr:
    return _junction(Op.OR, xs)


def implies(a: ExprLike, b: ExprLike) -> Expr:
    return or_(not_(a), b)


# -- comparisons ------------------------------------------------------------------------
def eq(x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    if a.sort != b.sort:
        raise SpecError(f"== between a {a.sort} and a {b.sort} ({render(a)}, {render(b)})")
    if a.sort == "int":
        _need(a, "int", "==")
        _need(b, "int", "==")
        _same_enum(a, b, "==")
    if a is b:
        return TRUE
    if a.is_const and b.is_const:
        return _fold(Op.EQ, [a, b], "bool")
    if a.sort == "bool":
        for p, q in ((a, b), (b, a)):
            if q.is_const:
                return p if q.value else not_(p)
    if a.hi < b.lo or b.hi < a.lo:
        return FALSE
    return Expr(Op.EQ, (a, b), "bool", 0, 1)


def _order(op: Literal[Op.LT, Op.LE], x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    sym = SPELLING[op].text
    _need(a, "int", sym)
    _need(b, "int", sym)
    _same_enum(a, b, sym)
    if a.is_const and b.is_const:
        return _fold(op, [a, b], "bool")
    if op is Op.LT:
        if a.hi < b.lo:
            return TRUE
        if a.lo >= b.hi:
            return FALSE
    else:
        if a.hi <= b.lo:
            return TRUE
        if a.lo > b.hi:
            return FALSE
    return Expr(op, (a, b), "bool", 0, 1)


def lt(x: ExprLike, y: ExprLike) -> Expr:
    return _order(Op.LT, x, y)


def le(x: ExprLike, y: ExprLike) -> Expr:
    return _order(Op.LE, x, y)


# -- arithmetic -------------------------------------------------------------------------
def _arith(op: Op, x: ExprLike, y: ExprLike) -> tuple[Expr, Expr]:
    a, b = lift(x), lift(y)
    sym = SPELLING[op].text
    _need(a, "int", sym)
    _need(b, "int", sym)
    if a.enum is not None or b.enum is not None:
        raise SpecError(f"arithmetic ({sym}) on an enum value ({render(a)}, {render(b)})")
    return a, b


def add(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.ADD, x, y)
    if a.is_const and b.is_const:
        return _fold(Op.ADD, [a, b], "int")
    if b.is_const and b.value == 0:
        return a
    if a.is_const and a.value == 0:
        return b
    return Expr(Op.ADD, (a, b), "int", a.lo + b.lo, a.hi + b.hi)


def sub(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.SUB, x, y)
    if a.is_const and b.is_const:
        return _fold(Op.SUB, [a, b], "int")
    if b.is_const and b.value == 0:
        return a
    return Expr(Op.SUB, (a, b), "int", a.lo - b.hi, a.hi - b.lo)


def mul(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.MUL, x, y)
    if a.is_const and b.is_const:
        return _fold(Op.MUL, [a, b], "int")
    if not (a.is_const or b.is_const):
        raise SpecError(f"multiplication needs a constant factor ({render(a)} * {render(b)})")
    k, e = (a, b) if a.is_const else (b, a)
    if k.value == 1:
        return e
    bounds = (k.value * e.lo, k.value * e.hi)
    return Expr(Op.MUL, (e, k), "int", min(bounds), max(bounds))


def mod(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.MOD, x, y)
    if not b.is_const or b.value <= 0:
        raise SpecError(f"% needs a positive constant divisor, got {render(b)}")
    if a.is_const:
        return _fold(Op.MOD, [a, b], "int")
    if a.lo >= 0 and a.hi < b.value:
        return a
    return Expr(Op.MOD, (a, b), "int", 0, b.value - 1)


def min_(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.MIN, x, y)
    if a.is_const and b.is_const:
        return _fold(Op.MIN, [a, b], "int")
    if a.hi <= b.lo:
        return a
    if b.hi <= a.lo:
        return b
    return Expr(Op.MIN, (a, b), "int", min(a.lo, b.lo), min(a.hi, b.hi))


def max_(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith(Op.MAX, x, y)
    if a.is_const and b.is_const:
        return _fold(Op.MAX, [a, b], "int")
    if a.lo >= b.hi:
        return a
    if b.lo >= a.hi:
        return b
    return Expr(Op.MAX, (a, b), "int", max(a.lo, b.lo), max(a.hi, b.hi))


def ite(c: ExprLike, x: ExprLike, y: ExprLike) -> Expr:
    """``x`` if ``c`` else ``y``, as an expression."""
    cond, a, b = lift(c), lift(x), lift(y)
    _need(cond, "bool", "ite condition")
    if a.sort != b.sort:
        raise SpecError(
            f"ite branches differ in sort ({render(a)}: {a.sort}, {render(b)}: {b.sort})"
        )
    if a.sort == "int":
        _same_enum(a, b, "ite")
    if cond.is_const:
        return a if cond.value else b
    if a is b:
        return a
    if a.sort == "bool" and a.is_const and b.is_const:
        return cond if a.value else not_(cond)
    if a.is_const and b.is_const and a.value == b.value:
        return a
    if cond.op is Op.NOT:
        cond, a, b = cond.args[0], b, a
    enum = a.enum if a.sort == "int" else None
    return Expr(Op.ITE, (cond, a, b), a.sort, min(a.lo, b.lo), max(a.hi, b.hi), enum=enum)


def slot(index: int, sort: Sort, lo: int, hi: int, *, enum: str | None, ghost: bool) -> Expr:
    """A leaf: the pre-state value of slot ``index``."""
    return Expr(Leaf.SLOT, (), sort, lo, hi, value=index, enum=enum, ghost=ghost)
