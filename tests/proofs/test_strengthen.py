"""Cheap invariants (proofs/strengthen.py) and the unbounded engines that assume them.

What used to happen: Spacer never finished alternating bit's no-loss (message 1's
conjunct ran past 120 s), and k-induction stopped at its depth bound ("not 12-inductive")
on every retrying protocol.  The strengthening is sound only because Houdini checks it:
the tests below hand the engines deliberately wrong lemmas and require the truth."""

from __future__ import annotations

import pytest
from environment_cases import system as environment_system

from ackproof.proofs import check
from ackproof.proofs.certificate import recheck
from ackproof.proofs.kinduction import kinduction
from ackproof.proofs.pdr import spacer
from ackproof.proofs.result import EngineName
from ackproof.proofs.strengthen import guess, houdini, infer
from ackproof.spec import System, explore
from ackproof.spec import expr as E
from ackproof.spec.examples import EXAMPLES
from ackproof.spec.protocols import BUILTIN


def _slot(s: System, name: str) -> E.Expr:
    i = [sl.name for sl in s.slots].index(name)
    sl = s.slots[i]
    return E.slot(i, sl.sort, sl.lo, sl.hi, enum=None, ghost=False)


def test_the_inferred_invariant_is_inductive_and_decides_alternating_bit() -> None:
    s = EXAMPLES["alternating-bit"].system(2)
    st = infer(s, timeout=60)
    assert st.clauses
    assert st.sampled == 67  # the whole reachable state space
    for prop in ("no-loss", "no-duplicate", "no-phantom", "in-order"):
        assert recheck(s, st.invariant, s.properties[prop].invariant).ok, prop


def test_guessed_clauses_hold_on_every_sampled_state() -> None:
    s = BUILTIN["exactly-once"].system(2)
    ex = explore(s, [], keep=True, packed=False)
    assert ex.visited is not None
    states = list(ex.visited)
    cubes = guess(s, states)
    assert cubes
    for cube in cubes:
        assert not any(all(st[i] == v for i, v in cube) for st in states), cube


def test_houdini_drops_a_wrong_lemma_and_keeps_the_true_ones() -> None:
    s = BUILTIN["exactly-once"].system(2)
    # holds initially, but submitting message 0 breaks it
    wrong = E.not_(_slot(s, "submitted[0]"))
    right = infer(s, timeout=60).clauses  # an inductive set
    assert right
    kept = houdini(s, [wrong, *right], timeout=60)
    assert kept is not None
    assert len(kept) == len(right)
    assert all(a is b for a, b in zip(kept, right, strict=True))


def test_a_wrong_assumed_lemma_cannot_make_k_induction_prove_a_violated_property() -> None:
    """Assuming no-duplicate itself would make its step case trivially unsat at k = 1;
    Houdini must drop it, and the base case must still find the 4-step duplicate."""
    s = BUILTIN["at-least-once"].system(2)
    bogus = s.properties["no-duplicate"].invariant
    out = kinduction(s, "no-duplicate", max_k=8, timeout=60, strengthen=False, assume=[bogus])
    assert out.status == "violated"
    assert out.k == 4


def test_a_true_assumed_lemma_is_used_and_recorded_in_the_certificate() -> None:
    s = BUILTIN["exactly-once"].system(2)
    inv = infer(s, timeout=60).invariant
    out = kinduction(s, "no-duplicate", max_k=8, timeout=60, strengthen=False, assume=[inv])
    assert out.status == "proved"
    assert out.certificate is not None


@pytest.mark.parametrize("prop", ["no-loss", "no-duplicate"])
def test_pdr_proves_alternating_bit_with_a_certificate(prop: str) -> None:
    s = EXAMPLES["alternating-bit"].system(2)
    out = spacer(s, prop, timeout=120)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert recheck(s, out.certificate.invariant, s.properties[prop].invariant).ok


@pytest.mark.parametrize(
    ("name", "n", "prop"),
    [
        ("alternating-bit", 2, "no-loss"),
        ("exactly-once", 3, "no-loss"),
        ("exactly-once", 2, "no-duplicate"),
    ],
)
def test_k_induction_converges_on_retrying_protocols(name: str, n: int, prop: str) -> None:
    pdef = EXAMPLES[name] if name in EXAMPLES else BUILTIN[name]
    s = pdef.system(n)
    assert kinduction(s, prop, max_k=12, timeout=120, strengthen=False).status == "bounded"
    out = kinduction(s, prop, max_k=12, timeout=120)
    assert out.status == "proved", out.detail


#: no-loss is left out: its response obligations go through the liveness-to-safety system,
#: which neither engine decides in time yet (its invariant is proved above).
@pytest.mark.parametrize("engine", ["pdr", "kinduction"])
@pytest.mark.parametrize("prop", ["no-duplicate", "no-phantom", "in-order"])
def test_the_unbounded_engines_agree_with_explicit_on_alternating_bit(
    engine: EngineName, prop: str
) -> None:
    s = EXAMPLES["alternating-bit"].system(2)
    want = check(s, prop, engine="explicit")
    got = check(s, prop, engine=engine, timeout=120)
    assert want.verdict == "proved"
    assert got.verdict == "proved", got.detail


def test_the_broken_reordering_variant_is_still_caught() -> None:
    """The strengthening must not hide a real violation (no inductive set holds there)."""
    s = EXAMPLES["alternating-bit-reordering"].system(2)
    want = check(s, "no-duplicate", engine="explicit")
    assert want.verdict == "violated"
    assert want.counterexample is not None
    engines: tuple[EngineName, ...] = ("pdr", "kinduction")
    for engine in engines:
        got = check(s, "no-duplicate", engine=engine)
        assert got.verdict == "violated", (engine, got.detail)
        assert got.counterexample is not None
        assert len(got.counterexample) == len(want.counterexample)


@pytest.mark.parametrize(
    ("name", "prop"),
    [
        ("library:consumer-processed-key-ttl-longer", "no-duplicate"),
        ("library:kafka-producer-retries-inflight1", "no-duplicate"),
    ],
)
def test_pdr_reports_a_violation_the_sample_reaches_with_the_shortest_path(
    name: str, prop: str
) -> None:
    """When Spacer stalls and the breadth-first sample already holds a violating state,
    pdr says violated (BMC then finds the shortest path); the first row was inconclusive
    at 10 s before."""
    s = environment_system(name)
    want = check(s, prop, engine="explicit")
    got = check(s, prop, engine="pdr", depth=12, timeout=30)
    assert want.verdict == got.verdict == "violated", got.detail
    assert want.counterexample is not None
    assert got.counterexample is not None
    assert len(got.counterexample) == len(want.counterexample)
