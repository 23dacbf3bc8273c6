"""AMQP 1.0 settlement: pre-settled, receiver settles first, receiver settles second.

Sources: OASIS AMQP 1.0, part 2 (transport) §2.6.12 "Transferring a Message" and the
``sender-settle-mode`` / ``receiver-settle-mode`` types
(http://docs.oasis-open.org/amqp/core/v1.0/os/amqp-core-transport-v1.0-os.html);
*first*: "The Receiver will spontaneously settle all incoming transfers"; *second*: "The
receiver will only settle after sending the disposition to the sender and receiving a
disposition indicating settlement of the delivery from the sender".  The orderings and
their guarantees as http://www.ssorj.net/pumpjack/delivery-guarantees.html gives them
("Should anything happen to the delivery in flight, the sender can resend. The receiver,
however, has already forgotten the delivery, and a resend will be interpreted as a new
delivery"); link recovery (§2.6.13, re-attach exchanging the ``unsettled`` maps); Solace:
"The event broker does not retain any state with respect to AMQP links or sessions, which
persists across AMQP connection failure"
(https://docs.solace.com/API/AMQP/AMQP-Protocol-Conformance.htm).

The environment: one connection (FIFO, reliable while up) that may drop once, and each
end may crash and restart once (which drops it too; the sender's unsettled deliveries are
durable, stored before they are sent); when it is back the link is re-attached and the
sender resends each delivery it has not settled, with its delivery tag (here the message
id: no tag is reused at two messages).  The receiver processes a message when it accepts
the transfer.

* ``amqp-presettled`` — the sender settles before sending and forgets: at most once.
* ``amqp-settle-first`` — the receiver accepts and settles at once (forgets the tag); a
  disposition lost in a drop (or a receiver restart) makes the sender resend, and the
  transfer is new: duplicate.
* ``amqp-settle-second`` — the receiver keeps the tag (accepted, unsettled) until the
  sender settles; a resent transfer whose tag is in its unsettled map is answered, not
  processed again: exactly once — through a drop and restarts, because the receiver's
  link state (its terminus) is durable.
* ``amqp-settle-second-volatile-link`` — the same, with a receiver that keeps no link
  state across a connection failure (Solace): the resend after a drop is new: duplicate.
"""

from __future__ import annotations

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Connection,
    Ctx,
    Expr,
    Faults,
    FrameView,
    ProtocolDef,
    protocol,
)
from ackproof.spec.library import Entry, Expected

AMQP = "OASIS AMQP 1.0 part 2 §2.6.12-2.6.13, settle modes"

#: One connection that drops at most once; each end may restart once (a crash drops it).
LINK = Faults(
    loss=True,
    crash_budgets={"sender": 1, "receiver": 1},
    links={"sender<->receiver": Connection(max_drops=1)},
)


@protocol("amqp-presettled", claims=["at-most-once"], faults=LINK)
def amqp_presettled(p: Builder) -> None:
    """AMQP 1.0 snd-settle-mode settled: the transfer is settled when sent."""
    sender, receiver = p.sender, p.receiver
    transfer = p.frame("TRANSFER", sender, receiver, carries="tag", tag=p.msg)

    @sender.on_submit
    def send(ctx: Ctx, m: Expr) -> None:
        ctx.send(transfer(tag=m))

    @receiver.on(transfer)
    def on_transfer(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.tag)


def settled_by_receiver(name: str, *, second: bool, durable_link: bool = True) -> ProtocolDef:
    """Unsettled transfers, resent on re-attach until the receiver's disposition comes;
    ``second``: the receiver keeps the tag until the sender settles."""
    mode = "second" if second else "first"
    claims = ["exactly-once", "in-order"] if second else ["at-least-once"]
    state = "" if durable_link else ", no link state across a connection failure"
    description = f"AMQP 1.0 rcv-settle-mode {mode}{state}."

    @protocol(name, claims=claims, faults=LINK, description=description)
    def build(p: Builder) -> None:
        sender, receiver = p.sender, p.receiver
        transfer = p.frame("TRANSFER", sender, receiver, carries="tag", tag=p.msg)
        accepted = p.frame("DISPOSITION", receiver, sender, tag=p.msg)
        sender.var("unsettled", Array(p.msg, Bool), durable=True)
        if second:
            settle = p.frame("SETTLE", sender, receiver, tag=p.msg)  # the sender's disposition
            receiver.var("unsettled", Array(p.msg, Bool), durable=durable_link)

        @sender.on_submit
        def send(ctx: Ctx, m: Expr) -> None:
            ctx.unsettled[m] = True
            ctx.send(transfer(tag=m))

        @sender.on(accepted)
        def on_disposition(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unsettled[f.tag]):
                ctx.unsettled[f.tag] = False  # settle
                ctx.ack(f.tag)
                if second:
                    ctx.send(settle(tag=f.tag))

        @sender.on_connect
        def reattach(ctx: Ctx, peer: str) -> None:
            for m in range(p.messages):
                with ctx.when(ctx.unsettled[m]):
                    ctx.send(transfer(tag=m))

        sender.holds(lambda ctx, m: ctx.unsettled[m])

        @receiver.on(transfer)
        def on_transfer(ctx: Ctx, f: FrameView) -> None:
            if second:
                with ctx.when(~ctx.unsettled[f.tag]), ctx.atomic():
                    ctx.process(f.tag)
                    ctx.unsettled[f.tag] = True
            else:
                ctx.process(f.tag)  # accept and settle at once: the tag is forgotten
            ctx.send(accepted(tag=f.tag))

        if second:

            @receiver.on(settle)
            def on_settle(ctx: Ctx, f: FrameView) -> None:
                ctx.unsettled[f.tag] = False

            if not durable_link:

                @receiver.on_disconnect
                def forget_link(ctx: Ctx, peer: str) -> None:
                    for m in range(p.messages):
                        ctx.unsettled[m] = False

    return build


amqp_settle_first = settled_by_receiver("amqp-settle-first", second=False)
amqp_settle_second = settled_by_receiver("amqp-settle-second", second=True)
amqp_settle_second_volatile = settled_by_receiver(
    "amqp-settle-second-volatile-link", second=True, durable_link=False
)

ALL = ("no-loss", "no-duplicate", "no-phantom", "in-order")


def _entry(pdef: ProtocolDef, source: str, violated: dict[str, int], note: str = "") -> Entry:
    expected: dict[str, Expected] = {p: "violated" if p in violated else "holds" for p in ALL}
    return Entry(pdef, "AMQP", source, expected, dict(violated), note=note)


ENTRIES: list[Entry] = [
    _entry(amqp_presettled, f"{AMQP} (snd-settle-mode settled)", {"no-loss": 2}),
    _entry(amqp_settle_first, f"{AMQP} (rcv-settle-mode first)", {"no-duplicate": 4}),
    _entry(amqp_settle_second, f"{AMQP} (rcv-settle-mode second)", {}),
    _entry(
        amqp_settle_second_volatile,
        "Solace AMQP conformance: no link state across connection failure",
        {"no-duplicate": 4},
    ),
]
