"""From engines to verdicts: one function per engine, and ``auto``, the portfolio.

Every function here returns a :class:`~ackproof.proofs.result.Result` and keeps the
rules of :mod:`ackproof.proofs.result`: ``violated`` only with a replayed shortest path,
``proved`` only with a re-checked certificate (or an exhaustive explicit search),
``holds``/``proved`` only with a reachable witness (else ``vacuous``), and a timeout or
``unknown`` is ``inconclusive`` with what was reached.

``auto``: (1) explicit search with a state cap — small systems are decided here, and a
complete search is already a proof; (2) BMC up to ``depth`` for counterexamples beyond
the cap; (3) Spacer for a proof with a certificate (also tried, briefly, after an
exhaustive explicit search, to attach a certificate to it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import NoReturn

from ackproof.spec import System
from ackproof.spec.explore import Path
from ackproof.spec.expr import TRUE, Expr, not_
from ackproof.spec.interp import Compiled, compile_system

from . import explicit
from .bmc import reach
from .kinduction import kinduction
from .l2s import with_obligations
from .loss import check_loss_is_real, deadline_in
from .pdr import spacer
from .result import EngineError, Result, Verdict, replay

#: Explicit search in ``auto`` stops here and hands over to BMC and Spacer.
AUTO_STATE_CAP = 100_000
#: After an exhaustive explicit proof, how long Spacer may try to add a certificate.
AUTO_CERTIFICATE_SECONDS = 3.0
#: Spacer's share of an ``auto`` run without a time limit, in seconds.
AUTO_PDR_SECONDS = 60.0
#: The first, quick proof attempt after a capped explicit search.
AUTO_FIRST_PDR_SECONDS = 10.0
#: How deep a witness is looked for when the property was proved for all depths.
WITNESS_DEPTH = 100


class _Clock:
    def __init__(self, timeout: float | None) -> None:
        self.start = time.monotonic()
        self.timeout = timeout

    def left(self, cap: float | None = None) -> float | None:
        rem = None if self.timeout is None else self.timeout - self.elapsed
        if cap is None:
            return rem
        return cap if rem is None else min(cap, rem)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


def _result(
    system: System,
    prop: str,
    verdict: Verdict,
    engine: str,
    clock: _Clock,
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


def check_well_formed(system: System, clock: _Clock, comp: Compiled, depth: int) -> str:
    """After a z3 proof: rule out, for all depths, a reachable out-of-range step.

    Returns "" when ruled out (or there is nothing to rule out), else why not; raises
    ``StepError`` (via the concrete interpreter) when such a step is reachable."""
    bad = system.ill_formed()
    if bad is None:
        return ""
    some = next(iter(system.properties))
    out = spacer(system, some, target=not_(bad), timeout=clock.left(AUTO_PDR_SECONDS))
    if out.status == "proved":
        return ""
    r = reach(
        system,
        {"ill": bad},
        depth=max(depth, WITNESS_DEPTH),
        timeout=clock.left(),
        compiled=comp,
        stop_on=frozenset({"ill"}),
    )
    if "ill" in r.found:
        _step_error(system, comp, r.found["ill"])
    return f"an out-of-range step could not be ruled out ({out.detail or out.status})"


def run_bmc(
    system: System, prop: str, depth: int, clock: _Clock, comp: Compiled, engine: str = "bmc"
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
        timeout=clock.left(),
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


def _witness_anywhere(
    system: System, prop: str, clock: _Clock, comp: Compiled
) -> tuple[Path | None, str]:
    """A path to the witness, or why there is none (unreachable at all, or unknown)."""
    p = system.properties[prop]
    walk = simulate(system, comp, p.witness)
    if walk is not None:
        return walk, ""
    r = reach(system, {"w": p.witness}, depth=WITNESS_DEPTH, timeout=clock.left(), compiled=comp)
    if "w" in r.found:
        return r.found["w"], ""
    proof = spacer(system, prop, target=not_(p.witness), timeout=clock.left(30.0))
    if proof.status == "proved":
        return None, f"the witness ({p.witness_statement}) is unreachable (proved)"
    return None, f"no witness within depth {r.depth}, and its reachability is unknown"


def run_pdr(
    system: System,
    prop: str,
    depth: int,
    clock: _Clock,
    comp: Compiled,
    *,
    witness: Path | None = None,
    cap: float | None = None,
) -> Result:
    out = spacer(system, prop, timeout=clock.left(cap))
    if out.status == "violated":
        r = reach(
            system,
            {"bad": not_(system.properties[prop].invariant)},
            depth=max(depth, WITNESS_DEPTH),
            timeout=clock.left(),
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
    clock: _Clock,
    comp: Compiled,
    certificate: str | None,
    witness: Path | None,
    states: int | None,
    note: str = "",
) -> Result:
    if engine != "explicit" and not engine.startswith("auto(explicit"):
        unsure = check_well_formed(system, clock, comp, 0)
        if unsure:
            return _result(
                system, prop, "inconclusive", engine, clock, f"proved, but {unsure}", states=states
            )
    why = ""
    if witness is None:
        witness, why = _witness_anywhere(system, prop, clock, comp)
    if witness is None:
        verdict: Verdict = "vacuous" if "(proved)" in why else "inconclusive"
        return _result(system, prop, verdict, engine, clock, f"proved, but {why}", states=states)
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


def run_kinduction(system: System, prop: str, depth: int, clock: _Clock, comp: Compiled) -> Result:
    out = kinduction(system, prop, max_k=depth, timeout=clock.left(), compiled=comp)
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


def run_auto(system: System, prop: str, depth: int, clock: _Clock, comp: Compiled) -> Result:
    left = clock.left()
    first, ex = explicit.run(  # at most half the time: the proof engines need the rest
        system,
        prop,
        max_states=AUTO_STATE_CAP,
        compiled=comp,
        timeout=None if left is None else left / 2,
    )
    if first.verdict == "violated":
        return replace(first, engine="auto(explicit)", seconds=clock.elapsed)
    if ex.complete and first.verdict in ("proved", "vacuous"):
        # (a capped search that merely did not reach the witness is not vacuous: go on)
        if first.verdict == "vacuous" or system.properties[prop].invariant is TRUE:
            return replace(first, engine="auto(explicit)", seconds=clock.elapsed)
        try:
            out = spacer(system, prop, timeout=clock.left(AUTO_CERTIFICATE_SECONDS))
        except EngineError:
            raise
        if out.status == "violated":
            raise EngineError("Spacer finds a violation the exhaustive search did not")
        cert = out.certificate.text if out.certificate is not None else None
        engine = "auto(explicit+pdr)" if cert is not None else "auto(explicit)"
        detail = first.detail
        if cert is not None:
            detail += f"; inductive invariant ({cert.count(chr(10)) + 1} conjuncts) re-checked"
        return replace(first, engine=engine, certificate=cert, seconds=clock.elapsed, detail=detail)
    if system.properties[prop].invariant is TRUE:  # eventual-delivery: liveness only
        return _proved(
            system, prop, "auto", clock, comp, "true", first.witness, first.states, "no invariant"
        )
    # The explicit search was capped without a violation, so any counterexample is longer
    # than it reached: try a proof first (cheap when Spacer's lemmas carry over between
    # messages), then BMC for a deeper counterexample, then Spacer again with more time.
    quick = run_pdr(
        system, prop, depth, clock, comp, witness=first.witness, cap=AUTO_FIRST_PDR_SECONDS
    )
    if quick.verdict in ("proved", "violated", "vacuous") or quick.detail.startswith("proved"):
        return replace(quick, engine="auto(pdr)", states=first.states)
    bounded = run_bmc(system, prop, depth, clock, comp, engine="auto(bmc)")
    if bounded.verdict == "violated":
        return bounded
    proof = run_pdr(
        system,
        prop,
        depth,
        clock,
        comp,
        witness=first.witness or bounded.witness,
        cap=AUTO_PDR_SECONDS,
    )
    if proof.verdict in ("proved", "violated", "vacuous"):
        return replace(proof, engine="auto(pdr)", states=first.states)
    if bounded.verdict == "holds" and first.depth is not None:
        detail = (
            f"{bounded.detail} (BMC); explicit search covered depth {first.depth} in "
            f"{first.states} states; Spacer: {proof.detail}"
        )
        return replace(bounded, detail=detail, states=first.states, seconds=clock.elapsed)
    if bounded.verdict == "inconclusive" and first.depth is not None:
        detail = f"{bounded.detail} (BMC); explicit search: {first.detail}"
        return replace(bounded, detail=detail, states=first.states, seconds=clock.elapsed)
    return replace(bounded, seconds=clock.elapsed)


def check_with(system: System, prop: str, engine: str, depth: int, timeout: float | None) -> Result:
    clock = _Clock(timeout)
    comp = compile_system(system)
    result = _check_with(system, prop, engine, depth, clock, comp)
    cex = result.counterexample
    if prop == "no-loss" and cex is not None and cex.calm is None:
        check_loss_is_real(comp, cex, deadline_in(clock.left(30.0)))
    return result


def _check_with(
    system: System, prop: str, engine: str, depth: int, clock: _Clock, comp: Compiled
) -> Result:
    if engine == "explicit":
        res, _ = explicit.run(system, prop, compiled=comp, timeout=clock.left())
        if res.verdict == "proved":
            return res
        return replace(res, seconds=clock.elapsed)
    runners: dict[str, Callable[[System, int, Compiled], Result]] = {
        "bmc": lambda s, k, c: run_bmc(s, prop, k, clock, c),
        "pdr": lambda s, k, c: run_pdr(s, prop, k, clock, c),
        "kinduction": lambda s, k, c: run_kinduction(s, prop, k, clock, c),
        "auto": lambda s, k, c: _auto_lasso(s, prop, k, clock, c),
    }
    if engine not in runners:
        raise ValueError(f"unknown engine {engine!r}; use auto, bmc, pdr, kinduction or explicit")
    run = runners[engine]
    if engine == "auto":
        invariant = run_auto(system, prop, depth, clock, comp)
    elif system.properties[prop].invariant is TRUE:  # eventual-delivery: liveness only
        invariant = _proved(system, prop, engine, clock, comp, "true", None, None, "no invariant")
    else:
        invariant = run(system, depth, comp)
    # a lasso system's runs have two more steps: faults stop, the loop starts
    return with_obligations(system, prop, invariant, lambda s, c: run(s, depth + 2, c))


def _auto_lasso(system: System, prop: str, depth: int, clock: _Clock, comp: Compiled) -> Result:
    """``auto`` on a lasso system: a Spacer proof first, then BMC for a lasso."""
    proof = run_pdr(system, prop, depth, clock, comp, cap=AUTO_FIRST_PDR_SECONDS)
    if proof.verdict in ("proved", "violated", "vacuous"):
        return replace(proof, engine="auto(pdr)")
    bounded = run_bmc(system, prop, depth, clock, comp, engine="auto(bmc)")
    if bounded.verdict == "violated":
        return bounded
    proof = run_pdr(system, prop, depth, clock, comp, cap=AUTO_PDR_SECONDS)
    if proof.verdict in ("proved", "violated", "vacuous"):
        return replace(proof, engine="auto(pdr)")
    return bounded
