"""The ``kinduction`` engine: k-induction, strengthened with Spacer's lemmas when it stalls.

Theory of operation
-------------------
:func:`run_kinduction` first runs :func:`~.kinduction.kinduction` as it is (the step case
assumes the cheap invariants of :mod:`.strengthen` once it first fails).  Only when that
ends *bounded* (no counterexample up to the depth, but the property is not k-inductive
along simple paths for any ``k`` up to it) does it ask Spacer for lemmas: a short
:func:`~.pdr.spacer` run (at most :data:`LEMMA_PDR_SECONDS`), whose invariant if it
finishes, or else the lemmas it had when it stopped (:attr:`~.pdr.PdrOutcome.lemmas`: the
conjuncts it proved, the cheap invariants), are handed to k-induction again as ``assume``.
Rows k-induction decides alone cost exactly what they did; the extra time is spent only
where the answer would otherwise be bounded, and only after BMC has given that bounded
answer (``holds`` up to the depth, with its witness), so the lemmas can upgrade it to a
proof but never cost it.

Soundness does not rest on Spacer: k-induction assumes only what
:func:`~.strengthen.houdini` finds inductive (a wrong lemma is dropped, never assumed),
and the certificate re-checks what was assumed.  ``auto``'s symbolic route
(:func:`~.engines.run_auto_z3`) calls :func:`with_lemmas` with the lemmas of its own
Spacer run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ackproof.spec import Expr, System
from ackproof.spec.explore import Path
from ackproof.spec.expr import TRUE
from ackproof.spec.interp import Compiled
from ackproof.spec.ops import Op

from .budget import Clock
from .kinduction import KOutcome, kinduction
from .pdr import spacer
from .result import Result
from .symbolic import make_result, proved_result, run_bmc

#: Spacer's share of a ``kinduction`` run that k-induction alone left bounded, in seconds.
LEMMA_PDR_SECONDS = 10.0


def run_kinduction(system: System, prop: str, depth: int, clock: Clock, comp: Compiled) -> Result:
    out = kinduction(system, prop, max_k=depth, clock=clock, compiled=comp)
    if out.status != "bounded":
        return _decided(system, prop, out, clock, comp, "kinduction", "")
    bounded = run_bmc(system, prop, depth, clock, comp, engine="kinduction")
    bounded = replace(bounded, detail=f"{bounded.detail} ({out.detail})")
    if bounded.verdict != "holds" or clock.expired():
        return bounded
    lemmas = spacer_lemmas(system, prop, clock)
    proof = with_lemmas(system, prop, depth, clock, comp, lemmas, "kinduction", bounded.witness)
    return bounded if proof is None else proof


def spacer_lemmas(
    system: System, prop: str, clock: Clock, cap: float | None = None
) -> tuple[Expr, ...]:
    """What a short Spacer run (at most ``cap`` seconds, by default
    :data:`LEMMA_PDR_SECONDS`) knows about ``prop``: its invariant if it proves it, else
    the lemmas it had when it stopped (none if it finds a violation: k-induction's base
    case is the judge of that)."""
    out = spacer(system, prop, clock=clock.share(LEMMA_PDR_SECONDS if cap is None else cap))
    if out.status == "proved":
        assert out.certificate is not None
        inv = out.certificate.invariant  # ``true`` when the spec cannot spell it as a whole
        if inv is not TRUE:
            return inv.args if inv.op is Op.AND else (inv,)
    return out.lemmas  # the clauses it can spell


def with_lemmas(
    system: System,
    prop: str,
    depth: int,
    clock: Clock,
    comp: Compiled,
    lemmas: Sequence[Expr],
    engine: str,
    witness: Path | None = None,
) -> Result | None:
    """k-induction assuming the inductive part of ``lemmas``: its verdict when it decides
    (proved, vacuous or violated), else ``None`` (also for a proof whose witness could not
    be found in time: the caller's bounded answer says more)."""
    if clock.expired() or not lemmas:
        return None
    out = kinduction(
        system, prop, max_k=depth, clock=clock, compiled=comp, assume=lemmas, only_assumed=True
    )
    if out.status not in ("proved", "violated"):
        return None
    r = _decided(system, prop, out, clock, comp, engine, " with Spacer's lemmas", witness)
    return r if r.verdict in ("proved", "vacuous", "violated") else None


def _decided(
    system: System,
    prop: str,
    out: KOutcome,
    clock: Clock,
    comp: Compiled,
    engine: str,
    how: str,
    witness: Path | None = None,
) -> Result:
    """The result of a k-induction run that did not end bounded."""
    if out.status == "violated":
        return make_result(
            system, prop, "violated", engine, clock, out.detail, depth=out.k, cex=out.path
        )
    if out.status == "proved":
        note = f"proved for all depths ({out.k}-induction{how})"
        cert = out.certificate
        return proved_result(system, prop, engine, clock, comp, cert, witness, None, note)
    return make_result(system, prop, "inconclusive", engine, clock, out.detail)
