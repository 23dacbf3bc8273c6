"""Mutation testing as a standing check: mutants of every shipped protocol, every engine
against the explicit engine's exhaustive answer (``ackproof.mutants``,
``ackproof.agreement``).

The default suite runs a fast subset (the machinery, the contradiction rules, the kill
rate of the built-ins, and every engine on the mutants of ``examples/my_exactly_once.py``);
``pytest -m slow tests/mutation`` runs every engine on every mutant, and
``python benchmarks/mutation.py`` prints the kill-rate table.
"""

from __future__ import annotations

from functools import cache

import pytest

from ackproof.agreement import ENGINES, Outcome, contradicts, oracle
from ackproof.mutant_judge import Judged, judge
from ackproof.mutants import (
    OPERATORS,
    Source,
    all_originals,
    mutant,
    mutants,
    original,
    shipped_sources,
    sites,
)
from ackproof.spec import ProtocolDef


def _source(stem: str) -> Source:
    (found,) = [s for s in shipped_sources() if s.path.stem == stem]
    return found


@cache
def _originals() -> dict[str, ProtocolDef]:
    return all_originals()


def _unknown(j: Judged) -> list[str]:
    """Every disagreement of ``j`` with the oracle (none is known and tolerated)."""
    return [f"{j.mutant} [{j.protocol}]: {d}" for d in j.disagreements]


def test_every_shipped_protocol_module_is_mutated() -> None:
    stems = {s.path.stem for s in shipped_sources()}
    assert {"_parts", "exactly_once", "broken", "dual_write", "my_exactly_once"} <= stems
    found = {s.operator for src in shipped_sources() for s in sites(src)}
    assert found == set(OPERATORS)


def test_a_helper_module_mutant_reaches_the_protocols_that_use_it() -> None:
    parts = _source("_parts")
    assert {"at-least-once", "exactly-once", "mark-before-process"} <= set(original(parts))
    (volatile,) = [s for s in sites(parts) if s.operator == "volatile"]
    m = mutant(parts, volatile.index)
    assert not m.error
    truth = oracle(m.protocols["exactly-once"].system(1))
    assert truth.outcomes["no-loss"].verdict == "violated"  # a sender crash forgets


@pytest.mark.parametrize(
    ("stem", "operator", "protocol", "prop", "now"),
    [
        ("exactly_once", "drop-atomic", "exactly-once", "no-duplicate", "violated"),
        ("exactly_once", "volatile", "exactly-once", "no-duplicate", "violated"),
        ("my_exactly_once", "drop-require", "my-exactly-once", "no-phantom", "violated"),
        # the receiver takes only ids it has taken: nothing is ever processed
        ("at_most_once", "drop-negation", "at-most-once", "no-duplicate", "vacuous"),
    ],
)
def test_a_classic_mistake_is_killed(
    stem: str, operator: str, protocol: str, prop: str, now: str
) -> None:
    src = _source(stem)
    (site,) = [s for s in sites(src) if s.operator == operator]
    (j,) = [
        j
        for j in judge(mutant(src, site.index), _originals(), engines=())
        if j.protocol == protocol
    ]
    assert j.status == "killed"
    assert prop in j.changed
    assert j.changed[prop][1].startswith(now)


def test_a_widened_holds_does_not_hide_a_loss() -> None:
    # mark-before-process loses a message; claiming to hold everything must not prove it
    src = _source("_parts")
    (site,) = [s for s in sites(src) if s.operator == "widen-holds"]
    m = mutant(src, site.index)
    truth = oracle(m.protocols["mark-before-process"].system(1))
    assert truth.outcomes["no-loss"].verdict == "violated"
    assert truth.outcomes["eventual-delivery"].verdict == "violated"


def test_a_mutant_that_cannot_be_defined_is_stillborn_not_an_error() -> None:
    src = _source("dedup_window")
    judged = [j for m in mutants(src) for j in judge(m, _originals(), engines=())]
    stillborn = [j for j in judged if j.status == "stillborn"]
    assert stillborn
    assert all(j.note for j in stillborn)


def test_the_built_ins_kill_rate() -> None:
    # Every mutant of the three built-ins' own modules changes a verdict or lowers to the
    # same system; a survivor there would be a mistake the checker cannot see.
    counted = []
    for stem in ("exactly_once", "at_most_once"):
        for m in mutants(_source(stem)):
            counted += [j for j in judge(m, _originals(), engines=()) if j.status != "equivalent"]
    killed = [j for j in counted if j.status == "killed"]
    assert len(counted) >= 5
    assert len(killed) / len(counted) >= 0.6, [str(j) for j in counted if j not in killed]


V = Outcome


@pytest.mark.parametrize(
    ("engine", "want", "got", "contradiction"),
    [
        ("bmc", V("violated", 3), V("violated", 3), False),
        ("bmc", V("violated", 3), V("violated", 4), True),
        ("pdr", V("violated", 3), V("violated", 4), False),
        ("bmc", V("violated", 3), V("holds", 2), False),
        ("bmc", V("violated", 3), V("holds", 3), True),
        ("pdr", V("violated", 3), V("proved"), True),
        ("pdr", V("violated", 3), V("vacuous"), True),
        ("pdr", V("proved"), V("violated", 2), True),
        ("pdr", V("proved"), V("vacuous"), True),
        ("bmc", V("proved"), V("holds", 9), False),
        ("kinduction", V("proved"), V("inconclusive"), False),
        ("bmc", V("vacuous"), V("holds", 4), True),
        ("bmc", V("vacuous"), V("vacuous"), False),
        ("pdr", V("undecided"), V("proved"), True),
        ("pdr", V("ill-formed"), V("violated", 5), True),
        ("pdr", V("ill-formed"), V("ill-formed"), False),
        ("bmc", V("rejected", 3), V("holds", 2), False),
        ("bmc", V("rejected", 3), V("violated", 3), True),
        ("auto", V("proved"), V("error"), True),
    ],
)
def test_what_contradicts_the_oracle(
    engine: str, want: Outcome, got: Outcome, contradiction: bool
) -> None:
    assert contradicts(engine, want, got) is contradiction


def test_every_engine_agrees_on_the_mutants_of_my_exactly_once() -> None:
    # The fast profile: every mutant by BMC and auto, three of them (a lost message, a
    # phantom, nothing ever processed) by PDR and k-induction too; every engine on every
    # mutant runs in the slow profile.
    src = _source("my_exactly_once")
    deep = {s.index for s in sites(src) if s.operator in ("volatile", "drop-negation")}
    problems: list[str] = []
    statuses = []
    for m in mutants(src):
        engines = ENGINES if m.site.index in deep else ("bmc", "auto")
        for j in judge(m, _originals(), engines=engines, timeout=4.0):
            statuses.append(j.status)
            problems += _unknown(j)
    assert not problems, "\n".join(problems)
    assert statuses.count("killed") >= 5


def _every_site() -> list[tuple[str, int]]:
    return [(src.path.stem, s.index) for src in shipped_sources() for s in sites(src)]


@pytest.mark.slow
@pytest.mark.parametrize(("stem", "site"), _every_site())
def test_every_engine_agrees_on_every_mutant(stem: str, site: int) -> None:
    m = mutant(_source(stem), site)
    problems = [
        p for j in judge(m, _originals(), engines=ENGINES, timeout=20.0) for p in _unknown(j)
    ]
    assert not problems, "\n".join(problems)
