"""k-induction with simple-path constraints: a second route to unbounded proofs.

Theory of operation
-------------------
For ``k = 0, 1, 2, …`` two incremental solvers are asked (pysmt's ``model_checking.py``
writes them the same way)::

    base(k):  Init(s0) & And(T(s_i, s_{i+1}) for i < k) & Not(P(s_k))               -- sat?
    step(k):  And(Dom(t_i) & P(t_i) for i < k) & And(T(t_i, t_{i+1}) for i < k)
              & And(t_i != t_j for i < j <= k) & Not(P(t_k))                          -- unsat?

A ``sat`` base is a shortest counterexample (the base solver *is* the BMC unrolling, so
it is decoded and replayed the same way).  An ``unsat`` step, with every base up to ``k``
unsat, proves ``P`` for all depths: any path reaching a bad state has a loop-free suffix
of ``k`` good states then a bad one, which ``step(k)`` excludes.  The simple-path
constraint makes this complete for finite systems (``k`` = the longest loop-free path),
but that can be long: for the retrying protocols the property alone is not k-inductive
for small ``k``, and the engine then reports a bounded verdict and says so.

Strengthening.  The property alone is rarely k-inductive for a small ``k`` (a retrying
protocol's property needs facts about what is in flight), so the step case also assumes
``L(t_i)`` on every state of its path, where ``L`` is an invariant: any caller's lemmas
(``assume``: e.g. Spacer's) passed through :func:`~ackproof.proofs.strengthen.houdini` —
a lemma that is not part of an inductive set is dropped, never assumed, so a wrong guess
cannot make a false proof — and, from the first step case that fails, the cheap
invariants of :mod:`.strengthen` (Houdini-checked the same way; none when the sample
already violates ``P``: the base case will find that).
Sound: ``L`` holds in every reachable state, so a bad path's suffix satisfies it too.

Certificate: for ``k = 1`` ``L & P`` is inductive and is re-checked with the three
certificate queries; for ``k > 1`` the certificate is "``L`` is inductive and ``P`` is
k-inductive along simple paths under ``L``", re-checked by the certificate queries on
``L`` and by posing ``step(k)`` again to a fresh, non-incremental solver.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ackproof.spec import Expr, System
from ackproof.spec import expr as E
from ackproof.spec.explore import Path
from ackproof.spec.interp import Compiled, compile_system
from ackproof.spec.ops import Op

from . import z3seam as z
from .bmc import Unrolling, logic_for
from .budget import Clock
from .certificate import recheck
from .encode import Encoding, StateVars
from .result import EngineError, replay
from .strengthen import STRENGTHEN_SECONDS, houdini, infer
from .z3seam import Term


@dataclass(frozen=True)
class KOutcome:
    status: Literal["proved", "violated", "bounded", "unknown"]
    #: proved: the k that closed the induction; violated: the path length; else: depth
    #: reached without a counterexample.
    k: int
    path: Path | None
    certificate: str | None
    detail: str


def _differ(enc: Encoding, s: StateVars, t: StateVars) -> Term:
    return z.or_(*(z.not_(z.eq(a, b)) for a, b in zip(s, t, strict=True)))


def _step_formula(enc: Encoding, prop: str, k: int, tag: str, inv: Expr) -> tuple[list[Term], Term]:
    """Hypotheses of ``step(k)`` under the invariant ``inv`` and its goal ``Not(P(t_k))``,
    over fresh variables."""
    ts = [enc.state(f"{tag}{i}") for i in range(k + 1)]
    hyp: list[Term] = [enc.domain(ts[0])]
    hyp.extend(enc.expr(inv, t) for t in ts)
    for i in range(k):
        hyp.append(enc.prop(prop, ts[i]))
        hyp.append(enc.trans(ts[i], ts[i + 1], enc.selector(f"{tag}a{i}")))
        hyp.extend(_differ(enc, ts[j], ts[i + 1]) for j in range(i + 1))
    return hyp, z.not_(enc.prop(prop, ts[k]))


def kinduction(
    system: System,
    prop: str,
    *,
    max_k: int = 30,
    timeout: float | None = None,
    clock: Clock | None = None,
    compiled: Compiled | None = None,
    strengthen: bool = True,
    assume: Sequence[Expr] = (),
    only_assumed: bool = False,
) -> KOutcome:
    """``strengthen``: assume the cheap invariants in the step case; ``assume``: more
    candidate lemmas, assumed only if :func:`houdini` keeps them (see the module doc);
    ``only_assumed``: if it keeps none, stop there (``bounded`` at depth 0: a caller
    that has already run without them learns nothing new from running again).
    The budget is ``clock`` (a check's), or ``timeout`` seconds from now."""
    clock = clock if clock is not None else Clock(timeout)
    comp = compiled if compiled is not None else compile_system(system)
    inv = _assumed(system, assume, clock.left())
    if only_assumed and inv is E.TRUE:
        return KOutcome("bounded", 0, None, None, "none of the lemmas is inductive")
    pending = strengthen  # the cheap invariants join when the step case first fails
    enc = Encoding(system, mode="bv", shape="selector", extra=(inv,))
    base = Unrolling(enc)
    step = z.Solver(logic_for(enc), mode=enc.mode)
    ts: list[StateVars] = [enc.state("k0")]
    step.add(enc.domain(ts[0]), enc.expr(inv, ts[0]))

    for k in range(max_k + 1):
        if clock.expired():
            return KOutcome("unknown", k - 1, None, None, f"{clock.spent()} at k={k}")
        out = base.ask(z.not_(enc.prop(prop, base.states[k])), clock.left())
        if out == "sat":
            p = base.path()
            replay(comp, p)
            return KOutcome("violated", k, p, None, f"violated after {k} steps")
        if out == "unknown":
            why = _why(clock, k, f"base case: {base.solver.reason_unknown()}")
            return KOutcome("unknown", k - 1, None, None, why)
        while k > 0:
            step.set_timeout(clock.left())
            with step.scope():
                step.add(z.not_(enc.prop(prop, ts[k])))
                out = step.check()
            if out == "sat" and pending:
                pending = False
                more = _cheap(system, prop, clock.left())
                if more is not E.TRUE:  # assumed on every state of the path, then again
                    inv = more if inv is E.TRUE else E.and_(inv, more)
                    step.add(*(enc.expr(more, t) for t in ts))
                    continue
            break
        if k > 0:
            if out == "unsat":
                return KOutcome("proved", k, None, _certify(system, enc, prop, k, inv), "")
            if out == "unknown":
                why = _why(clock, k, f"step case: {step.reason_unknown()}")
                return KOutcome("unknown", k, None, None, why)
        if k == max_k:
            break
        base.extend()
        t = enc.state(f"k{k + 1}")
        step.add(enc.prop(prop, ts[k]), enc.trans(ts[k], t, enc.selector(f"ka{k}")))
        step.add(*(_differ(enc, s, t) for s in ts), enc.expr(inv, t))
        ts.append(t)
    return KOutcome(
        "bounded",
        max_k,
        None,
        None,
        f"holds up to depth {max_k}; not {max_k}-inductive along simple paths",
    )


def _why(clock: Clock, k: int, solver: str) -> str:
    """Why a query gave up: the budget ran out (said as every engine says it), or the
    solver's own reason."""
    return f"{clock.spent()} at k={k}" if clock.expired() else solver


def _assumed(system: System, assume: Sequence[Expr], timeout: float | None) -> Expr:
    """The inductive part of the caller's lemmas (``true`` if none survives)."""
    if not assume:
        return E.TRUE
    cap = STRENGTHEN_SECONDS if timeout is None else min(STRENGTHEN_SECONDS, timeout / 4)
    clauses = [c for a in assume for c in (a.args if a.op is Op.AND else (a,))]
    return E.all_(houdini(system, clauses, timeout=cap) or ())


def _cheap(system: System, prop: str, timeout: float | None) -> Expr:
    """The cheap invariants (``true`` if none, no time, or the sample violates ``prop``:
    the base case will find that)."""
    cap = STRENGTHEN_SECONDS if timeout is None else min(STRENGTHEN_SECONDS, timeout / 4)
    found = infer(system, timeout=cap, goal=system.properties[prop].invariant)
    return E.all_(found.clauses)


def _certify(system: System, enc: Encoding, prop: str, k: int, inv: Expr) -> str:
    p = system.properties[prop].invariant
    if k == 1:
        whole = p if inv is E.TRUE else E.and_(inv, p)
        check = recheck(system, whole, p)
        if not check.ok:
            raise EngineError(f"k-induction: {prop} is not inductive: {check.outcomes}")
        return system.render(whole)
    if inv is not E.TRUE:
        check = recheck(system, inv, E.TRUE)
        if not check.ok:
            raise EngineError(f"k-induction: the strengthening is not inductive: {check.outcomes}")
    hyp, goal = _step_formula(enc, prop, k, "r", inv)
    solver = z.Solver(logic_for(enc), mode=enc.mode)
    solver.add(*hyp, goal)
    out = solver.check()
    if out != "unsat":
        raise EngineError(f"k-induction: the step case at k={k} does not re-check ({out})")
    under = "" if inv is E.TRUE else f", assuming the inductive invariant\n{system.render(inv)}"
    return f"{system.render(p)}\n(is {k}-inductive along simple paths{under})"
