"""SPIN, fed the Promela generated from the same System, agrees with the explicit engine.

A third, outside engine: it skips where ``spin`` (Debian's package) is not installed.
"""

from __future__ import annotations

import pytest

from ackproof.proofs.promela import promela, run_spin, spin_available
from ackproof.spec import explore
from ackproof.spec.protocols import BROKEN, BUILTIN

needs_spin = pytest.mark.skipif(not spin_available(), reason="spin is not installed")


def test_the_model_names_every_slot_and_action() -> None:
    s = BUILTIN["exactly-once"].system(1)
    text = promela(s, "no-loss", invariant_only=True)
    for slot in s.slots:
        assert f"/* {slot.name} */" in text
    assert text.count(":: atomic {") == sum(1 for a in s.actions if a.updates)
    assert "#define INV" in text


@needs_spin
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_spin_finds_each_broken_variant_at_the_same_shortest_length(name: str) -> None:
    pdef, prop = BROKEN[name]
    system = pdef.system(1)
    ours = explore(system, [prop], stop_when_decided=True)
    spin = run_spin(system, prop, invariant_only=True)
    assert spin.violated
    assert spin.length == len(ours.violations[prop])


@needs_spin
def test_spin_agrees_exactly_once_keeps_no_duplicate() -> None:
    spin = run_spin(BUILTIN["exactly-once"].system(2), "no-duplicate")
    assert spin.complete
    assert not spin.violated
    assert spin.states > 0


@needs_spin
def test_spin_depth_first_search_stores_the_states_breadth_first_does() -> None:
    system = BUILTIN["at-least-once"].system(2)
    bfs = run_spin(system, "no-loss", invariant_only=True, search="bfs")
    dfs = run_spin(system, "no-loss", invariant_only=True, search="dfs")
    assert bfs.complete
    assert dfs.complete
    assert not bfs.violated
    assert not dfs.violated
    # the same states as ours, plus SPIN's own before the loop (the initial assert): the
    # model's scratch values must not tell states apart (they did: 34,423 states, not 2,777)
    assert dfs.states == bfs.states == explore(system, ["no-loss"]).states + 1


@needs_spin
def test_spin_stopped_at_its_time_limit_is_incomplete_not_a_proof() -> None:
    # at-least-once at N = 6 has over 10^8 states in SPIN: never done in half a second
    system = BUILTIN["at-least-once"].system(6)
    spin = run_spin(system, "no-loss", invariant_only=True, search="dfs", timeout=0.5)
    assert not spin.complete
    assert spin.stopped == "time"
    assert not spin.violated
