"""Run one obligation and decode its counterexample: the step every command shares."""

from __future__ import annotations

import time
from collections.abc import Sequence

from ackproof.interrupts import TimeLimit, time_limit
from ackproof.proofs import EngineName, Result, check_many
from ackproof.proofs.trace import Counterexample, decode
from ackproof.spec import System

#: The engines honour ``timeout`` themselves; a phase without a clock (compiling a large
#: instance, decoding) is stopped this long after it, as a backstop.
BACKSTOP = 2.0


def run_one(
    system: System,
    prop: str,
    *,
    engine: EngineName = "auto",
    depth: int = 30,
    timeout: float | None = None,
) -> tuple[Result, Counterexample | None]:
    """Check ``prop`` on ``system``; a counterexample is replayed and decoded.  Past the
    time limit (plus :data:`BACKSTOP`), or out of memory, the check is inconclusive."""
    return run_many(system, [prop], engine=engine, depth=depth, timeout=timeout)[prop]


def run_many(
    system: System,
    props: Sequence[str],
    *,
    engine: EngineName = "auto",
    depth: int = 30,
    timeout: float | None = None,
    certify: bool = False,
) -> dict[str, tuple[Result, Counterexample | None]]:
    """Check every property of ``props`` on ``system`` with one exploration (explicit,
    auto; :func:`ackproof.proofs.check_many`); ``timeout`` is per property, so the check
    as a whole gets ``timeout`` times their number.  Counterexamples are replayed and
    decoded; past the time limit (plus :data:`BACKSTOP`), or out of memory, every
    property not yet decided is inconclusive."""
    started = time.monotonic()
    budget = None if timeout is None else timeout * max(1, len(props))

    def inconclusive(prop: str, why: str) -> tuple[Result, None]:
        seconds = time.monotonic() - started
        detail = f"{why} after {seconds:.1f} s while checking {', '.join(props)}"
        return Result(
            system.protocol,
            system.faults.name,
            prop,
            "inconclusive",
            engine,
            depth,
            seconds,
            None,
            None,
            None,
            None,
            detail,
        ), None

    limit = None if budget is None else budget + BACKSTOP
    try:
        with time_limit(limit, f"checking {', '.join(props)}"):
            results = check_many(
                system, props, engine=engine, depth=depth, timeout=budget, certify=certify
            )
            out: dict[str, tuple[Result, Counterexample | None]] = {}
            for prop in props:
                result = results[prop]
                cx = None
                if result.counterexample is not None:
                    cx = decode(system, prop, result.counterexample)
                out[prop] = (result, cx)
    except TimeLimit:
        assert budget is not None
        why = f"timeout: the time limit ({budget:g} s) ran out"
        return {p: inconclusive(p, why) for p in props}
    except MemoryError:
        return {p: inconclusive(p, "out of memory") for p in props}
    return out
