"""Partial-order reduction (``spec/por.py``) is sound where it is used: invariant-only
property sets, complete searches.

On every built-in, broken variant, example, library protocol and environment case, the
reduced search reaches a subset of the full search's states and gives every invariant-only
property the same verdict (violated or not, witness reached or not); its paths are real
runs.  Hand-built systems pin what it must not reduce (a dependency through a guard), what
it must reduce (two independent counters) and the cycle proviso (an invisible cycle must not
hide a visible action).
"""

from __future__ import annotations

from dataclasses import replace

import environment_cases as env
import pytest
from proofs_testing import PROTOCOLS, system

from ackproof.proofs import explicit
from ackproof.spec import System, explore
from ackproof.spec.expr import Expr, and_, const, lt, max_, not_, or_, slot
from ackproof.spec.faults import Faults
from ackproof.spec.interp import compile_system
from ackproof.spec.library import LIBRARY
from ackproof.spec.por import Independence, explore_por, invariant_only
from ackproof.spec.protocols import BROKEN, BUILTIN
from ackproof.spec.system import Action, Check, HistorySlots, Property, Slot

#: Library entries whose searches take seconds (tens of thousands of states): ``-m slow``.
SLOW_LIBRARY = {
    "nats-msg-id-window-2m",
    "nats-msg-id-window-3m-retries-3m",
    "outbox-relay",
    "outbox-relay-inbox",
    "sqs-fifo-window-5m",
    "textbook-sr-w3-m4",
}


def _invariant_only(s: System) -> list[str]:
    return [p for p in s.properties if not s.properties[p].eventually]


def _agrees(s: System) -> None:
    """The reduced search against the full one on ``s``'s invariant-only properties."""
    props = _invariant_only(s)
    comp = compile_system(s)
    full = explore(s, props, compiled=comp, graph=True)
    red = explore_por(s, props, compiled=comp, keep=True)
    assert full.complete
    assert red.complete
    assert set(red.violations) == set(full.violations)
    assert set(red.witnesses) == set(full.witnesses)
    assert full.keys is not None
    assert red.keys is not None
    assert set(red.keys) <= set(full.keys)
    assert red.states == len(red.keys) <= full.states
    inv = {p: comp.predicate(s.properties[p].invariant) for p in props}
    wit = {p: comp.predicate(s.properties[p].witness) for p in props}
    for paths, bad in ((red.violations, True), (red.witnesses, False)):
        for p, path in paths.items():
            cur = path.initial
            for a, t in path.steps:  # a run of the system, step by step
                assert comp.step(cur, a) == t
                cur = t
            assert (not inv[p](cur)) if bad else wit[p](cur), p


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_reduced_search_agrees_on_every_builtin_broken_variant_and_example(name: str) -> None:
    _agrees(system(name))


@pytest.mark.parametrize("name", ["at-most-once", "exactly-once"])
def test_reduced_search_agrees_on_the_builtins_at_three_messages(name: str) -> None:
    _agrees(BUILTIN[name].system(3))


@pytest.mark.parametrize(
    "name",
    [
        e.name if e.name not in SLOW_LIBRARY else pytest.param(e.name, marks=pytest.mark.slow)
        for e in LIBRARY
    ],
)
def test_reduced_search_agrees_on_every_library_protocol(name: str) -> None:
    e = next(e for e in LIBRARY if e.name == name)
    _agrees(e.protocol.system(e.bound))


@pytest.mark.parametrize(
    "name",
    [n if c.fast else pytest.param(n, marks=pytest.mark.slow) for n, c in env.CASES.items()],
)
def test_reduced_search_agrees_on_every_environment_case(name: str) -> None:
    _agrees(env.system(name))


def test_a_broken_variant_is_still_caught_with_its_shortest_counterexample() -> None:
    """A violation met by the reduced search is real; the engine reports the shortest one
    (found again by the full search)."""
    caught = 0
    for name in sorted(BROKEN):
        s = system(name)
        props = _invariant_only(s)
        plain, _ = explicit.run_all(s, props)
        reduced, _ex = explicit.run_all(s, props, por=True)
        for p in props:
            assert reduced[p].verdict == plain[p].verdict, (name, p)
            if plain[p].verdict == "violated":
                assert reduced[p].depth == plain[p].depth, (name, p)
                caught += 1
        assert explore_por(s, props).violations.keys() == explore(s, props).violations.keys()
    assert caught >= 3


def test_the_engine_proves_with_the_reduced_search_and_says_so() -> None:
    s = BUILTIN["exactly-once"].system(2)
    props = ["no-duplicate", "no-phantom"]
    plain, _ = explicit.run_all(s, props)
    reduced, ex = explicit.run_all(s, props, por=True)
    assert ex.reduced is not None
    for p in props:
        assert plain[p].verdict == reduced[p].verdict == "proved"
        assert "partial-order reduction" in reduced[p].detail
        assert "partial-order reduction" not in plain[p].detail


def test_no_reduction_with_liveness_or_a_depth_limit() -> None:
    """Response obligations need the full state graph; a depth-limited "holds" is not
    preserved by the reduction: both take the ordinary search."""
    s = BUILTIN["at-least-once"].system(2)
    assert not invariant_only(s, ["no-loss"])
    _, ex = explicit.run_all(s, ["no-loss", "no-phantom"], por=True)
    assert ex.reduced is None
    _, ex = explicit.run_all(s, ["no-phantom"], por=True, depth=3)
    assert ex.reduced is None
    with pytest.raises(ValueError, match="invariants only"):
        explore_por(s, ["no-loss"])


# -- hand-built systems -----------------------------------------------------------------------
def _toy(
    names: list[tuple[str, int]], actions: list[tuple[str, Expr, list[tuple[int, Expr]]]]
) -> tuple[System, list[Expr]]:
    """Slots ``names`` (name, hi: 1 is a bool), actions (label, guard, updates) and one
    property ``safe``: the last slot (``bad``) stays false; its witness: always true."""
    slots = tuple(
        Slot(i, n, "bool" if hi == 1 else "int", 0, hi, False if hi == 1 else 0, "toy")
        for i, (n, hi) in enumerate(names)
    )
    acts = tuple(
        Action(k, "timer", label, guard, tuple(updates))
        for k, (label, guard, updates) in enumerate(actions)
    )
    bad = len(slots) - 1
    safe = Property("safe", "never bad", not_(_leaf(slots, bad)), const(True), "always")
    s = System(
        protocol="toy",
        messages=0,
        faults=Faults(),
        slots=slots,
        actions=acts,
        properties={"safe": safe},
        channels=(),
        nodes=("toy",),
        history=HistorySlots((), (), (), order_broken=bad),
    )
    return s, [_leaf(slots, i) for i in range(len(slots))]


def _leaf(slots: tuple[Slot, ...], i: int) -> Expr:
    sl = slots[i]
    return slot(i, sl.sort, sl.lo, sl.hi, enum=None, ghost=False)


def test_no_reduction_through_a_guard() -> None:
    """``set_a`` and ``set_b`` touch different slots, but ``fire`` (visible) reads both in
    one guard conjunct: whichever is taken first enables it, so neither may be deferred.
    A reduction blind to guards would take ``set_a`` alone and then ``set_b`` (``fire``
    disabled again) and miss ``bad``."""
    names = [("a", 1), ("b", 1), ("bad", 1)]
    _, (a, b, _) = _toy(names, [])
    fire_when = or_(and_(a, not_(b)), and_(b, not_(a)))
    s, _ = _toy(
        names,
        [
            ("set_a", not_(a), [(0, const(True))]),
            ("set_b", not_(b), [(1, const(True))]),
            ("fire", fire_when, [(2, const(True))]),
        ],
    )
    ind = Independence.of(s, ["safe"])
    assert ind.invisible == (True, True, False)
    comp = compile_system(s)
    init = s.initial()
    for seed in (0, 1):  # from either seed, the stubborn set holds both: no proper subset
        assert ind.stubborn(seed, frozenset({0, 1}), lambda e: comp.predicate(e)(init)) is None
    full = explore(s, ["safe"])
    red = explore_por(s, ["safe"])
    assert red.reduced == 0
    assert (red.states, red.complete) == (full.states, True)
    assert len(red.violations["safe"]) == len(full.violations["safe"]) == 2


def test_independent_counters_are_reduced() -> None:
    """Two invisible counters that share nothing: one order of their increments is enough
    (5 states of the 9 combinations), and the property is still proved."""
    names = [("x", 2), ("y", 2), ("bad", 1)]
    _, (x, y, _) = _toy(names, [])
    s, _ = _toy(
        names,
        [
            ("inc_x", lt(x, 2), [(0, x + 1)]),
            ("inc_y", lt(y, 2), [(1, y + 1)]),
        ],
    )
    full = explore(s, ["safe"])
    red = explore_por(s, ["safe"])
    assert (full.states, red.states) == (9, 5)
    assert red.complete
    assert not red.violations
    res, _ = explicit.run_all(s, ["safe"], por=True)
    assert res["safe"].verdict == "proved"


def test_an_invisible_cycle_does_not_hide_a_visible_action() -> None:
    """``flip`` toggles ``x`` for ever and is independent of ``fire``: a reduced search
    that always took ``flip`` alone would close the cycle and never ``fire``.  The cycle
    proviso expands the state that closes it in full."""
    names = [("x", 1), ("bad", 1)]
    _, (x, bad) = _toy(names, [])
    s, _ = _toy(
        names,
        [
            ("flip", const(True), [(0, not_(x))]),
            ("fire", not_(bad), [(1, const(True))]),
        ],
    )
    assert Independence.of(s, ["safe"]).invisible == (True, False)
    red = explore_por(s, ["safe"])
    assert red.complete
    assert "safe" in red.violations
    assert red.reduced is not None
    assert red.reduced >= 1


def test_an_action_that_can_fail_is_never_deferred() -> None:
    """A well-formedness check (or an update that may leave its slot's range) is an error
    the full search would meet: such an action counts as visible."""
    names = [("x", 3), ("bad", 1)]
    _, (x, _) = _toy(names, [])
    s, _ = _toy(
        names,
        [
            ("reset", const(True), [(0, const(0))]),
            ("grow", const(True), [(0, x + 1)]),  # 1..4: may leave 0..3
            ("dec", lt(0, x), [(0, max_(x - 1, 0))]),
        ],
    )
    checked = replace(s.actions[2], checks=(Check(lt(x, 3), "x below 3"),))
    assert Independence.of(s, ["safe"]).invisible == (True, False, True)
    s = replace(s, actions=(*s.actions[:2], checked))
    assert Independence.of(s, ["safe"]).invisible == (True, False, False)


# -- the independence relation, checked on the reachable states ------------------------------
def _independence_holds(s: System) -> int:
    """Every pair the relation calls independent, in every reachable state where both are
    enabled: neither disables the other, and both orders reach the same state.  Returns
    how many such (state, pair) cases were checked."""
    ind = Independence.of(s, _invariant_only(s))
    comp = compile_system(s)
    ex = explore(s, keep=True, packed=False)
    assert ex.visited is not None
    checked = 0
    for state in ex.visited:
        succ = dict(comp.successors(state))
        for a, ta in succ.items():
            for b, tb in succ.items():
                if b <= a or b in ind.dependent[a]:
                    continue
                ab, ba = comp.step(ta, b), comp.step(tb, a)
                assert ab is not None, (s.actions[a].label, "disables", s.actions[b].label)
                assert ba is not None, (s.actions[b].label, "disables", s.actions[a].label)
                assert ab == ba, (s.actions[a].label, s.actions[b].label)
                checked += 1
    return checked


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_independent_actions_commute_on_every_reachable_state(name: str) -> None:
    _independence_holds(system(name))


def test_independence_counts_a_send_and_a_delivery_on_one_bag_as_commuting() -> None:
    """Sharing a channel's count makes two moves dependent by read/write sets alone; a
    retransmission (adds a copy under the capacity bound) and a delivery (takes one when
    there is one) commute; a loss and a delivery (both take the same copy) do not."""
    s = BUILTIN["at-least-once"].system(2)
    ind = Independence.of(s, _invariant_only(s))
    label = {a.label: a.index for a in s.actions}
    resend = label["sender timer retransmit(0)"]
    deliver = label["receiver <- DATA(msg=0)"]
    lose = label["network loses DATA(msg=0) on sender->receiver"]
    assert deliver not in ind.dependent[resend]
    assert deliver in ind.dependent[lose]
    assert _independence_holds(s) > 1000
