"""A fault-injecting transport wrapper driven by a seeded, deterministic plan.

Theory of operation
-------------------
:class:`FaultPlan` turns ``random.Random(seed)`` into a sequence of :class:`Fate` values, one per
frame: dropped (no copies), or delivered as one or two copies (duplication), each copy after its
own delay (delaying some frames is what reorders them). The same seed always gives the same fates,
in the same order. :class:`FaultyTransport` applies one plan to the frames it sends and an
independent plan (seeded from the same seed) to the frames it receives, so one wrapper on one end
injects faults in both directions. Delayed copies are sent by tasks in the wrapper's own nursery;
closing the wrapper cancels copies still in flight (they are lost, as on a real network).
"""

from __future__ import annotations

import random
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ackproof.impl.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from ackproof.impl.transport import Transport


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultRates:
    loss: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    max_delay: float = 0.02

    def __post_init__(self) -> None:
        for name in ("loss", "dup", "reorder"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise UsageError(f"{name} must be in [0, 1], got {value}")
        if self.max_delay < 0:
            raise UsageError(f"max_delay must be >= 0, got {self.max_delay}")


@dataclass(frozen=True, slots=True)
class Fate:
    """One delay per delivered copy; no copies means the frame is dropped."""

    delays: tuple[float, ...]


class FaultPlan:
    def __init__(self, rates: FaultRates, seed: int | str) -> None:
        self.rates = rates
        self._rng = random.Random(seed)

    def next_fate(self) -> Fate:
        rng, rates = self._rng, self.rates
        if rng.random() < rates.loss:
            return Fate(())
        copies = 2 if rng.random() < rates.dup else 1
        return Fate(
            tuple(
                rng.uniform(0.0, rates.max_delay) if rng.random() < rates.reorder else 0.0
                for _ in range(copies)
            )
        )


@dataclass(frozen=True, slots=True)
class FaultStatistics:
    dropped: int
    duplicated: int
    delayed: int


class FaultyTransport:
    """Wraps a transport; open it with :func:`open_faulty_transport`."""

    def __init__(
        self, inner: Transport, nursery: trio.Nursery, *, rates: FaultRates, seed: int | str
    ) -> None:
        self._inner = inner
        self._nursery = nursery
        self._out = FaultPlan(rates, f"{seed}/out")
        self._in = FaultPlan(rates, f"{seed}/in")
        self._rx_send, self._rx = trio.open_memory_channel[bytes](float("inf"))
        self._dropped = self._duplicated = self._delayed = 0
        self._closed = False

    def statistics(self) -> FaultStatistics:
        return FaultStatistics(self._dropped, self._duplicated, self._delayed)

    def _count(self, fate: Fate) -> None:
        if not fate.delays:
            self._dropped += 1
        self._duplicated += max(0, len(fate.delays) - 1)
        self._delayed += sum(1 for d in fate.delays if d > 0)

    async def _later(self, delay: float, data: bytes) -> None:
        await trio.sleep(delay)
        with suppress(trio.ClosedResourceError, trio.BrokenResourceError):
            await self._inner.send(data)

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("faulty transport closed")

    async def send(self, data: bytes) -> None:
        self._check_open()
        fate = self._out.next_fate()
        self._count(fate)
        for delay in fate.delays:
            if delay > 0:
                self._nursery.start_soon(self._later, delay, data)
            else:
                await self._inner.send(data)

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        self._check_open()
        now: list[bytes] = []
        for data in frames:
            fate = self._out.next_fate()
            self._count(fate)
            for delay in fate.delays:
                if delay > 0:
                    self._nursery.start_soon(self._later, delay, data)
                else:
                    now.append(data)
        if now:
            await self._inner.send_batch(now)

    async def _deliver_later(self, delay: float, data: bytes) -> None:
        await trio.sleep(delay)
        with suppress(trio.ClosedResourceError):
            self._rx_send.send_nowait(data)

    async def pump(self) -> None:
        """Move received frames through the incoming plan (runs in the wrapper's nursery)."""
        async with self._rx_send:
            while True:
                try:
                    data = await self._inner.receive()
                except (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError):
                    return
                fate = self._in.next_fate()
                self._count(fate)
                for delay in fate.delays:
                    if delay > 0:
                        self._nursery.start_soon(self._deliver_later, delay, data)
                    else:
                        self._rx_send.send_nowait(data)

    async def receive(self) -> bytes:
        return await self._rx.receive()

    async def aclose(self) -> None:
        self._closed = True
        await self._inner.aclose()
        await self._rx.aclose()


@asynccontextmanager
async def open_faulty_transport(
    inner: Transport, *, rates: FaultRates, seed: int | str
) -> AsyncIterator[FaultyTransport]:
    async with trio.open_nursery() as nursery:
        faulty = FaultyTransport(inner, nursery, rates=rates, seed=seed)
        nursery.start_soon(faulty.pump)
        try:
            yield faulty
        finally:
            # Close first, shielded, then cancel: an ``await`` after the cancel would raise
            # Cancelled, which this nursery absorbs -- swallowing whatever exception the block
            # raised (a timeout became an UnboundLocalError further down).
            with trio.CancelScope(shield=True):
                await faulty.aclose()
            nursery.cancel_scope.cancel()
