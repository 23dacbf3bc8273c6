"""TCP reconnect: a dropped connection does not end the run, and exactly-once still holds.

A proxy between sender and receiver resets every connection it carries after every 800 bytes
towards the receiver and at random every few tens of milliseconds (both directions die, whatever
was in flight is lost). The sender's end redials
with capped, jittered backoff; the receiver's end takes the next connection; the sender's
timers resend what is unacknowledged. Every message is processed exactly once and acked.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
import trio

from ackproof.impl.errors import UsageError
from ackproof.impl.events import Guarantee
from ackproof.impl.nodes import open_receiver, open_sender
from ackproof.impl.sender import RetryPolicy
from ackproof.impl.store import MemoryDisk, MemoryStore
from ackproof.impl.tcp import (
    AcceptingTCPTransport,
    Backoff,
    ReconnectingTCPTransport,
    tcp_listener,
)

MESSAGES = 400


class ResettingProxy:
    """Forwards loopback TCP to ``target``; :meth:`reset` kills every live connection, and so
    does every ``every`` bytes forwarded towards the target (drops mid-run, however fast)."""

    def __init__(self, target: int, *, every: int) -> None:
        self.target = target
        self.every = every
        self.resets = 0
        self._forwarded = 0
        self._live: list[trio.SocketStream] = []

    async def serve(self, listener: trio.SocketListener) -> None:
        async with trio.open_nursery() as nursery:
            while True:
                client = await listener.accept()
                nursery.start_soon(self._carry, client)

    async def _carry(self, client: trio.SocketStream) -> None:
        try:
            server = await trio.open_tcp_stream("127.0.0.1", self.target)
        except OSError:
            await client.aclose()
            return
        self._live += [client, server]

        async def pipe(a: trio.SocketStream, b: trio.SocketStream) -> None:
            try:
                while data := await a.receive_some(1 << 16):
                    await b.send_all(data)
                    if b is server:
                        self._forwarded += len(data)
                        if self._forwarded >= self.every:
                            self._forwarded = 0
                            await self.reset()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
            for s in (a, b):
                await s.aclose()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(pipe, client, server)
            nursery.start_soon(pipe, server, client)

    async def reset(self) -> None:
        live, self._live = self._live, []
        if live:
            self.resets += 1
        for s in live:
            await s.aclose()


def test_exactly_once_holds_while_the_connection_is_reset_again_and_again() -> None:
    async def main() -> tuple[Counter[int], int, int, int]:
        disk = MemoryDisk()
        rx_end = AcceptingTCPTransport(await tcp_listener())
        proxy = ResettingProxy(rx_end.port, every=800)
        proxy_listener = await tcp_listener()
        tx_end = ReconnectingTCPTransport(
            proxy_listener.socket.getsockname()[1], backoff=Backoff(initial=0.005), seed=3
        )
        rng = random.Random(7)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(proxy.serve, proxy_listener)

            async def chaos() -> None:
                while True:
                    await trio.sleep(rng.uniform(0.01, 0.05))
                    await proxy.reset()

            async with (
                open_receiver(Guarantee.EXACTLY_ONCE, rx_end, store=MemoryStore(disk)),
                open_sender(
                    Guarantee.EXACTLY_ONCE,
                    tx_end,
                    policy=RetryPolicy(initial=0.02, maximum=0.2),
                    max_in_flight=32,
                ) as sender,
            ):
                nursery.start_soon(chaos)
                for _ in range(MESSAGES):
                    await sender.send(b"m")
                with trio.fail_after(60):
                    await sender.wait_all_acked()
                acked = sender.statistics().acked
            nursery.cancel_scope.cancel()
        return Counter(m for m, _ in disk.processed), acked, proxy.resets, tx_end.connections

    counts, acked, resets, connections = trio.run(main)
    print(f"reconnect: {resets} resets, {connections} connections, {acked} acked")
    assert resets >= 5  # connections really dropped mid-run
    assert connections > resets // 2  # ... and the sender dialled again
    assert acked == MESSAGES
    assert set(counts) == set(range(MESSAGES))  # nothing lost
    assert max(counts.values()) == 1  # nothing twice


def test_backoff_grows_caps_and_jitters() -> None:
    b = Backoff(initial=0.01, maximum=0.1, multiplier=2.0, jitter=0.5)
    rng = random.Random(1)
    delays = [b.delay(k, rng) for k in range(10)]
    assert all(0.005 <= d <= 0.01 for d in delays[:1])
    assert all(0.05 <= d <= 0.1 for d in delays[5:])  # capped at the maximum, less jitter
    assert len({round(d, 9) for d in delays[5:]}) > 1  # jittered, not in lockstep
    with pytest.raises(UsageError):
        Backoff(initial=0.0)
