"""The fault-injecting wrapper: a seeded plan is deterministic, and it really injects each fault."""

from __future__ import annotations

import pytest
import trio
import trio.testing
from impl_testing import run_trio

from ackproof.impl.codec import Frame, FrameKind, decode, encode
from ackproof.impl.errors import UsageError
from ackproof.impl.faults import FaultPlan, FaultRates, open_faulty_transport
from ackproof.impl.transport import memory_transport_pair

RATES = FaultRates(loss=0.2, dup=0.3, reorder=0.4, max_delay=0.05)


def test_same_seed_same_plan_and_different_seed_different_plan() -> None:
    def fates(seed: int) -> list[tuple[float, ...]]:
        plan = FaultPlan(RATES, seed)
        return [plan.next_fate().delays for _ in range(300)]

    assert fates(7) == fates(7)
    assert fates(7) != fates(8)


def test_rates_are_realised() -> None:
    plan = FaultPlan(FaultRates(loss=0.3, dup=0.1), 1)
    fates = [plan.next_fate() for _ in range(5000)]
    lost = sum(1 for f in fates if not f.delays) / len(fates)
    dup = sum(1 for f in fates if len(f.delays) == 2) / len(fates)
    assert 0.27 < lost < 0.33
    assert 0.05 < dup < 0.09  # 0.1 of the 70% that survive


def test_bad_rates_are_usage_errors() -> None:
    with pytest.raises(UsageError):
        FaultRates(loss=1.5)
    with pytest.raises(UsageError):
        FaultRates(dup=-0.1)


def _run(seed: int) -> tuple[list[int], list[int]]:
    async def main() -> tuple[list[int], list[int]]:
        a, b = memory_transport_pair()
        forward: list[int] = []
        backward: list[int] = []
        async with open_faulty_transport(a, rates=RATES, seed=seed) as fa:
            for i in range(200):
                await fa.send(encode(Frame(FrameKind.DATA, i)))
                await b.send(encode(Frame(FrameKind.ACK, i)))
            with trio.move_on_after(1.0):
                while True:
                    forward.append(decode(await b.receive()).msg)
            with trio.move_on_after(1.0):
                while True:
                    backward.append(decode(await fa.receive()).msg)
            stats = fa.statistics()
            assert stats.dropped > 0
            assert stats.duplicated > 0
            assert stats.delayed > 0
        return forward, backward

    return run_trio(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_wrapper_is_deterministic_and_drops_duplicates_and_reorders_both_ways() -> None:
    first = _run(3)
    assert first == _run(3)
    for seq in first:
        assert len(set(seq)) < 200  # something was dropped
        assert len(seq) > len(set(seq))  # something was duplicated
        assert seq != sorted(seq)  # something was reordered
    assert first != _run(4)
