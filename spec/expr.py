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

Rules this module keeps:

1. Every expression has a sort (``bool`` or ``int``) and, for ints, a closed interval
   ``[lo, hi]`` that contains every value it can take.  Enum values are ints tagged with
   their enum so that comparing two different enums is a definition-time error.
2. ``bool(expr)`` raises :class:`SpecError`: Python ``if``/``and``/``or``/``not`` on a
   symbolic value would silently pick one branch.  Use ``ite``, ``&``, ``|``, ``~`` and
   ``ctx.when``.
3. Constructors fold constants and apply a few local simplifications, so ground actions
   stay small.  Folding uses :data:`CONCRETE_OPS`, the same table the interpreter uses.
4. A *ghost* value (a logical message identity the real protocol would not have on the
   wire) taints every expression built from it; the kernel refuses ghost values in guards
   and in non-ghost state.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from .errors import SpecError

Sort: TypeAlias = Literal["bool", "int"]
Value: TypeAlias = bool | int

_SYMBOLIC_BOOL = (
    "a symbolic value was used in Python control flow (if / and / or / not / bool()); "
    "use ctx.when(...), ite(...), &, | and ~ instead"
)


def _mod(a: int, b: int) -> int:
    return a % b


def _ite(c: Value, a: Value, b: Value) -> Value:
    return a if c else b


#: The concrete meaning of every operator.  Constant folding and the interpreter's
#: reference evaluator both use this table.
CONCRETE_OPS: dict[str, Callable[..., Value]] = {
    "not": operator.not_,
    "and": lambda *xs: all(xs),
    "or": lambda *xs: any(xs),
    "eq": operator.eq,
    "lt": operator.lt,
    "le": operator.le,
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "mod": _mod,
    "ite": _ite,
    "min": min,
    "max": max,
}


class Expr:
    """A node of the expression DAG.  Build with operators and the helpers below."""

    __slots__ = ("args", "enum", "ghost", "hi", "lo", "op", "sort", "value")

    op: str
    args: tuple[Expr, ...]
    value: int
    sort: Sort
    lo: int
    hi: int
    enum: str | None
    ghost: bool

    def __init__(
        self,
        op: str,
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
        return self.op == "const"

    def const_value(self) -> Value:
        if self.op != "const":
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

TRUE = Expr("const", (), "bool", 1, 1, value=1)
FALSE = Expr("const", (), "bool", 0, 0, value=0)


def const(v: Value, *, enum: str | None = None) -> Expr:
    if isinstance(v, bool):
        return TRUE if v else FALSE
    if isinstance(v, int):
        return Expr("const", (), "int", v, v, value=v, enum=enum)
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
    if sort == "int" and e.op == "array":
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


def _fold(op: str, args: Sequence[Expr], sort: Sort, enum: str | None = None) -> Expr:
    v = CONCRETE_OPS[op](*(a.const_value() for a in args))
    if any(a.ghost for a in args):
        n = int(v)
        return Expr("const", (), sort, n, n, value=n, enum=enum, ghost=True)
    return const(bool(v)) if sort == "bool" else const(int(v), enum=enum)


# -- booleans ---------------------------------------------------------------------------
def not_(x: ExprLike) -> Expr:
    e = lift(x)
    _need(e, "bool", "~")
    if e.is_const:
        return _fold("not", [e], "bool")
    if e.op == "not":
        return e.args[0]
    return Expr("not", (e,), "bool", 0, 1)


def _junction(op: Literal["and", "or"], xs: Iterable[ExprLike]) -> Expr:
    unit, zero = (TRUE, FALSE) if op == "and" else (FALSE, TRUE)
    out: list[Expr] = []
    for x in xs:
        e = lift(x)
        _need(e, "bool", "&" if op == "and" else "|")
        if e is zero:
            return zero
        if e is unit:
            continue
        if e.op == op:
            out.extend(a for a in e.args if all(a is not b for b in out))
        elif all(e is not b for b in out):
            out.append(e)
    if not out:
        return unit
    if len(out) == 1:
        return out[0]
    return Expr(op, tuple(out), "bool", 0, 1)


def and_(*xs: ExprLike) -> Expr:
    return _junction("and", xs)


def or_(*xs: ExprLike) -> Expr:
    return _junction("or", xs)


def all_(xs: Iterable[ExprLike]) -> Expr:
    return _junction("and", xs)


def any_(xs: Iterable[ExprLike]) -> Expr:
    return _junction("or", xs)


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
        return _fold("eq", [a, b], "bool")
    if a.sort == "bool":
        for p, q in ((a, b), (b, a)):
            if q.is_const:
                return p if q.value else not_(p)
    if a.hi < b.lo or b.hi < a.lo:
        return FALSE
    return Expr("eq", (a, b), "bool", 0, 1)


def _order(op: Literal["lt", "le"], x: ExprLike, y: ExprLike) -> Expr:
    a, b = lift(x), lift(y)
    sym = "<" if op == "lt" else "<="
    _need(a, "int", sym)
    _need(b, "int", sym)
    _same_enum(a, b, sym)
    if a.is_const and b.is_const:
        return _fold(op, [a, b], "bool")
    if op == "lt":
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
    return _order("lt", x, y)


def le(x: ExprLike, y: ExprLike) -> Expr:
    return _order("le", x, y)


# -- arithmetic -------------------------------------------------------------------------
def _arith(op: str, x: ExprLike, y: ExprLike) -> tuple[Expr, Expr]:
    a, b = lift(x), lift(y)
    _need(a, "int", op)
    _need(b, "int", op)
    if a.enum is not None or b.enum is not None:
        raise SpecError(f"arithmetic ({op}) on an enum value ({render(a)}, {render(b)})")
    return a, b


def add(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("+", x, y)
    if a.is_const and b.is_const:
        return _fold("add", [a, b], "int")
    if b.is_const and b.value == 0:
        return a
    if a.is_const and a.value == 0:
        return b
    return Expr("add", (a, b), "int", a.lo + b.lo, a.hi + b.hi)


def sub(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("-", x, y)
    if a.is_const and b.is_const:
        return _fold("sub", [a, b], "int")
    if b.is_const and b.value == 0:
        return a
    return Expr("sub", (a, b), "int", a.lo - b.hi, a.hi - b.lo)


def mul(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("*", x, y)
    if a.is_const and b.is_const:
        return _fold("mul", [a, b], "int")
    if not (a.is_const or b.is_const):
        raise SpecError(f"multiplication needs a constant factor ({render(a)} * {render(b)})")
    k, e = (a, b) if a.is_const else (b, a)
    if k.value == 1:
        return e
    bounds = (k.value * e.lo, k.value * e.hi)
    return Expr("mul", (e, k), "int", min(bounds), max(bounds))


def mod(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("%", x, y)
    if not b.is_const or b.value <= 0:
        raise SpecError(f"% needs a positive constant divisor, got {render(b)}")
    if a.is_const:
        return _fold("mod", [a, b], "int")
    if a.lo >= 0 and a.hi < b.value:
        return a
    return Expr("mod", (a, b), "int", 0, b.value - 1)


def min_(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("min", x, y)
    if a.is_const and b.is_const:
        return _fold("min", [a, b], "int")
    if a.hi <= b.lo:
        return a
    if b.hi <= a.lo:
        return b
    return Expr("min", (a, b), "int", min(a.lo, b.lo), min(a.hi, b.hi))


def max_(x: ExprLike, y: ExprLike) -> Expr:
    a, b = _arith("max", x, y)
    if a.is_const and b.is_const:
        return _fold("max", [a, b], "int")
    if a.lo >= b.hi:
        return a
    if b.lo >= a.hi:
        return b
    return Expr("max", (a, b), "int", max(a.lo, b.lo), max(a.hi, b.hi))


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
    if cond.op == "not":
        cond, a, b = cond.args[0], b, a
    enum = a.enum if a.sort == "int" else None
    return Expr("ite", (cond, a, b), a.sort, min(a.lo, b.lo), max(a.hi, b.hi), enum=enum)


def slot(index: int, sort: Sort, lo: int, hi: int, *, enum: str | None, ghost: bool) -> Expr:
    """A leaf: the pre-state value of slot ``index``."""
    return Expr("slot", (), sort, lo, hi, value=index, enum=enum, ghost=ghost)


# -- reading ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Names:
    """How to print slot leaves (the kernel supplies the state's field names)."""

    slots: Sequence[str] = ()
    enums: dict[str, tuple[str, ...]] | None = None


_INFIX = {
    "eq": "==",
    "lt": "<",
    "le": "<=",
    "add": "+",
    "sub": "-",
    "mul": "*",
    "mod": "%",
    "and": "&",
    "or": "|",
}


def render(e: Expr, names: Names | None = None, *, depth: int = 12) -> str:
    """A readable rendering of ``e`` (used in error messages and certificates)."""
    if depth <= 0:
        return "…"
    if e.op == "const":
        if e.sort == "bool":
            return "true" if e.value else "false"
        if names is not None and names.enums and e.enum in names.enums:
            members = names.enums[e.enum]
            if 0 <= e.value < len(members):
                return members[e.value]
        return str(e.value)
    if e.op == "slot":
        if names is not None and e.value < len(names.slots):
            return names.slots[e.value]
        return f"s[{e.value}]"
    if e.op == "array":
        return "<array>"
    sub_ = [render(a, names, depth=depth - 1) for a in e.args]
    if e.op == "not":
        return f"~{_paren(e.args[0], sub_[0])}"
    if e.op in _INFIX:
        sep = f" {_INFIX[e.op]} "
        return sep.join(_paren(a, s) for a, s in zip(e.args, sub_, strict=True))
    return f"{e.op}({', '.join(sub_)})"


def _paren(e: Expr, s: str) -> str:
    return s if e.op in ("const", "slot", "not", "ite", "min", "max") else f"({s})"


def walk(roots: Iterable[Expr]) -> list[Expr]:
    """Every node reachable from ``roots``, each once, children before parents."""
    seen: set[int] = set()
    order: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(r, False) for r in roots]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
            continue
        if id(e) in seen:
            continue
        seen.add(id(e))
        stack.append((e, True))
        stack.extend((a, False) for a in e.args if id(a) not in seen)
    return order


#: The binary operators that are one Python operator in generated code (the compiled
#: interpreter and the packed search emit them verbatim).
PY_BINARY: dict[str, str] = {
    "eq": "==",
    "lt": "<",
    "le": "<=",
    "add": "+",
    "sub": "-",
    "mul": "*",
    "mod": "%",
}


def evaluate(e: Expr, state: Sequence[Value]) -> Value:
    """Reference evaluator: the concrete meaning of ``e`` in ``state`` (slow, simple)."""
    cache: dict[int, Value] = {}
    for node in walk([e]):
        if node.op == "const":
            v: Value = node.const_value()
        elif node.op == "slot":
            v = state[node.value]
        elif node.op == "ite":
            c, a, b = (cache[id(x)] for x in node.args)
            v = a if c else b
        else:
            v = CONCRETE_OPS[node.op](*(cache[id(x)] for x in node.args))
        cache[id(node)] = v
    return cache[id(e)]
