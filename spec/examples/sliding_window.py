"""Selective repeat: a sliding window of ``W`` frames, sequence numbers modulo ``M``.

The sender may have up to ``W`` messages outstanding: message ``m`` goes out as
``DATA(seq = m mod M)`` and is retransmitted on its own timer until ``ACK(seq)`` comes
back.  The receiver keeps a window of ``W`` sequence numbers starting at ``base``: a frame
inside it is buffered (once) and acked, and whatever is now contiguous from ``base`` is
processed in order, sliding the window; a frame from the ``W`` numbers just below ``base``
is an old one whose ACK was lost, so it is acked again and dropped; anything else is
ignored.  Only ``seq`` is on the wire: the message's identity is a ghost field, and the
receiver's buffer remembers it as ghost state, to observe the history.

The textbook bound is ``W <= M / 2`` (Kurose and Ross, section 3.4.4): the receiver must
tell a retransmission of an old frame from a new frame with the same number, so the two
windows the receiver can confuse must not overlap.

Expected verdicts (lossy FIFO channels, ``M + 1`` messages so the numbers wrap):

* ``sliding_window_ok = sliding_window(2, 4)`` — exactly-once and in-order hold.
* ``sliding_window_too_wide = sliding_window(3, 4)`` — broken.  The sender retransmits
  message 0 (its ACK was lost, or just slow); meanwhile the receiver takes frames 0, 1, 2
  and slides its window to {3, 0, 1}.  The stale copy of seq 0 now falls inside the window
  and is buffered as if it were the next use of number 0: once frame 3 arrives, message 0
  is processed again (*no-duplicate*).  With 5 messages the stale copy can also stand in
  for message 4, whose own frame is then lost while the receiver's ACK satisfies the
  sender (*no-loss*).
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Enum,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    all_,
    any_,
    implies,
    protocol,
)

#: Lossy FIFO channels, no duplication, no crashes: the setting of the textbook bound.
FIFO_LOSS = Faults(loss=True)

#: A sender-side message: not yet submitted, outstanding, or acknowledged.
Status = Enum("Status", "NEW", "OUT", "DONE")


def sliding_window(window: int, modulus: int) -> ProtocolDef:
    """Selective repeat with ``window`` outstanding frames and sequence numbers mod ``modulus``."""
    if not 1 <= window <= modulus:
        raise ValueError(f"need 1 <= window <= modulus, got window={window}, modulus={modulus}")
    w, big_m = window, modulus
    verdict = "correct" if 2 * w <= big_m else "broken: window wider than half the numbers"

    @protocol(
        f"sliding-window-w{w}-m{big_m}",
        claims=["exactly-once", "in-order"],
        faults=FIFO_LOSS,
        messages=big_m + 1,
        description=f"Selective repeat, window {w}, sequence numbers mod {big_m} ({verdict}).",
    )
    def build(p: Builder) -> None:
        sender, receiver = p.sender, p.receiver
        seq_t = Int(0, big_m - 1)
        data = p.frame("DATA", sender, receiver, carries="msg", ghost=["msg"], seq=seq_t, msg=p.msg)
        ack = p.frame("ACK", receiver, sender, seq=seq_t)

        # The sender's buffer: each message's status.  Its window base is the first
        # message not DONE, so a message may go out once every one W below it is DONE.
        sender.var("status", Array(p.msg, Status), init=Status.NEW)
        # The receiver's window starts at `base`; `buffered[s]` says slot s holds a frame
        # (message `held[s]`, ghost) that waits for the ones before it.
        receiver.var("base", seq_t)
        receiver.var("buffered", Array(seq_t, Bool))
        receiver.var("held", Array(seq_t, p.msg), ghost=True)

        def in_window(ctx: Ctx, m: Expr) -> Expr:
            return all_(
                implies(j + w <= m, ctx.status[j] == Status.DONE) for j in range(p.messages)
            )

        @sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.require(in_window(ctx, m))
            ctx.status[m] = Status.OUT
            ctx.send(data(seq=m % big_m, msg=m))

        @sender.timer(p.msg)
        def retransmit(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.status[m] == Status.OUT)
            ctx.send(data(seq=m % big_m, msg=m))

        @sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            # Outstanding messages lie in one window of W <= M numbers: at most one has
            # this sequence number.
            for k in range(p.messages):
                with ctx.when((f.seq == k % big_m) & (ctx.status[k] == Status.OUT)):
                    ctx.status[k] = Status.DONE
                    ctx.ack(k)

        @sender.holds
        def sender_holds(ctx: Ctx, m: Expr) -> Expr:
            return ctx.status[m] == Status.OUT

        @receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            offset = (f.seq - ctx.base + big_m) % big_m  # distance above the window base
            fresh = offset < w
            old = ~fresh & (big_m - w <= offset)  # one of the W numbers below base
            with ctx.when(fresh & ~ctx.buffered[f.seq]):
                ctx.buffered[f.seq] = True
                ctx.held[f.seq] = f.msg
            with ctx.when(fresh | old):
                ctx.send(ack(seq=f.seq))
            # Process what is now contiguous from base (at most a window's worth).
            for _ in range(w):
                with ctx.when(ctx.buffered[ctx.base]):
                    ctx.process(ctx.held[ctx.base])
                    ctx.buffered[ctx.base] = False
                    ctx.held[ctx.base] = 0
                    ctx.base = (ctx.base + 1) % big_m

        @receiver.holds
        def receiver_holds(ctx: Ctx, m: Expr) -> Expr:
            return any_(ctx.buffered[s] & (ctx.held[s] == m) for s in range(big_m))

    return build


sliding_window_ok = sliding_window(2, 4)
sliding_window_too_wide = sliding_window(3, 4)
