"""Pieces the built-in protocols share: the retrying sender and the frame kinds.

A retrying sender keeps every unacknowledged message in durable state and retransmits it
whenever its timer fires (timeouts may be premature), until the matching ACK arrives.
"""

from __future__ import annotations

from ..expr import Expr
from ..kernel import Builder, Ctx, FrameView
from ..network import FrameKind
from ..types import Array, Bool


def data_and_ack(p: Builder) -> tuple[FrameKind, FrameKind]:
    """``DATA(msg)`` from sender to receiver (a copy of ``msg``) and ``ACK(msg)`` back."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
    return data, ack


def retrying_sender(p: Builder, data: FrameKind, ack: FrameKind, *, durable: bool = True) -> None:
    """Send on submit, retransmit until acked, tell the producer on the first ACK."""
    sender = p.sender
    sender.var("unacked", Array(p.msg, Bool), durable=durable)

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
