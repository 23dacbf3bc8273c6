"""The engines, one function each, from a system and a property to a verdict.

Every function here returns a :class:`~ackproof.proofs.result.Result` and keeps the
rules of :mod:`ackproof.proofs.result` (built in :mod:`.symbolic`: ``violated`` only with
a replayed shortest path, ``proved`` only with a re-checked certificate, ``holds``/
``proved`` only with a reachable witness, else ``vacuous``, and a timeout or ``unknown``
is ``inconclusive`` with what was reached).  ``bmc`` and ``pdr`` are here, ``kinduction``
in :mod:`.kengine`.  :func:`run_z3` is the symbolic route for one property — its
invariant, then its response obligations through the liveness-to-safety system — that
``bmc``, ``pdr``, ``kinduction`` and ``auto`` share.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ackproof.spec import System
from ackproof.spec.explore import Path
from ackproof.spec.expr import TRUE, Expr, not_
from ackproof.spec.interp import Compiled

from .bmc import reach
from .budget import Clock
from .kengine import run_kinduction, with_lemmas
from .l2s import LocalReason, deadlock_goal, local_reason, with_obligations
from .pdr import spacer
from .result import Result
from .symbolic import AUTO_PDR_SECONDS, WITNESS_DEPTH, make_result, proved_result, run_bmc

#: The first, quick proof attempt in ``auto``'s symbolic route.
AUTO_FIRST_PDR_SECONDS = 10.0
#: k-induction's share of ``auto``'s symbolic route, after Spacer's second attempt.
AUTO_KINDUCTION_SECONDS = 30.0


@dataclass(frozen=True)
class Attempt:
    """One Spacer run on a property's invariant (:func:`pdr_attempt`)."""

    result: Result
    #: The lemmas Spacer had if it stopped without a proof.
    lemmas: tuple[Expr, ...] = ()
    #: How many of the goals given as ``then`` (the local reason, then the bounded model's
    #: deadlock freedom) were proved with the invariant, from the first.
    then_proved: int = 0


def run_pdr(
    system: System,
    prop: str,
    depth: int,
    clock: Clock,
    comp: Compiled,
    *,
    witness: Path | None = None,
    cap: float | None = None,
) -> Result:
    return pdr_attempt(system, prop, depth, clock, comp, witness=witness, cap=cap).result


def pdr_attempt(
    system: System,
    prop: str,
    depth: int,
    clock: Clock,
    comp: Compiled,
    *,
    witness: Path | None = None,
    cap: float | None = None,
    then: Sequence[Expr] = (),
) -> Attempt:
    """:func:`run_pdr`'s result, with the lemmas Spacer had if it stopped without a proof;
    ``then``: goals of ``prop``'s response obligations (its local reason, the bounded
    model's deadlock freedom), proved after the invariant on its lemmas where Spacer can
    (:func:`~.pdr.spacer`)."""
    out = spacer(system, prop, clock=clock.share(cap), then=then)
    if out.status == "violated":
        r = reach(
            system,
            {"bad": not_(system.properties[prop].invariant)},
            depth=max(depth, WITNESS_DEPTH),
            clock=clock,
            compiled=comp,
        )
        if "bad" in r.found:
            cex = r.found["bad"]
            found = make_result(
                system,
                prop,
                "violated",
                "pdr",
                clock,
                f"violated after {len(cex)} steps (Spacer; shortest path by BMC)",
                depth=len(cex),
                cex=cex,
            )
            return Attempt(found)
        stuck = make_result(
            system,
            prop,
            "inconclusive",
            "pdr",
            clock,
            f"Spacer finds a violation, but no path within depth {r.depth}",
        )
        return Attempt(stuck)
    if out.status == "unknown":
        stopped = make_result(system, prop, "inconclusive", "pdr", clock, out.detail)
        return Attempt(stopped, out.lemmas)
    assert out.certificate is not None
    cert = out.certificate.text
    proved = proved_result(system, prop, "pdr", clock, comp, cert, witness, None)
    return Attempt(proved, then_proved=out.then_proved if proved.verdict == "proved" else 0)


#: The symbolic engines, by name: one property's invariant at a depth.
Runner = Callable[[System, str, int, Clock, Compiled], Result]


def run_auto_z3(system: System, prop: str, depth: int, clock: Clock, comp: Compiled) -> Result:
    """``auto``'s symbolic route: a quick Spacer proof (cheap when its lemmas carry over
    between messages), BMC for a counterexample, then Spacer again with more time, then
    k-induction assuming the lemmas that second Spacer run had (those Houdini keeps)."""
    return _auto(system, prop, depth, clock, comp).result


def _auto(
    system: System,
    prop: str,
    depth: int,
    clock: Clock,
    comp: Compiled,
    then: Sequence[Expr] = (),
) -> Attempt:
    """:func:`run_auto_z3`, with ``then`` (the obligations' goals) given to the quick Spacer
    run."""
    first = pdr_attempt(system, prop, depth, clock, comp, cap=AUTO_FIRST_PDR_SECONDS, then=then)
    quick = first.result
    if quick.verdict in ("proved", "violated", "vacuous") or quick.certificate is not None:
        return replace(first, result=replace(quick, engine="auto(pdr)"))
    return Attempt(_auto_rest(system, prop, depth, clock, comp))


def _auto_rest(system: System, prop: str, depth: int, clock: Clock, comp: Compiled) -> Result:
    bounded = run_bmc(system, prop, depth, clock, comp, engine="auto(bmc)")
    if bounded.verdict == "violated":
        return bounded
    second = pdr_attempt(
        system, prop, depth, clock, comp, witness=bounded.witness, cap=AUTO_PDR_SECONDS
    )
    proof, lemmas = second.result, second.lemmas
    if proof.verdict in ("proved", "violated", "vacuous"):
        return replace(proof, engine="auto(pdr)")
    if lemmas:
        share = clock.share(AUTO_KINDUCTION_SECONDS)
        wit = bounded.witness
        strong = with_lemmas(system, prop, depth, share, comp, lemmas, "auto(kinduction)", wit)
        if strong is not None:
            return replace(strong, seconds=clock.elapsed)
    if bounded.verdict == "holds":
        return replace(bounded, detail=f"{bounded.detail} (BMC); Spacer: {proof.detail}")
    return replace(bounded, seconds=clock.elapsed)


RUNNERS: dict[str, Runner] = {
    "bmc": lambda s, p, k, clock, c: run_bmc(s, p, k, clock, c),
    "pdr": lambda s, p, k, clock, c: run_pdr(s, p, k, clock, c),
    "kinduction": run_kinduction,
    "auto": run_auto_z3,
}

#: The engines whose Spacer run proves no-loss's local reason with its invariant (one
#: run, where proving them apart proves the invariant twice: 0.3 s of 0.9 at exactly-once
#: N = 6), and after it the bounded model's deadlock freedom (a second run and a second
#: certificate took 0.017 s of 0.36); the others prove the invariant, then the local
#: reason, then the deadlock freedom (:mod:`.l2s`).
WITH_REASON: dict[str, Callable[[System, str, int, Clock, Compiled, Sequence[Expr]], Attempt]] = {
    "pdr": lambda s, p, k, clock, c, then: pdr_attempt(s, p, k, clock, c, then=then),
    "auto": _auto,
}


def run_z3(
    system: System, prop: str, engine: str, depth: int, clock: Clock, comp: Compiled
) -> Result:
    """One property on a symbolic engine: its invariant, then its response obligations
    (liveness) on the liveness-to-safety system, by the same engine."""
    run = RUNNERS[engine]
    reason: LocalReason | None = None
    if system.properties[prop].invariant is TRUE:  # eventual-delivery: liveness only
        note = "no invariant"
        invariant = proved_result(system, prop, engine, clock, comp, "true", None, None, note)
    elif engine in WITH_REASON and (reason := local_reason(system, prop, comp)) is not None:
        goals = [reason.expr]
        if (dead := deadlock_goal(system, prop)) is not None:
            goals.append(dead)
        attempt = WITH_REASON[engine](system, prop, depth, clock, comp, goals)
        invariant = attempt.result
        proved = attempt.then_proved  # of goals, from the first
        free = dead is not None and proved == len(goals)
        reason = replace(reason, proved=proved >= 1, deadlock_free=free)
    else:
        invariant = run(system, prop, depth, clock, comp)
    # a lasso system's runs have two more steps: faults stop, the loop starts
    return with_obligations(
        system, prop, invariant, lambda s, c: run(s, prop, depth + 2, clock, c), comp, reason
    )
