"""The one module of ackproof that talks to z3: typed wrappers over its Python API.

Theory of operation
-------------------
Rule 1: nothing else in ``ackproof`` imports z3.  Every engine builds formulas with the
functions below and runs them through :class:`Solver` (plain queries, incremental with a
push/pop context manager) or :class:`Horn` (constrained Horn clauses solved by Spacer).

Rule 2: a :data:`Term` is an opaque z3 expression.  Its static type is a ``NewType`` over
``object`` so that mypy keeps engine code honest (a ``Term`` cannot be added to an
``int`` by mistake); only this module looks inside.

Rule 3: the hot constructors call z3's C API (``Z3_mk_and`` …), not z3's Python wrappers,
which check and coerce every argument (two thirds of building a transition relation);
the terms are the very same (``tests/proofs/test_seam_terms.py`` pins their ids).

Rule 4: integers come in two flavours, chosen per encoding with :class:`Arith`:
``"bv"`` (signed bit-vectors of one fixed width; every comparison is signed, ``mod``
by a positive constant is ``bvsmod``, whose result takes the divisor's sign, i.e.
Python's ``%``) and ``"int"`` (mathematical integers).  The width is the caller's job:
the encoding sizes it from the spec's sound intervals so that no operation overflows.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NewType, TypeAlias

import z3
from z3.z3 import _to_expr_ref  # the class for a new AST, as z3's own constructors pick it

# Ctrl-C is the user's, not z3's: by default z3 catches SIGINT during a query and answers
# ``unknown`` (the engines then carried on); without it, the CLI's handler stops the run
# (see ackproof.interrupts).
z3.set_param("ctrl_c", False)

Term = NewType("Term", object)
Outcome: TypeAlias = Literal["sat", "unsat", "unknown"]
IntMode: TypeAlias = Literal["bv", "int"]


def _z(t: Term) -> Any:
    return t


def _t(x: Any) -> Term:
    return Term(x)


def _ast_array(xs: Sequence[Term]) -> Any:
    """The C array of ``xs``' ASTs (what z3's ``_to_ast_array`` builds)."""
    arr = (z3.Ast * len(xs))()
    for i, x in enumerate(xs):
        arr[i] = _z(x).as_ast()
    return arr


def _bool(ctx: Any, ast: Any) -> Term:
    return _t(z3.BoolRef(ast, ctx))


# -- booleans -----------------------------------------------------------------------------
TRUE: Term = _t(z3.BoolVal(True))
FALSE: Term = _t(z3.BoolVal(False))


def bool_var(name: str) -> Term:
    return _t(z3.Bool(name))


def bool_val(v: bool) -> Term:
    return _t(z3.BoolVal(bool(v)))


def not_(a: Term) -> Term:
    x = _z(a)
    return _bool(x.ctx, z3.Z3_mk_not(x.ctx.ref(), x.as_ast()))


def and_(*xs: Term) -> Term:
    if not xs:
        return TRUE
    if len(xs) == 1:
        return xs[0]
    ctx = _z(xs[0]).ctx
    return _bool(ctx, z3.Z3_mk_and(ctx.ref(), len(xs), _ast_array(xs)))


def or_(*xs: Term) -> Term:
    if not xs:
        return FALSE
    if len(xs) == 1:
        return xs[0]
    ctx = _z(xs[0]).ctx
    return _bool(ctx, z3.Z3_mk_or(ctx.ref(), len(xs), _ast_array(xs)))


def implies(a: Term, b: Term) -> Term:
    return _t(z3.Implies(_z(a), _z(b)))


def _reflected(a: Any, b: Any) -> bool:
    """Python asks ``b`` first for ``a == b``, ``a < b`` when ``b``'s class is a proper
    subclass of ``a``'s: ``x == 0`` is ``0 == x`` in z3, ``x < 2`` is ``2 > x``."""
    tb = type(b)
    return tb is not type(a) and issubclass(tb, type(a))


def eq(a: Term, b: Term) -> Term:
    x, y = _z(a), _z(b)
    if _reflected(x, y):
        x, y = y, x
    return _bool(x.ctx, z3.Z3_mk_eq(x.ctx.ref(), x.as_ast(), y.as_ast()))


def distinct(xs: Sequence[Term]) -> Term:
    return _t(z3.Distinct(*[_z(x) for x in xs])) if len(xs) > 1 else TRUE


def ite(c: Term, a: Term, b: Term) -> Term:
    x = _z(c)
    ast = z3.Z3_mk_ite(x.ctx.ref(), x.as_ast(), _z(a).as_ast(), _z(b).as_ast())
    return _t(_to_expr_ref(ast, x.ctx))


def simplify(t: Term) -> Term:
    return _t(z3.simplify(_z(t)))


def substitute(t: Term, pairs: Sequence[tuple[Term, Term]]) -> Term:
    if not pairs:
        return t
    x = _z(t)
    froms = _ast_array([a for a, _ in pairs])
    tos = _ast_array([b for _, b in pairs])
    return _t(
        _to_expr_ref(z3.Z3_substitute(x.ctx.ref(), x.as_ast(), len(pairs), froms, tos), x.ctx)
    )


def quantifier_free(t: Term) -> Term | None:
    """``t`` with its quantifiers eliminated (z3's ``qe`` tactic), or ``None`` if some
    remain (Spacer's invariants may contain ``Exists``; a later Horn query cannot take
    them as a hypothesis, and the certificate printer cannot translate them)."""
    x = _z(t)
    if not _has_quantifier(x):
        return t
    try:
        goals = z3.Tactic("qe")(x)
    except z3.Z3Exception:
        return None
    out = z3.And(*[f for g in goals for f in g]) if len(goals) else z3.BoolVal(True)
    return None if _has_quantifier(out) else _t(z3.simplify(out))


def _has_quantifier(x: Any) -> bool:
    seen: set[int] = set()
    todo = [x]
    while todo:
        e = todo.pop()
        if z3.is_quantifier(e):
            return True
        k = e.get_id()
        if k in seen:
            continue
        seen.add(k)
        if z3.is_app(e):
            todo.extend(e.children())
    return False


def show(t: Term) -> str:
    return str(_z(t))


def term_id(t: Term) -> int:
    """z3's id of the (hash-consed) term: equal ids, same term."""
    return int(_z(t).get_id())


def is_true(t: Term) -> bool:
    return bool(z3.is_true(_z(t)))


def is_false(t: Term) -> bool:
    return bool(z3.is_false(_z(t)))


# -- integers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Arith:
    """Integer terms of one flavour: signed bit-vectors of ``width`` bits, or ``Int``."""

    mode: IntMode
    width: int = 0

    def var(self, name: str) -> Term:
        return _t(z3.BitVec(name, self.width) if self.mode == "bv" else z3.Int(name))

    def val(self, v: int) -> Term:
        return _t(z3.BitVecVal(v, self.width) if self.mode == "bv" else z3.IntVal(v))

    def add(self, a: Term, b: Term) -> Term:
        return self._binary(z3.Z3_mk_bvadd, z3.Z3_mk_add, a, b)

    def sub(self, a: Term, b: Term) -> Term:
        return self._binary(z3.Z3_mk_bvsub, z3.Z3_mk_sub, a, b)

    def _binary(self, bv: Any, mk: Any, a: Term, b: Term) -> Term:
        x = _z(a)
        if self.mode == "bv":
            return _t(z3.BitVecRef(bv(x.ctx.ref(), x.as_ast(), _z(b).as_ast()), x.ctx))
        return _t(z3.ArithRef(mk(x.ctx.ref(), 2, _ast_array([a, b])), x.ctx))

    def _cmp(self, bv: tuple[Any, Any], mk: tuple[Any, Any], a: Term, b: Term) -> Term:
        """``op(a, b)``, or the flipped ``op'(b, a)`` where Python reflects (see ``eq``)."""
        (op, flipped), x, y = (bv if self.mode == "bv" else mk), _z(a), _z(b)
        if _reflected(x, y):
            op, x, y = flipped, y, x
        return _bool(x.ctx, op(x.ctx.ref(), x.as_ast(), y.as_ast()))

    def mul(self, a: Term, k: int) -> Term:
        return _t(_z(a) * _z(self.val(k)))

    def mod(self, a: Term, k: int) -> Term:
        # BitVecRef.__mod__ is bvsmod (the result takes the divisor's sign); Int % is
        # Euclidean: both are Python's % for a positive divisor.
        return _t(_z(a) % _z(self.val(k)))

    def lt(self, a: Term, b: Term) -> Term:  # signed for bit-vectors
        return self._cmp((z3.Z3_mk_bvslt, z3.Z3_mk_bvsgt), (z3.Z3_mk_lt, z3.Z3_mk_gt), a, b)

    def le(self, a: Term, b: Term) -> Term:
        return self._cmp((z3.Z3_mk_bvsle, z3.Z3_mk_bvsge), (z3.Z3_mk_le, z3.Z3_mk_ge), a, b)

    def min(self, a: Term, b: Term) -> Term:
        return ite(self.le(a, b), a, b)

    def max(self, a: Term, b: Term) -> Term:
        return ite(self.le(a, b), b, a)


def bv_var(name: str, width: int) -> Term:
    return _t(z3.BitVec(name, width))


def bv_val(v: int, width: int) -> Term:
    return _t(z3.BitVecVal(v, width))


def ult(a: Term, b: Term) -> Term:
    return _t(z3.ULT(_z(a), _z(b)))


# -- reading terms back (for certificates) ------------------------------------------------
_KINDS = {
    z3.Z3_OP_AND: "and",
    z3.Z3_OP_OR: "or",
    z3.Z3_OP_NOT: "not",
    z3.Z3_OP_IMPLIES: "implies",
    z3.Z3_OP_EQ: "eq",
    z3.Z3_OP_DISTINCT: "distinct",
    z3.Z3_OP_ITE: "ite",
    z3.Z3_OP_LE: "le",
    z3.Z3_OP_LT: "lt",
    z3.Z3_OP_GE: "ge",
    z3.Z3_OP_GT: "gt",
    z3.Z3_OP_ADD: "add",
    z3.Z3_OP_SUB: "sub",
    z3.Z3_OP_MUL: "mul",
    z3.Z3_OP_UMINUS: "neg",
    z3.Z3_OP_MOD: "mod",
    z3.Z3_OP_BSMOD: "mod",
    z3.Z3_OP_SLEQ: "le",
    z3.Z3_OP_SLT: "lt",
    z3.Z3_OP_SGEQ: "ge",
    z3.Z3_OP_SGT: "gt",
    z3.Z3_OP_BADD: "add",
    z3.Z3_OP_BSUB: "sub",
    z3.Z3_OP_BMUL: "mul",
    z3.Z3_OP_BNEG: "neg",
    z3.Z3_OP_XOR: "xor",
}


def decompose(t: Term) -> tuple[str, tuple[Term, ...], object]:
    """``(kind, children, payload)``: ``var`` (name), ``bool``/``int`` constants (value),
    an operator kind from the table above, or ``other`` (the z3 text) for anything else."""
    x = _z(t)
    if z3.is_true(x) or z3.is_false(x):
        return "bool", (), bool(z3.is_true(x))
    if z3.is_int_value(x):
        return "int", (), int(x.as_long())
    if z3.is_bv_value(x):
        return "int", (), int(x.as_signed_long())
    if z3.is_const(x) and x.decl().kind() == z3.Z3_OP_UNINTERPRETED:
        return "var", (), str(x.decl().name())
    if z3.is_app(x):
        kind = _KINDS.get(x.decl().kind())
        if kind is not None:
            return kind, tuple(_t(c) for c in x.children()), None
    return "other", (), str(x)


# -- solvers ------------------------------------------------------------------------------
Value: TypeAlias = bool | int


class Model:
    """A satisfying assignment; :meth:`value` completes unconstrained variables."""

    def __init__(self, m: Any, mode: IntMode) -> None:
        self._m = m
        self._mode = mode

    def value(self, t: Term) -> Value:
        v = self._m.eval(_z(t), model_completion=True)
        if z3.is_bool(v):
            return bool(z3.is_true(v))
        if z3.is_bv_value(v):
            return int(v.as_signed_long())
        return int(v.as_long())

    def unsigned(self, t: Term) -> int:
        """The value of a bit-vector read as unsigned (action selectors)."""
        return int(self._m.eval(_z(t), model_completion=True).as_long())


def milliseconds(seconds: float) -> int:
    """z3's ``timeout`` for a time limit in seconds: whole milliseconds, rounded up (z3 never
    gives up before the budget ends, so an ``unknown`` at its end is the budget's), at least 1."""
    return max(1, math.ceil(seconds * 1000))


class Solver:
    """A z3 solver; ``logic`` picks a tactic (``QF_BV`` is fastest for BMC)."""

    def __init__(self, logic: str | None = None, *, mode: IntMode = "bv") -> None:
        self._s = z3.SolverFor(logic) if logic else z3.Solver()
        self._mode = mode

    def add(self, *terms: Term) -> None:
        for t in terms:
            self._s.add(_z(t))

    def set_timeout(self, seconds: float | None) -> None:
        self._s.set("timeout", 0 if seconds is None else milliseconds(seconds))

    def check(self, *assumptions: Term) -> Outcome:
        r = self._s.check(*[_z(a) for a in assumptions])
        if r == z3.sat:
            return "sat"
        if r == z3.unsat:
            return "unsat"
        return "unknown"

    def reason_unknown(self) -> str:
        """Why the check gave up, in one line (z3 may append a whole rule)."""
        why = str(self._s.reason_unknown()).splitlines()
        return why[0][:200] if why else "unknown"

    def model(self) -> Model:
        return Model(self._s.model(), self._mode)

    @contextlib.contextmanager
    def scope(self) -> Iterator[Solver]:
        """``with solver.scope(): ...`` — everything added inside is retracted after."""
        self._s.push()
        try:
            yield self
        finally:
            self._s.pop()


def valid(claim: Term, *, logic: str | None = None, timeout: float | None = None) -> Outcome:
    """``unsat`` of the negation, in a fresh solver: ``"unsat"`` means ``claim`` is valid."""
    s = Solver(logic)
    s.set_timeout(timeout)
    s.add(not_(claim))
    return s.check()


class Horn:
    """Constrained Horn clauses over one unknown relation ``Inv``, solved by Spacer.

    ``sat`` means the clauses have a model — the system is safe and :meth:`invariant`
    gives ``Inv``; ``unsat`` means the query is derivable — the bad state is reachable.
    """

    def __init__(self, sorts_of: Sequence[Term], *, timeout: float | None = None) -> None:
        self._s = z3.SolverFor("HORN")
        if timeout is not None:
            self._s.set("timeout", milliseconds(timeout))
        domain = [_z(v).sort() for v in sorts_of]
        self._inv = z3.Function("Inv", *domain, z3.BoolSort())

    def inv(self, args: Sequence[Term]) -> Term:
        return _t(self._inv(*[_z(a) for a in args]))

    def rule(self, variables: Sequence[Term], body: Term, head: Term) -> None:
        """``forall variables. body -> head``."""
        self._s.add(z3.ForAll([_z(v) for v in variables], z3.Implies(_z(body), _z(head))))

    def check(self) -> Outcome:
        r = self._s.check()
        if r == z3.sat:
            return "sat"
        if r == z3.unsat:
            return "unsat"
        return "unknown"

    def reason_unknown(self) -> str:
        return str(self._s.reason_unknown())

    def invariant(self, args: Sequence[Term]) -> Term:
        """The solved ``Inv`` applied to ``args`` (after a ``sat`` check)."""
        return _t(self._s.model().eval(self._inv(*[_z(a) for a in args])))
