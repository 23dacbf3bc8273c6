"""Throughput of the reference implementation over loopback TCP, against a plain-TCP ceiling.

    python benchmarks/impl.py [--messages N] [--payload BYTES] [--repeat R]

For each guarantee: a sender node and a receiver node (both in this process, both with SQLite
stores, synchronous=FULL) over one loopback TCP connection, no faults; the clock runs from the
first ``send`` until the receiver has processed every message and (at-least-once, exactly-once)
the sender has every ACK. Two ways of submitting are measured: one ``await send()`` per message,
and the trio bulk idiom (``send_nowait`` until ``WouldBlock``, then ``await send()``). The ceiling
is a plain trio TCP stream carrying the same payloads with no protocol at all (one ``send_all``
per payload; the reader counts bytes). Ratios are against that ceiling. Best of R runs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.nodes import open_receiver, open_sender
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.tcp import tcp_listener, tcp_transport_pair

TARGETS = {
    Guarantee.AT_MOST_ONCE: 0.7,
    Guarantee.AT_LEAST_ONCE: 0.5,
    Guarantee.EXACTLY_ONCE: 0.2,
}


async def ceiling(messages: int, payload: bytes, *, burst: int) -> float:
    """Messages per second of a bare trio TCP stream (no framing, no acks, no storage).

    ``burst`` payloads are written per ``send_all`` (the ceiling uses 1: one call per payload,
    the same call pattern as one ``await send()`` per message).
    """
    listener = await tcp_listener()
    port: int = listener.socket.getsockname()[1]
    total = messages * len(payload)

    async def read(stream: trio.SocketStream, done: trio.Event) -> None:
        got = 0
        while got < total:
            got += len(await stream.receive_some(1 << 16))
        done.set()

    client = await trio.open_tcp_stream("127.0.0.1", port)
    server = await listener.accept()
    await listener.aclose()
    done = trio.Event()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(read, server, done)
        start = time.perf_counter()
        for i in range(0, messages, burst):
            await client.send_all(payload * min(burst, messages - i))
        await done.wait()
        elapsed = time.perf_counter() - start
    await client.aclose()
    await server.aclose()
    return messages / elapsed


async def protocol(
    guarantee: Guarantee, messages: int, payload: bytes, workdir: Path, *, burst: bool
) -> float:
    a, b = await tcp_transport_pair()
    tag = f"{guarantee}-{time.monotonic_ns()}"
    s_store = await SQLiteStore.open(workdir / f"{tag}-s.sqlite")
    r_store = await SQLiteStore.open(workdir / f"{tag}-r.sqlite")
    async with (
        open_receiver(guarantee, b, store=r_store, max_buffer=0) as rx,
        open_sender(guarantee, a, store=s_store) as tx,
    ):
        await rx.deliveries.aclose()
        start = time.perf_counter()
        if burst:  # the trio idiom for bulk: send_nowait until WouldBlock, then wait for room
            for _ in range(messages):
                try:
                    tx.send_nowait(payload)
                except trio.WouldBlock:
                    await tx.send(payload)
        else:  # one awaited send per message, like the per-payload ceiling
            for _ in range(messages):
                await tx.send(payload)
        await tx.wait_all_acked()
        await rx.wait_statistics(lambda s: s.processed >= messages)
        elapsed = time.perf_counter() - start
    for closeable in (s_store, r_store, a, b):
        await closeable.aclose()
    return messages / elapsed


async def main(args: argparse.Namespace) -> None:
    payload = b"x" * args.payload
    n, repeat = args.messages, args.repeat
    print(f"{n} messages of {args.payload} bytes over loopback TCP, no faults, best of {repeat}")
    with tempfile.TemporaryDirectory(prefix="ackproof-bench-") as tmp:
        top = max([await ceiling(n, payload, burst=1) for _ in range(repeat)])
        print(
            f"  {'plain trio TCP (ceiling)':<16}  {top:>9,.0f} msgs/s  (one send_all per payload)"
        )
        print(f"  {'guarantee':<16}  {'await send()':>16}  {'send_nowait bursts':>20}  target")
        for g in Guarantee:
            cells = []
            for burst in (False, True):
                runs = [
                    await protocol(g, n, payload, Path(tmp), burst=burst) for _ in range(repeat)
                ]
                rate = max(runs)
                cells.append(f"{rate:>9,.0f} ({rate / top:4.2f}x)")
            print(f"  {g!s:<16}  {cells[0]:>16}  {cells[1]:>20}  {TARGETS[g]}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--payload", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    trio.run(main, parser.parse_args())
