"""Several producers, frame kinds shared by several senders, state shared by co-located
nodes (a service and its outbox relay)."""

from __future__ import annotations

import pytest
from protocols_testing import outbox, two_producers

from ackproof.proofs import check
from ackproof.spec import (
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    SpecError,
    explore,
    protocol,
)

ANY = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))
#: Two producers, one broker with a durable inbox, under every fault.
TWO_PRODUCERS = two_producers(True, ANY)


def test_each_producer_submits_its_own_ids_in_order() -> None:
    system = TWO_PRODUCERS.system(3)
    subs = {a.label: a.node for a in system.actions if a.kind == "submit" and a.crash_after is None}
    assert subs == {"submit(m=0)": "left", "submit(m=1)": "right", "submit(m=2)": "left"}
    labels = {a.label for a in system.actions}
    assert "broker <- DATA(msg=1) from right" in labels
    assert "broker <- DATA(msg=1) from left" in labels  # the kind is shared: any sender


def test_two_producers_over_one_broker_are_exactly_once_in_every_engine() -> None:
    system = TWO_PRODUCERS.system(2)
    r = explore(system, ["no-loss", "no-duplicate", "no-phantom"])
    assert r.complete
    assert not r.violations
    for engine in ("explicit", "bmc"):
        assert check(system, "eventual-delivery", engine=engine, depth=8).verdict in (
            "proved",
            "holds",
        )


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
