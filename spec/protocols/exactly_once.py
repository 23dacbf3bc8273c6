"""Exactly-once: retry until acked; the receiver dedups by message id in durable state.

Recording the id and processing happen in one atomic step (one transaction: the inbox
pattern), and the ACK goes out only after it.  A copy of an id already recorded is not
processed again but is acked again, so the sender stops retrying.
"""

from __future__ import annotations

from ..faults import Faults
from ..kernel import Builder, Ctx, FrameView
from ..protocol import protocol
from ..types import Array, Bool
from ._parts import data_and_ack, retrying_sender

FAULTS = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


@protocol("exactly-once", claims=["exactly-once"], faults=FAULTS)
def exactly_once(p: Builder) -> None:
    """Retry until acked; durable dedup by id, recorded atomically with processing."""
    data, ack = data_and_ack(p)
    retrying_sender(p, data, ack)
    p.receiver.var("seen", Array(p.msg, Bool), durable=True)

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(~ctx.seen[f.msg]), ctx.atomic():
            ctx.process(f.msg)
            ctx.seen[f.msg] = True
        ctx.send(ack(msg=f.msg))
