"""Every engine, on every path, reports the same thing for the same defect.

Two cases the differential fuzzer once found engines to disagree on: a reachable
ill-formed step before any real violation (PDR and k-induction used to report the later
violation), and a system whose certificate z3 proves with a quantifier (PDR and
k-induction used to stop with an internal error instead of the verdict every other
engine gives).
"""

from __future__ import annotations

import pytest

from ackproof.proofs import EngineName, check_many
from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    StepError,
    ite,
    protocol,
)

ENGINES: tuple[EngineName, ...] = ("explicit", "bmc", "pdr", "kinduction", "auto")


@protocol("overflow-first", claims=["exactly-once"], faults=Faults(loss=True))
def overflow_first(p: Builder) -> None:
    """The first submit writes 2 into an Int(0, 1); a loss (a real violation) comes later."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    p.sender.var("c", Int(0, 1), durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.c = ctx.c + 1
        ctx.c = ctx.c + 1
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_earliest_ill_formed_step_is_reported_by_every_engine(engine: EngineName) -> None:
    system = overflow_first.system(2)
    with pytest.raises(StepError) as info:
        check_many(system, ["no-loss", "no-duplicate"], engine=engine, timeout=60)
    assert "submit(m=0)" in str(info.value)
    assert "sender.c set outside 0..1 (got 2)" in str(info.value)


@protocol("never-submits", claims=["exactly-once"], faults=Faults(reorder=True, capacity=1))
def never_submits(p: Builder) -> None:
    """Submit is never enabled; an unused array; an ACK kind with an empty handler."""
    ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
    p.sender.var("busy", Bool, durable=True)
    p.sender.var("unused", Array(Int(0, 1), Bool), durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.require(~ctx.busy & ctx.busy)
        ctx.ack(ite(ctx.busy, 1, -1))

    @p.sender.on(ack)
    def on_ack(ctx: Ctx, f: FrameView) -> None:
        pass


@pytest.mark.parametrize("engine", ENGINES)
def test_a_hard_certificate_is_never_an_internal_error(engine: EngineName) -> None:
    system = never_submits.system(2)
    props = ["no-loss", "no-duplicate", "no-phantom"]
    results = check_many(system, props, engine=engine, timeout=60)
    for prop in props:
        assert results[prop].verdict in ("vacuous", "inconclusive"), (prop, results[prop])
