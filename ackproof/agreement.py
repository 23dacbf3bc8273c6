"""Differential checking: every engine's verdict against the explicit engine's exhaustive one.

The mutation suite (``tests/mutation``, ``benchmarks/mutation.py``) and the protocol fuzzer
(``tests/fuzz``) share this oracle.

Theory of operation
-------------------
The **oracle** is one complete explicit exploration (:func:`oracle`): every property of
the system, eventual delivery included, decided on the whole reachable state graph.  It is
only an oracle when the exploration is complete; a capped one is reported as such and
nothing is compared against it.

Each other engine (``bmc``, ``pdr``, ``kinduction``, ``auto``) then checks the same
properties within a depth and a time budget (:func:`engine_outcomes`), and
:func:`disagreements` lists every verdict that *contradicts* the oracle.  Running out of
budget is never a contradiction — ``inconclusive`` always agrees, and so does ``holds``
(no violation up to depth ``d``) when the oracle's shortest counterexample is longer than
``d`` — but a decisive verdict must match:

============  =================================================================
oracle        a contradiction
============  =================================================================
violated(L)   proved, vacuous, an ill-formed step; ``holds`` to a depth >= L
              (the engine searched far enough and missed it); for ``bmc``, a
              counterexample of another length than L (BMC's is the shortest)
proved        violated, vacuous, an ill-formed step
vacuous       violated, proved, holds (the witness is unreachable: no engine may
              have reached it), an ill-formed step
ill-formed    any verdict but inconclusive and holds (every engine reports the
              earliest reachable out-of-range step, as a ``StepError``)
rejected(L)   any verdict but inconclusive and holds to a depth < L (no-loss only: its
              shortest counterexample, of L steps, still processes the message later, so
              every engine stops with the ``SpecError`` that says a ``holds()`` claim is
              missing; the other properties are checked apart)
undecided     proved, violated, vacuous (the liveness part cannot be decided at this
              channel capacity: no engine can improve on that)
============  =================================================================

An engine that raises anything other than ``StepError`` or ``SpecError`` (``EngineError``,
an internal error) is always a disagreement: the checker contradicted itself.  The oracle
re-checks a no-loss counterexample the way every engine's check does
(:func:`~ackproof.proofs.loss.check_loss_is_real`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ackproof.proofs import EngineName, Result, check_many
from ackproof.proofs import explicit as explicit_engine
from ackproof.proofs.budget import Clock
from ackproof.proofs.loss import LOSS_RECHECK_SECONDS, check_loss_is_real
from ackproof.spec import System
from ackproof.spec.errors import SpecError, StepError
from ackproof.spec.interp import compile_system

#: Engines compared with the oracle, in the order they are run.
ENGINES: tuple[EngineName, ...] = ("bmc", "pdr", "kinduction", "auto")

#: Engines whose counterexamples are shortest by construction: their length must match.
SHORTEST: frozenset[str] = frozenset({"bmc"})


@dataclass(frozen=True)
class Outcome:
    """One property's answer from one engine, reduced to what is compared.

    ``verdict`` is a :data:`~ackproof.proofs.Verdict`, ``"ill-formed"`` (a reachable
    out-of-range step: ``StepError``), ``"rejected"`` (the check stopped with a
    ``SpecError`` naming the protocol's mistake, e.g. a no-loss counterexample whose
    message is still processed: a ``holds()`` claim is missing) or ``"error"`` (any
    other exception: the checker contradicted itself); ``length`` is
    the counterexample's length (violated) or the depth reached (holds)."""

    verdict: str
    length: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        if self.verdict in ("violated", "holds") and self.length is not None:
            return f"{self.verdict}({self.length})"
        return self.verdict


@dataclass(frozen=True)
class Oracle:
    """The explicit engine's exhaustive answer (``complete``: else it is no oracle)."""

    outcomes: dict[str, Outcome]
    complete: bool
    states: int
    diameter: int


@dataclass(frozen=True)
class Disagreement:
    """An engine's verdict that contradicts the oracle's, on one property."""

    engine: str
    property: str
    oracle: Outcome
    got: Outcome

    def __str__(self) -> str:
        why = f" — {self.got.detail}" if self.got.detail else ""
        return f"{self.engine} on {self.property}: {self.got}, the oracle says {self.oracle}{why}"


def _outcome(r: Result) -> Outcome:
    if r.verdict == "violated":
        cex = r.counterexample
        return Outcome("violated", len(cex) if cex is not None else r.depth, r.detail)
    if r.verdict == "holds":
        return Outcome("holds", r.depth, r.detail)
    return Outcome(r.verdict, None, r.detail)


def _all(props: Sequence[str], outcome: Outcome) -> dict[str, Outcome]:
    return dict.fromkeys(props, outcome)


def oracle(system: System, props: Sequence[str] | None = None) -> Oracle:
    """Every property of ``props`` (default: all the system's) by one explicit search."""
    ps = list(system.properties) if props is None else list(props)
    comp = compile_system(system)
    try:
        results, ex = explicit_engine.run_all(system, ps, compiled=comp)
    except StepError as e:
        return Oracle(_all(ps, Outcome("ill-formed", None, str(e))), True, 0, 0)
    outcomes = {p: _outcome(r) for p, r in results.items()}
    for p, r in results.items():
        if r.verdict == "inconclusive" and ex.complete:  # the channel capacity's bound
            outcomes[p] = Outcome("undecided", None, r.detail)
    loss = results.get("no-loss")
    cex = loss.counterexample if loss is not None else None
    if cex is not None and cex.calm is None:  # as every engine's check does
        try:
            check_loss_is_real(comp, cex, Clock(LOSS_RECHECK_SECONDS))
        except SpecError as e:
            outcomes["no-loss"] = Outcome("rejected", len(cex), str(e))
    return Oracle(outcomes, ex.complete, ex.states, ex.depth)


def engine_outcomes(
    system: System, props: Sequence[str], engine: EngineName, *, depth: int, timeout: float
) -> dict[str, Outcome]:
    """Every property of ``props`` by ``engine`` (one ``check_many`` call)."""
    try:
        results = check_many(system, props, engine=engine, depth=depth, timeout=timeout)
    except StepError as e:
        return _all(props, Outcome("ill-formed", None, str(e)))
    except SpecError as e:
        return _all(props, Outcome("rejected", None, str(e)))
    except Exception as e:  # the checker contradicting itself is what is looked for
        return _all(props, Outcome("error", None, f"{type(e).__name__}: {e}"))
    return {p: _outcome(r) for p, r in results.items()}


def contradicts(engine: str, want: Outcome, got: Outcome) -> bool:
    """Whether ``got`` (from ``engine``) contradicts the oracle's ``want`` (see the table
    in this module's docstring)."""
    if got.verdict == "error":
        return True
    if got.verdict == "inconclusive":
        return False
    match want.verdict:
        case "violated":
            if got.verdict == "violated":
                return engine in SHORTEST and got.length != want.length
            if got.verdict == "holds":
                return got.length is None or want.length is None or got.length >= want.length
            return True
        case "proved":
            return got.verdict not in ("proved", "holds")
        case "vacuous":
            return got.verdict != "vacuous"
        case "ill-formed":
            return got.verdict not in ("ill-formed", "holds")
        case "rejected":
            if got.verdict == "holds":
                return got.length is None or want.length is None or got.length >= want.length
            return got.verdict != "rejected"
        case "undecided":
            return True
    raise ValueError(f"not an oracle verdict: {want.verdict!r}")


def disagreements(
    system: System,
    truth: Oracle,
    *,
    engines: Sequence[EngineName] = ENGINES,
    depth: int,
    timeout: float,
) -> list[Disagreement]:
    """Every verdict of ``engines`` on ``system`` that contradicts ``truth``."""
    if not truth.complete:
        raise ValueError(f"{system.protocol}: the explicit search was not complete: no oracle")
    props = list(truth.outcomes)
    # a rejected no-loss stops a whole check: the other properties are checked apart
    rejected = [p for p in props if truth.outcomes[p].verdict == "rejected"]
    rest = [p for p in props if p not in rejected]
    found: list[Disagreement] = []
    for engine in engines:
        got: dict[str, Outcome] = {}
        for group in (rest, rejected):
            if group:
                got.update(engine_outcomes(system, group, engine, depth=depth, timeout=timeout))
        for p in props:
            if contradicts(engine, truth.outcomes[p], got[p]):
                found.append(Disagreement(engine, p, truth.outcomes[p], got[p]))
    return found


def bmc_depth(truth: Oracle, cap: int) -> int:
    """A BMC depth that reaches every shortest counterexample the oracle found (so that
    lengths can be compared) and the diameter where affordable, at most ``cap`` unless a
    counterexample needs more."""
    longest = max(
        (o.length or 0 for o in truth.outcomes.values() if o.verdict == "violated"), default=0
    )
    return max(longest, min(truth.diameter, cap))
