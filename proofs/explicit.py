"""The explicit engine: breadth-first search over concrete states (``spec.explore``).

One exploration serves every property of a check.  Verdicts, per property:

* a violation found -> ``violated`` with the shortest counterexample (breadth-first);
* the whole reachable space visited, no violation -> ``proved`` (the system is finite, so
  exhaustion covers every depth; the evidence is the state count), or ``vacuous`` if the
  witness was never reached; a property with response obligations (liveness) is then
  decided on the state graph too, once for all of them (:mod:`.liveness`);
* with ``por`` (off by default: it does not pay on the shipped protocols, see
  ``docs/explicit.md``), a property set with no response obligation is first searched with
  partial-order reduction (:mod:`ackproof.spec.por`); a complete reduced search with no
  violation proves the properties (or finds them vacuous) on the reduced state space; any
  other outcome (a violation: its shortest counterexample; a stop) falls back to the
  ordinary search;
* stopped (the state cap, the depth limit, or the ``stop`` hook of the check's budget,
  :meth:`.budget.Clock.stop`: time, memory, a rival engine that already answered) ->
  ``holds`` up to the last fully explored depth, or ``inconclusive`` when the stop was not
  the depth limit or liveness is involved.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ackproof.spec import System, explore
from ackproof.spec.explore import Exploration
from ackproof.spec.interp import Compiled, compile_system
from ackproof.spec.por import explore_por, invariant_only

from .budget import Clock, Stop
from .calmgraph import CalmGraph, OutOfTime
from .liveness import Liveness, check_obligations, lasso_detail
from .result import EngineError, Result, Verdict, ends_violating, ends_witnessing, replay

#: The explicit engine's default state cap; ``auto`` uses a memory guard instead.
MAX_STATES = 2_000_000


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
    max_states: int = MAX_STATES,
    compiled: Compiled | None = None,
    timeout: float | None = None,
) -> tuple[Result, Exploration]:
    """Explore ``system`` for ``prop``; ``depth=None`` explores without a depth limit."""
    results, ex = run_all(
        system,
        [prop],
        depth=depth,
        max_states=max_states,
        compiled=compiled,
        stop=Clock(timeout).stop(),
    )
    return results[prop], ex


def run_all(
    system: System,
    props: Sequence[str],
    *,
    depth: int | None = None,
    max_states: int = MAX_STATES,
    compiled: Compiled | None = None,
    stop: Stop | None = None,
    packed: bool = True,
    por: bool = False,
) -> tuple[dict[str, Result], Exploration]:
    """One exploration of ``system`` for every property in ``props`` (``packed=False``:
    over tuple states, the reference the packed search is tested against; ``por``: try
    partial-order reduction first, see the module doc)."""
    start = time.monotonic()
    comp = compiled if compiled is not None else compile_system(system)
    live = [p for p in props if system.properties[p].eventually]
    ex = None
    if por and packed and depth is None and invariant_only(system, props):
        red = explore_por(
            system, props, max_states=max_states, compiled=comp, stop=stop, until_violation=True
        )
        if red.complete and not red.violations:
            ex = red
    if ex is None:
        ex = explore(
            system,
            list(props),
            max_states=max_states,
            max_depth=depth,
            compiled=comp,
            stop_when_decided=not live,
            stop=stop,
            keep=bool(live) and not packed,
            graph=bool(live),
            packed=packed,
        )
    graph = None
    lives: dict[str, Liveness] = {}
    if ex.complete:
        try:
            for p in live:
                if p in ex.violations:
                    continue
                if graph is None:
                    graph = CalmGraph(comp, ex, stop)
                lives[p] = check_obligations(graph, system.properties[p].eventually)
        except OutOfTime:
            ex.complete, ex.timed_out = False, True
    ex.visited = ex.keys = ex.links = None  # the graph is no longer needed: let it go
    seconds = time.monotonic() - start
    why = stop.reason if stop is not None else ""
    out = {
        p: _verdict(system, comp, ex, p, depth, max_states, lives.get(p), seconds, why)
        for p in props
    }
    return out, ex


def _verdict(
    system: System,
    comp: Compiled,
    ex: Exploration,
    prop: str,
    depth: int | None,
    max_states: int,
    liveness: Liveness | None,
    seconds: float,
    why_stopped: str,
) -> Result:
    live = bool(system.properties[prop].eventually)
    cex = ex.violations.get(prop)
    wit = ex.witnesses.get(prop)
    for p in (cex, wit):
        if p is not None:
            replay(comp, p)
    if cex is not None and not ends_violating(comp, system, prop, cex):
        raise EngineError("explicit: counterexample does not end in a violating state")
    if wit is not None and not ends_witnessing(comp, system, prop, wit):
        raise EngineError("explicit: witness path does not end in a witness state")
    reached = full_depth(ex, depth)
    lasso = liveness.violation if liveness is not None else None

    def result(verdict: Verdict, depth: int, detail: str, *, checked: bool = True) -> Result:
        return Result(
            protocol=system.protocol,
            faults=system.faults.name,
            property=prop,
            verdict=verdict,
            engine="explicit",
            depth=depth,
            seconds=seconds,
            counterexample=lasso.path if lasso is not None else cex,
            witness=wit,
            certificate=None,
            states=ex.states,
            detail=detail,
            liveness=checked,
        )

    if cex is not None:
        what = f"violated after {len(cex)} steps ({ex.states} states explored)"
        return result("violated", len(cex), what)
    if lasso is not None:
        what = f"{lasso_detail(lasso)} ({ex.states} states explored)"
        return result("violated", len(lasso.path), what)
    if liveness is not None and liveness.capacity is not None:
        why = (
            f"undecided at channel capacity {system.faults.capacity}: "
            f"{lasso_detail(liveness.capacity)}, but only because every step that would go "
            "on must send into a full channel (the model's bound, not the protocol's); "
            "a larger capacity, or timers that do not fire while their frame is in flight, "
            "may decide it"
        )
        return result("inconclusive", ex.depth, why)
    if ex.complete:
        if wit is None:
            statement = system.properties[prop].witness_statement
            return result("vacuous", ex.depth, f"the witness ({statement}) is unreachable")
        if ex.reduced is not None:
            what = (
                f"all {ex.states} states of the state space reduced by partial-order "
                f"reduction explored ({ex.reduced} by an ample set; depth {ex.depth}, {_mb(ex)})"
            )
        else:
            what = f"all {ex.states} reachable states explored (depth {ex.depth}, {_mb(ex)})"
        return result("proved", ex.depth, what)
    if ex.timed_out:
        cap = f"{why_stopped or 'stopped'} after {ex.states} states, {_mb(ex)}"
    elif ex.states >= max_states:
        cap = f"stopped at {ex.states} states, {_mb(ex)}"
    else:
        cap = "depth limit"
    note = f"holds up to depth {reached} ({cap})"
    if live:  # a fair cycle can only be ruled out on the whole state space
        why = f"no violation of the safety part up to depth {reached} ({cap}); the liveness "
        return result(
            "inconclusive", reached, why + "part needs the whole state space", checked=False
        )
    if wit is None:
        if ex.states >= max_states or ex.timed_out:
            # the cap, not the protocol, stopped the search short of the witness
            why = f"{note}, but the search stopped before reaching the witness"
            return result("inconclusive", reached, why)
        return result("vacuous", reached, f"{note}; the witness is not reachable within it")
    if ex.timed_out:  # a time limit is never a "holds": say what was reached
        return result("inconclusive", reached, note)
    return result("holds", reached, note)


def _mb(ex: Exploration) -> str:
    """The memory the visited set held, for a verdict's detail."""
    return f"{ex.memory / 2**20:.1f} MB of visited states"
