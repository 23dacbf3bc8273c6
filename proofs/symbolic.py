"""What every symbolic engine's verdict keeps: the result it reports, bounded model
checking, and the checks after a proof.

Theory of operation
-------------------
The engines of :mod:`.engines` and :mod:`.kengine` build their results here, so the rules
of :mod:`ackproof.proofs.result` are kept in one place: ``violated`` only with a replayed
shortest path (:func:`run_bmc`), ``proved`` only once an out-of-range step is ruled out
for all depths (:func:`check_well_formed`) and a witness is found (:func:`proved_result`;
``vacuous`` if the witness is unreachable, found by random walks first, then by BMC,
:func:`simulate`), and a timeout or ``unknown`` is ``inconclusive`` with what was reached.
"""

from __future__ import annotations

import random
from typing import Literal, NoReturn

from ackproof.spec import System
from ackproof.spec.explore import Path
from ackproof.spec.expr import Expr, not_
from ackproof.spec.interp import Compiled

from .bmc import reach
from .budget import Clock
from .pdr import spacer
from .result import EngineError, Result, Verdict, replay

#: Spacer's share of an ``auto`` run without a time limit, in seconds (and of the check
#: that rules out an out-of-range step after a proof).
AUTO_PDR_SECONDS = 60.0

#: How deep a witness is looked for when the property was proved for all depths.
WITNESS_DEPTH = 100


def make_result(
    system: System,
    prop: str,
    verdict: Verdict,
    engine: str,
    clock: Clock,
    detail: str,
    *,
    depth: int | None = None,
    cex: Path | None = None,
    witness: Path | None = None,
    certificate: str | None = None,
    states: int | None = None,
) -> Result:
    return Result(
        protocol=system.protocol,
        faults=system.faults.name,
        property=prop,
        verdict=verdict,
        engine=engine,
        depth=depth,
        seconds=clock.elapsed,
        counterexample=cex,
        witness=witness,
        certificate=certificate,
        states=states,
        detail=detail,
    )


def _step_error(system: System, comp: Compiled, path: Path) -> NoReturn:
    """Re-run the ill-formed step found at the end of ``path``: it raises ``StepError``."""
    last = path.steps[-1][1] if path.steps else path.initial
    for a in system.actions:
        comp.step(last, a.index)  # the concrete interpreter raises StepError here
    raise EngineError(f"{system.protocol}: z3 found an ill-formed step the interpreter does not")


def check_well_formed(system: System, clock: Clock, comp: Compiled, depth: int) -> str:
    """After a z3 proof: rule out, for all depths, a reachable out-of-range step.

    Returns "" when ruled out (or there is nothing to rule out), else why not; raises
    ``StepError`` (via the concrete interpreter) when such a step is reachable."""
    bad = system.ill_formed()
    if bad is None:
        return ""
    some = next(iter(system.properties))
    out = spacer(system, some, target=not_(bad), clock=clock.share(AUTO_PDR_SECONDS))
    if out.status == "proved":
        return ""
    r = reach(
        system,
        {"ill": bad},
        depth=max(depth, WITNESS_DEPTH),
        clock=clock,
        compiled=comp,
        stop_on=frozenset({"ill"}),
    )
    if "ill" in r.found:
        _step_error(system, comp, r.found["ill"])
    return f"an out-of-range step could not be ruled out ({out.detail or out.status})"


def run_bmc(
    system: System, prop: str, depth: int, clock: Clock, comp: Compiled, engine: str = "bmc"
) -> Result:
    p = system.properties[prop]
    targets = {"bad": not_(p.invariant), "witness": p.witness}
    ill = system.ill_formed()
    if ill is not None:
        targets["ill"] = ill
    r = reach(
        system,
        targets,
        depth=depth,
        clock=clock,
        compiled=comp,
        stop_on=frozenset({"bad", "ill"}),
    )
    if "ill" in r.found:
        _step_error(system, comp, r.found["ill"])
    bad, wit = r.found.get("bad"), r.found.get("witness")
    if bad is not None:
        return make_result(
            system,
            prop,
            "violated",
            engine,
            clock,
            f"violated after {len(bad)} steps",
            depth=len(bad),
            cex=bad,
            witness=wit,
        )
    if r.status != "complete":
        return make_result(
            system,
            prop,
            "inconclusive",
            engine,
            clock,
            f"{r.detail}; no violation up to depth {r.depth}"
            if r.depth >= 0
            else f"{r.detail}; no depth fully checked",
            depth=r.depth,
            witness=wit,
        )
    if wit is None:
        return make_result(
            system,
            prop,
            "vacuous",
            engine,
            clock,
            f"no violation up to depth {r.depth}, but the witness "
            f"({p.witness_statement}) is unreachable within it",
            depth=r.depth,
        )
    return make_result(
        system,
        prop,
        "holds",
        engine,
        clock,
        f"holds up to depth {r.depth}",
        depth=r.depth,
        witness=wit,
    )


def simulate(
    system: System,
    comp: Compiled,
    target: Expr,
    *,
    walks: int = 50,
    steps: int = 2_000,
    seed: int = 0,
) -> Path | None:
    """A run reaching ``target`` found by random walks that avoid faults (losses,
    duplications, crashes), or ``None``.  A witness only needs *some* run, and for large
    systems a plain run gets there long before breadth-first search or BMC's depth does."""
    rng = random.Random(seed)
    hit = comp.predicate(target)
    calm = [a.index for a in system.actions if a.kind in ("submit", "deliver", "timer")]
    calm = [i for i in calm if system.actions[i].crash_after is None]
    init = system.initial()
    if hit(init):
        return Path(init, ())
    for _ in range(walks):
        state, trail = init, []
        for _ in range(steps):
            moves = [(i, t) for i in calm if (t := comp.step(state, i)) is not None]
            if not moves:
                break
            i, state = rng.choice(moves)
            trail.append((i, state))
            if hit(state):
                path = Path(init, tuple(trail))
                replay(comp, path)
                return path
    return None


Reachable = Literal["yes", "no", "unknown"]


def _witness_anywhere(
    system: System, prop: str, clock: Clock, comp: Compiled
) -> tuple[Path | None, Reachable, str]:
    """A path to the witness, or whether it is unreachable at all, and why."""
    p = system.properties[prop]
    walk = simulate(system, comp, p.witness)
    if walk is not None:
        return walk, "yes", ""
    r = reach(system, {"w": p.witness}, depth=WITNESS_DEPTH, clock=clock, compiled=comp)
    if "w" in r.found:
        return r.found["w"], "yes", ""
    proof = spacer(system, prop, target=not_(p.witness), clock=clock.share(30.0))
    if proof.status == "proved":
        return None, "no", f"the witness ({p.witness_statement}) is unreachable (proved)"
    return None, "unknown", f"no witness within depth {r.depth}, and its reachability is unknown"


def proved_result(
    system: System,
    prop: str,
    engine: str,
    clock: Clock,
    comp: Compiled,
    certificate: str | None,
    witness: Path | None,
    states: int | None,
    note: str = "",
) -> Result:
    """A symbolic proof of ``prop``'s invariant: proved once well-formedness is ruled out
    for all depths and a witness is found (vacuous if the witness is unreachable)."""
    unsure = check_well_formed(system, clock, comp, 0)
    if unsure:
        return make_result(
            system, prop, "inconclusive", engine, clock, f"proved, but {unsure}", states=states
        )
    why, reachable = "", "yes"
    if witness is None:
        witness, reachable, why = _witness_anywhere(system, prop, clock, comp)
    if witness is None:
        verdict: Verdict = "vacuous" if reachable == "no" else "inconclusive"
        return make_result(
            system,
            prop,
            verdict,
            engine,
            clock,
            f"proved, but {why}",
            states=states,
            certificate=certificate,
        )
    return make_result(
        system,
        prop,
        "proved",
        engine,
        clock,
        note or "proved for all depths",
        certificate=certificate,
        witness=witness,
        states=states,
    )
