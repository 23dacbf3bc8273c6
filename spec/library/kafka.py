"""Kafka producers: with and without idempotence, and the epoch-bump bug (transactions:
``kafka_txn.py``).

Sources (URLs in ``/work/shared/reference/delivery-protocols.md`` §4):

* the producer's ``retries`` documentation (apache/kafka ``docs``, KAFKA-16300): "Allowing
  retries while setting enable.idempotence to false and
  max.in.flight.requests.per.connection to greater than 1 will potentially change the
  ordering of records because if two batches are sent to a single partition, and the
  first fails and is retried but the second succeeds, then the records in the second
  batch may appear first";
* KIP-98 (idempotent producer): every batch carries (producer id, epoch, sequence); the
  partition leader keeps, per producer, the last appended sequences (the metadata of the
  last 5 batches, ``ProducerStateEntry.NUM_BATCHES_TO_RETAIN``); a batch it has already
  appended is a duplicate (acknowledged, not appended again), a batch whose sequence is
  not the next one is refused (``OUT_OF_ORDER_SEQUENCE_NUMBER``), and a new epoch must
  start at sequence 0 (the leader forgets the old epoch's sequences).  Hence
  ``max.in.flight.requests.per.connection <= 5`` with idempotence (KAFKA-5494);
* KAFKA-14034 (apache/kafka#13796): "The idempotent producer resets the sequence number
  when a batch fails with a non-retriable error. This can violate the idempotent
  guarantee if there are preceding, in-flight requests which are being retried, as their
  producer epoch and sequence number gets rewritten, effectively granting those messages
  a new 'identity'."  Fix: ``markSequenceUnresolved`` instead of an immediate epoch bump —
  new batches are not drained, and the bump waits until the batches already stamped are
  complete;

What the models keep (and what they leave out):

* The producer talks to the partition leader over one connection (``Connection``): FIFO
  and reliable while up; a drop loses every request and response on it, and the client
  fails every request that was in flight on it (retriable).  One record per batch; the
  ``processed`` effect is the append to the partition log; ``ack`` is the producer's
  success callback.
* A retriable broker error is ``NOT_ENOUGH_REPLICAS`` (``acks=all``, the ISR shrank below
  ``min.insync.replicas``): the follower's replication session to the leader is a
  connection too; when it drops (a fault, at most once) the follower is out of the ISR
  until it reconnects (an environment step, taken once faults stop), and a produce request
  that finds the ISR short is refused before anything is appended.  (A broker timer that
  toggled the ISR at will would let the ISR be short every time a retry arrives, forever:
  a loss no real cluster produces once it is healthy again.)
* The accumulator drains a partition's deque from the front.  Without idempotence a failed
  batch goes back with ``deque.addFirst`` (``RecordAccumulator.reenqueue``), and a dropped
  connection fails its in-flight requests oldest first (``InFlightRequests.clearAll``
  iterates ``descendingIterator`` over a deque filled with ``addFirst``): two batches in
  flight come back to the deque in reverse order.  With idempotence they are re-inserted
  in sequence order (``insertInSequenceOrder``): the model drains the lowest sequence first.
* The producer process does not crash, except in ``kafka-idempotent-producer-restart``:
  there the application keeps what it has not seen acknowledged and sends it again from
  the new process, which has a new producer id (idempotence is per producer session —
  librdkafka#4953: "The only option to ensure EOS in all cases ... is using transactions").
* A batch fails for good (the epoch-bump models) when its delivery timeout expires while
  it waits for a retry, at a moment when no request is in flight: the KAFKA-14034 case
  ("preceding, in-flight requests which are being retried").  Failing it while requests
  are in flight would need the responses to old-epoch requests, which are not modelled
  (a test checks that no old-epoch request ever reaches the leader).
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Connection,
    Ctx,
    Enum,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    Queue,
    all_,
    any_,
    ite,
    protocol,
)
from ackproof.spec.library import Entry

#: A batch in the producer: not yet sent by the application, waiting in the accumulator
#: (first send or retry), in flight, completed, or failed (reported to the application).
Batch = Enum("Batch", "NEW", "QUEUED", "INFLIGHT", "DONE", "FAILED")

#: Producer and partition leader over one TCP connection that may drop once; the
#: follower's replication session to the leader may drop once too (the ISR shrinks).
SESSION = Faults(
    loss=True,
    links={
        "producer<->broker": Connection(max_drops=1),
        "follower<->broker": Connection(max_drops=1),
    },
)


#: The same, and the producer process may crash (and restart) once.
RESTARTING = Faults(
    loss=True,
    crash_budgets={"producer": 1},
    links=dict(SESSION.links),
)


def _append(ctx: Ctx, m: Expr, n: int) -> None:
    """A new batch goes to the back of its partition's deque."""
    ctx.dq[ctx.dq_len] = m
    ctx.dq_len = ctx.dq_len + 1


def _add_first(ctx: Ctx, m: Expr, n: int) -> None:
    """A failed batch goes back to the front: ``deque.addFirst(batch)``."""
    for i in reversed(range(1, n)):
        ctx.dq[i] = ctx.dq[i - 1]
    ctx.dq[0] = m
    ctx.dq_len = ctx.dq_len + 1


def _take_first(ctx: Ctx, n: int) -> Expr:
    """The Sender drains the batch at the front."""
    ctx.require(ctx.dq_len > 0)
    m = ctx.dq[0]
    for i in range(n - 1):
        ctx.dq[i] = ctx.dq[i + 1]
    ctx.dq_len = ctx.dq_len - 1
    return m


def _producer_core(p: Builder, *, restarts: bool = False, deque: bool = False) -> None:
    """What every producer variant shares: its batches and whether it is connected.

    ``restarts``: the application keeps what it has not seen acknowledged durably (its
    input position), and sends it again after a restart.  ``deque``: the accumulator's
    deque and the in-flight requests are kept in order (the producer without
    idempotence); otherwise batches are drained in sequence order."""
    n = p.messages
    producer = p.node("producer")
    producer.var("st", Array(p.msg, Batch), init=Batch.NEW)
    producer.var("connected", Bool, init=True)
    if restarts:
        producer.var("unacked", Array(p.msg, Bool), durable=True)
    if deque:
        producer.var("dq", Array(Int(0, n - 1), p.msg))  # the partition's deque
        producer.var("dq_len", Int(0, n))
        producer.var("sent", Queue(p.msg, n))  # requests in flight, oldest first

    @producer.on_submit
    def send(ctx: Ctx, m: Expr) -> None:  # KafkaProducer.send(): into the accumulator
        if restarts:
            ctx.unacked[m] = True
        ctx.st[m] = Batch.QUEUED
        if deque:
            _append(ctx, m, n)

    @producer.on_disconnect
    def fail_in_flight(ctx: Ctx, peer: str) -> None:
        # NetworkClient fails every request in flight on the closed connection (retriable),
        # oldest first (InFlightRequests.clearAll: descendingIterator); each failed batch
        # is re-enqueued (RecordAccumulator.reenqueue: addFirst without idempotence).
        ctx.connected = False
        for k in range(n):
            with ctx.when(ctx.st[k] == Batch.INFLIGHT):
                ctx.st[k] = Batch.QUEUED
        if deque:
            sent = ctx.queue("sent")
            for _ in range(n):
                with ctx.when(~sent.empty()):
                    _add_first(ctx, sent.pop(), n)

    @producer.on_connect
    def ready(ctx: Ctx, peer: str) -> None:
        ctx.connected = True

    @producer.holds
    def holds(ctx: Ctx, m: Expr) -> Expr:
        queued = (ctx.st[m] == Batch.QUEUED) | (ctx.st[m] == Batch.INFLIGHT)
        return queued | ctx.unacked[m] if restarts else queued

    # The leader's ISR: the follower's session to the leader drops (it falls out of the
    # ISR, below min.insync.replicas) and comes back (it caught up and rejoins).
    broker = p.node("broker")
    p.node("follower")
    broker.var("isr_short", Bool)

    @broker.on_disconnect
    def isr_shrinks(ctx: Ctx, peer: str) -> None:
        if peer == "follower":
            ctx.isr_short = True

    @broker.on_connect
    def isr_expands(ctx: Ctx, peer: str) -> None:
        if peer == "follower":
            ctx.isr_short = False


def _may_drain(ctx: Ctx, m: Expr | int, messages: int, max_in_flight: int) -> Expr:
    """``m`` is at the front of its partition's queue, the connection is ready and there
    is room for one more request in flight."""
    inflight = [ite(ctx.st[k] == Batch.INFLIGHT, 1, 0) for k in range(messages)]
    count: Expr = inflight[0]
    for x in inflight[1:]:
        count = count + x
    front = all_((ctx.st[k] != Batch.QUEUED) | (m <= k) for k in range(messages))
    return (ctx.st[m] == Batch.QUEUED) & ctx.connected & front & (count < max_in_flight)


def plain_producer(max_in_flight: int = 2) -> ProtocolDef:
    """``enable.idempotence=false``, ``retries`` > 0, ``max.in.flight`` = ``max_in_flight``."""

    @protocol(
        f"kafka-producer-retries-inflight{max_in_flight}",
        claims=["at-least-once"],
        faults=SESSION,
        messages=2,
        description="Kafka producer without idempotence: retries, several requests in flight.",
    )
    def build(p: Builder) -> None:
        producer, broker = p.node("producer"), p.node("broker")
        produce = p.frame("PRODUCE", producer, broker, carries="msg", msg=p.msg)
        ok = p.frame("PRODUCE_OK", broker, producer, msg=p.msg)
        retriable = p.frame("NOT_ENOUGH_REPLICAS", broker, producer, msg=p.msg)
        n = p.messages
        _producer_core(p, deque=True)

        @producer.timer()
        def drain(ctx: Ctx) -> None:  # the Sender thread: the front batch, if there is room
            sent = ctx.queue("sent")
            ctx.require(ctx.connected & (sent.size() < max_in_flight))
            m = _take_first(ctx, n)
            ctx.st[m] = Batch.INFLIGHT
            sent.push(m)
            ctx.send(produce(msg=m))

        # Responses come back in request order (one connection): each is for the oldest
        # request in flight.
        @producer.on(ok)
        def on_ok(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.st[f.msg] == Batch.INFLIGHT):
                ctx.queue("sent").pop()
                ctx.st[f.msg] = Batch.DONE
                ctx.ack(f.msg)

        @producer.on(retriable)
        def on_error(ctx: Ctx, f: FrameView) -> None:  # retries = MAX_INT: back to the front
            with ctx.when(ctx.st[f.msg] == Batch.INFLIGHT):
                ctx.queue("sent").pop()
                ctx.st[f.msg] = Batch.QUEUED
                _add_first(ctx, f.msg, n)

        @broker.on(produce)
        def on_produce(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.isr_short):
                ctx.send(retriable(msg=f.msg))
            with ctx.when(~ctx.isr_short):
                ctx.process(f.msg)  # appended to the partition log
                ctx.send(ok(msg=f.msg))

    return build


def idempotent_producer(
    name: str, failure: str | None, *, max_in_flight: int = 2, description: str
) -> ProtocolDef:
    """The KIP-98 idempotent producer.

    ``failure``: ``None`` — only retriable errors (disconnects, ``NOT_ENOUGH_REPLICAS``,
    ``OUT_OF_ORDER_SEQUENCE_NUMBER`` while an earlier batch is retried); ``"restart"`` — the
    producer process may crash once; the application sends what was not acknowledged
    again, from a new producer session (``InitProducerId`` gives it a new producer id:
    numbered here by the durable ``epoch`` field, which the leader sees as a new
    identity, exactly as it sees a new epoch); ``"restamp"`` — a
    batch may also fail for good (its delivery timeout expires while it waits for a retry)
    and the producer bumps its epoch at once, re-stamping the batches being retried
    (before KAFKA-14034); ``"wait"`` — the same failure, with the fix: new batches are held
    back and the bump waits until every stamped batch is complete."""
    if max_in_flight > 5:
        raise ValueError("KIP-98: idempotence needs max.in.flight.requests.per.connection <= 5")

    @protocol(
        name,
        claims=["exactly-once", "in-order"] if failure is None else ["at-most-once"],
        faults=SESSION if failure != "restart" else RESTARTING,
        messages=2,
        description=description,
    )
    def build(p: Builder) -> None:
        n = p.messages
        epoch_t, seq_t = Int(0, n), Int(0, n - 1)
        producer, broker = p.node("producer"), p.node("broker")
        produce = p.frame(
            "PRODUCE",
            producer,
            broker,
            carries="msg",
            ghost=["msg"],
            epoch=epoch_t,
            seq=seq_t,
            msg=p.msg,
        )
        ok = p.frame("PRODUCE_OK", broker, producer, epoch=epoch_t, seq=seq_t)
        retriable = p.frame("RETRIABLE_ERROR", broker, producer, epoch=epoch_t, seq=seq_t)
        restarts = failure == "restart"
        _producer_core(p, restarts=restarts)
        producer.var("epoch", epoch_t, durable=restarts)
        producer.var("next_seq", Int(0, n))
        producer.var("stamped", Array(p.msg, Bool))  # has a (epoch, seq) of its own
        producer.var("ep", Array(p.msg, epoch_t))
        producer.var("seq", Array(p.msg, seq_t))
        producer.var("unresolved", Bool)  # KAFKA-14034's fix: a sequence gap to resolve
        # The leader's producer state for this producer id: its epoch, its last sequence.
        broker.var("epoch", epoch_t, durable=True)
        broker.var("last_seq", Int(-1, n - 1), init=-1, durable=True)

        @producer.timer(p.msg)
        def drain(ctx: Ctx, m: Expr) -> None:
            ctx.require(_may_drain(ctx, m, n, max_in_flight))
            # the fix: no new batch is drained while a sequence is unresolved
            ctx.require(ctx.stamped[m] | ~ctx.unresolved)
            with ctx.when(~ctx.stamped[m]):  # the first drain assigns the batch's identity
                ctx.stamped[m] = True
                ctx.ep[m] = ctx.epoch
                ctx.seq[m] = ctx.next_seq
                ctx.next_seq = ctx.next_seq + 1
            ctx.st[m] = Batch.INFLIGHT
            ctx.send(produce(epoch=ctx.ep[m], seq=ctx.seq[m], msg=m))

        def batch(ctx: Ctx, f: FrameView, k: int) -> Expr:
            """The response is for batch ``k`` (the client matches it to its request)."""
            return (
                (ctx.st[k] == Batch.INFLIGHT)
                & ctx.stamped[k]
                & (ctx.ep[k] == f.epoch)
                & (ctx.seq[k] == f.seq)
            )

        @producer.on(ok)
        def on_ok(ctx: Ctx, f: FrameView) -> None:
            for k in range(n):
                with ctx.when(batch(ctx, f, k)):
                    ctx.st[k] = Batch.DONE
                    if restarts:
                        ctx.unacked[k] = False
                    ctx.ack(k)

        @producer.on(retriable)
        def on_error(ctx: Ctx, f: FrameView) -> None:
            for k in range(n):
                with ctx.when(batch(ctx, f, k)):
                    ctx.st[k] = Batch.QUEUED

        if restarts:

            @producer.on_restart
            def new_session(ctx: Ctx) -> None:
                ctx.connected = False  # the crash closed the connection
                ctx.epoch = ctx.epoch + 1  # a new producer id: sequences start at 0
                for k in range(n):
                    with ctx.when(ctx.unacked[k]):  # sent again by the application
                        ctx.st[k] = Batch.QUEUED

        if failure in ("restamp", "wait"):

            @producer.timer(p.msg)
            def delivery_timeout(ctx: Ctx, m: Expr) -> None:
                # A batch that was sent and waits for its retry fails for good; nothing is
                # in flight (every earlier request has failed or completed).
                ctx.require((ctx.st[m] == Batch.QUEUED) & ctx.stamped[m])
                ctx.require(all_(ctx.st[k] != Batch.INFLIGHT for k in range(n)))
                ctx.st[m] = Batch.FAILED
                if failure == "restamp":
                    bump(ctx)
                else:
                    ctx.unresolved = True

            def bump(ctx: Ctx) -> None:
                """Bump the epoch and restart the sequences at 0, re-stamping every batch
                that already has an identity and is not complete."""
                nxt: Expr = ctx.epoch + 1
                ctx.epoch = nxt
                count: Expr | int = 0
                for k in range(n):
                    again = ctx.stamped[k] & (ctx.st[k] == Batch.QUEUED)
                    with ctx.when(again):
                        ctx.ep[k] = nxt
                        ctx.seq[k] = count
                    count = ite(again, count + 1, count)
                ctx.next_seq = count

            if failure == "wait":

                @producer.timer()
                def resolve(ctx: Ctx) -> None:
                    # every stamped batch is complete: now the bump is safe
                    pending = any_(
                        ctx.stamped[k]
                        & ((ctx.st[k] == Batch.QUEUED) | (ctx.st[k] == Batch.INFLIGHT))
                        for k in range(n)
                    )
                    ctx.require(ctx.unresolved & ~pending)
                    ctx.unresolved = False
                    bump(ctx)

        @broker.on(produce)
        def on_produce(ctx: Ctx, f: FrameView) -> None:
            reply = {"epoch": f.epoch, "seq": f.seq}
            new_epoch = f.epoch > ctx.epoch
            same = f.epoch == ctx.epoch
            duplicate = same & (f.seq <= ctx.last_seq)
            next_one = (same & (f.seq == ctx.last_seq + 1)) | (new_epoch & (f.seq == 0))
            with ctx.when(ctx.isr_short):  # checked before the append
                ctx.send(retriable(**reply))
            with ctx.when(~ctx.isr_short):
                with ctx.when(duplicate):  # acknowledged, not appended again
                    ctx.send(ok(**reply))
                with ctx.when(next_one):
                    ctx.process(f.msg)
                    ctx.epoch = f.epoch  # a new epoch forgets the old one's sequences
                    ctx.last_seq = f.seq
                    ctx.send(ok(**reply))
                # OUT_OF_ORDER_SEQUENCE_NUMBER: retried once the gap is filled.  (An old
                # epoch never gets here: the producer bumps only when nothing is in flight.)
                with ctx.when(~duplicate & ~next_one):
                    ctx.send(retriable(**reply))

    return build


kafka_producer_retries = plain_producer(2)
kafka_producer_retries_one_in_flight = plain_producer(1)
kafka_idempotent = idempotent_producer(
    "kafka-idempotent-producer",
    None,
    description="KIP-98 idempotent producer: (producer id, epoch, sequence), in-flight <= 5.",
)
kafka_idempotent_restart = idempotent_producer(
    "kafka-idempotent-producer-restart",
    "restart",
    description="Idempotent producer whose process restarts: the application's resends "
    "come from a new producer id.",
)
kafka_epoch_bump_restamp = idempotent_producer(
    "kafka-epoch-bump-restamp",
    "restamp",
    description="Idempotent producer that bumps its epoch at once on a failed batch "
    "(KAFKA-14034): batches being retried get a new identity.",
)
kafka_epoch_bump_wait = idempotent_producer(
    "kafka-epoch-bump-wait",
    "wait",
    description="KAFKA-14034's fix: the epoch bump waits for the batches already stamped.",
)

KIP98 = "KIP-98 (idempotent producer)"
ENTRIES: list[Entry] = [
    Entry(
        kafka_producer_retries,
        "Kafka",
        "producer config docs: retries / max.in.flight.requests.per.connection (KAFKA-16300)",
        expected={
            "no-loss": "holds",
            "no-duplicate": "violated",
            "no-phantom": "holds",
            "in-order": "violated",
        },
        shortest={"no-duplicate": 7, "in-order": 10},
        note=(
            "The duplicate needs no broker error: the connection drops after the append, "
            "the client fails the request, the retry is appended again (7 steps). Finding: "
            "the reordering needs no broker error either, unlike the docs' scenario (batch "
            "0 fails, batch 1 succeeds, 11 steps): a drop with both batches in flight "
            "re-enqueues them oldest first, each with addFirst, so batch 1 is retried "
            "before batch 0 (10 steps)."
        ),
    ),
    Entry(
        kafka_producer_retries_one_in_flight,
        "Kafka",
        "producer config docs: max.in.flight.requests.per.connection=1 keeps order",
        expected={
            "no-loss": "holds",
            "no-duplicate": "violated",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        shortest={"no-duplicate": 7},
        note="One request in flight keeps the order; retries still duplicate.",
    ),
    Entry(
        kafka_idempotent,
        "Kafka",
        KIP98,
        expected={
            "no-loss": "holds",
            "no-duplicate": "holds",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        note=(
            "In order with two requests in flight: a batch that finds the ISR short is "
            "refused, the next one is refused too (OUT_OF_ORDER_SEQUENCE_NUMBER: a gap), and "
            "both are retried in sequence order. Within one producer session only."
        ),
    ),
    Entry(
        kafka_idempotent_restart,
        "Kafka",
        "KIP-98 scope; confluentinc/librdkafka#4953",
        expected={
            "no-loss": "holds",
            "no-duplicate": "violated",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        shortest={"no-duplicate": 7},
        note=(
            "Idempotence is per producer session: the batch was appended, the producer "
            "crashed before the response, and the application's resend under the new "
            "producer id is a new identity to the leader (7 steps). Only transactions "
            "(a stable transactional.id) carry across restarts."
        ),
    ),
    Entry(
        kafka_epoch_bump_restamp,
        "Kafka",
        "KAFKA-14034 (apache/kafka#13796), KIP-360",
        expected={
            "no-loss": "violated",
            "no-duplicate": "violated",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        shortest={"no-loss": 4, "no-duplicate": 10},
        note=(
            "Batch 0 is appended, the connection drops before its response; batch 1 fails "
            "for good and the epoch bump re-stamps batch 0 as (epoch 1, seq 0): the leader "
            "takes the new epoch for a new producer session and appends it again. The "
            "no-loss violation is the failed batch itself (reported to the application)."
        ),
    ),
    Entry(
        kafka_epoch_bump_wait,
        "Kafka",
        "KAFKA-14034 fix (markSequenceUnresolved; apache/kafka#13796)",
        expected={
            "no-loss": "violated",
            "no-duplicate": "holds",
            "no-phantom": "holds",
            "in-order": "holds",
        },
        shortest={"no-loss": 4},
        note=(
            "The fix keeps no-duplicate; no-loss stays violated only because a batch may "
            "fail for good (the application is told), exactly as with the bug."
        ),
    ),
]
