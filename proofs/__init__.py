"""ackproof.proofs: proof engines over a lowered :class:`~ackproof.spec.System`.

One call checks one obligation (a system and a property)::

    from ackproof.proofs import check
    result = check(system, "no-duplicate", engine="auto", depth=30, timeout=60)

Engines: ``explicit`` (breadth-first search), ``bmc`` (z3, incremental unrolling),
``pdr`` (z3's Spacer, with a re-checked inductive invariant as certificate),
``kinduction`` (with simple-path constraints), and ``auto`` (a portfolio of them).
Only :mod:`ackproof.proofs.z3seam` imports z3.
"""

from __future__ import annotations

from collections.abc import Sequence

from ackproof.spec import System

from .portfolio import check_all, check_with
from .result import EngineError, EngineName, Result, Verdict, replay

__all__ = ["EngineError", "EngineName", "Result", "Verdict", "check", "check_many", "replay"]


def check(
    system: System,
    prop: str,
    *,
    engine: EngineName = "auto",
    depth: int = 30,
    timeout: float | None = None,
) -> Result:
    """Check ``prop`` (a key of ``system.properties``) on ``system`` with ``engine``.

    ``depth`` bounds the bounded engines (BMC, k-induction's search); ``timeout`` (seconds)
    bounds the z3 engines (the explicit engine is bounded by its state cap instead).
    """
    if prop not in system.properties:
        known = ", ".join(system.properties)
        raise ValueError(f"unknown property {prop!r} for {system.protocol}; use one of {known}")
    if depth < 0:
        raise ValueError(f"depth must be non-negative, got {depth}")
    return check_with(system, prop, engine, depth, timeout)


def check_many(
    system: System,
    props: Sequence[str],
    *,
    engine: EngineName = "auto",
    depth: int = 30,
    timeout: float | None = None,
    certify: bool = False,
) -> dict[str, Result]:
    """Check every property of ``props`` on ``system``: one exploration serves them all
    (explicit, auto); ``timeout`` bounds the whole check; ``certify``: an exhaustive proof
    under ``auto`` waits (within the time budget) for a re-checked inductive invariant."""
    unknown = [p for p in props if p not in system.properties]
    if unknown:
        known = ", ".join(system.properties)
        raise ValueError(
            f"unknown property {unknown[0]!r} for {system.protocol}; use one of {known}"
        )
    if depth < 0:
        raise ValueError(f"depth must be non-negative, got {depth}")
    return check_all(system, props, engine, depth, timeout, certify=certify)
