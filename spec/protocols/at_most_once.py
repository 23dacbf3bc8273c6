"""At-most-once: send once, never retry; the receiver discards copies it has seen.

The sender fires and forgets.  The network may still duplicate a frame and the receiver
may restart, so the receiver remembers, durably, which ids it has taken, and records the
id *before* processing: a crash between the two loses the message (allowed) but can
never process it twice (the promise).
"""

from __future__ import annotations

from ..expr import Expr
from ..faults import Faults
from ..kernel import Builder, Ctx, FrameView
from ..protocol import protocol
from ..types import Array, Bool

FAULTS = Faults(loss=True, duplicate=True, reorder=True, crash=("receiver",))


@protocol("at-most-once", claims=["at-most-once"], faults=FAULTS)
def at_most_once(p: Builder) -> None:
    """Send once, no ack, no retry; the receiver drops copies of ids it has taken."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    p.receiver.var("taken", Array(p.msg, Bool), durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(~ctx.taken[f.msg]):
            ctx.taken[f.msg] = True
            ctx.process(f.msg)
