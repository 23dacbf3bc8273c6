"""Several producers, frame kinds shared by several senders, state shared by co-located
nodes (a service and its outbox relay)."""

from __future__ import annotations

import pytest

from ackproof.proofs import check
from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    ProtocolDef,
    SpecError,
    explore,
    protocol,
)

ANY = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


@protocol("two-producers", claims=["exactly-once"], faults=ANY, messages=3)
def two_producers(p: Builder) -> None:
    """Two producers, one broker with a durable inbox; replies go back to the sender."""
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
        with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
            ctx.process(f.msg)
            ctx.inbox[f.msg] = True
        ctx.send(ack(msg=f.msg), to=f.source)


def test_each_producer_submits_its_own_ids_in_order() -> None:
    system = two_producers.system(3)
    subs = {a.label: a.node for a in system.actions if a.kind == "submit" and a.crash_after is None}
    assert subs == {"submit(m=0)": "left", "submit(m=1)": "right", "submit(m=2)": "left"}
    labels = {a.label for a in system.actions}
    assert "broker <- DATA(msg=1) from right" in labels
    assert "broker <- DATA(msg=1) from left" in labels  # the kind is shared: any sender


def test_two_producers_over_one_broker_are_exactly_once_in_every_engine() -> None:
    system = two_producers.system(2)
    r = explore(system, ["no-loss", "no-duplicate", "no-phantom"])
    assert r.complete
    assert not r.violations
    for engine in ("explicit", "bmc"):
        assert check(system, "eventual-delivery", engine=engine, depth=8).verdict in (
            "proved",
            "holds",
        )


def outbox(relay_durable: bool) -> ProtocolDef:
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


def test_a_relay_reads_the_services_outbox_and_both_may_crash() -> None:
    system = outbox(True).system(2)
    assert [s.name for s in system.slots if s.owner == "shared"] == [
        "shared.outbox[0]",
        "shared.outbox[1]",
    ]
    for prop in ("no-loss", "no-duplicate", "eventual-delivery"):
        assert check(system, prop, engine="explicit").verdict == "proved"
        assert check(system, prop, engine="bmc", depth=8).verdict == "holds"


def test_several_producers_must_split_the_ids() -> None:
    @protocol("overlap", claims=["no-loss"], faults=Faults())
    def build(p: Builder) -> None:
        a, b, c = p.node("a"), p.node("b"), p.node("c")
        data = p.frame("DATA", [a, b], c, carries="msg", msg=p.msg)

        @a.on_submit(ids=[0, 1])
        def sa(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @b.on_submit(ids=[1])
        def sb(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @c.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    with pytest.raises(SpecError, match="message 1 is submitted by a and b"):
        build.system(2)


def test_a_kind_with_several_receivers_needs_to() -> None:
    @protocol("fanout", claims=["no-loss"], faults=Faults())
    def build(p: Builder) -> None:
        a, b, c = p.node("a"), p.node("b"), p.node("c")
        data = p.frame("DATA", a, [b, c], carries="msg", msg=p.msg)

        @a.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        for n in (b, c):
            n.on(data)(lambda ctx, f: ctx.process(f.msg))

    with pytest.raises(SpecError, match="goes to b, c: say to="):
        build.system(1)
