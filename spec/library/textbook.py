"""Go-back-N and selective repeat at the window bounds.

Sources: Kurose & Ross, *Computer Networking*, §3.4.3 (Go-Back-N) and §3.4.4 (Selective
Repeat: "the window size must be less than or equal to half the size of the sequence
number space for SR protocols"); Tanenbaum, *Computer Networks*, protocol 5 (go-back-N:
at most MAX_SEQ frames outstanding with MAX_SEQ + 1 sequence numbers); worked example
https://teaching.csse.uwa.edu.au/units/CITS3002/lectures/lecture03/28.html (lost ACKs make
the receiver accept a retransmitted frame 0 as new).  Notes in
/work/shared/reference/delivery-protocols.md §7.

The setting of the textbook bounds: lossy FIFO channels, no duplication, no crashes,
premature timeouts allowed.  Message ``m`` goes out as ``DATA(seq = m mod M)``; only the
sequence number is on the wire (the message is a ghost field).  ``M + 1`` messages, so the
numbers wrap.

* Go-back-N: the sender has up to ``W`` messages outstanding and retransmits them on
  timeout; the receiver takes only the next expected number, processes it and answers with
  a cumulative ``ACK(last in order)``; the sender takes an ACK for the outstanding message
  with that number, and every one before it.  A timer per outstanding message stands for
  "retransmit the window" (any order: the receiver discards out-of-order frames anyway).
  ``W = M - 1`` is correct; ``W = M`` is broken two ways.  Every ACK of a full window
  lost, the retransmitted first frame carries the number the receiver expects next — a
  duplicate (10 steps).  And sooner: the first frame lost, the receiver answers the
  out-of-order second with its cumulative ``ACK(M - 1)`` ("nothing yet"), which the sender
  reads as acknowledging the whole window — a loss (6 steps); the sender cannot tell
  "all received" from "none received", Tanenbaum's argument for ``W <= M - 1``.
* Selective repeat: individual ACKs; the receiver buffers frames inside its window of
  ``W`` numbers, re-acks frames from the ``W`` numbers just below it, and processes what is
  contiguous.  ``W = M / 2`` is correct; ``W = M / 2 + 1`` processes a retransmission as
  new (13 steps), and with ``M + 1`` messages the stale frame can stand in for the last
  one, whose own frame is then lost while its ACK satisfies the sender (14 steps).
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
    FrameKind,
    FrameView,
    Int,
    ProtocolDef,
    all_,
    any_,
    implies,
    protocol,
)
from ackproof.spec.library import Entry, Expected

#: Lossy FIFO channels: the setting of the textbook bounds.
FIFO_LOSS = Faults(loss=True)

#: A sender-side message: not yet submitted, outstanding, or acknowledged.
Status = Enum("Status", "NEW", "OUT", "DONE")


def _sender(p: Builder, window: int, modulus: int) -> tuple[FrameKind, FrameKind]:
    """The shared sender half: a window of ``window`` outstanding messages; returns the
    DATA and ACK frame kinds."""
    sender, receiver = p.sender, p.receiver
    seq_t = Int(0, modulus - 1)
    data = p.frame("DATA", sender, receiver, carries="msg", ghost=["msg"], seq=seq_t, msg=p.msg)
    ack = p.frame("ACK", receiver, sender, seq=seq_t)
    sender.var("status", Array(p.msg, Status), init=Status.NEW)

    @sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.require(
            all_(implies(j + window <= m, ctx.status[j] == Status.DONE) for j in range(p.messages))
        )
        ctx.status[m] = Status.OUT
        ctx.send(data(seq=m % modulus, msg=m))

    @sender.timer(p.msg)
    def retransmit(ctx: Ctx, m: Expr) -> None:
        ctx.require(ctx.status[m] == Status.OUT)
        ctx.send(data(seq=m % modulus, msg=m))

    sender.holds(lambda ctx, m: ctx.status[m] == Status.OUT)
    return data, ack


def go_back_n(window: int, modulus: int) -> ProtocolDef:
    """Go-back-N with ``window`` outstanding frames, sequence numbers mod ``modulus``."""
    if not 1 <= window <= modulus:
        raise ValueError(f"need 1 <= window <= modulus, got {window}, {modulus}")
    verdict = "correct" if window < modulus else "broken: window as large as the numbers"

    @protocol(
        f"textbook-gbn-w{window}-m{modulus}",
        claims=["exactly-once", "in-order"],
        faults=FIFO_LOSS,
        messages=modulus + 1,
        description=f"Go-back-N, window {window}, sequence numbers mod {modulus} ({verdict}).",
    )
    def build(p: Builder) -> None:
        data, ack = _sender(p, window, modulus)
        sender, receiver = p.sender, p.receiver
        seq_t = Int(0, modulus - 1)
        receiver.var("expected", seq_t)

        @sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            # Cumulative: the outstanding message numbered f.seq, and every one before it.
            for k in range(p.messages):
                with ctx.when((f.seq == k % modulus) & (ctx.status[k] == Status.OUT)):
                    for j in range(k + 1):
                        with ctx.when(ctx.status[j] == Status.OUT):
                            ctx.status[j] = Status.DONE
                            ctx.ack(j)

        @receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.seq == ctx.expected):
                ctx.process(f.msg)
                ctx.expected = (ctx.expected + 1) % modulus
            ctx.send(ack(seq=(ctx.expected + modulus - 1) % modulus))

    return build


def selective_repeat(window: int, modulus: int) -> ProtocolDef:
    """Selective repeat with ``window`` outstanding frames, sequence numbers mod ``modulus``."""
    if not 1 <= window <= modulus:
        raise ValueError(f"need 1 <= window <= modulus, got {window}, {modulus}")
    verdict = "correct" if 2 * window <= modulus else "broken: window wider than half"

    @protocol(
        f"textbook-sr-w{window}-m{modulus}",
        claims=["exactly-once", "in-order"],
        faults=FIFO_LOSS,
        messages=modulus + 1,
        description=f"Selective repeat, window {window}, numbers mod {modulus} ({verdict}).",
    )
    def build(p: Builder) -> None:
        data, ack = _sender(p, window, modulus)
        sender, receiver = p.sender, p.receiver
        seq_t = Int(0, modulus - 1)
        receiver.var("base", seq_t)
        receiver.var("buffered", Array(seq_t, Bool))
        receiver.var("held", Array(seq_t, p.msg), ghost=True)

        @sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            for k in range(p.messages):
                with ctx.when((f.seq == k % modulus) & (ctx.status[k] == Status.OUT)):
                    ctx.status[k] = Status.DONE
                    ctx.ack(k)

        @receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            offset = (f.seq - ctx.base + modulus) % modulus
            fresh = offset < window
            old = ~fresh & (modulus - window <= offset)
            with ctx.when(fresh & ~ctx.buffered[f.seq]):
                ctx.buffered[f.seq] = True
                ctx.held[f.seq] = f.msg
            with ctx.when(fresh | old):
                ctx.send(ack(seq=f.seq))
            for _ in range(window):
                with ctx.when(ctx.buffered[ctx.base]):
                    ctx.process(ctx.held[ctx.base])
                    ctx.buffered[ctx.base] = False
                    ctx.held[ctx.base] = 0
                    ctx.base = (ctx.base + 1) % modulus

        receiver.holds(
            lambda ctx, m: any_(ctx.buffered[s] & (ctx.held[s] == m) for s in range(modulus))
        )

    return build


gbn_ok = go_back_n(2, 3)
gbn_too_wide = go_back_n(3, 3)
sr_ok = selective_repeat(2, 4)
sr_too_wide = selective_repeat(3, 4)

KUROSE_ROSS = "Kurose & Ross §3.4"
ALL = ("no-loss", "no-duplicate", "no-phantom", "in-order")


def _entry(pdef: ProtocolDef, source: str, violated: dict[str, int], note: str = "") -> Entry:
    expected: dict[str, Expected] = {p: "violated" if p in violated else "holds" for p in ALL}
    return Entry(pdef, "Textbook", source, expected, dict(violated), note=note)


ENTRIES: list[Entry] = [
    _entry(gbn_ok, f"{KUROSE_ROSS}.3; Tanenbaum protocol 5", {}),
    _entry(
        gbn_too_wide,
        f"{KUROSE_ROSS}.3; Tanenbaum protocol 5",
        {"no-loss": 6, "no-duplicate": 10},
        note=(
            "The loss comes first (6 steps), before the textbook's duplicate (10): a "
            "cumulative ACK for 'nothing yet' carries the number of the window's last frame."
        ),
    ),
    _entry(sr_ok, f"{KUROSE_ROSS}.4", {}),
    _entry(
        sr_too_wide, f"{KUROSE_ROSS}.4; UWA CITS3002 lecture 3", {"no-loss": 14, "no-duplicate": 13}
    ),
]
