"""The packed explicit search against the tuple search it replaces.

The packed search (``explore(..., packed=True)``, the default) must visit the same states
in the same order as the tuple search (``packed=False``): same state and transition
counts, same depth, same shortest counterexamples and witnesses, same verdicts, the same
stopping point under a state cap or a ``stop`` hook, and the same state graph for the
liveness checks.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from proofs_testing import PROTOCOLS, system

from ackproof.proofs import explicit
from ackproof.spec import System, explore
from ackproof.spec.errors import StepError
from ackproof.spec.explore import Exploration
from ackproof.spec.expr import add, slot
from ackproof.spec.interp import compile_system
from ackproof.spec.library import LIBRARY
from ackproof.spec.packed import Layout, compile_packed
from ackproof.spec.protocols import BUILTIN

#: Library entries whose full search takes seconds: searched under a cap here.
CAP = 20_000


def _same(a: Exploration, b: Exploration) -> None:
    assert (a.states, a.transitions, a.depth, a.complete, a.timed_out) == (
        b.states,
        b.transitions,
        b.depth,
        b.complete,
        b.timed_out,
    )
    assert a.violations == b.violations
    assert a.witnesses == b.witnesses


def _both(s: System, **kw: object) -> tuple[Exploration, Exploration]:
    comp = compile_system(s)
    old = explore(s, compiled=comp, packed=False, **kw)  # type: ignore[arg-type]
    new = explore(s, compiled=comp, packed=True, **kw)  # type: ignore[arg-type]
    return old, new


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_same_search_on_every_builtin_broken_variant_and_example(name: str) -> None:
    old, new = _both(system(name))
    _same(old, new)
    assert new.complete


def test_the_comparison_covers_violations() -> None:
    """The suite above compares counterexamples, not only empty violation sets."""
    lengths = {}
    for name in ("fire-and-forget", "ack-before-persist", "mqtt-qos2-reordering"):
        old, new = _both(system(name))
        assert new.violations, name
        lengths[name] = {p: len(path) for p, path in new.violations.items()}
        assert lengths[name] == {p: len(path) for p, path in old.violations.items()}
    assert lengths["ack-before-persist"]["no-loss"] == 3


@pytest.mark.parametrize("entry", LIBRARY, ids=lambda e: e.name)
def test_same_search_on_the_library(entry) -> None:  # type: ignore[no-untyped-def]
    s = entry.protocol.system(entry.bound)
    old, new = _both(s, max_states=CAP)
    _same(old, new)
    for prop, n in entry.shortest.items():
        if new.complete or prop in new.violations:
            assert len(new.violations[prop]) == n


@pytest.mark.parametrize("cap", [2, 500, 1024, 1025, 2049])
def test_same_stopping_point_under_a_state_cap(cap: int) -> None:
    old, new = _both(BUILTIN["at-least-once"].system(3), max_states=cap)
    _same(old, new)
    assert new.states == cap
    assert not new.complete


@pytest.mark.parametrize("after", [1024, 3072])
def test_same_stopping_point_under_a_stop_hook(after: int) -> None:
    asked: dict[bool, list[int]] = {False: [], True: []}
    s = BUILTIN["exactly-once"].system(3)
    comp = compile_system(s)
    out = {}
    for packed in (False, True):

        def stop(n: int, packed: bool = packed) -> bool:
            asked[packed].append(n)
            return n >= after

        out[packed] = explore(s, compiled=comp, packed=packed, stop=stop)
    _same(out[False], out[True])
    assert asked[False] == asked[True]
    assert out[True].timed_out
    assert out[True].states == after


@pytest.mark.parametrize("depth", [0, 1, 5])
def test_same_search_under_a_depth_limit(depth: int) -> None:
    old, new = _both(BUILTIN["at-least-once"].system(2), max_depth=depth)
    _same(old, new)


def test_same_search_when_stopping_once_decided() -> None:
    props = ["no-loss", "no-duplicate"]
    old, new = _both(system("fire-and-forget"), properties=props, stop_when_decided=True)
    _same(old, new)
    assert set(new.violations) == set(props)
    assert not new.complete  # both broke before the end: the search stopped there


def test_same_state_graph_for_the_liveness_checks() -> None:
    old, new = _both(BUILTIN["at-least-once"].system(2), keep=True)
    assert old.visited is not None
    assert new.visited is not None
    assert list(old.visited.items()) == list(new.visited.items())


@pytest.mark.parametrize("name", ["at-least-once", "exactly-once", "mark-before-process"])
def test_same_verdicts_from_the_explicit_engine(name: str) -> None:
    s = system(name)
    old, _ = explicit.run_all(s, list(s.properties), packed=False)
    new, _ = explicit.run_all(s, list(s.properties), packed=True)
    assert set(old) == set(new) == set(s.properties)
    for p in s.properties:
        a, b = old[p], new[p]
        assert (a.verdict, a.depth, a.states, a.counterexample, a.witness) == (
            b.verdict,
            b.depth,
            b.states,
            b.counterexample,
            b.witness,
        ), p
    assert any(r.verdict == "violated" for r in new.values())


@pytest.mark.parametrize(
    "name",
    [
        "consumer-process-then-ack",
        "mqtt-qos2-reordering",
        "at-least-once",
        "exactly-once",
        "dedup-window-k1",
        "sliding-window-w3-m4",
        "textbook-gbn-w3-m3",
    ],
)
def test_packed_successors_are_the_interpreters_on_every_reachable_state(name: str) -> None:
    if name in PROTOCOLS:
        s = system(name)
    else:
        e = next(e for e in LIBRARY if e.name == name)
        s = e.protocol.system(e.bound)
    comp = compile_system(s)
    pk = compile_packed(s)
    ex = explore(s, compiled=comp, packed=False, keep=True)
    assert ex.visited is not None
    assert len(ex.visited) > 40
    calm = pk.calm()
    quiet = {a.index for a in s.calm_actions()}
    starving = [
        (a.index, comp.predicate(a.starved)) for a in s.calm_actions() if a.starved is not None
    ]
    starved_somewhere = False
    for state in ex.visited:
        packed = pk.layout.encode(state)
        assert pk.layout.decode(packed) == state
        got = [(a, pk.layout.decode(t)) for a, t in pk.succ(packed)]
        want = comp.successors(state)
        assert got == want
        out, starved = calm(packed)
        assert [(a, pk.layout.decode(t)) for a, t in out] == [x for x in want if x[0] in quiet]
        assert starved == tuple(a for a, p in starving if p(state))
        starved_somewhere |= bool(starved)
    assert starved_somewhere or name not in ("at-least-once", "exactly-once")


def test_packed_memory_is_smaller() -> None:
    old, new = _both(BUILTIN["exactly-once"].system(3))
    assert 0 < new.memory < old.memory / 2


def test_a_value_that_leaves_its_field_is_an_error_not_a_corruption() -> None:
    """An update with no range check of its own that overflows its field: the tuple
    interpreter would carry the out-of-range value on; the packed search refuses."""
    s = BUILTIN["at-most-once"].system(1)
    i = s.history.processed[0]
    deliver = next(a for a in s.actions if a.kind == "deliver" and a.crash_after is None)
    sl = s.slots[i]
    grown = add(slot(i, sl.sort, sl.lo, sl.hi, enum=None, ghost=False), 7)
    bad = replace(deliver, updates=((i, grown),), checks=())
    broken = replace(s, actions=tuple(bad if a is deliver else a for a in s.actions))
    with pytest.raises(StepError, match=r"processed\[0\] set to \d+, outside 0\.\.2"):
        explore(broken, packed=True)


def test_layout_refuses_a_value_outside_its_field() -> None:
    s = BUILTIN["at-most-once"].system(1)
    lay = Layout.of(s)
    state = list(s.initial())
    state[s.history.processed[0]] = 9
    with pytest.raises(ValueError, match="does not fit"):
        lay.encode(state)


_GRAPH_CASES = ["at-least-once", "mqtt-qos2-reordering", "dedup-window-k1"] + [
    e.name for e in LIBRARY if e.name != "textbook-sr-w3-m4"
]


@pytest.mark.parametrize("name", _GRAPH_CASES)
def test_same_liveness_graph_from_packed_states(name: str) -> None:
    """Every library protocol: a guard once emitted under the previous action's ranges
    dropped a reconnection from the fault-free graph of the connection-based ones."""
    from ackproof.proofs.calmgraph import CalmGraph

    if name in PROTOCOLS:
        s = system(name)
    else:
        e = next(e for e in LIBRARY if e.name == name)
        s = e.protocol.system(e.bound)
    comp = compile_system(s)
    old = explore(s, compiled=comp, packed=False, keep=True)
    new = explore(s, compiled=comp, graph=True)  # what the explicit engine keeps
    assert old.keys is None
    assert new.keys is not None
    assert new.visited is None  # no state decoded to a tuple up front
    a, b = CalmGraph(comp, old, None), CalmGraph(comp, new, None)
    assert a.states == b.states
    assert a.succ == b.succ
    assert a.starved == b.starved
    assert a.depth == b.depth
    assert any(b.succ)
    props = [p for p in s.properties.values() if p.eventually]
    exprs = [x for p in props for ob in p.eventually for x in (ob.goal, ob.trigger)][:6]
    assert a.truth(exprs) == b.truth(exprs)
    assert [a.stem(v) for v in range(0, a.n, 97)] == [b.stem(v) for v in range(0, b.n, 97)]


def test_guard_ranges_narrow_what_the_guard_says_and_no_more() -> None:
    from ackproof.spec.packsource import _implied

    s = BUILTIN["at-least-once"].system(2)
    data = [s.slot(f"sender->receiver#DATA(msg={m})").index for m in range(2)]
    submit = next(a for a in s.actions if a.label == "submit(m=0)")
    # ~submitted[0] & (DATA(0) + DATA(1) < 2): each count at most 1, nothing else narrowed
    assert _implied(submit.guard) == {data[0]: (0, 1), data[1]: (0, 1)}
    deliver = next(a for a in s.actions if a.label == "receiver <- DATA(msg=1)")
    got = _implied(deliver.guard)
    assert got[data[1]] == (1, 2)  # 0 < DATA(1)
    assert data[0] not in got
