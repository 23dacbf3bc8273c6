"""Symmetry over message ids is detected on the lowered system, not assumed.

No shipped protocol is symmetric: the producer submits ids in order and in-order tracking
compares ids.  With both removed from at-least-once (a variant built here, by editing the
lowered system), the rest is symmetric — which shows the check can say yes — and breaking
one action or one property makes it say no again.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from proofs_testing import PROTOCOLS, system

from ackproof.spec import Expr, System, explore
from ackproof.spec.expr import and_, not_
from ackproof.spec.interp import compile_system
from ackproof.spec.library import LIBRARY
from ackproof.spec.ops import Leaf, Op
from ackproof.spec.protocols import BUILTIN
from ackproof.spec.symmetry import blocks, detect, explore_reduced


def unordered(s: System, *, tracking: bool = False) -> System:
    """``s`` with submission in any order and (unless ``tracking``) no in-order tracking
    nor property."""
    submitted = set(s.history.submitted)
    actions = []
    for a in s.actions:
        own = {i for i, _ in a.updates} & submitted

        def strip(e: Expr | None, own: set[int] = own) -> Expr | None:
            if e is None or e.op is not Op.AND:
                return e
            keep = [c for c in e.args if not (c.op is Leaf.SLOT and c.value in submitted - own)]
            return and_(*keep)

        guard, starved = a.guard, a.starved
        if a.kind == "submit":
            g = strip(guard)
            assert g is not None
            guard, starved = g, strip(starved)
        updates = tuple((i, v) for i, v in a.updates if tracking or i != s.history.order_broken)
        actions.append(replace(a, guard=guard, updates=updates, starved=starved))
    props = {k: v for k, v in s.properties.items() if tracking or k != "in-order"}
    return replace(s, actions=tuple(actions), properties=props)


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_no_builtin_variant_or_example_is_symmetric(name: str) -> None:
    s = system(name, 3)
    report = detect(s)
    assert not report.symmetric
    assert "not symmetric" in report.describe()


def test_no_library_protocol_is_symmetric() -> None:
    for e in LIBRARY:
        s = e.protocol.system(max(2, e.bound))
        assert not detect(s).symmetric, e.name


def test_ordered_submission_is_what_breaks_the_builtins() -> None:
    report = detect(BUILTIN["at-least-once"].system(3))
    bad = next(v for v in report.pairs if v.swap is None)
    assert bad.why == "no action is the image of 'submit(m=0)'"


@pytest.mark.parametrize("name", sorted(BUILTIN))
@pytest.mark.parametrize("n", [2, 3])
def test_without_ordered_submission_the_builtins_are_symmetric(name: str, n: int) -> None:
    s = unordered(BUILTIN[name].system(n))
    report = detect(s)
    assert report.symmetric, report.describe()
    for v in report.pairs:
        assert v.swap is not None
        assert sorted(v.swap.actions) == list(range(len(s.actions)))
        assert v.swap.slots != tuple(range(len(s.slots)))


def test_in_order_tracking_breaks_symmetry_too() -> None:
    """Processing ``m`` sets ``order_broken`` when a *larger* id was processed first."""
    s = unordered(BUILTIN["at-least-once"].system(2), tracking=True)
    report = detect(s)
    assert not report.symmetric
    bad = next(v for v in report.pairs if v.swap is None)
    assert bad.why.startswith("no action is the image of 'receiver <- DATA(msg=0)")


def test_one_asymmetric_guard_is_found() -> None:
    s = unordered(BUILTIN["exactly-once"].system(2))
    deliver = next(a for a in s.actions if a.kind == "deliver" and a.crash_after is None)
    first = s.history.submitted[0]
    sl = s.slots[first]
    from ackproof.spec.expr import slot

    extra = slot(first, sl.sort, sl.lo, sl.hi, enum=None, ghost=False)
    skewed = replace(deliver, guard=and_(deliver.guard, not_(extra)))
    broken = replace(s, actions=tuple(skewed if a is deliver else a for a in s.actions))
    report = detect(broken)
    assert not report.symmetric
    assert deliver.label in report.describe()


def test_swap_from_the_ids_each_slot_is_about() -> None:
    s = BUILTIN["at-least-once"].system(2)
    perm = s.id_swap(0, 1)
    assert perm is not None
    names = [s.slots[k].name for k in perm]
    assert names[s.slots.index(s.slot("submitted[0]"))] == "submitted[1]"
    assert names[s.slots.index(s.slot("order_broken"))] == "order_broken"


def test_a_fifo_position_is_not_a_message_id() -> None:
    # Slot names parsed for ids read "sender->receiver[0]" (position 0) as message 0.
    from ackproof.spec.examples import alternating_bit

    s = alternating_bit.system(2)
    fifo = [sl for sl in s.slots if sl.owner.startswith("net:")]
    assert fifo
    assert all(sl.msgs == () for sl in fifo)
    assert s.slot("submitted[1]").msgs == (1,)


# -- the reduced search on the symmetric variants -------------------------------------------
@pytest.mark.parametrize(
    ("name", "n"),
    [(name, 2) for name in sorted(BUILTIN)] + [("exactly-once", 3), ("at-most-once", 3)],
)
def test_reduced_search_agrees_with_the_full_one(name: str, n: int) -> None:
    s = unordered(BUILTIN[name].system(n))
    structure = blocks(s, detect(s))
    assert structure is not None
    comp = compile_system(s)
    full = explore(s, compiled=comp, packed=False, keep=True)
    reduced = explore_reduced(s, structure, compiled=comp)
    assert full.complete
    assert reduced.complete
    assert full.visited is not None
    # one representative per orbit of the reachable states
    assert reduced.states == len({structure.canonical(t) for t in full.visited})
    assert reduced.states < full.states
    assert set(reduced.violations) == set(full.violations)
    assert set(reduced.witnesses) == set(full.witnesses)
    for mine, theirs in (
        (reduced.violations, full.violations),
        (reduced.witnesses, full.witnesses),
    ):
        for p, path in mine.items():
            assert len(path) == len(theirs[p]), p
            cur = path.initial
            for a, t in path.steps:  # concrete: every step is a step of the full system
                assert comp.step(cur, a) == t
                cur = t
    inv = {p: comp.predicate(s.properties[p].invariant) for p in s.properties}
    for p, path in reduced.violations.items():
        assert not inv[p](path.steps[-1][1])


def test_the_reduced_search_finds_a_violation() -> None:
    s = unordered(BUILTIN["at-least-once"].system(2))
    structure = blocks(s, detect(s))
    assert structure is not None
    reduced = explore_reduced(s, structure)
    assert "no-duplicate" in reduced.violations
    assert len(reduced.violations["no-duplicate"]) == 4


def test_no_reduction_for_an_asymmetric_system() -> None:
    s = BUILTIN["at-least-once"].system(2)
    assert blocks(s, detect(s)) is None
