"""Dual write, and the transactional outbox with its relay and an inbox.

Sources: the transactional outbox pattern
(https://microservices.io/patterns/data/transactional-outbox.html: business state and an
outbox row in one local transaction; a message relay publishes the rows and marks them
sent), the idempotent consumer
(https://microservices.io/patterns/communication-style/idempotent-consumer.html), and the
dual-write problem ("any failure between them either loses the event or duplicates it",
https://kloudvin.com/article/transactional-outbox-inbox-exactly-once-event-publishing).

The environment: a service handles requests (the producer's calls) against its database;
an event must reach a consumer.  Frames between relay (or service) and consumer may be
lost (at most once on each link); the service, the relay and the consumer may each crash
and restart once.  Databases are durable.

* ``outbox-dual-write`` — commit the row, then publish the event: a crash between the two
  loses the event.
* ``outbox-relay`` — row and outbox entry in one transaction; a relay (its own process,
  sharing the database: ``p.shared``) polls the outbox, publishes, and deletes the entry
  once the consumer confirms; the consumer has no inbox: at least once — a poll that
  comes before the confirmation (or after it was lost, or after a relay crash) publishes
  a processed event again.
* ``outbox-relay-inbox`` — the same with the consumer's inbox (processed id and work in one
  transaction): exactly once.
* ``outbox-relay-mark-before-publish`` — a relay that marks the entry sent, then
  publishes, and never looks at it again: a crash between loses the event.
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
    Link,
    ProtocolDef,
    protocol,
)
from ackproof.spec.library import Entry, Expected

OUTBOX = "microservices.io transactional outbox + idempotent consumer"

#: The service crashes at most once; the network is reliable (the dual write's setting).
SERVICE_CRASH = Faults(crash_budgets={"service": 1})


@protocol("outbox-dual-write", claims=["at-least-once"], faults=SERVICE_CRASH)
def outbox_dual_write(p: Builder) -> None:
    """Commit the row, then publish the event: two writes, no transaction across them."""
    service, consumer = p.node("service"), p.node("consumer")
    event = p.frame("EVENT", service, consumer, carries="msg", msg=p.msg)
    service.var("db", Array(p.msg, Bool), durable=True)

    @service.on_submit
    def handle(ctx: Ctx, m: Expr) -> None:
        ctx.db[m] = True  # commit
        ctx.send(event(msg=m))  # publish

    @consumer.on(event)
    def on_event(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


def outbox_relay(name: str, *, inbox: bool, mark_first: bool = False) -> ProtocolDef:
    """Transactional outbox and a relay process over the same database; ``inbox``: the
    consumer deduplicates; ``mark_first``: the relay marks an entry sent before it
    publishes (and forgets it)."""
    faults = Faults(
        loss=True,
        crash_budgets={"service": 1, "relay": 1, "consumer": 1},
        links={"relay->consumer": Link(max_losses=1), "consumer->relay": Link(max_losses=1)},
    )
    claims = ["exactly-once"] if inbox else ["at-least-once"]
    what = "marks sent, then publishes" if mark_first else "publishes until confirmed"
    description = f"Transactional outbox; the relay {what}; consumer " + (
        "with an inbox." if inbox else "without an inbox."
    )

    @protocol(name, claims=claims, faults=faults, description=description)
    def build(p: Builder) -> None:
        service, relay, consumer = p.node("service"), p.node("relay"), p.node("consumer")
        event = p.frame("EVENT", relay, consumer, carries="msg", msg=p.msg)
        confirm = p.frame("CONFIRM", consumer, relay, msg=p.msg)
        service.var("db", Array(p.msg, Bool), durable=True)
        p.shared("outbox", Array(p.msg, Bool), nodes=[service, relay])
        if inbox:
            consumer.var("done", Array(p.msg, Bool), durable=True)

        @service.on_submit
        def handle(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():  # one local transaction
                ctx.db[m] = True
                ctx.outbox[m] = True

        @relay.timer(p.msg)
        def poll(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.outbox[m])
            if mark_first:
                ctx.outbox[m] = False
            ctx.send(event(msg=m))

        @relay.on(confirm)
        def on_confirm(ctx: Ctx, f: FrameView) -> None:
            ctx.outbox[f.msg] = False

        relay.holds(lambda ctx, m: ctx.outbox[m])

        @consumer.on(event)
        def on_event(ctx: Ctx, f: FrameView) -> None:
            if inbox:
                with ctx.when(~ctx.done[f.msg]), ctx.atomic():
                    ctx.process(f.msg)
                    ctx.done[f.msg] = True
            else:
                ctx.process(f.msg)
            ctx.send(confirm(msg=f.msg))

    return build


outbox_relay_no_inbox = outbox_relay("outbox-relay", inbox=False)
outbox_relay_inbox = outbox_relay("outbox-relay-inbox", inbox=True)
outbox_relay_mark_first = outbox_relay(
    "outbox-relay-mark-before-publish", inbox=True, mark_first=True
)

PROPS = ("no-loss", "no-duplicate", "no-phantom")


def _entry(pdef: ProtocolDef, source: str, violated: dict[str, int], note: str = "") -> Entry:
    expected: dict[str, Expected] = {p: "violated" if p in violated else "holds" for p in PROPS}
    return Entry(pdef, "Outbox/inbox", source, expected, dict(violated), note=note)


ENTRIES: list[Entry] = [
    _entry(outbox_dual_write, "the dual-write problem (kloudvin.com outbox/inbox)", {"no-loss": 1}),
    _entry(
        outbox_relay_no_inbox,
        OUTBOX,
        {"no-duplicate": 5},
        note=(
            "The duplicate needs no crash: a poll before the confirmation is back publishes "
            "again (the pattern's own 'relay crash after publish' is a longer way there)."
        ),
    ),
    _entry(outbox_relay_inbox, OUTBOX, {}),
    _entry(outbox_relay_mark_first, OUTBOX, {"no-loss": 2}),
]
