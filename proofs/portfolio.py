"""From a check to verdicts: which engine runs what, and the checks every verdict passes.

``explicit`` decides every property of a check in one exploration; ``bmc``, ``pdr`` and
``kinduction`` run property by property (:func:`~.engines.run_z3`); ``auto`` races the two
routes (:mod:`.auto`).  Whatever the engine, a no-loss counterexample is re-checked before
it is shown (:mod:`.loss`): a message that can still be processed is not lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ackproof.spec import System
from ackproof.spec.interp import compile_system

from . import explicit
from .auto import check_auto
from .budget import Clock
from .loss import LOSS_RECHECK_SECONDS, check_loss_is_real
from .result import ENGINES, Result

#: The engines that are z3 alone (``auto`` forks its symbolic route only when the explicit
#: search does not decide first: z3 is imported there, not at every start).
SYMBOLIC = tuple(e for e in ENGINES if e not in ("auto", "explicit"))


def check_all(
    system: System,
    props: Sequence[str],
    engine: str,
    depth: int,
    timeout: float | None,
    *,
    certify: bool = False,
) -> dict[str, Result]:
    """Every property of ``props`` on ``system`` with ``engine``, in one run where the
    engine allows (``timeout``: for the whole check, one :class:`~.budget.Clock` that
    every engine below is given)."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; use {', '.join(ENGINES)}")
    clock = Clock(timeout)
    comp = compile_system(system)
    if engine == "explicit":
        found, _ = explicit.run_all(system, props, compiled=comp, stop=clock.stop())
        results = {p: replace(r, seconds=clock.elapsed) for p, r in found.items()}
    elif engine == "auto":
        results = check_auto(system, props, depth, clock, comp, certify=certify)
    else:
        from .engines import run_z3  # z3: see SYMBOLIC

        assert engine in SYMBOLIC
        results = {p: run_z3(system, p, engine, depth, clock, comp) for p in props}
    for p, r in results.items():
        cex = r.counterexample
        if p == "no-loss" and cex is not None and cex.calm is None:
            check_loss_is_real(comp, cex, clock.share(LOSS_RECHECK_SECONDS))
    return results


def check_with(system: System, prop: str, engine: str, depth: int, timeout: float | None) -> Result:
    return check_all(system, [prop], engine, depth, timeout)[prop]
