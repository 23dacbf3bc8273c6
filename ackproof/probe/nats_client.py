"""NATS JetStream producer and consumer (nats-py) for nats-server.

The consumer creates the stream (``PROBE``, subject ``probe``, file storage, a 2-minute
duplicate window) and a durable pull consumer (explicit acks, ``ack_wait`` 2 s, unlimited
redeliveries), then fetches, processes (traces) and acks each message: ``ack`` in setting
``ack``, ``ack_sync`` (the "double ack": waits for the server's confirmation) in ``msgid``.

The producer publishes one message at a time and waits for the stream's PubAck; on a
timeout or a broken connection it publishes the same id again, with header
``Nats-Msg-Id: m<id>`` in setting ``msgid`` (the server drops a copy it has seen within
the duplicate window) and without it in ``ack``. A restarted producer does the same for
its outbox's unacked ids.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import nats
import nats.errors
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, StorageType

from ackproof.events import TraceEvent

if TYPE_CHECKING:
    from ackproof.probe.journal import Outbox, Trace
    from ackproof.probe.node import NodeArgs

SUBJECT = "probe"
STREAM = "PROBE"
RETRYABLE = (nats.errors.Error, asyncio.TimeoutError, OSError)


async def _connect(port: int) -> Client:
    while True:
        try:
            return await nats.connect(
                f"nats://127.0.0.1:{port}",
                connect_timeout=2,
                reconnect_time_wait=0.2,
                max_reconnect_attempts=-1,
                ping_interval=1,
                max_outstanding_pings=2,
            )
        except RETRYABLE:
            await asyncio.sleep(0.2)


async def _produce(args: NodeArgs, outbox: Outbox, trace: Trace) -> int:
    nc = await _connect(args.port)
    js = nc.jetstream(timeout=2)
    dedup = args.setting == "msgid"

    async def publish(msg: int) -> None:
        headers = {"Nats-Msg-Id": f"m{msg}"} if dedup else None
        while True:
            trace.line(TraceEvent.SEND, msg)
            try:
                await js.publish(SUBJECT, str(msg).encode(), timeout=2, headers=headers)
            except RETRYABLE:
                await asyncio.sleep(0.2)
                continue
            outbox.ack(msg)
            trace.line(TraceEvent.ACK, msg)
            return

    for msg in outbox.unacked():
        await publish(msg)
    for msg in range(outbox.next_id, args.messages):
        outbox.submit(msg)
        trace.line(TraceEvent.SUBMIT, msg)
        await publish(msg)
        await asyncio.sleep(1.0 / args.rate)
    await nc.close()
    return 0


async def _consume(args: NodeArgs, trace: Trace) -> int:
    nc = await _connect(args.port)
    js = nc.jetstream(timeout=2)
    while True:
        try:
            await js.add_stream(
                name=STREAM, subjects=[SUBJECT], storage=StorageType.FILE, duplicate_window=120
            )
            sub = await js.pull_subscribe(
                SUBJECT,
                durable="probe-consumer",
                config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=2, max_deliver=-1),
            )
            break
        except RETRYABLE:
            await asyncio.sleep(0.2)
    (args.state / "ready").touch()
    double = args.setting == "msgid"
    while True:
        try:
            batch = await sub.fetch(10, timeout=1)
        except RETRYABLE:
            await asyncio.sleep(0.05)
            continue
        for m in batch:
            msg = int(m.data)
            meta = m.metadata
            info = {"redelivered": meta.num_delivered > 1, "stream_seq": meta.sequence.stream}
            trace.line(TraceEvent.RECEIVE, msg, frame=info)
            trace.process(msg, inbox=args.inbox)
            with contextlib.suppress(*RETRYABLE):  # not acked: redelivered after ack_wait
                await (m.ack_sync(timeout=2) if double else m.ack())
                trace.line(TraceEvent.SEND, msg, frame={"kind": "ACK", "confirmed": double})


def produce(args: NodeArgs, outbox: Outbox, trace: Trace) -> int:
    return asyncio.run(_produce(args, outbox, trace))


def consume(args: NodeArgs, trace: Trace) -> int:
    return asyncio.run(_consume(args, trace))
