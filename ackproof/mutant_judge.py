"""Judging a mutant (:mod:`ackproof.mutants`): is it the original system again
(equivalent), does it fail to define or lower (stillborn), did a verdict of the oracle
change (killed) or not (survived) — and does every engine agree with the oracle on it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ackproof.agreement import ENGINES, Disagreement, Oracle, bmc_depth, disagreements, oracle
from ackproof.mutants import Mutant
from ackproof.proofs import EngineName
from ackproof.spec import ProtocolDef, System


def fingerprint(system: System) -> str:
    """The lowered system's meaning (slots, actions, properties, faults), not its prose:
    two protocols with the same fingerprint are the same transition system."""
    return repr((system.slots, system.actions, system.properties, system.channels, system.faults))


@dataclass(frozen=True)
class Judged:
    """One protocol of one mutant, checked: ``status`` is ``"equivalent"`` (the same
    lowered system as the original's: not run), ``"stillborn"`` (defining or lowering it
    fails), ``"killed"`` (some verdict of the oracle changed) or ``"survived"``."""

    mutant: Mutant
    protocol: str
    status: str
    changed: dict[str, tuple[str, str]]
    disagreements: tuple[Disagreement, ...] = ()
    note: str = ""

    def __str__(self) -> str:
        what = ", ".join(f"{p}: {a} -> {b}" for p, (a, b) in self.changed.items())
        return f"{self.mutant} [{self.protocol}] {self.status}" + (f": {what}" if what else "")


def judge(
    m: Mutant,
    originals: dict[str, ProtocolDef],
    *,
    messages: int = 1,
    engines: Sequence[EngineName] = ENGINES,
    depth_cap: int = 12,
    timeout: float = 30.0,
) -> list[Judged]:
    """Check every protocol of mutant ``m`` at ``messages`` messages: the oracle against
    the original protocol's (killed or survived), every engine against the oracle."""
    if m.error:
        return [Judged(m, "-", "stillborn", {}, note=m.error)]
    out: list[Judged] = []
    for name, pdef in sorted(m.protocols.items()):
        base = originals[name].system(messages)
        try:
            system = pdef.system(messages)
        except Exception as e:  # lowering the mutant failed: the kernel caught it
            out.append(Judged(m, name, "stillborn", {}, note=f"{type(e).__name__}: {e}"))
            continue
        if fingerprint(system) == fingerprint(base):
            out.append(Judged(m, name, "equivalent", {}))
            continue
        want, truth = _oracle_of(base), oracle(system)
        if not truth.complete:
            out.append(Judged(m, name, "survived", {}, note="explicit search incomplete"))
            continue
        changed = {
            p: (str(want.outcomes[p]), str(o))
            for p, o in truth.outcomes.items()
            if p in want.outcomes and want.outcomes[p].verdict != o.verdict
        }
        found = disagreements(
            system, truth, engines=engines, depth=bmc_depth(truth, depth_cap), timeout=timeout
        )
        status = "killed" if changed else "survived"
        out.append(Judged(m, name, status, changed, tuple(found)))
    return out


_ORACLES: dict[str, Oracle] = {}


def _oracle_of(system: System) -> Oracle:
    key = fingerprint(system)
    if key not in _ORACLES:
        _ORACLES[key] = oracle(system)
    return _ORACLES[key]
