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


def test_an_error_inside_the_wrapper_propagates_instead_of_being_swallowed() -> None:
    """The closing ``await`` ran after cancelling the wrapper's own nursery: its Cancelled replaced
    the block's exception and was then absorbed, so a timeout inside the block vanished (the demo
    then died on ``UnboundLocalError: stats``)."""

    async def main() -> None:
        a, _b = memory_transport_pair()
        async with open_faulty_transport(a, rates=RATES, seed=1):
            with trio.fail_after(0.5):
                await trio.sleep_forever()

    with pytest.RaisesGroup(trio.TooSlowError, flatten_subgroups=True):
        run_trio(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_sending_after_close_is_a_closed_link_not_a_crash() -> None:
    """A node that outlives the wrapper sees a closed link (counted as a send failure), never
    ``RuntimeError: Nursery is closed to new arrivals`` from a delayed copy."""

    async def main() -> None:
        a, _b = memory_transport_pair()
        always_delay = FaultRates(reorder=1.0, max_delay=0.01)
        async with open_faulty_transport(a, rates=always_delay, seed=1) as fa:
            pass
        with pytest.raises(trio.ClosedResourceError):
            await fa.send_batch([encode(Frame(FrameKind.DATA, 1))])
        with pytest.raises(trio.ClosedResourceError):
            await fa.send(encode(Frame(FrameKind.DATA, 2)))

    run_trio(main, clock=trio.testing.MockClock(autojump_threshold=0))
