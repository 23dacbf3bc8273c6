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
