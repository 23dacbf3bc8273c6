"""The engines, one function each, from a system and a property to a verdict.

Every function here returns a :class:`~ackproof.proofs.result.Result` and keeps the
rules of :mod:`ackproof.proofs.result`: ``violated`` only with a replayed shortest path,
``proved`` only with a re-checked certificate (or an exhaustive explicit search),
``holds``/``proved`` only with a reachable witness (else ``vacuous``), and a timeout or
``unknown`` is ``inconclusive`` with what was reached.  :func:`run_z3` is the symbolic
route for one property — its invariant, then its response obligations through the
liveness-to-safety system — that ``bmc``, ``pdr``, ``kinduction`` and ``auto`` share.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Literal, NoReturn

from ackproof.spec import System
from ackproof.spec.explore import Path
from ackproof.spec.expr import TRUE, Expr, not_
from ackproof.spec.interp import Compiled

from .bmc import reach
from .budget import Clock
from .kinduction import kinduction
from .l2s import with_obligations
from .pdr import spacer
from .result import EngineError, Result, Verdict, replay

#: Spacer's share of an ``auto`` run without a time limit, in seconds.
AUTO_PDR_SECONDS = 60.0
#: The first, quick proof attempt in ``auto``'s symbolic route.
AUTO_FIRST_PDR_SECONDS = 10.0
#: How deep a witness is looked for when the property was proved for all depths.
WITNESS_DEPTH = 100


def _result(
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
        return _result(
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
        return _result(
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
        return _result(
            system,
            prop,
            "vacuous",
            engine,
            clock,
            f"no violation up to depth {r.depth}, but the witness "
            f"({p.witness_statement}) is unreachable within it",
            depth=r.depth,
        )
    return _result(
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
    out = spacer(system, prop, clock=clock.share(cap))
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
            return _result(
                system,
                prop,
                "violated",
                "pdr",
                clock,
                f"violated after {len(cex)} steps (Spacer; shortest path by BMC)",
                depth=len(cex),
                cex=cex,
            )
        return _result(
            system,
            prop,
            "inconclusive",
            "pdr",
            clock,
            f"Spacer finds a violation, but no path within depth {r.depth}",
        )
    if out.status == "unknown":
        return _result(system, prop, "inconclusive", "pdr", clock, out.detail)
    assert out.certificate is not None
    return _proved(system, prop, "pdr", clock, comp, out.certificate.text, witness, None)


def _proved(
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
        return _result(
            system, prop, "inconclusive", engine, clock, f"proved, but {unsure}", states=states
        )
    why, reachable = "", "yes"
    if witness is None:
        witness, reachable, why = _witness_anywhere(system, prop, clock, comp)
    if witness is None:
        verdict: Verdict = "vacuous" if reachable == "no" else "inconclusive"
        return _result(
            system,
            prop,
            verdict,
            engine,
            clock,
            f"proved, but {why}",
            states=states,
            certificate=certificate,
        )
    return _result(
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


def run_kinduction(system: System, prop: str, depth: int, clock: Clock, comp: Compiled) -> Result:
    out = kinduction(system, prop, max_k=depth, clock=clock, compiled=comp)
    if out.status == "violated":
        return _result(
            system,
            prop,
            "violated",
            "kinduction",
            clock,
            out.detail,
            depth=out.k,
            cex=out.path,
        )
    if out.status == "proved":
        return _proved(
            system,
            prop,
            "kinduction",
            clock,
            comp,
            out.certificate,
            None,
            None,
            f"proved for all depths ({out.k}-induction)",
        )
    if out.status == "unknown":
        return _result(system, prop, "inconclusive", "kinduction", clock, out.detail)
    bounded = run_bmc(system, prop, depth, clock, comp, engine="kinduction")
    return replace(bounded, detail=f"{bounded.detail} ({out.detail})")


#: The symbolic engines, by name: one property's invariant at a depth.
Runner = Callable[[System, str, int, Clock, Compiled], Result]


def run_auto_z3(system: System, prop: str, depth: int, clock: Clock, comp: Compiled) -> Result:
    """``auto``'s symbolic route: a quick Spacer proof (cheap when its lemmas carry over
    between messages), BMC for a counterexample, then Spacer again with more time."""
    quick = run_pdr(system, prop, depth, clock, comp, cap=AUTO_FIRST_PDR_SECONDS)
    if quick.verdict in ("proved", "violated", "vacuous") or quick.certificate is not None:
        return replace(quick, engine="auto(pdr)")
    bounded = run_bmc(system, prop, depth, clock, comp, engine="auto(bmc)")
    if bounded.verdict == "violated":
        return bounded
    proof = run_pdr(system, prop, depth, clock, comp, witness=bounded.witness, cap=AUTO_PDR_SECONDS)
    if proof.verdict in ("proved", "violated", "vacuous"):
        return replace(proof, engine="auto(pdr)")
    if bounded.verdict == "holds":
        return replace(bounded, detail=f"{bounded.detail} (BMC); Spacer: {proof.detail}")
    return replace(bounded, seconds=clock.elapsed)


RUNNERS: dict[str, Runner] = {
    "bmc": lambda s, p, k, clock, c: run_bmc(s, p, k, clock, c),
    "pdr": lambda s, p, k, clock, c: run_pdr(s, p, k, clock, c),
    "kinduction": run_kinduction,
    "auto": run_auto_z3,
}


def run_z3(
    system: System, prop: str, engine: str, depth: int, clock: Clock, comp: Compiled
) -> Result:
    """One property on a symbolic engine: its invariant, then its response obligations
    (liveness) on the liveness-to-safety system, by the same engine."""
    run = RUNNERS[engine]
    if system.properties[prop].invariant is TRUE:  # eventual-delivery: liveness only
        invariant = _proved(system, prop, engine, clock, comp, "true", None, None, "no invariant")
    else:
        invariant = run(system, prop, depth, clock, comp)
    # a lasso system's runs have two more steps: faults stop, the loop starts
    return with_obligations(system, prop, invariant, lambda s, c: run(s, prop, depth + 2, clock, c))
