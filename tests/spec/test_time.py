"""A logical clock: Age fields, channels that deliver or lose within a bound, ticks."""

from __future__ import annotations

import pytest
from protocols_testing import timed_session, window

from ackproof.proofs import check
from ackproof.spec import (
    SpecError,
)
from ackproof.spec.interp import compile_system
from ackproof.spec.types import Age


@pytest.mark.parametrize(
    ("w", "verdict", "length"), [(2, "violated", 7), (3, "proved", None), (4, "proved", None)]
)
@pytest.mark.parametrize("reorder", [True, False], ids=["unordered", "fifo"])
def test_a_dedup_window_must_outlast_the_retry_horizon_plus_the_delay(
    w: int, verdict: str, length: int | None, reorder: bool
) -> None:
    system = window(w, 2, 1, reorder=reorder).system(1)
    explicit = check(system, "no-duplicate", engine="explicit")
    bmc = check(system, "no-duplicate", engine="bmc", depth=12)
    assert explicit.verdict == verdict
    assert bmc.verdict == ("holds" if verdict == "proved" else "violated")
    if length is not None:
        assert explicit.counterexample is not None
        assert bmc.counterexample is not None
        assert len(explicit.counterexample) == len(bmc.counterexample) == length


def test_ages_grow_with_each_tick_and_saturate() -> None:
    system = window(2, 2, 1).system(1)
    comp = compile_system(system)
    tick = next(a for a in system.actions if a.kind == "tick")
    seen = system.slot("receiver.seen[0]")
    s0 = system.initial()
    assert s0[seen.index] == 2  # an age starts "long ago"
    s1 = comp.step(s0, tick.index)
    assert s1 is not None
    assert s1[seen.index] == 2


def test_a_timed_channel_holds_time_until_an_old_frame_is_gone() -> None:
    system = window(3, 2, 1).system(1)
    comp = compile_system(system)
    by = {a.label: a.index for a in system.actions}
    tick = by["a tick of the clock"]
    s = comp.step(system.initial(), by["submit(m=0)"])
    assert s is not None
    s = comp.step(s, tick)  # the DATA is now 1 tick old: as old as the bound
    assert s is not None
    assert comp.step(s, tick) is None  # time waits: deliver or lose it first
    assert comp.step(s, by["receiver <- DATA(msg=0) (sent 1 tick ago)"]) is not None


def test_a_connection_can_be_timed_too() -> None:
    system = timed_session().system(2)
    assert [s.name for s in system.slots if ".age[" in s.name] == [
        "sender->receiver.age[0]",
        "sender->receiver.age[1]",
    ]
    assert check(system, "no-duplicate", engine="explicit").verdict == "proved"
    assert check(system, "no-duplicate", engine="bmc", depth=8).verdict == "holds"


@pytest.mark.parametrize("limit", [0, 65, True, "3"])
def test_an_age_needs_a_sensible_limit(limit: object) -> None:
    with pytest.raises(SpecError, match="Age"):
        Age(limit)  # type: ignore[arg-type]
