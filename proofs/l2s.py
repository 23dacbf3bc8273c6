"""Response obligations for the symbolic engines, through liveness-to-safety.

A verdict on a property's invariant alone says nothing about its response obligations
(eventual delivery; for no-loss, that each ``holds()`` claim is backed).  The explicit
engine decides those on the state graph (:mod:`ackproof.proofs.liveness`); BMC, PDR and
k-induction decide them on the system of :func:`ackproof.spec.lasso.lasso_system`, whose
bad states end violating lassos, with the same engine that decided the invariant:

1. with channels as big as needed (``room=True``): a violation there is a violation of
   the protocol (the lasso is mapped back and re-checked step by step);
2. if that holds and some step can wait for room on a full channel: whether the bounded
   model can deadlock with an obligation pending (:func:`~ackproof.spec.lasso.
   deadlock_system`); if it can, the verdict is *inconclusive* (the model's bound is in
   the way), never *proved*.

The combined verdict is the weaker of the invariant's and the obligations': proved only
if both are proved, and so on.

Before the lasso system, when the invariant is proved, the *local reason* of
:func:`~ackproof.spec.lasso.backing_system` (an invariant of the system itself, its steps
chosen on a breadth-first sample, its soundness argued in its docstring) is tried; a
sampled state that breaks it sends the obligations to the lasso system at once.  Under
``pdr`` and ``auto`` the reason is found first and proved in the invariant's own Spacer
run, on the invariant's lemmas (:func:`~.pdr.spacer`'s ``then``; the backing system's
invariant restates the property's, so a second run proved the invariant twice: 0.3 s of
0.9 s at exactly-once N = 6); only if that run does not prove it is it tried here alone.

Notes on FIFO models under ``--engine pdr`` (issue 11; figures measured under load).  The
lasso system stalls Spacer: its bad states include "back at the saved state", an equality
over every slot, and Spacer's first try (5 s) never rules them out.  The cheap invariants
guessed on the lasso's own sample (54-70 slots) then either carry it (alternating bit and
MQTT QoS 2 method A at N = 2: ~4,100-5,000 clauses kept, proved in 16-18 s) or run out of
Houdini's time (N = 3: none kept, inconclusive at 150-300 s).  Tried and dropped: the
original system's cheap invariants on both copies (current and saved) plus candidates
"saved slot == current slot once looping" (Houdini kept 1,508 of 1,526 at alternating
bit N = 3; Spacer still stalled at 120 s).  What decides these models is the local
reason, which had failed on alternating bit because a step about another message counted
as a sender (a ghost ``false`` that ``and_`` kept), and on method A because the broker's
claim is backed two steps away (PUBREC in flight, then PUBREL): both now hold (N = 3:
proved in 16-19 s), and so does a claim backed several steps away (levels: the patient
two-id MQTT model, 25 s).  On a sweep of every shipped, example and library protocol at
N = 2 the local reason held on the whole state space only where the explicit engine
proves the obligations; where no level fits a step on every sampled pending state
(Kafka's producers, the inbox with a key TTL) the obligations still go to the lasso.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ackproof.spec import System, explore
from ackproof.spec.expr import Expr, evaluate
from ackproof.spec.interp import Compiled, compile_system
from ackproof.spec.lasso import (
    LassoSystem,
    backing_reason,
    deadlock_invariant,
    deadlock_system,
    lasso_system,
    with_reason,
)
from ackproof.spec.system import State

from .liveness import LivenessViolation, check_lasso, lasso_detail
from .result import Result

Runner = Callable[[System, Compiled], Result]

#: Invariant verdicts whose response obligations are still to be decided.
_UNDECIDED_LIVENESS = ("proved", "holds", "vacuous")

_STRENGTH = {"violated": 0, "inconclusive": 1, "vacuous": 2, "holds": 3, "proved": 4}

#: States sampled (breadth-first) to choose the local reason's relay steps and to refute it
#: before an engine is asked to prove it: a reachable state that breaks it refutes it at
#: once (Spacer spent its first try, 5 s, then sampled the same states to find that out).
REFUTE_STATES = 4000
#: The one-step reason is tried on fewer (what refutes it shows early; 4,000 states cost
#: 0.1 s at exactly-once N = 6, a tenth of the whole check).
ONE_STEP_STATES = 1000


#: The liveness part of a verdict that the local reason decides.
BACKED = "every holds() claim is backed by a step that resends"


@dataclass(frozen=True)
class LocalReason:
    """No-loss's local reason (:func:`~ackproof.spec.lasso.backing_reason`) for a system."""

    #: What the reason adds to the property's invariant.
    expr: Expr
    #: The system whose property's invariant is the property's own and the reason.
    system: System
    #: Already proved, with the invariant, in the invariant's own Spacer run.
    proved: bool = False
    #: The bounded model's deadlock freedom (:func:`deadlock_goal`) proved in that run too.
    deadlock_free: bool = False


def with_obligations(
    system: System,
    prop: str,
    invariant: Result,
    run: Runner,
    comp: Compiled | None = None,
    reason: LocalReason | None = None,
) -> Result:
    """``invariant`` (a verdict on ``prop``'s invariant) completed with its response
    obligations: first the cheap local reason (no-loss's claims, when the invariant is
    proved), else the liveness-to-safety system; then the bounded-buffer deadlock check
    (unless the invariant's own run proved it with the reason).  ``comp``: ``system``
    compiled, if the caller has it; ``reason``: the local reason, if the caller found it
    (proved already, or to be proved here)."""
    obligations = system.properties[prop].eventually
    # a vacuous invariant (its witness unreachable) says nothing about the obligations: a
    # protocol that never processes anything violates eventual delivery
    if invariant.liveness or not obligations or invariant.verdict not in _UNDECIDED_LIVENESS:
        return invariant
    found: Result | None = None
    deadlock_free = False  # proved in the invariant's own run, with the local reason
    if invariant.verdict == "proved":
        reason = reason if reason is not None else local_reason(system, prop, comp)
        if reason is not None and reason.proved:  # one certificate covers both
            found = replace(invariant, detail=BACKED, seconds=0.0)
            deadlock_free = reason.deadlock_free
        elif reason is not None:  # an invariant of the system itself, no lasso
            backed = run(reason.system, _compiled(reason.system, system, comp))
            if backed.verdict == "proved":
                found = replace(backed, detail=BACKED)
    if found is None:
        lasso = lasso_system(system, prop)
        found = _run(lasso, run)
        if found.verdict == "violated":
            return _violated(lasso, found, invariant)
        if found.verdict not in ("proved", "holds"):
            detail = f"{invariant.detail}; liveness: {found.detail}"
            return replace(invariant, verdict="inconclusive", detail=detail, liveness=True)
    if _may_wait(system) and not deadlock_free:
        dead = deadlock_system(system, prop)
        stuck = run(dead, _compiled(dead, system, comp))
        if stuck.verdict == "violated":
            why = (
                f"undecided at channel capacity {system.faults.capacity}: liveness "
                f"{found.verdict} ({found.detail}), but the bounded model can deadlock with "
                f"an obligation pending after {stuck.depth} steps — every step that would "
                "go on must send into a full channel (the model's bound, not the "
                "protocol's); a larger capacity, or timers that do not fire while their "
                "frame is in flight, may decide it"
            )
            return replace(invariant, verdict="inconclusive", detail=why, liveness=True)
    verdict = min(invariant.verdict, found.verdict, key=_STRENGTH.__getitem__)
    detail = f"{invariant.detail}; liveness ({len(obligations)} obligations): {found.detail}"
    depths = [d for d in (invariant.depth, found.depth) if d is not None]
    return replace(
        invariant,
        verdict=verdict,
        depth=min(depths) if depths else None,
        detail=detail,
        liveness=True,
        seconds=invariant.seconds + found.seconds,
    )


def _may_wait(system: System) -> bool:
    """Some fault-free step can wait for room on a full channel: the bounded model may
    deadlock where the protocol would not."""
    return any(a.starved is not None for a in system.calm_actions())


def deadlock_goal(system: System, prop: str) -> Expr | None:
    """The bounded model's deadlock freedom for ``prop``'s obligations, as an invariant
    (:func:`~ackproof.spec.lasso.deadlock_invariant`), where the model may deadlock at
    all; ``None`` where no step waits for room or ``prop`` has no obligations."""
    if not system.properties[prop].eventually or not _may_wait(system):
        return None
    return deadlock_invariant(system, prop)


def local_reason(system: System, prop: str, comp: Compiled | None = None) -> LocalReason | None:
    """:func:`~ackproof.spec.lasso.backing_reason` that holds on the first
    :data:`REFUTE_STATES` states: the one-step reason (every step that may send a copy),
    else the one whose relay steps are chosen on those states; ``None`` if there is none
    or the sample breaks it (it is then no reason; whether it is one beyond the sample is
    left to the engine).  The one-step reason comes first because it needs no choosing:
    choosing levels evaluates every fault-free step on every pending sampled state (at
    exactly-once N = 6, 17 s against 0.1 s, for the reason the one step already gives)."""
    one_step = _reason(system, prop)
    if one_step is None:
        return None
    if comp is None:
        comp = compile_system(system)

    def sample(n: int) -> list[State]:
        ex = explore(system, [], max_states=n, keep=True, compiled=comp)
        assert ex.visited is not None
        return list(ex.visited)

    def holds(local: LocalReason, states: list[State]) -> bool:
        inv = comp.predicate(local.system.properties[prop].invariant)
        return all(inv(s) for s in states)

    if holds(one_step, sample(ONE_STEP_STATES)):
        return one_step
    states = sample(REFUTE_STATES)
    local = _reason(system, prop, states)
    return local if local is not None and holds(local, states) else None


def _reason(system: System, prop: str, sample: Sequence[State] = ()) -> LocalReason | None:
    expr = backing_reason(system, prop, sample)
    if expr is None:
        return None
    return LocalReason(expr, with_reason(system, prop, expr))


def _compiled(derived: System, system: System, comp: Compiled | None) -> Compiled:
    """``derived`` (``system`` with other properties) compiled, sharing ``comp``'s steps."""
    return (comp if comp is not None else compile_system(system)).derived(derived)


def _run(lasso: LassoSystem, run: Runner) -> Result:
    return run(lasso.system, compile_system(lasso.system))


def _violated(lasso: LassoSystem, found: Result, invariant: Result) -> Result:
    assert found.counterexample is not None
    path = lasso.original_path(found.counterexample)
    ob = lasso.obligation(found.counterexample)
    check_lasso(compile_system(lasso.original), path, ob, room=True)
    assert path.calm is not None
    at = path.steps[path.calm - 1][1] if path.calm else path.initial
    claim = next((who for who, c in ob.claims if evaluate(c, at)), None)
    detail = lasso_detail(LivenessViolation(ob, path, claim))
    return replace(
        invariant,
        verdict="violated",
        depth=len(path),
        counterexample=path,
        detail=f"{detail} (found by {found.engine} on the lasso system)",
        liveness=True,
        seconds=invariant.seconds + found.seconds,
    )
