"""Differential fuzzing: random well-formed protocols (``fuzz_protocols.designs``), every
engine against the explicit engine's exhaustive answer (``ackproof.agreement``, the
oracle the mutation suite uses too).

The default suite runs a few derandomized examples with tight engine budgets; the long
profile (``pytest -m slow tests/fuzz``) runs hundreds, randomized, with larger budgets.
A failure prints the design (plain data) and every disagreement."""

from __future__ import annotations

import pytest
from fuzz_protocols import Design, designs
from hypothesis import assume, given, settings

from ackproof.agreement import ENGINES, bmc_depth, disagreements, oracle
from ackproof.spec import SpecError


def _check(design: Design, timeout: float) -> None:
    try:
        system = design.protocol().system(design.messages)
    except SpecError:
        assume(False)  # rejected at definition time, with its reason: not for the engines
        raise
    truth = oracle(system)
    assume(truth.complete)
    found = disagreements(
        system, truth, engines=ENGINES, depth=bmc_depth(truth, 10), timeout=timeout
    )
    problems = [str(d) for d in found]
    truth_text = {p: str(o) for p, o in truth.outcomes.items()}
    assert not problems, f"{design}\noracle: {truth_text}\n" + "\n".join(problems)


@settings(settings.get_profile("fuzz-fast"))
@given(designs(max_messages=1))
def test_every_engine_agrees_with_the_explicit_engine_on_random_protocols(
    design: Design,
) -> None:
    _check(design, timeout=3.0)


@pytest.mark.slow
@settings(settings.get_profile("fuzz-long"))
@given(designs(max_messages=2))
def test_every_engine_agrees_with_the_explicit_engine_on_many_random_protocols(
    design: Design,
) -> None:
    _check(design, timeout=20.0)
