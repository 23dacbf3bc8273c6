"""Dedup windows: a broker that drops what it has already seen, by sequence or by time.

Sources (URLs in ``/work/shared/reference/delivery-protocols.md`` §5):

* **Pulsar, high-water mark** — PIP-6 "Guaranteed Message Deduplication": the broker keeps
  "a per-topic hash-map that keeps track of the highest sequenceId received from each
  unique producerName ... used to reject messages that are duplicates" (persisted: a
  snapshot on a cursor, replayed on recovery); duplicates are dropped transparently — the
  producer gets its receipt, no error (apache/pulsar#5491).  "To avoid publishing
  duplicate messages after application crashes, it needs to be able to restart publishing
  from a certain message, with a particular sequence id".  The client resends its pending
  messages when its connection comes back.
* **SQS FIFO** — "If you retry the SendMessage action within the 5-minute deduplication
  interval, Amazon SQS doesn't introduce any duplicates into the queue"; after the interval
  a send with the same deduplication id is a new message.
* **NATS JetStream** — ``Nats-Msg-Id`` duplicates are ignored within the stream's
  ``duplicate_window`` (default 2 minutes); "A publish retry after 2 minutes can become a new
  message unless your app has its own idempotency layer" (cordum.io, cited in §5).

What the models keep:

* Pulsar: producer and broker over one connection that may drop; the producer may crash
  once (its connection drops with it).  The application keeps its unpublished messages
  durably, each with the sequence id it was given, and publishes them again on reconnect.
  It sets each message's sequence id itself (``TypedMessageBuilder.sequenceId``): from a
  counter that is durable (``pulsar-hwm-durable-seq``) or in memory only, so that it starts
  at 0 again after a crash (``pulsar-hwm-volatile-seq``).
* Time windows: an HTTP-style publish (request and response are separate datagrams that
  may be lost or overtake each other, never duplicated by the network); the publisher
  retries an unacknowledged message for ``horizon`` ticks (then gives up and reports the
  failure); every frame is delivered or lost within ``delay`` ticks; the queue drops an id
  it accepted less than ``window`` ticks ago.  One tick stands for one minute.  The window
  must outlast the retry horizon plus the delay.
"""

from __future__ import annotations

from ackproof.spec import (
    Age,
    Array,
    Bool,
    Builder,
    Connection,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    all_,
    protocol,
)
from ackproof.spec.library import Entry


def pulsar_high_water_mark(durable_counter: bool) -> ProtocolDef:
    """Pulsar broker-side dedup by the highest sequence id seen per producer name."""
    name = "pulsar-hwm-durable-seq" if durable_counter else "pulsar-hwm-volatile-seq"

    @protocol(
        name,
        claims=["exactly-once", "in-order"],
        faults=Faults(
            loss=True,
            crash_budgets={"producer": 1},
            links={"producer<->broker": Connection(max_drops=1)},
        ),
        messages=2,
        description=(
            "Pulsar high-water-mark dedup; the producer's sequence counter is "
            + ("durable." if durable_counter else "in memory: it restarts at 0 after a crash.")
        ),
    )
    def build(p: Builder) -> None:
        n = p.messages
        seq_t = Int(0, n - 1)
        producer, broker = p.node("producer"), p.node("broker")
        send = p.frame("SEND", producer, broker, carries="msg", ghost=["msg"], seq=seq_t, msg=p.msg)
        receipt = p.frame("SEND_RECEIPT", broker, producer, seq=seq_t)
        producer.var("pending", Array(p.msg, Bool), durable=True)
        producer.var("seq", Array(p.msg, seq_t), durable=True)
        producer.var("next_seq", Int(0, n), durable=durable_counter)
        producer.var("connected", Bool, init=True)
        broker.var("highest", Int(-1, n - 1), init=-1, durable=True)

        @producer.on_submit
        def publish(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():  # the application stores the message with its sequence id
                ctx.pending[m] = True
                ctx.seq[m] = ctx.next_seq
                ctx.next_seq = ctx.next_seq + 1
            with ctx.when(ctx.connected):
                ctx.send(send(seq=ctx.seq[m], msg=m))

        @producer.on_restart
        def restarted(ctx: Ctx) -> None:
            ctx.connected = False  # the crash closed the connection

        @producer.on_disconnect
        def down(ctx: Ctx, peer: str) -> None:
            ctx.connected = False

        @producer.on_connect
        def resend_pending(ctx: Ctx, peer: str) -> None:
            ctx.connected = True
            for k in range(n):
                with ctx.when(ctx.pending[k]):
                    ctx.send(send(seq=ctx.seq[k], msg=k))

        @producer.on(receipt)
        def on_receipt(ctx: Ctx, f: FrameView) -> None:
            # The client's pendingMessages is a queue in send order: a receipt completes
            # its head when the sequence ids match (an older one is ignored).
            heads = [  # read before any write below
                ctx.pending[k] & all_(~ctx.pending[j] for j in range(k)) & (ctx.seq[k] == f.seq)
                for k in range(n)
            ]
            for k in range(n):
                with ctx.when(heads[k]):
                    ctx.pending[k] = False
                    ctx.ack(k)

        producer.holds(lambda ctx, m: ctx.pending[m])

        @broker.on(send)
        def on_send(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.seq > ctx.highest), ctx.atomic():  # persisted with the entry
                ctx.process(f.msg)
                ctx.highest = f.seq
            ctx.send(receipt(seq=f.seq))  # a duplicate is acknowledged, silently dropped

    return build


def time_window(name: str, window: int, horizon: int, delay: int, *, source: str) -> ProtocolDef:
    """Publisher retries for ``horizon`` ticks; the queue drops an id seen less than
    ``window`` ticks ago; frames are delivered or lost within ``delay`` ticks."""

    @protocol(
        name,
        claims=["at-most-once"],
        faults=Faults(loss=True, reorder=True, within=delay),
        messages=2,
        description=(
            f"{source}: dedup window {window}, retries for {horizon}, delivery within {delay}."
        ),
    )
    def build(p: Builder) -> None:
        publisher, queue = p.node("publisher"), p.node("queue")
        publish = p.frame(
            "PUBLISH", publisher, queue, carries="msg", ghost=["msg"], dedup_id=p.msg, msg=p.msg
        )
        accepted = p.frame("PUBLISH_OK", queue, publisher, dedup_id=p.msg)
        publisher.var("unacked", Array(p.msg, Bool), durable=True)
        publisher.var("since", Array(p.msg, Age(horizon)), durable=True)
        queue.var("seen", Array(p.msg, Age(window)), durable=True)

        @publisher.on_submit
        def send(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():
                ctx.unacked[m] = True
                ctx.since[m] = 0
            ctx.send(publish(dedup_id=m, msg=m))

        @publisher.timer(p.msg)
        def retry(ctx: Ctx, m: Expr) -> None:  # the SDK's retries, until its deadline
            ctx.require(ctx.unacked[m] & (ctx.since[m] < horizon))
            ctx.send(publish(dedup_id=m, msg=m))

        @publisher.on(accepted)
        def on_ok(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unacked[f.dedup_id]):
                ctx.unacked[f.dedup_id] = False
                ctx.ack(f.dedup_id)

        publisher.holds(lambda ctx, m: ctx.unacked[m] & (ctx.since[m] < horizon))

        @queue.on(publish)
        def on_publish(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.seen[f.dedup_id] >= window), ctx.atomic():
                ctx.process(f.msg)  # enqueued: a new message
                ctx.seen[f.dedup_id] = 0
            ctx.send(accepted(dedup_id=f.dedup_id))  # a duplicate is accepted and dropped

    return build


pulsar_hwm_durable = pulsar_high_water_mark(True)
pulsar_hwm_volatile = pulsar_high_water_mark(False)
# One tick = one minute.  SQS FIFO: 5-minute interval, retries within 2 minutes.
sqs_fifo_window = time_window("sqs-fifo-window-5m", 5, 2, 1, source="SQS FIFO")
# NATS JetStream: 2-minute duplicate window, a publisher that retries for 3 minutes.
nats_window_short = time_window("nats-msg-id-window-2m", 2, 3, 1, source="NATS JetStream")
# The same publisher against a 3-minute window: as long as the retries, not longer.
nats_window_equal = time_window(
    "nats-msg-id-window-3m-retries-3m", 3, 3, 1, source="NATS JetStream"
)

ENTRIES: list[Entry] = [
    Entry(
        pulsar_hwm_durable,
        "Dedup windows",
        "Pulsar PIP-6 (Guaranteed Message Deduplication)",
        expected={
            "no-loss": "holds",
            "no-duplicate": "holds",
            "no-phantom": "holds",
            "in-order": "holds",
        },
    ),
    Entry(
        pulsar_hwm_volatile,
        "Dedup windows",
        "Pulsar PIP-6; derived hazard in delivery-protocols.md §5",
        expected={
            "no-loss": "violated",
            "no-duplicate": "holds",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        shortest={"no-loss": 7},
        note=(
            "Loss, not duplication: after the crash message 1 gets sequence id 0 again; "
            "the broker drops it as a duplicate and sends its receipt, which completes "
            "message 1 at the producer (7 steps)."
        ),
    ),
    Entry(
        sqs_fifo_window,
        "Dedup windows",
        "AWS SQS FIFO: 5-minute deduplication interval",
        expected={"no-loss": "violated", "no-duplicate": "holds", "no-phantom": "holds"},
        shortest={"no-loss": 4},
        note=(
            "No duplicate: the 5-tick window outlasts the 2-tick retry horizon plus the "
            "1-tick delay. no-loss is violated because retries stop at the horizon: a "
            "publish lost until then is given up (the SDK reports the failure)."
        ),
    ),
    Entry(
        nats_window_short,
        "Dedup windows",
        "NATS JetStream Nats-Msg-Id duplicate_window (default 2 min)",
        expected={"no-loss": "violated", "no-duplicate": "violated", "no-phantom": "holds"},
        shortest={"no-loss": 5, "no-duplicate": 7},
        note=(
            "The retry sent 1 tick after the first copy arrives 2 ticks after it: the "
            "2-tick window has just forgotten the id, and the copy is a new message."
        ),
    ),
    Entry(
        nats_window_equal,
        "Dedup windows",
        "NATS JetStream duplicate_window; the 'window must outlast the retries' rule",
        expected={"no-loss": "violated", "no-duplicate": "violated", "no-phantom": "holds"},
        shortest={"no-loss": 5, "no-duplicate": 8},
        note=(
            "A window exactly as long as the retry horizon is not enough: the last retry, "
            "sent just before the horizon, is delivered a tick later, after the window "
            "forgot the id. The window must outlast the retry horizon plus the delivery "
            "delay (4 ticks here holds)."
        ),
    ),
]
