"""What every engine returns: a :class:`Result`, and the checks every path passes first.

A verdict is one of

* ``proved`` — holds in every reachable state, for all depths (with evidence: a re-checked
  certificate, or an exhaustive explicit search and its state count);
* ``holds`` — no violation up to ``depth`` steps;
* ``violated`` — with a shortest counterexample that replays on the concrete interpreter;
* ``vacuous`` — no violation found, but the property's witness is unreachable (within the
  bound for ``holds``, at all for ``proved``): the check says nothing;
* ``inconclusive`` — a solver timeout, ``unknown``, or an engine that gave up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from ackproof.engine_names import ENGINES as ENGINES  # re-exported: defined once, there
from ackproof.engine_names import EngineName as EngineName
from ackproof.spec.explore import Path
from ackproof.spec.interp import Compiled
from ackproof.spec.system import System

Verdict: TypeAlias = Literal["proved", "holds", "violated", "inconclusive", "vacuous"]


class EngineError(Exception):
    """An engine contradicted itself (a path that does not replay, a certificate that
    does not re-check): a bug in ackproof, never a verdict about the protocol."""


@dataclass(frozen=True)
class Result:
    protocol: str
    faults: str
    property: str
    verdict: Verdict
    engine: str
    depth: int | None
    seconds: float
    counterexample: Path | None
    witness: Path | None
    certificate: str | None
    states: int | None
    detail: str
    #: The property's response obligations (liveness) were part of this verdict; false
    #: for a verdict about its invariant alone.
    liveness: bool = False


def replay(compiled: Compiled, path: Path) -> None:
    """Re-run ``path`` step by step on the concrete interpreter; :class:`EngineError` if
    the initial state is wrong, an action is disabled, or a successor differs."""
    system = compiled.system
    if path.initial != system.initial():
        raise EngineError(f"{system.protocol}: path does not start in the initial state")
    cur = path.initial
    for k, (a, after) in enumerate(path.steps, 1):
        if not 0 <= a < len(system.actions):
            raise EngineError(f"{system.protocol}: step {k} names no action ({a})")
        nxt = compiled.step(cur, a)
        if nxt is None:
            raise EngineError(
                f"{system.protocol}: step {k} ({system.actions[a].label}) is not enabled in "
                f"{system.show_state(cur)}"
            )
        if nxt != after:
            raise EngineError(
                f"{system.protocol}: step {k} ({system.actions[a].label}) leads to "
                f"{system.show_state(nxt)}, the engine claimed {system.show_state(after)}"
            )
        cur = nxt


def ends_violating(compiled: Compiled, system: System, prop: str, path: Path) -> bool:
    last = path.steps[-1][1] if path.steps else path.initial
    return not compiled.predicate(system.properties[prop].invariant)(last)


def ends_witnessing(compiled: Compiled, system: System, prop: str, path: Path) -> bool:
    last = path.steps[-1][1] if path.steps else path.initial
    return bool(compiled.predicate(system.properties[prop].witness)(last))
