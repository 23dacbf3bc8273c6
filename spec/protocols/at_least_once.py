"""At-least-once: retry until acked; the receiver processes every copy, then acks.

The sender's unacked set is durable, so a sender crash forgets nothing.  The receiver
keeps no state at all: a lost ACK (or an early timeout) makes the sender retransmit, and
the receiver processes the copy again — duplicates are the price of never losing.
"""

from __future__ import annotations

from ..faults import Faults
from ..kernel import Builder, Ctx, FrameView
from ..protocol import protocol
from ._parts import data_and_ack, retrying_sender

FAULTS = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


@protocol("at-least-once", claims=["at-least-once"], faults=FAULTS)
def at_least_once(p: Builder) -> None:
    """Retry until acked; the receiver processes every copy and acks it."""
    data, ack = data_and_ack(p)
    retrying_sender(p, data, ack)

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)
        ctx.send(ack(msg=f.msg))
