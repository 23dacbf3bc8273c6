"""Run one obligation and decode its counterexample: the step every command shares."""

from __future__ import annotations

from ackproof.proofs import EngineName, Result, check
from ackproof.proofs.trace import Counterexample, decode
from ackproof.spec import System


def run_one(
    system: System,
    prop: str,
    *,
    engine: EngineName = "auto",
    depth: int = 30,
    timeout: float | None = None,
) -> tuple[Result, Counterexample | None]:
    """Check ``prop`` on ``system``; a counterexample is replayed and decoded."""
    result = check(system, prop, engine=engine, depth=depth, timeout=timeout)
    cx = None
    if result.counterexample is not None:
        cx = decode(system, prop, result.counterexample)
    return result, cx
