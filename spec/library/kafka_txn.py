"""Kafka transactions: read-process-write, a zombie and its successor (the producers:
``kafka.py``).

Sources (URLs in ``/work/shared/reference/delivery-protocols.md`` §4):

* KIP-98 transactions and KIP-447: a transactional producer's ``InitProducerId`` bumps the
  epoch of its ``transactional.id`` "so that any previous zombie instance of the producer
  is fenced off"; with KIP-447 a producer per thread (distinct transactional ids) is
  fenced instead by the consumer group generation carried by ``sendOffsetsToTransaction``
  ("A zombie process may invoke InitProducerId after falling out of the consumer group.
  In order to distinguish zombie requests, we need to leverage group coordinator to fence
  out of sync client").

What the models keep (and what they leave out):

* Transactions: the transaction coordinator, the group coordinator and the partition
  leaders are one ``broker`` node.  A transaction is two requests: its output record with
  its offset commit (Produce + ``TxnOffsetCommit``, which leaves the offsets *pending*),
  then ``EndTxn``, whose markers make output and offset visible together (one atomic
  step: the markers' own two phases and KIP-890's delayed-marker hazards are not
  modelled).  The successor joins (a new generation) and calls ``InitProducerId`` (a new
  epoch for its transactional id, aborting that id's open transaction), then fetches the
  committed offset.  The connections do not drop here: the zombie is a live instance
  the group has given up on, not a lost frame.
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
    any_,
    min_,
    protocol,
)
from ackproof.spec.library import Entry

# -- transactions: read-process-write, a zombie and its successor ---------------------------
Phase = Enum(
    "Phase",
    "IDLE",
    "JOINING",
    "FETCH_DUE",
    "FETCHING",
    "READY",
    "POLLING",
    "ADDING",
    "ENDING",
    "FENCED",
)


def transactional(
    name: str, fencing: str, *, stable_fetch: bool = False, description: str
) -> ProtocolDef:
    """Consume-transform-produce with transactions, a first instance that becomes a zombie
    and the successor the group hands its input partition to.

    ``fencing``: ``"epoch"`` — both use one ``transactional.id`` (KIP-98: the successor's
    ``InitProducerId`` bumps its epoch and aborts the open transaction); ``"generation"`` —
    each has its own transactional id and the offset commit carries the group generation
    (KIP-447); ``"none"`` — each has its own transactional id and nothing carries the
    generation.  ``stable_fetch``: the offset fetch waits while transactional offsets are
    pending (KIP-447's ``require_stable``)."""
    if fencing not in ("epoch", "generation", "none"):
        raise ValueError(f"fencing is 'epoch', 'generation' or 'none', got {fencing!r}")

    @protocol(
        name,
        claims=["exactly-once"],
        faults=Faults(
            links={
                "zombie<->broker": Connection(),
                "successor<->broker": Connection(),
            }
        ),
        messages=2,
        description=description,
    )
    def build(p: Builder) -> None:
        n = p.messages
        pos_t, epoch_t = Int(0, n), Int(0, 1)
        broker = p.node("broker")
        apps = [p.node("zombie"), p.node("successor")]
        join = p.frame("INIT", apps, broker)  # JoinGroup + InitProducerId
        joined = p.frame("INIT_OK", broker, apps, epoch=epoch_t, gen=epoch_t)
        fetch_offset = p.frame("OFFSET_FETCH", apps, broker)
        offset = p.frame("OFFSET", broker, apps, pos=pos_t)
        unstable = p.frame("UNSTABLE_OFFSET_COMMIT", broker, apps)
        poll = p.frame("FETCH", apps, broker, pos=p.msg)
        record = p.frame("RECORD", broker, apps, carries="msg", msg=p.msg)
        empty = p.frame("NO_RECORD", broker, apps)
        # In the transaction: the output record for ``msg`` and the offset ``msg + 1``
        # (Produce + TxnOffsetCommit with the group generation); then EndTxn(commit).
        add = p.frame(
            "TXN_OFFSET_COMMIT", apps, broker, carries="msg", msg=p.msg, epoch=epoch_t, gen=epoch_t
        )
        added = p.frame("ADDED", broker, apps)
        end = p.frame("END_TXN", apps, broker, epoch=epoch_t)
        committed = p.frame("COMMITTED", broker, apps)
        fenced = p.frame("FENCED", broker, apps)

        def txid(node: str) -> str:
            return "shared" if fencing == "epoch" else node

        ids = sorted({txid(a.name) for a in apps})
        broker.var("input", Array(p.msg, Bool), durable=True)  # the input partition
        broker.var("offset", pos_t, durable=True)  # the group's committed offset
        broker.var("generation", epoch_t, durable=True)
        for t in ids:
            broker.var(f"epoch_{t}", epoch_t, durable=True)
            broker.var(f"open_{t}", Bool, durable=True)  # a transaction with offsets pending
            broker.var(f"out_{t}", p.msg, durable=True)  # its output is for this input

        @broker.on_submit
        def append_input(ctx: Ctx, m: Expr) -> None:  # an upstream producer writes input
            ctx.input[m] = True

        broker.holds(lambda ctx, m: ctx.input[m] & (ctx.offset <= m))

        @broker.on(join)
        def on_join(ctx: Ctx, f: FrameView) -> None:
            t = txid(f.source)
            epoch = f"epoch_{t}"
            with ctx.when(getattr(ctx, epoch) < 1):  # InitProducerId bumps the epoch
                setattr(ctx, epoch, getattr(ctx, epoch) + 1)
            setattr(ctx, f"open_{t}", False)  # and aborts the id's open transaction
            with ctx.when(ctx.generation < 1):  # the rebalance: a new generation
                ctx.generation = ctx.generation + 1
            ctx.send(joined(epoch=getattr(ctx, epoch), gen=ctx.generation), to=f.source)

        @broker.on(fetch_offset)
        def on_offset_fetch(ctx: Ctx, f: FrameView) -> None:
            if not stable_fetch:
                ctx.send(offset(pos=ctx.offset), to=f.source)
                return
            pending = any_(getattr(ctx, f"open_{t}") for t in ids)
            with ctx.when(pending):  # require_stable: try again later
                ctx.send(unstable(), to=f.source)
            with ctx.when(~pending):
                ctx.send(offset(pos=ctx.offset), to=f.source)

        @broker.on(poll)
        def on_poll(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.input[f.pos]):
                ctx.send(record(msg=f.pos), to=f.source)
            with ctx.when(~ctx.input[f.pos]):
                ctx.send(empty(), to=f.source)

        @broker.on(add)
        def on_add(ctx: Ctx, f: FrameView) -> None:
            t = txid(f.source)
            valid = f.epoch == getattr(ctx, f"epoch_{t}")
            if fencing == "generation":
                valid = valid & (f.gen == ctx.generation)
            with ctx.when(valid):
                setattr(ctx, f"open_{t}", True)
                setattr(ctx, f"out_{t}", f.msg)
                ctx.send(added(), to=f.source)
            with ctx.when(~valid):  # PRODUCER_FENCED / ILLEGAL_GENERATION
                ctx.send(fenced(), to=f.source)

        @broker.on(end)
        def on_end(ctx: Ctx, f: FrameView) -> None:
            t = txid(f.source)
            valid = (f.epoch == getattr(ctx, f"epoch_{t}")) & getattr(ctx, f"open_{t}")
            with ctx.when(valid), ctx.atomic():  # the markers: output and offset, all or none
                ctx.process(getattr(ctx, f"out_{t}"))
                ctx.offset = getattr(ctx, f"out_{t}") + 1
                setattr(ctx, f"open_{t}", False)
            with ctx.when(valid):
                ctx.send(committed(), to=f.source)
            with ctx.when(~valid):  # fenced, or its transaction was aborted
                ctx.send(fenced(), to=f.source)

        for app in apps:
            first = app.name == "zombie"
            # The first instance is already running: initialised, at offset 0.
            app.var("phase", Phase, init=Phase.READY if first else Phase.IDLE)
            app.var("pos", pos_t)
            app.var("epoch", epoch_t)
            app.var("gen", epoch_t)
            app.var("msg", p.msg)

            if not first:

                @app.timer()
                def take_over(ctx: Ctx) -> None:  # the group thinks the first one is dead
                    ctx.require(ctx.phase == Phase.IDLE)
                    ctx.phase = Phase.JOINING
                    ctx.send(join())

            @app.on(joined)
            def on_joined(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.JOINING):
                    ctx.epoch = f.epoch
                    ctx.gen = f.gen
                    ctx.phase = Phase.FETCH_DUE

            @app.timer()
            def fetch_offsets(ctx: Ctx) -> None:
                ctx.require(ctx.phase == Phase.FETCH_DUE)
                ctx.phase = Phase.FETCHING
                ctx.send(fetch_offset())

            @app.on(unstable)
            def on_unstable(ctx: Ctx, f: FrameView) -> None:  # retried after a backoff
                with ctx.when(ctx.phase == Phase.FETCHING):
                    ctx.phase = Phase.FETCH_DUE

            @app.on(offset)
            def on_offset(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.FETCHING):
                    ctx.pos = f.pos
                    ctx.phase = Phase.READY

            @app.timer()
            def poll_loop(ctx: Ctx) -> None:
                ctx.require((ctx.phase == Phase.READY) & (ctx.pos < n))
                ctx.phase = Phase.POLLING
                ctx.send(poll(pos=min_(ctx.pos, n - 1)))  # pos < n here

            @app.on(empty)
            def on_empty(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.POLLING):
                    ctx.phase = Phase.READY

            @app.on(record)
            def on_record(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.POLLING):
                    ctx.phase = Phase.ADDING
                    ctx.msg = f.msg
                    ctx.send(add(msg=f.msg, epoch=ctx.epoch, gen=ctx.gen))

            @app.on(added)
            def on_added(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.ADDING):
                    ctx.phase = Phase.ENDING
                    ctx.send(end(epoch=ctx.epoch))

            @app.on(committed)
            def on_committed(ctx: Ctx, f: FrameView) -> None:
                with ctx.when(ctx.phase == Phase.ENDING):
                    ctx.pos = ctx.msg + 1
                    ctx.phase = Phase.READY

            @app.on(fenced)
            def on_fenced(ctx: Ctx, f: FrameView) -> None:
                ctx.phase = Phase.FENCED  # a fenced producer must close

    return build


kafka_txn_no_fencing = transactional(
    "kafka-txn-no-fencing",
    "none",
    description="Read-process-write with a transactional id per instance and no "
    "generation in the offset commit: the zombie is not fenced.",
)
kafka_txn_epoch_fencing = transactional(
    "kafka-txn-epoch-fencing",
    "epoch",
    description="Read-process-write, one transactional.id: InitProducerId fences the "
    "zombie (KIP-98).",
)
kafka_txn_generation_unstable_fetch = transactional(
    "kafka-txn-generation-unstable-fetch",
    "generation",
    description="Read-process-write, a transactional id per instance, the group "
    "generation fences the zombie's offset commit, the offset fetch does not wait.",
)
kafka_txn_generation_fencing = transactional(
    "kafka-txn-generation-fencing",
    "generation",
    stable_fetch=True,
    description="KIP-447: the group generation fences the zombie's offset commit and the "
    "offset fetch waits for pending transactional offsets.",
)

ENTRIES: list[Entry] = [
    Entry(
        kafka_txn_no_fencing,
        "Kafka",
        "KIP-447 (motivation: zombies not fenced across rebalances)",
        expected={"no-loss": "holds", "no-duplicate": "violated", "no-phantom": "holds"},
        shortest={"no-duplicate": 19},
        note=(
            "Transactions alone do not give exactly-once: the zombie's offsets are pending "
            "in its open transaction when the successor fetches the committed offset (0); "
            "the zombie then commits, and both outputs for input 0 are committed."
        ),
    ),
    Entry(
        kafka_txn_epoch_fencing,
        "Kafka",
        "KIP-98 (transactional.id, InitProducerId fences zombies)",
        expected={"no-loss": "holds", "no-duplicate": "holds", "no-phantom": "holds"},
    ),
    Entry(
        kafka_txn_generation_unstable_fetch,
        "Kafka",
        "KIP-447 without require_stable (kafka-python before #3023; franz-go's former "
        "opt-in RequireStableFetchOffsets)",
        expected={"no-loss": "holds", "no-duplicate": "violated", "no-phantom": "holds"},
        shortest={"no-duplicate": 19},
        note=(
            "Finding: the generation check alone does not fence the zombie. Its "
            "TxnOffsetCommit was accepted before the rebalance, so its EndTxn still "
            "commits after the successor read offset 0 — the same 19-step run as with no "
            "fencing. KIP-447 also makes the offset fetch wait for pending transactional "
            "offsets (require_stable); with it the duplicate is gone. Clients had to opt "
            "in: kafka-python sets the flag only since #3023, franz-go made it the default."
        ),
    ),
    Entry(
        kafka_txn_generation_fencing,
        "Kafka",
        "KIP-447 (group generation in sendOffsetsToTransaction)",
        expected={"no-loss": "holds", "no-duplicate": "holds", "no-phantom": "holds"},
    ),
]
