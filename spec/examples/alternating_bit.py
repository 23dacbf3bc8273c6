"""The alternating-bit protocol (Bartlett, Scantlebury and Wilkinson, 1969).

The sender has one message in flight at a time.  It sends ``DATA(bit)`` and repeats it
whenever its timer fires (timeouts may be premature) until ``ACK(bit)`` comes back; then
it tells its producer, flips ``bit`` and takes the next message.  The receiver expects a
bit: on ``DATA`` carrying the expected bit it processes the message and flips its
expectation; whatever the bit, it acks the bit it received.  On the wire there is only
the bit: the message's identity rides along as a ghost field (``msg``) so the checker can
observe the history, and the receiver decides by the bit alone.

Expected verdicts:

* ``alternating_bit`` — lossy, duplicating FIFO channels, no crashes: exactly-once
  (no-loss, no-duplicate, no-phantom) and in-order all hold.
* ``alternating_bit_reordering`` — the same protocol over a channel that reorders: a stale
  copy of an earlier message carrying the bit the receiver now expects is taken as new.
  With 2 messages, the receiver processes message 0 twice (*no-duplicate* broken); with 3,
  the stale copy also stands in for message 2, which is acked and never processed
  (*no-loss* broken).
"""

from __future__ import annotations

from ackproof.spec import Bool, Builder, Ctx, Expr, Faults, FrameView, protocol

#: Lossy, duplicating FIFO channels: the setting the protocol was designed for.
FIFO = Faults(loss=True, duplicate=True)
#: The same, but frames may overtake each other.
REORDERING = Faults(loss=True, duplicate=True, reorder=True)

CLAIMS = ["exactly-once", "in-order"]


@protocol("alternating-bit", claims=CLAIMS, faults=FIFO, messages=2)
def alternating_bit(p: Builder) -> None:
    """One message in flight, told apart from the previous one by a single bit."""
    sender, receiver = p.sender, p.receiver
    data = p.frame("DATA", sender, receiver, carries="msg", ghost=["msg"], bit=Bool, msg=p.msg)
    ack = p.frame("ACK", receiver, sender, bit=Bool)

    sender.var("busy", Bool)
    sender.var("bit", Bool)
    sender.var("cur", p.msg, ghost=True)  # the message in flight (the payload, really)
    receiver.var("expected", Bool)

    @sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.require(~ctx.busy)
        ctx.busy = True
        ctx.cur = m
        ctx.send(data(bit=ctx.bit, msg=m))

    @sender.timer()
    def retransmit(ctx: Ctx) -> None:
        ctx.require(ctx.busy)
        ctx.send(data(bit=ctx.bit, msg=ctx.cur))

    @sender.on(ack)
    def on_ack(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(ctx.busy & (f.bit == ctx.bit)):
            ctx.ack(ctx.cur)
            ctx.busy = False
            ctx.bit = ~ctx.bit

    @sender.holds
    def holds(ctx: Ctx, m: Expr) -> Expr:
        return ctx.busy & (ctx.cur == m)

    @receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(f.bit == ctx.expected):
            ctx.process(f.msg)
            ctx.expected = ~ctx.expected
        ctx.send(ack(bit=f.bit))


alternating_bit_reordering = protocol(
    "alternating-bit-reordering",
    claims=CLAIMS,
    faults=REORDERING,
    messages=2,
    description="The alternating-bit protocol over a reordering channel (broken).",
)(alternating_bit.build)
