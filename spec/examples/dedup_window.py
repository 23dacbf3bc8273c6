"""Exactly-once by a bounded dedup window: the receiver remembers only the last ``K`` ids.

The sender retries every unacknowledged message until its ACK arrives (timeouts may be
premature).  The message id is on the wire — an idempotency key such as NATS's
``Nats-Msg-Id`` or an SQS deduplication id — and the receiver keeps the ids of the last
``K`` messages it processed in a ring buffer: a copy whose id is there is acked and
dropped; any other is processed and its id recorded, atomically, evicting the oldest id
once the ring is full.  Then it is acked.  There are no crashes: the window forgets by
design, not by accident.

The window is safe only if it outlives every copy of every id it forgets.  Over a network
that duplicates and reorders, a copy can wait in flight while ``K`` newer messages go by.

Expected verdicts (lossy, duplicating, reordering network, no crashes):

* ``dedup_window_forgetful = dedup_window(1)`` with 2 messages — broken: a copy of
  message 0 waits in flight while message 1 is processed and evicts id 0 from the window;
  then the copy is processed again (*no-duplicate*).
* ``dedup_window_roomy = dedup_window(2)`` with 2 messages (``K >= N``): nothing is ever
  forgotten, exactly-once holds.  With 3 messages the same window breaks *no-duplicate*.

In-order is not claimed: over a reordering network a later message can simply arrive
first.
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
    protocol,
)

#: A datagram network: frames are lost, duplicated and overtake each other.
DATAGRAM = Faults(loss=True, duplicate=True, reorder=True)

#: An empty ring slot.
EMPTY = -1


def dedup_window(k: int, *, messages: int = 2) -> ProtocolDef:
    """Retry until acked; the receiver drops a copy only if its id is among the last ``k``."""
    if k < 1:
        raise ValueError(f"the window must remember at least one id, got k={k}")

    @protocol(
        f"dedup-window-k{k}",
        claims=["exactly-once"],
        faults=DATAGRAM,
        messages=messages,
        description=f"Exactly-once with a dedup window of the last {k} ids.",
    )
    def build(p: Builder) -> None:
        sender, receiver = p.sender, p.receiver
        data = p.frame("DATA", sender, receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", receiver, sender, msg=p.msg)
        slot_t = Int(0, k - 1)

        sender.var("unacked", Array(p.msg, Bool), durable=True)
        receiver.var("recent", Array(slot_t, Int(EMPTY, p.messages - 1)), init=EMPTY)
        receiver.var("oldest", slot_t)  # the slot the next id goes into

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
            fresh = all_(ctx.recent[i] != f.msg for i in range(k))
            with ctx.when(fresh), ctx.atomic():
                ctx.process(f.msg)
                ctx.recent[ctx.oldest] = f.msg
                ctx.oldest = (ctx.oldest + 1) % k
            ctx.send(ack(msg=f.msg))

    return build


dedup_window_forgetful = dedup_window(1, messages=2)
dedup_window_roomy = dedup_window(2, messages=2)
