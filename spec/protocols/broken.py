"""Broken variants: mistakes a user could easily make, each with the property it breaks.

Every one claims a guarantee it does not keep; the checker must catch each one (the
tests pin the shortest counterexample's length).

* ``fire-and-forget``: at-most-once without receiver-side discarding.  The network
  duplicates a frame, the receiver processes both copies: breaks *no-duplicate*.
* ``volatile-dedup``: exactly-once with the dedup set in memory.  The receiver crashes,
  forgets, and processes a retransmission again: breaks *no-duplicate*.
* ``ack-before-persist``: exactly-once that acks before processing.  A crash between
  the ACK and the processing: the sender stops retrying, the message is gone: breaks
  *no-loss*.
* ``mark-before-process``: exactly-once that records the id, then processes, as two
  steps.  A crash between them: every retransmission is discarded as a duplicate:
  breaks *no-loss*.
* ``at-least-once-as-exactly-once``: the at-least-once protocol claimed as exactly-once:
  breaks *no-duplicate*.
"""

from __future__ import annotations

from ..expr import Expr
from ..faults import Faults
from ..kernel import Builder, Ctx, FrameView
from ..protocol import ProtocolDef, protocol
from ..types import Array, Bool
from ._parts import data_and_ack, retrying_sender
from .at_least_once import at_least_once
from .at_most_once import FAULTS as AT_MOST_ONCE_FAULTS
from .exactly_once import FAULTS as EXACTLY_ONCE_FAULTS


@protocol("fire-and-forget", claims=["at-most-once"], faults=AT_MOST_ONCE_FAULTS)
def fire_and_forget(p: Builder) -> None:
    """At-most-once without discarding copies: duplicates when the network does."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


def _dedup_receiver(name: str, doc: str, *, durable: bool, order: str) -> ProtocolDef:
    @protocol(name, claims=["exactly-once"], faults=EXACTLY_ONCE_FAULTS, description=doc)
    def build(p: Builder) -> None:
        data, ack = data_and_ack(p)
        retrying_sender(p, data, ack)
        p.receiver.var("seen", Array(p.msg, Bool), durable=durable)

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            fresh = ~ctx.seen[f.msg]
            if order == "ack-first":
                ctx.send(ack(msg=f.msg))
            with ctx.when(fresh):
                if order == "mark-first":
                    ctx.seen[f.msg] = True
                    ctx.process(f.msg)
                else:
                    with ctx.atomic():
                        ctx.process(f.msg)
                        ctx.seen[f.msg] = True
            if order != "ack-first":
                ctx.send(ack(msg=f.msg))

    return build


volatile_dedup = _dedup_receiver(
    "volatile-dedup",
    "Exactly-once with the dedup set in volatile memory: a restart forgets it.",
    durable=False,
    order="atomic",
)
ack_before_persist = _dedup_receiver(
    "ack-before-persist",
    "Exactly-once that acks before the processing is persisted.",
    durable=True,
    order="ack-first",
)
mark_before_process = _dedup_receiver(
    "mark-before-process",
    "Exactly-once that records the id, then processes, as two separate steps.",
    durable=True,
    order="mark-first",
)

at_least_once_as_exactly_once = ProtocolDef(
    "at-least-once-as-exactly-once",
    at_least_once.build,
    ("no-loss", "no-duplicate", "no-phantom"),
    Faults(loss=True, duplicate=True, reorder=True, crash=("*",)),
    description="The at-least-once protocol claimed as exactly-once.",
)

#: Broken variant -> the property the checker must find violated.
BROKEN: dict[str, tuple[ProtocolDef, str]] = {
    "fire-and-forget": (fire_and_forget, "no-duplicate"),
    "volatile-dedup": (volatile_dedup, "no-duplicate"),
    "ack-before-persist": (ack_before_persist, "no-loss"),
    "mark-before-process": (mark_before_process, "no-loss"),
    "at-least-once-as-exactly-once": (at_least_once_as_exactly_once, "no-duplicate"),
}
