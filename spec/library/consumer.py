"""Consumer patterns: where a consumer acknowledges, and where it records what it did.

Sources: the Kafka design docs, "Message Delivery Semantics"
(https://kafka.apache.org/documentation/#semantics: save the position then process is
at-most-once, process then save it is at-least-once); RabbitMQ's consumer
acknowledgements (https://www.rabbitmq.com/docs/confirms: "any delivery (message) that was
not acked is automatically requeued when the channel (or connection) on which the delivery
happened is closed"); the idempotent consumer pattern
(https://microservices.io/patterns/communication-style/idempotent-consumer.html: the
processed id inserted in the same database transaction as the work); the NATS hazard "If
AckWait exceeds dedup TTL, a crash-before-ack path can redeliver after the dedup key
already expired" (https://cordum.io/blog/ai-agent-ackwait-dedup-ttl-alignment).

The environment: a broker holds each message until the consumer acknowledges it and
delivers it over a connection; the consumer may crash and restart once, which closes the
connection and makes the broker redeliver every unacknowledged message when the consumer
is back (RabbitMQ's requeue; Kafka's restart from the committed offset).  The connection
never drops on its own.  "Processing" is the consumer's side effect (a database write),
durable once done.

* ``consumer-process-then-ack`` — at least once: a crash after processing and before the
  ack redelivers a processed message (duplicate).
* ``consumer-ack-then-process`` — the ack (a synchronous offset commit: COMMIT, answered
  by COMMITTED) comes first and the consumer processes when the commit returns: a crash
  in between loses the message.
* ``consumer-auto-ack`` — RabbitMQ's automatic acknowledgement: "a message is considered
  to be successfully delivered immediately after it is sent"; a consumer crash with the
  delivery in flight loses it.
* ``consumer-inbox`` — the processed id and the work in one transaction, then the ack:
  exactly once.
* ``consumer-mark-then-process`` — the id recorded in its own transaction, then the work:
  a crash in between, and the redelivery is skipped as "already processed" (loss).
* ``consumer-process-then-mark`` — the work, then the id in its own transaction: a crash in
  between processes the redelivery again (duplicate).
* ``consumer-processed-key-ttl`` — an inbox whose keys expire (a TTL of 1 tick) while the
  broker redelivers an unacknowledged message only after a visibility timeout (2 ticks;
  SQS, JetStream AckWait): frames arrive within a tick.  A crash before the ack, and the
  redelivery finds the key expired (duplicate).
* ``consumer-processed-key-ttl-longer`` — the same with the TTL (4 ticks) longer than
  the visibility timeout plus the delivery bound: still a duplicate.  The broker
  redelivers *at some point after* the timeout, and nothing bounds how late; a TTL is
  safe only with a redelivery deadline (and a last redelivery).  This surprised us: see
  its note.
"""

from __future__ import annotations

from collections.abc import Callable

from ackproof.spec import (
    Age,
    Array,
    Bool,
    Builder,
    Connection,
    Ctx,
    Expr,
    Faults,
    FrameKind,
    FrameView,
    ProtocolDef,
    protocol,
)
from ackproof.spec.library import Entry, Expected

#: The consumer crashes at most once; its connection to the broker drops only then.
CONSUMER_CRASH = Faults(crash_budgets={"consumer": 1}, links={"broker<->consumer": Connection()})

ALL = ("no-loss", "no-duplicate", "no-phantom", "in-order")

#: How the consumer handles a delivery: ``(ctx, f, ack)`` with ``ack(ctx, m)`` acking.
Handle = Callable[[Ctx, FrameView, Callable[[Ctx, Expr], None]], None]


def consumer_pattern(
    name: str,
    description: str,
    handle: Handle,
    *,
    claims: tuple[str, ...] = ("at-least-once",),
    inbox: bool = False,
) -> ProtocolDef:
    """A broker that redelivers unacknowledged messages on reconnect, and a consumer
    that handles each delivery with ``handle``; ``inbox``: a durable ``done`` table."""

    @protocol(name, claims=claims, faults=CONSUMER_CRASH, description=description)
    def build(p: Builder) -> None:
        broker, consumer = p.node("broker"), p.node("consumer")
        deliver = p.frame("DELIVER", broker, consumer, carries="msg", msg=p.msg)
        ack_frame = p.frame("ACK", consumer, broker, msg=p.msg)
        broker.var("unacked", Array(p.msg, Bool), durable=True)
        if inbox:
            consumer.var("done", Array(p.msg, Bool), durable=True)

        @broker.on_submit
        def publish(ctx: Ctx, m: Expr) -> None:
            ctx.unacked[m] = True
            ctx.send(deliver(msg=m))

        @broker.on(ack_frame)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            ctx.unacked[f.msg] = False

        @broker.on_connect
        def redeliver(ctx: Ctx, peer: str) -> None:
            for m in range(p.messages):
                with ctx.when(ctx.unacked[m]):
                    ctx.send(deliver(msg=m))

        broker.holds(lambda ctx, m: ctx.unacked[m])

        def ack(ctx: Ctx, m: Expr) -> None:
            ctx.send(ack_frame(msg=m))

        @consumer.on(deliver)
        def on_deliver(ctx: Ctx, f: FrameView) -> None:
            handle(ctx, f, ack)

    return build


def _process_then_ack(ctx: Ctx, f: FrameView, ack: Callable[[Ctx, Expr], None]) -> None:
    ctx.process(f.msg)
    ack(ctx, f.msg)


def _inbox(ctx: Ctx, f: FrameView, ack: Callable[[Ctx, Expr], None]) -> None:
    with ctx.when(~ctx.done[f.msg]), ctx.atomic():  # one database transaction
        ctx.process(f.msg)
        ctx.done[f.msg] = True
    ack(ctx, f.msg)


def _mark_then_process(ctx: Ctx, f: FrameView, ack: Callable[[Ctx, Expr], None]) -> None:
    with ctx.when(~ctx.done[f.msg]):
        ctx.done[f.msg] = True  # its own transaction
        ctx.process(f.msg)
    ack(ctx, f.msg)


def _process_then_mark(ctx: Ctx, f: FrameView, ack: Callable[[Ctx, Expr], None]) -> None:
    with ctx.when(~ctx.done[f.msg]):
        ctx.process(f.msg)
        ctx.done[f.msg] = True  # its own transaction
    ack(ctx, f.msg)


consumer_process_then_ack = consumer_pattern(
    "consumer-process-then-ack",
    "Process, then acknowledge (Kafka: process, then commit the offset).",
    _process_then_ack,
)
consumer_inbox = consumer_pattern(
    "consumer-inbox",
    "Processed id and work in one transaction, then acknowledge (idempotent consumer).",
    _inbox,
    claims=("exactly-once",),
    inbox=True,
)
consumer_mark_then_process = consumer_pattern(
    "consumer-mark-then-process",
    "Record the id in its own transaction, then process, then acknowledge.",
    _mark_then_process,
    claims=("exactly-once",),
    inbox=True,
)
consumer_process_then_mark = consumer_pattern(
    "consumer-process-then-mark",
    "Process, then record the id in its own transaction, then acknowledge.",
    _process_then_mark,
    claims=("exactly-once",),
    inbox=True,
)


@protocol("consumer-ack-then-process", claims=["at-most-once"], faults=CONSUMER_CRASH)
def consumer_ack_then_process(p: Builder) -> None:
    """Commit the offset (synchronously), then process (Kafka's at-most-once consumer)."""
    broker, consumer = p.node("broker"), p.node("consumer")
    deliver = p.frame("DELIVER", broker, consumer, carries="msg", msg=p.msg)
    commit = p.frame("COMMIT", consumer, broker, carries="msg", msg=p.msg)
    committed = p.frame("COMMITTED", broker, consumer, carries="msg", msg=p.msg)
    broker.var("unacked", Array(p.msg, Bool), durable=True)

    @broker.on_submit
    def publish(ctx: Ctx, m: Expr) -> None:
        ctx.unacked[m] = True
        ctx.send(deliver(msg=m))

    @broker.on(commit)
    def on_commit(ctx: Ctx, f: FrameView) -> None:
        ctx.unacked[f.msg] = False
        ctx.send(committed(msg=f.msg))

    @broker.on_connect
    def redeliver(ctx: Ctx, peer: str) -> None:
        for m in range(p.messages):
            with ctx.when(ctx.unacked[m]):
                ctx.send(deliver(msg=m))

    broker.holds(lambda ctx, m: ctx.unacked[m])

    @consumer.on(deliver)
    def on_deliver(ctx: Ctx, f: FrameView) -> None:
        ctx.send(commit(msg=f.msg))

    @consumer.on(committed)
    def on_committed(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


@protocol("consumer-auto-ack", claims=["at-most-once"], faults=CONSUMER_CRASH)
def consumer_auto_ack(p: Builder) -> None:
    """Automatic acknowledgement: the broker forgets a message once it is sent (RabbitMQ)."""
    broker, consumer = p.node("broker"), p.node("consumer")
    deliver = p.frame("DELIVER", broker, consumer, carries="msg", msg=p.msg)

    @broker.on_submit
    def publish(ctx: Ctx, m: Expr) -> None:
        ctx.send(deliver(msg=m))  # "considered to be successfully delivered" when sent

    @consumer.on(deliver)
    def on_deliver(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


def processed_key_ttl(name: str, ttl: int, visibility: int, *, delay: int = 1) -> ProtocolDef:
    """An inbox whose keys expire ``ttl`` ticks after processing; the broker redelivers an
    unacknowledged message once ``visibility`` ticks passed since its last delivery; frames
    arrive (or die with the connection) within ``delay`` ticks."""
    faults = Faults(
        crash_budgets={"consumer": 1},
        links={"broker<->consumer": Connection(within=delay)},
    )

    @protocol(
        name,
        claims=["exactly-once"],
        faults=faults,
        messages=1,
        description=(
            f"Inbox with a {ttl}-tick key TTL, redelivery after a {visibility}-tick "
            "visibility timeout."
        ),
    )
    def build(p: Builder) -> None:
        broker, consumer = p.node("broker"), p.node("consumer")
        deliver = p.frame("DELIVER", broker, consumer, carries="msg", msg=p.msg)
        ack_frame: FrameKind = p.frame("ACK", consumer, broker, msg=p.msg)
        broker.var("unacked", Array(p.msg, Bool), durable=True)
        broker.var("since", Array(p.msg, Age(visibility)), durable=True)
        consumer.var("seen", Array(p.msg, Age(ttl)), durable=True)  # the key's age

        @broker.on_submit
        def publish(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():
                ctx.unacked[m] = True
                ctx.since[m] = 0
            ctx.send(deliver(msg=m))

        @broker.timer(p.msg, early=False)
        def visibility_timeout(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m] & (ctx.since[m] >= visibility))
            ctx.since[m] = 0
            ctx.send(deliver(msg=m))

        @broker.on(ack_frame)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            ctx.unacked[f.msg] = False

        broker.holds(lambda ctx, m: ctx.unacked[m])

        @consumer.on(deliver)
        def on_deliver(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.seen[f.msg] >= ttl), ctx.atomic():  # no key, or expired
                ctx.process(f.msg)
                ctx.seen[f.msg] = 0
            ctx.send(ack_frame(msg=f.msg))

    return build


consumer_processed_key_ttl = processed_key_ttl("consumer-processed-key-ttl", 1, 2)
consumer_processed_key_ttl_longer = processed_key_ttl("consumer-processed-key-ttl-longer", 4, 2)

KAFKA_SEMANTICS = "Kafka design, Message Delivery Semantics (kafka.apache.org/documentation)"
IDEMPOTENT_CONSUMER = "microservices.io idempotent consumer"


def _entry(
    pdef: ProtocolDef,
    source: str,
    violated: dict[str, int],
    *,
    props: tuple[str, ...] = ALL,
    note: str = "",
) -> Entry:
    expected: dict[str, Expected] = {p: "violated" if p in violated else "holds" for p in props}
    return Entry(pdef, "Consumer patterns", source, expected, dict(violated), note=note)


ENTRIES: list[Entry] = [
    _entry(
        consumer_process_then_ack,
        f"{KAFKA_SEMANTICS}; RabbitMQ consumer acknowledgements",
        {"no-duplicate": 4},
    ),
    _entry(consumer_ack_then_process, KAFKA_SEMANTICS, {"no-loss": 4}),
    _entry(
        consumer_auto_ack,
        "RabbitMQ consumer acknowledgements, automatic mode (rabbitmq.com/docs/confirms)",
        {"no-loss": 2},
    ),
    _entry(consumer_inbox, IDEMPOTENT_CONSUMER, {}),
    _entry(consumer_mark_then_process, IDEMPOTENT_CONSUMER, {"no-loss": 5}),
    _entry(consumer_process_then_mark, IDEMPOTENT_CONSUMER, {"no-duplicate": 4}),
    _entry(
        consumer_processed_key_ttl,
        "cordum.io, AckWait vs dedup TTL; SQS visibility timeout",
        {"no-duplicate": 7},
        props=("no-loss", "no-duplicate", "no-phantom"),
    ),
    _entry(
        consumer_processed_key_ttl_longer,
        "cordum.io, AckWait vs dedup TTL; SQS visibility timeout",
        {"no-duplicate": 9},
        props=("no-loss", "no-duplicate", "no-phantom"),
        note=(
            "A TTL longer than the visibility timeout plus the delivery bound is not enough: "
            "the broker redelivers at some point after the timeout (the message is visible again; "
            "the next poll takes it), and with no deadline on that redelivery the key can "
            "expire first: 4 ticks of TTL fail as 1 does, with 2 more steps."
        ),
    ),
]
