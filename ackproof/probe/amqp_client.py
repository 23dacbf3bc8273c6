"""AMQP 0-9-1 producer and consumer (pika) for rabbitmq-server.

Both declare the durable queue ``probe``. The producer puts its channel in confirm mode and
publishes persistent messages (``delivery_mode=2``, ``mandatory``): ``basic_publish``
returns once the broker confirmed (for a durable queue: written to disk), and only then is
the id acked. On a broken connection, a nack or a return, it reconnects and publishes the
same id again (AMQP has no publish dedup: a copy the broker had already taken is a
duplicate). The consumer takes up to 10 unacked messages (``basic_qos``), processes
(traces) each, then ``basic_ack``s it; what it had not acked when its connection died is
redelivered. Heartbeats every 2 s detect a silent connection.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Any

import pika
import pika.exceptions

from ackproof.events import TraceEvent

if TYPE_CHECKING:
    from ackproof.probe.journal import Outbox, Trace
    from ackproof.probe.node import NodeArgs

QUEUE = "probe"
RETRYABLE = (pika.exceptions.AMQPError, OSError)


def _connect(port: int) -> tuple[Any, Any]:
    params = pika.ConnectionParameters(
        host="127.0.0.1",
        port=port,
        heartbeat=2,
        blocked_connection_timeout=5,
        socket_timeout=2,
        stack_timeout=5,
        connection_attempts=1,
    )
    try:
        conn = pika.BlockingConnection(params)
    except ValueError as e:  # pika 1.3/1.4, a connection reset at once: "Expected connected socket"
        raise pika.exceptions.AMQPConnectionError(str(e)) from None
    ch = conn.channel()
    ch.queue_declare(QUEUE, durable=True)
    return conn, ch


def produce(args: NodeArgs, outbox: Outbox, trace: Trace) -> int:
    conn: Any = None
    ch: Any = None
    props = pika.BasicProperties(delivery_mode=2)

    def publish(msg: int) -> None:
        nonlocal conn, ch
        while True:
            try:
                if conn is None or conn.is_closed:
                    conn, ch = _connect(args.port)
                    ch.confirm_delivery()
                trace.line(TraceEvent.SEND, msg)
                ch.basic_publish("", QUEUE, str(msg).encode(), properties=props, mandatory=True)
            except RETRYABLE:
                _close(conn)
                conn = None
                time.sleep(0.2)
                continue
            outbox.ack(msg)
            trace.line(TraceEvent.ACK, msg)
            return

    for msg in outbox.unacked():
        publish(msg)
    for msg in range(outbox.next_id, args.messages):
        outbox.submit(msg)
        trace.line(TraceEvent.SUBMIT, msg)
        publish(msg)
        time.sleep(1.0 / args.rate)
    _close(conn)
    return 0


def consume(args: NodeArgs, trace: Trace) -> int:
    ready = args.state / "ready"
    while True:
        conn: Any = None
        try:
            conn, ch = _connect(args.port)
            ch.basic_qos(prefetch_count=10)
            ready.touch()
            for method, _props, body in ch.consume(QUEUE, auto_ack=False, inactivity_timeout=1):
                if method is None:
                    continue
                msg = int(body)
                info = {"redelivered": bool(method.redelivered), "tag": method.delivery_tag}
                trace.line(TraceEvent.RECEIVE, msg, frame=info)
                trace.process(msg, inbox=args.inbox)
                ch.basic_ack(method.delivery_tag)
                trace.line(TraceEvent.SEND, msg, frame={"kind": "ACK", "confirmed": False})
        except RETRYABLE:
            _close(conn)
            time.sleep(0.2)


def _close(conn: Any) -> None:
    if conn is not None and conn.is_open:
        with contextlib.suppress(*RETRYABLE):
            conn.close()
