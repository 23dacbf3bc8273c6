"""Small protocols that several test folders share, one shape per environment construct.

``tests/spec`` checks what each construct means on them (``test_links.py``, ``test_time.py``,
``test_producers.py``); ``tests/proofs/environment_cases.py`` runs them through every engine.
One definition here, so the meaning tests and the agreement tests check the same protocol.
"""

from __future__ import annotations

from ackproof.spec import Array, Bool, Builder, Ctx, Expr, Faults, FrameView, ProtocolDef, protocol
from ackproof.spec.links import Connection
from ackproof.spec.types import Age

#: A session the sender may lose twice (a crash drops it too); the receiver is reliable.
SESSION = Faults(loss=True, crash=("sender",), links={"sender<->receiver": Connection(max_drops=2)})
#: The producers' default environment: losses, one broker crash, one crash of ``left``.
PRODUCER_FAULTS = Faults(loss=True, crash=("broker",), max_crashes=1, crash_budgets={"left": 1})


def retrying(
    name: str, faults: Faults, *, early: bool = True, durable: bool = True, forget: bool = False
) -> ProtocolDef:
    """At-least-once: retransmit until acked (on a timer, and on reconnect); ``forget``:
    the sender drops its unacked set when its connection drops (a clean session)."""

    @protocol(name, claims=["at-least-once"], faults=faults)
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
        p.sender.var("unacked", Array(p.msg, Bool), durable=durable)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.unacked[m] = True
            ctx.send(data(msg=m))

        @p.sender.timer(p.msg, early=early)
        def retransmit(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m])
            ctx.send(data(msg=m))

        @p.sender.on_connect
        def resend(ctx: Ctx, peer: str) -> None:
            assert peer == "receiver"
            for m in range(p.messages):
                with ctx.when(ctx.unacked[m]):
                    ctx.send(data(msg=m))

        if forget:

            @p.sender.on_disconnect
            def clean(ctx: Ctx, peer: str) -> None:
                for m in range(p.messages):
                    ctx.unacked[m] = False

        @p.sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unacked[f.msg]):
                ctx.unacked[f.msg] = False
                ctx.ack(f.msg)

        p.sender.holds(lambda ctx, m: ctx.unacked[m])

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)
            ctx.send(ack(msg=f.msg))

    return build


def window(w: int, horizon: int, delay: int, *, reorder: bool = True) -> ProtocolDef:
    """Time-window dedup: the receiver drops an id seen less than ``w`` ticks ago; the
    sender retries for ``horizon`` ticks; frames arrive within ``delay`` ticks."""

    @protocol(
        f"window-w{w}-r{horizon}-d{delay}",
        claims=["at-most-once"],
        faults=Faults(loss=True, duplicate=True, reorder=reorder, within=delay),
    )
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
        p.sender.var("unacked", Array(p.msg, Bool), durable=True)
        p.sender.var("since", Array(p.msg, Age(horizon)), durable=True)
        p.receiver.var("seen", Array(p.msg, Age(w)), durable=True)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():
                ctx.unacked[m] = True
                ctx.since[m] = 0
            ctx.send(data(msg=m))

        @p.sender.timer(p.msg)
        def retry(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m] & (ctx.since[m] < horizon))
            ctx.send(data(msg=m))

        @p.sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            ctx.unacked[f.msg] = False

        p.sender.holds(lambda ctx, m: ctx.unacked[m] & (ctx.since[m] < horizon))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.seen[f.msg] >= w), ctx.atomic():
                ctx.process(f.msg)
                ctx.seen[f.msg] = 0
            ctx.send(ack(msg=f.msg))

    return build


def timed_session() -> ProtocolDef:
    """Fire and forget over a timed connection: delivered or dropped within 2 ticks."""

    @protocol(
        "timed-session",
        claims=["at-most-once"],
        faults=Faults(loss=True, links={"sender<->receiver": Connection(within=2)}),
    )
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build


def two_producers(dedup: bool, faults: Faults = PRODUCER_FAULTS) -> ProtocolDef:
    """Two producers, one broker with a durable inbox; replies go back to the sender.
    Without ``dedup`` the broker processes every copy: a duplicate."""

    @protocol(
        "two-producers" if dedup else "two-producers-no-dedup",
        claims=["exactly-once"],
        faults=faults,
    )
    def build(p: Builder) -> None:
        left, right, broker = p.node("left"), p.node("right"), p.node("broker")
        data = p.frame("DATA", [left, right], broker, carries="msg", msg=p.msg)
        ack = p.frame("ACK", broker, [left, right], msg=p.msg)
        broker.var("inbox", Array(p.msg, Bool), durable=True)

        for node, mine in ((left, lambda m: m % 2 == 0), (right, lambda m: m % 2 == 1)):
            node.var("unacked", Array(p.msg, Bool), durable=True)

            @node.on_submit(ids=mine)
            def submit(ctx: Ctx, m: Expr) -> None:
                ctx.unacked[m] = True
                ctx.send(data(msg=m))

            @node.timer(p.msg)
            def retransmit(ctx: Ctx, m: Expr) -> None:
                ctx.require(ctx.unacked[m])
                ctx.send(data(msg=m))

            @node.on(ack)
            def on_ack(ctx: Ctx, f: FrameView) -> None:
                ctx.unacked[f.msg] = False

            node.holds(lambda ctx, m: ctx.unacked[m])

        @broker.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            if dedup:
                with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
                    ctx.process(f.msg)
                    ctx.inbox[f.msg] = True
            else:
                ctx.process(f.msg)
            ctx.send(ack(msg=f.msg), to=f.source)

    return build


def outbox(relay_durable: bool) -> ProtocolDef:
    """A service and its relay over one shared outbox, both of which may crash."""

    @protocol(
        "outbox-relay" if relay_durable else "outbox-relay-volatile",
        claims=["exactly-once"],
        faults=Faults(loss=True, crash=("service", "relay")),
    )
    def build(p: Builder) -> None:
        service, relay, consumer = p.node("service"), p.node("relay"), p.node("consumer")
        event = p.frame("EVENT", relay, consumer, carries="msg", msg=p.msg)
        done = p.frame("DONE", consumer, relay, msg=p.msg)
        p.shared("outbox", Array(p.msg, Bool), nodes=[service, relay])
        relay.var("sending", Array(p.msg, Bool), durable=relay_durable)
        consumer.var("inbox", Array(p.msg, Bool), durable=True)

        @service.on_submit
        def commit(ctx: Ctx, m: Expr) -> None:
            ctx.outbox[m] = True  # the business transaction writes the outbox row

        @relay.timer(p.msg)
        def poll(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.outbox[m])
            ctx.send(event(msg=m))

        @relay.on(done)
        def on_done(ctx: Ctx, f: FrameView) -> None:
            ctx.outbox[f.msg] = False

        relay.holds(lambda ctx, m: ctx.outbox[m])

        @consumer.on(event)
        def on_event(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
                ctx.process(f.msg)
                ctx.inbox[f.msg] = True
            ctx.send(done(msg=f.msg))

    return build


SESSION = Faults(loss=True, crash=("sender",), links={"sender<->receiver": Connection(max_drops=2)})
