"""The explicit engine: breadth-first search over concrete states (``spec.explore``).

Verdicts, from one exploration capped at ``max_states`` (memory is bounded by the cap):

* a violation found -> ``violated`` with the shortest counterexample (breadth-first);
* the whole reachable space visited, no violation -> ``proved`` (the system is finite, so
  exhaustion covers every depth; the evidence is the state count), or ``vacuous`` if the
  witness was never reached;
* stopped at the state cap or the depth limit -> ``holds`` up to the last fully explored
  depth (``vacuous`` if the witness was not reached within it).
"""

from __future__ import annotations

import time

from ackproof.spec import System, explore
from ackproof.spec.explore import Exploration
from ackproof.spec.interp import Compiled, compile_system

from .liveness import CalmGraph, Liveness, OutOfTime, check_obligations, lasso_detail
from .result import EngineError, Result, Verdict, ends_violating, ends_witnessing, replay


def full_depth(ex: Exploration, max_depth: int | None) -> int:
    """The deepest level every state of which was visited and checked."""
    if ex.complete or (max_depth is not None and ex.depth >= max_depth):
        return ex.depth
    return max(0, ex.depth - 1)


def run(
    system: System,
    prop: str,
    *,
    depth: int | None = None,
    max_states: int = 2_000_000,
    compiled: Compiled | None = None,
    timeout: float | None = None,
) -> tuple[Result, Exploration]:
    """Explore ``system`` for ``prop``; ``depth=None`` explores without a depth limit."""
    start = time.monotonic()
    comp = compiled if compiled is not None else compile_system(system)
    live = system.properties[prop].eventually
    ex = explore(
        system,
        [prop],
        max_states=max_states,
        max_depth=depth,
        compiled=comp,
        stop_when_decided=True,
        timeout=timeout,
        keep=bool(live),
    )
    cex = ex.violations.get(prop)
    liveness = Liveness()
    if cex is None and live and ex.complete:
        deadline = None if timeout is None else start + timeout
        try:
            liveness = check_obligations(CalmGraph(comp, ex, deadline), live)
        except OutOfTime:
            ex.complete, ex.timed_out = False, True
    lasso = liveness.violation
    ex.visited = None  # the graph is no longer needed: let it go
    seconds = time.monotonic() - start
    wit = ex.witnesses.get(prop)
    for p in (cex, wit):
        if p is not None:
            replay(comp, p)
    if cex is not None and not ends_violating(comp, system, prop, cex):
        raise EngineError("explicit: counterexample does not end in a violating state")
    if wit is not None and not ends_witnessing(comp, system, prop, wit):
        raise EngineError("explicit: witness path does not end in a witness state")
    reached = full_depth(ex, depth)

    def result(verdict: Verdict, depth: int, detail: str) -> Result:
        return Result(
            protocol=system.protocol,
            faults=system.faults.name,
            property=prop,
            verdict=verdict,
            engine="explicit",
            depth=depth,
            seconds=seconds,
            counterexample=cex,
            witness=wit,
            certificate=None,
            states=ex.states,
            detail=detail,
            liveness=not live or (ex.complete and cex is None) or lasso is not None,
        )

    if cex is not None:
        return result(
            "violated", len(cex), f"violated after {len(cex)} steps ({ex.states} states explored)"
        ), ex
    if lasso is not None:
        cex = lasso.path
        return result(
            "violated", len(cex), f"{lasso_detail(lasso)} ({ex.states} states explored)"
        ), ex
    if liveness.capacity is not None:
        why = (
            f"undecided at channel capacity {system.faults.capacity}: "
            f"{lasso_detail(liveness.capacity)}, but only because every step that would go "
            "on must send into a full channel (the model's bound, not the protocol's); "
            "a larger capacity, or timers that do not fire while their frame is in flight, "
            "may decide it"
        )
        return result("inconclusive", ex.depth, why), ex
    if ex.complete:
        if wit is None:
            statement = system.properties[prop].witness_statement
            return result("vacuous", ex.depth, f"the witness ({statement}) is unreachable"), ex
        return result(
            "proved", ex.depth, f"all {ex.states} reachable states explored (depth {ex.depth})"
        ), ex
    if ex.timed_out:
        cap = f"time limit after {ex.states} states"
    elif ex.states >= max_states:
        cap = f"stopped at {ex.states} states"
    else:
        cap = "depth limit"
    note = f"holds up to depth {reached} ({cap})"
    if live:  # a fair cycle can only be ruled out on the whole state space
        why = f"no violation of the safety part up to depth {reached} ({cap}); the liveness "
        return result("inconclusive", reached, why + "part needs the whole state space"), ex
    if wit is None:
        if ex.states >= max_states or ex.timed_out:
            # the cap, not the protocol, stopped the search short of the witness
            why = f"{note}, but the search stopped before reaching the witness"
            return result("inconclusive", reached, why), ex
        return result("vacuous", reached, f"{note}; the witness is not reachable within it"), ex
    if ex.timed_out:  # a time limit is never a "holds": say what was reached
        return result("inconclusive", reached, note), ex
    return result("holds", reached, note), ex
