"""``auto`` is never worse than the best single engine at deciding, and never explores more
than ``--engine explicit`` where the explicit search decides.

Measured before the race existed: ``auto`` capped its explicit search at 100,000 states and
handed over to Spacer, so selective repeat (window 2 of 4 sequence numbers, capacity 4) and a
5-message selective repeat with window 3 were inconclusive after 120 s under ``auto`` while
``--engine explicit`` decided both.  Here every case is decided by ``auto`` whenever the explicit
engine decides it within the same budget, with the same verdict (and, for a violation, the
same shortest length).  The time ratio against the best single engine is a benchmark
(``benchmarks/engines.py --versus-spin`` prints auto / best per library protocol), not a test;
what keeps it small is pinned here without a clock: a system the explicit search decides
within ``auto``'s head start is decided by that search alone (no symbolic process is even
started: under load ``auto`` used to take 2-5x ``--engine explicit`` on the library's small
systems, the forked process sharing the CPU), and wherever the explicit search decides,
``auto``'s explicit evidence counts exactly the states ``--engine explicit`` explores.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from proofs_testing import PROTOCOLS

from ackproof.proofs import auto, check_many
from ackproof.spec import Faults, ProtocolDef, System
from ackproof.spec.examples import sliding_window
from ackproof.spec.library import LIBRARY

BUDGET = 300.0
DECISIVE = ("proved", "holds", "violated", "vacuous")


def assert_auto_decides_like_explicit(pdef: ProtocolDef, n: int, faults: Faults | None) -> None:
    system = pdef.system(n, faults)
    props = list(pdef.claims)
    explicit = check_many(system, props, engine="explicit", timeout=BUDGET)
    auto = check_many(system, props, engine="auto", timeout=BUDGET)
    for prop in props:
        e, a = explicit[prop], auto[prop]
        if e.verdict not in DECISIVE:
            continue
        assert a.verdict in DECISIVE, (prop, a.detail)
        assert (a.verdict == "violated") == (e.verdict == "violated"), (prop, a, e)
        if e.verdict == "violated":
            assert a.depth == e.depth, prop


def _every_system() -> list[str]:
    return [*PROTOCOLS, *(e.name for e in LIBRARY)]


def _system(name: str) -> tuple[System, list[str]]:
    if name in PROTOCOLS:
        return PROTOCOLS[name].system(2), list(PROTOCOLS[name].claims)
    e = next(e for e in LIBRARY if e.name == name)
    return e.protocol.system(e.bound), list(e.expected)


@pytest.mark.parametrize("name", _every_system())
def test_auto_decides_with_the_explicit_search_wherever_it_finishes(name: str) -> None:
    """Every built-in, broken variant, example and library protocol: where ``--engine
    explicit`` decides, ``auto`` decides the same (verdict, shortest length); its explicit
    evidence counts the same states; within the head start it is the only evidence."""
    system, props = _system(name)
    explicit = check_many(system, props, engine="explicit", timeout=BUDGET)
    got = check_many(system, props, engine="auto", timeout=BUDGET)
    decided = 0
    for prop in props:
        e, a = explicit[prop], got[prop]
        if e.verdict not in ("proved", "violated", "vacuous"):
            continue
        decided += 1
        assert (a.verdict, a.depth if a.verdict == "violated" else None) == (
            e.verdict,
            e.depth if e.verdict == "violated" else None,
        ), (prop, a.detail, e.detail)
        assert e.states is not None
        if e.states < auto.HEAD_START:
            assert a.engine == "auto(explicit)", (prop, a.engine)
        if a.engine == "auto(explicit)":
            assert a.states == e.states, prop
    assert decided, f"{name}: the explicit engine decides nothing here"


def test_auto_starts_no_symbolic_process_for_what_the_head_start_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[bool] = []
    monkeypatch.setattr(auto._Child, "start", lambda self: started.append(True))
    s = PROTOCOLS["exactly-once"].system(2)  # hundreds of states
    out = check_many(s, list(s.claims), engine="auto")
    assert {r.verdict for r in out.values()} == {"proved"}
    assert not started
    check_many(s, list(s.claims), engine="auto", certify=True)  # waits for a certificate
    assert started


def test_a_child_forked_during_the_head_start_only_imports_z3(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Past :data:`auto.PREPARE` states the child is forked to import z3 while the head
    start runs; a search that decides within the head start ends it before it has done
    any symbolic work (the route would leave a mark here: the child is a fork)."""
    from ackproof.proofs import engines

    mark = tmp_path / "ran"

    def route(*_: object) -> None:
        mark.write_text("the symbolic route ran")
        raise AssertionError("the symbolic route ran")

    monkeypatch.setattr(engines, "run_z3", route)
    calls: list[str] = []
    prepare, start = auto._Child.prepare, auto._Child.start

    def spy_prepare(self: auto._Child) -> None:
        calls.append("prepare")
        prepare(self)

    def spy_start(self: auto._Child) -> None:
        calls.append("start")
        start(self)

    monkeypatch.setattr(auto._Child, "prepare", spy_prepare)
    monkeypatch.setattr(auto._Child, "start", spy_start)
    s = PROTOCOLS["exactly-once"].system(3)
    out = check_many(s, list(s.claims), engine="auto")
    states = {r.states for r in out.values()}
    assert len(states) == 1
    (n,) = states
    assert n is not None
    assert auto.PREPARE <= n < auto.HEAD_START  # the case this test is about
    assert {r.verdict for r in out.values()} == {"proved"}
    assert {r.engine for r in out.values()} == {"auto(explicit)"}
    assert "prepare" in calls
    assert "start" not in calls
    assert not mark.exists()


@pytest.mark.parametrize(
    ("window", "modulus", "n", "capacity"),
    [
        pytest.param(2, 4, 3, 4, id="sr-w2-m4-cap4"),
        pytest.param(3, 4, 5, 2, id="sr-w3-m4-n5", marks=pytest.mark.slow),
    ],
)
def test_auto_decides_selective_repeat_where_it_used_to_give_up(
    window: int, modulus: int, n: int, capacity: int
) -> None:
    pdef = sliding_window(window, modulus)
    faults = Faults(
        loss=pdef.faults.loss,
        duplicate=pdef.faults.duplicate,
        reorder=pdef.faults.reorder,
        crash=pdef.faults.crash,
        capacity=capacity,
    )
    assert_auto_decides_like_explicit(pdef, n, faults)


@pytest.mark.parametrize(("messages", "early"), [(3, False), (4, True)])
def test_a_wide_system_forks_its_child_before_the_search(
    monkeypatch: pytest.MonkeyPatch, messages: int, early: bool
) -> None:
    """Exactly-once's state has 31 bits at N = 3 (9,466 states: forked at
    :data:`auto.PREPARE` states, if at all) and 41 at N = 4 (:data:`auto.WIDE`: forked
    before the search's first state, so that z3's import is over by the head start's end)."""
    from ackproof.proofs import explicit

    searching: list[bool] = []
    forked_during: list[bool] = []
    run_all, prepare = explicit.run_all, auto._Child.prepare

    def spy_run_all(*args: object, **kw: object) -> object:
        searching.append(True)
        return run_all(*args, **kw)  # type: ignore[arg-type]

    def spy_prepare(self: auto._Child) -> None:
        forked_during.append(bool(searching))
        prepare(self)

    monkeypatch.setattr(explicit, "run_all", spy_run_all)
    monkeypatch.setattr(auto._Child, "prepare", spy_prepare)
    s = PROTOCOLS["exactly-once"].system(messages)
    out = check_many(s, ["no-duplicate"], engine="auto", timeout=BUDGET)
    assert out["no-duplicate"].verdict == "proved"
    assert forked_during, "the child was never forked"
    assert forked_during[0] is not early
