"""Unbounded proofs with z3's Spacer (IC3/PDR over constrained Horn clauses).

Theory of operation
-------------------
For a property ``P = P_1 & … & P_m`` (the spec states its guarantees per message, so
``P`` is usually such a conjunction), each conjunct ``P_i`` in turn is posed as Horn
clauses over one unknown relation ``Inv``::

    Init(s)                               -> Inv(s)
    Inv(s) & L(s) & T(s, t, a) & L(t)     -> Inv(t)
    Inv(s) & Not(P_i(s))                  -> False

where ``L`` is the conjunction of the invariants already found for ``P_1 … P_{i-1}``
(true in every reachable state, so assuming it is sound and it helps Spacer).  A model
of the clauses is an ``Inv_i`` with ``Init -> Inv_i``, ``Inv_i & L & T -> Inv_i'`` and
``Inv_i -> P_i``; so ``L & Inv_i`` is inductive, and by induction on ``i`` the
conjunction of all of them is an inductive invariant implying ``P``.  If the clauses are
unsatisfiable, a state violating ``P_i`` is reachable.

Splitting was measured: exactly-once no-loss at N = 6 went from over 30 s (no answer)
to about 60 s, and at N = 3..5 from 3-8 s to 1.7-4.7 s.  Spacer runs on ``Int`` with
the disjunctive transition (fastest of the four shapes measured; see the benchmark).

The invariant is never trusted: :mod:`ackproof.proofs.certificate` re-checks it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

from ackproof.spec import Expr, System
from ackproof.spec.expr import TRUE

from . import z3seam as z
from .certificate import Certificate, Untranslatable, recheck, recheck_term, render, to_expr
from .encode import Encoding
from .result import EngineError
from .z3seam import Term


@dataclass(frozen=True)
class PdrOutcome:
    status: Literal["proved", "violated", "unknown"]
    certificate: Certificate | None
    detail: str


def _conjuncts(e: Expr) -> tuple[Expr, ...]:
    return e.args if e.op == "and" else (e,)


def spacer(
    system: System,
    prop: str,
    *,
    timeout: float | None = None,
    split: bool = True,
    target: Expr | None = None,
) -> PdrOutcome:
    """Prove ``prop``'s invariant (or ``target``, an invariant of your own) for all depths."""
    start = time.monotonic()
    goal = target if target is not None else system.properties[prop].invariant
    enc = Encoding(system, mode="int", shape="disjunctive")
    xs, ys, a = enc.state("x"), enc.state("y"), enc.selector("a")
    trans = enc.trans(xs, ys, a)
    lemmas: list[Term] = []
    parts = _conjuncts(goal) if split else (goal,)
    for k, part in enumerate(parts):
        left = None if timeout is None else timeout - (time.monotonic() - start)
        if left is not None and left <= 0:
            return PdrOutcome(
                "unknown", None, f"timeout after {timeout:g} s ({k}/{len(parts)} conjuncts proved)"
            )
        h = z.Horn(xs, timeout=left)
        known = z.and_(*lemmas)
        known_next = z.substitute(known, list(zip(xs, ys, strict=True)))
        h.rule(xs, enc.init(xs), h.inv(xs))
        h.rule([*xs, *ys, a], z.and_(h.inv(xs), known, trans, known_next), h.inv(ys))
        h.rule(xs, z.and_(h.inv(xs), z.not_(enc.expr(part, xs))), z.FALSE)
        out = h.check()
        if out == "unsat":
            return PdrOutcome("violated", None, f"Spacer: {system.render(part)} can be broken")
        if out == "unknown":
            why = h.reason_unknown()
            return PdrOutcome("unknown", None, f"Spacer: {why} ({k}/{len(parts)} conjuncts proved)")
        lemmas.append(z.simplify(h.invariant(xs)))
    left = None if timeout is None else max(1.0, timeout - (time.monotonic() - start))
    return PdrOutcome("proved", certify(system, enc, lemmas, xs, goal, prop, left), "")


def certify(
    system: System,
    enc: Encoding,
    lemmas: list[Term],
    xs: tuple[Term, ...],
    goal: Expr,
    prop: str,
    timeout: float | None,
) -> Certificate:
    """Translate and re-check the invariant; :class:`EngineError` if it does not hold."""
    try:
        inv = to_expr(system, z.and_(*lemmas), xs)
    except Untranslatable:
        check = recheck_term(enc, lemmas, xs, goal, timeout=timeout)
        text = "\n".join(z.show(t) for t in lemmas)
        for v, s in zip(xs, system.slots, strict=True):
            text = text.replace(z.show(v), s.name)
        if not check.ok:
            raise EngineError(
                f"certificate for {prop} does not re-check: {check.outcomes}"
            ) from None
        return Certificate(prop, TRUE, text)
    check = recheck(system, inv, goal, timeout=timeout)
    if not check.ok:
        raise EngineError(f"certificate for {prop} does not re-check: {check.outcomes}")
    return Certificate(prop, inv, render(system, inv))
