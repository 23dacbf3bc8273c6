"""Exactly-once with bounded dedup state: a contiguous watermark plus the sparse set above it.

The sender hands out ids in order (``0, 1, 2, ...``) and retries each until its ACK arrives;
the network loses, duplicates and reorders; both nodes may crash.  The receiver keeps, durably:

* ``low`` — the watermark: every id below it has been processed;
* ``above`` — the ids at or above ``low`` processed so far (sparse: only the ones that
  overtook a missing id).

A copy is a duplicate when its id is below ``low`` or in ``above``: it is acked, not processed.
A fresh id is processed, recorded in ``above`` and, in the same atomic step (one transaction),
the set is *compacted*: while ``low`` is in ``above``, it leaves the set and ``low`` moves up.
So the set only ever holds ids that overtook a gap; with in-order ids and a window of ``W``
messages in flight it holds fewer than ``W`` ids, however long the run (the implementation:
``impl/sqlite_store.py``).

Compaction is safe because ``low`` only passes ids that were processed: a late copy of any of
them is still recognised (``id < low``).  The unsafe sibling bounds the set another way,
by count (Kafka's "last five batches", an inbox table pruned to its newest ``K`` rows): once the
set holds more than ``K`` ids, the oldest leaves it — while a retry of that id can still
arrive.

Expected verdicts (lossy, duplicating, reordering network; crashes of either node):

* ``compaction_watermark`` (3 messages) — exactly-once holds (explicit and PDR agree).
* ``compaction_by_count = compaction(prune_over=1)`` (3 messages) — *no-duplicate* violated:
  ids 1 and 2 overtake id 0, the set overflows and forgets 1, and a retry of 1 is processed
  again.
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    all_,
    ite,
    protocol,
)

#: A datagram network, and either node may crash (durable state survives).
FAULTS = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


def compaction(*, prune_over: int | None = None, messages: int = 3) -> ProtocolDef:
    """Watermark + sparse set; ``prune_over=K`` also drops the lowest id from the set once it
    holds more than ``K`` (the unsafe sibling)."""
    if prune_over is not None and prune_over < 1:
        raise ValueError(f"prune_over must keep at least one id, got {prune_over}")
    name = "compaction-watermark" if prune_over is None else f"compaction-by-count-k{prune_over}"
    what = "" if prune_over is None else f", and the set pruned to its newest {prune_over} ids"

    @protocol(
        name,
        claims=["exactly-once"],
        faults=FAULTS,
        messages=messages,
        description=f"Exactly-once with a contiguous watermark and a sparse set{what}.",
    )
    def build(p: Builder) -> None:
        sender, receiver = p.sender, p.receiver
        n = p.messages
        data = p.frame("DATA", sender, receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", receiver, sender, msg=p.msg)

        sender.var("unacked", Array(p.msg, Bool), durable=True)
        receiver.var("low", Int(0, n), durable=True)
        receiver.var("above", Array(p.msg, Bool), durable=True)

        @sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.unacked[m] = True
            ctx.send(data(msg=m))

        @sender.timer(p.msg)
        def retransmit(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m])
            ctx.send(data(msg=m))

        @sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unacked[f.msg]):
                ctx.unacked[f.msg] = False
                ctx.ack(f.msg)

        @sender.holds
        def holds(ctx: Ctx, m: Expr) -> Expr:
            return ctx.unacked[m]

        @receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            fresh = (f.msg >= ctx.low) & ~ctx.above[f.msg]
            with ctx.when(fresh), ctx.atomic():
                ctx.process(f.msg)
                ctx.above[f.msg] = True
                for i in range(n):  # compact: the watermark climbs over processed ids
                    with ctx.when((ctx.low == i) & ctx.above[i]):
                        ctx.above[i] = False
                        ctx.low = i + 1
                if prune_over is not None:
                    for i in range(n):  # the lowest id in the set leaves it, if too many
                        count = sum_true([ctx.above[j] for j in range(n)])
                        lowest = ctx.above[i] & all_(~ctx.above[j] for j in range(i))
                        with ctx.when(lowest & (count > prune_over)):
                            ctx.above[i] = False
            ctx.send(ack(msg=f.msg))

    return build


def sum_true(flags: list[Expr]) -> Expr:
    """How many of ``flags`` hold, as an integer expression."""
    total: Expr = ite(flags[0], 1, 0)
    for flag in flags[1:]:
        total = total + ite(flag, 1, 0)
    return total


compaction_watermark = compaction()
compaction_by_count = compaction(prune_over=1)
