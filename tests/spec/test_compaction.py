"""Bounded dedup state (``spec/examples/compaction.py``): the watermark scheme proved, its
prune-by-count sibling caught with the shortest counterexample, by two engines each."""

from __future__ import annotations

import pytest

from ackproof.proofs import check, replay
from ackproof.spec import compile_system, explore
from ackproof.spec.examples.compaction import (
    compaction,
    compaction_by_count,
    compaction_watermark,
)

EXACTLY_ONCE = ("no-loss", "no-duplicate", "no-phantom")


def test_the_watermark_scheme_is_exactly_once_by_exhaustive_search_with_witnesses() -> None:
    r = explore(compaction_watermark.system(), EXACTLY_ONCE)
    assert r.complete
    assert r.violations == {}
    assert set(r.witnesses) == set(EXACTLY_ONCE)  # not vacuous: a run processes every message


@pytest.mark.parametrize("prop", ["no-duplicate", "no-phantom"])
def test_the_watermark_scheme_is_proved_for_all_depths_by_pdr(prop: str) -> None:
    r = check(compaction_watermark.system(), prop, engine="pdr", timeout=120)
    assert r.verdict == "proved", r.detail
    assert r.certificate  # the inductive invariant, re-checked before it was reported


def test_compaction_actually_forgets_every_processed_id() -> None:
    """The state is bounded, not just correct: some reachable state has processed all three
    messages with the watermark at 3 and the sparse set empty."""
    system = compaction_watermark.system()
    slots = {s.name: s.index for s in system.slots}
    low = slots["receiver.low"]
    above = [slots[f"receiver.above[{i}]"] for i in range(3)]
    comp = compile_system(system)
    seen = {system.initial()}
    todo = [system.initial()]
    compacted = False
    while todo and not compacted:
        s = todo.pop()
        compacted = s[low] == 3 and not any(s[i] for i in above)
        for _, t in comp.successors(s):
            if t not in seen:
                seen.add(t)
                todo.append(t)
    assert compacted


def test_pruning_the_set_by_count_duplicates_in_seven_steps_on_both_engines() -> None:
    system = compaction_by_count.system()
    explicit = check(system, "no-duplicate", engine="explicit")
    bmc = check(system, "no-duplicate", engine="bmc", depth=10)
    assert explicit.verdict == bmc.verdict == "violated"
    assert explicit.counterexample is not None
    assert bmc.counterexample is not None
    assert len(explicit.counterexample) == len(bmc.counterexample) == 7
    replay(compile_system(system), bmc.counterexample)  # a real run of the model


def test_pruning_by_count_still_never_loses() -> None:
    """Forgetting an id duplicates; it never makes the receiver skip one."""
    r = explore(compaction_by_count.system(), ("no-loss", "no-phantom"))
    assert r.complete
    assert r.violations == {}


def test_a_count_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        compaction(prune_over=0)
