"""Proof certificates: an inductive invariant, re-checked by plain z3 queries, printed in
the spec's own slot names.

Theory of operation
-------------------
An engine that claims a property ``P`` for all depths hands over ``Inv``, a formula over
one state.  Before anything is reported as proved, three independent queries, each in a
fresh solver with nothing else asserted, must come back ``unsat``::

    initiation:   Init(s) & Not(Inv(s))
    consecution:  Inv(s) & Dom(s) & T(s, t, a) & Not(Inv(t))
    safety:       Inv(s) & Dom(s) & Not(P(s))

Together they say every reachable state satisfies ``Inv`` and hence ``P``.  A query that
comes back ``sat`` or ``unknown`` is a failed certificate, reported as an
:class:`~ackproof.proofs.result.EngineError` by the engines, never as "proved".

Where it can, the invariant is translated back into a spec
:class:`~ackproof.spec.Expr` (:func:`to_expr`); then the re-check encodes *that* with a
fresh :class:`~ackproof.proofs.encode.Encoding` in bit-vectors, so the proof engine
(Spacer, over ``Int``) and the checker share neither solver state nor integer theory, and
the printed certificate is exactly the formula that was checked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from ackproof.spec import Expr, SpecError, System
from ackproof.spec import expr as E
from ackproof.spec.ops import Op

from . import z3seam as z
from .encode import Encoding, StateVars
from .z3seam import Term


@dataclass(frozen=True)
class Certificate:
    """An inductive invariant for one property of one system."""

    property: str
    invariant: Expr
    text: str


class Untranslatable(Exception):
    """The solver's invariant uses an operator the spec's expressions lack."""


#: A spec expression for a z3 application, from its arguments' spec expressions.
Reader: TypeAlias = Callable[[list[Expr]], Expr]


def _chain(f: Callable[[Expr, Expr], Expr]) -> Reader:
    """A left-nested chain: ``f(f(a0, a1), a2)``..."""
    return lambda a: functools.reduce(f, a[1:], a[0])


def _negation(a: list[Expr]) -> Expr:
    x = a[0]
    if x.op is Op.LE:  # ~(p <= q) is q < p
        return E.lt(x.args[1], x.args[0])
    if x.op is Op.LT:  # ~(p < q) is q <= p
        return E.le(x.args[1], x.args[0])
    return E.not_(x)


def _product(a: list[Expr]) -> Expr:
    out = a[0]
    for x in a[1:]:
        if not (out.is_const or x.is_const):
            raise Untranslatable("non-linear product")
        out = E.mul(out, x)
    return out


def _modulo(a: list[Expr]) -> Expr:
    if not a[1].is_const or a[1].value <= 0:
        raise Untranslatable("mod by a non-constant")
    return E.mod(a[0], a[1])


#: Every operator kind :func:`~ackproof.proofs.z3seam.decompose` names, read back as a
#: spec expression (z3's vocabulary is larger than the spec's: ``ge``, ``xor``, ...).
FROM_Z3: dict[str, Reader] = {
    "and": E.all_,
    "or": E.any_,
    "not": _negation,
    "implies": lambda a: E.implies(a[0], a[1]),
    "xor": lambda a: E.not_(E.eq(a[0], a[1])),
    "eq": lambda a: E.eq(a[0], a[1]),
    "distinct": lambda a: E.all_(E.not_(E.eq(x, y)) for i, x in enumerate(a) for y in a[i + 1 :]),
    "ite": lambda a: E.ite(a[0], a[1], a[2]),
    "le": lambda a: E.le(a[0], a[1]),
    "lt": lambda a: E.lt(a[0], a[1]),
    "ge": lambda a: E.le(a[1], a[0]),
    "gt": lambda a: E.lt(a[1], a[0]),
    "add": _chain(E.add),
    "sub": _chain(E.sub),
    "neg": lambda a: E.mul(a[0], -1),
    "mul": _product,
    "mod": _modulo,
}


def to_expr(system: System, term: Term, variables: StateVars) -> Expr:
    """The spec expression for ``term``, a formula over ``variables`` (one per slot)."""
    names = {z.show(v): i for i, v in enumerate(variables)}
    leaves = {
        i: E.slot(i, s.sort, s.lo, s.hi, enum=None, ghost=False) for i, s in enumerate(system.slots)
    }
    memo: dict[int, Expr] = {}

    def go(t: Term) -> Expr:
        key = z.term_id(t)
        if key in memo:
            return memo[key]
        kind, kids, payload = z.decompose(t)
        out: Expr
        match kind:  # the leaves; every other kind is an operator
            case "bool":
                out = E.const(bool(payload))
            case "int":
                assert isinstance(payload, int)
                out = E.const(payload)
            case "var":
                if payload not in names:
                    raise Untranslatable(f"unknown variable {payload}")
                out = leaves[names[str(payload)]]
            case _:
                read = FROM_Z3.get(kind)
                if read is None:
                    raise Untranslatable(f"operator {kind}: {payload}")
                out = read([go(k) for k in kids])
        memo[key] = out
        return out

    try:
        return go(term)
    except SpecError as e:
        raise Untranslatable(str(e)) from None


def render(system: System, inv: Expr) -> str:
    """One conjunct per line, in slot names."""
    parts = inv.args if inv.op is Op.AND else (inv,)
    return "\n".join(system.render(p) for p in parts)


@dataclass(frozen=True)
class Recheck:
    ok: bool
    #: Query name -> ``"unsat"`` (passed), ``"sat"`` or ``"unknown"``.
    outcomes: dict[str, str]

    @property
    def failures(self) -> list[str]:
        return [k for k, v in self.outcomes.items() if v != "unsat"]


def recheck_term(
    enc: Encoding,
    inv_at: Sequence[Term],
    variables: StateVars,
    prop: Expr,
    *,
    timeout: float | None = None,
) -> Recheck:
    """The three queries for ``inv_at`` (a formula over ``variables``) under ``enc``."""
    s, t, a = enc.state("cs"), enc.state("ct"), enc.selector("ca")
    inv = z.and_(*inv_at)
    inv_s = z.substitute(inv, list(zip(variables, s, strict=True)))
    inv_t = z.substitute(inv, list(zip(variables, t, strict=True)))
    queries = {
        "initiation": z.and_(enc.init(s), z.not_(inv_s)),
        "consecution": z.and_(inv_s, enc.domain(s), enc.trans(s, t, a), z.not_(inv_t)),
        "safety": z.and_(inv_s, enc.domain(s), z.not_(enc.expr(prop, s))),
    }
    outcomes: dict[str, str] = {}
    for name, q in queries.items():
        solver = z.Solver(None, mode=enc.mode)
        solver.set_timeout(timeout)
        solver.add(q)
        outcomes[name] = solver.check()
    return Recheck(all(v == "unsat" for v in outcomes.values()), outcomes)


def recheck(system: System, inv: Expr, prop: Expr, *, timeout: float | None = None) -> Recheck:
    """Re-check a spec-level invariant ``inv`` for ``prop`` in a fresh bit-vector encoding."""
    enc = Encoding(system, mode="bv", shape="selector", extra=(inv,))
    v = enc.state("cv")
    return recheck_term(enc, [enc.expr(inv, v)], v, prop, timeout=timeout)
