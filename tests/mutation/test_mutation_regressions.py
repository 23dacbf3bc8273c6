"""Engine disagreements found by the mutation suite, each minimised to a small protocol.

Each test states what the explicit engine's exhaustive search says and checks that every
other engine agrees (``ackproof.agreement``)."""

from __future__ import annotations

import pytest

from ackproof.agreement import disagreements, oracle
from ackproof.proofs import EngineName, check_many
from ackproof.spec import Array, Bool, Builder, Ctx, Expr, Faults, FrameView, protocol

RELIABLE = Faults()
CRASH_AND_LOSS = Faults(loss=True, crash=("*",))


@protocol("never-processes", claims=["eventual-delivery"], faults=RELIABLE)
def never_processes(p: Builder) -> None:
    """The receiver takes every frame and never processes it (found as a mutant of
    my-exactly-once whose dedup guard lost its ``~``)."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        pass


@pytest.mark.parametrize("engine", ["bmc", "pdr", "kinduction", "auto"])
def test_eventual_delivery_is_violated_even_when_its_witness_is_unreachable(
    engine: EngineName,
) -> None:
    # Before: the z3 engines proved eventual-delivery's (trivial) invariant, found its
    # witness unreachable and answered "vacuous" without checking the liveness part.
    system = never_processes.system(1)
    truth = oracle(system, ["eventual-delivery"])
    assert str(truth.outcomes["eventual-delivery"]) == "violated(2)"
    got = check_many(system, ["eventual-delivery"], engine=engine, depth=6, timeout=30)
    result = got["eventual-delivery"]
    assert result.verdict == "violated", result.detail
    assert result.counterexample is not None
    assert len(result.counterexample) == 2


@protocol("forgetful-sender-mark-first", claims=["eventual-delivery"], faults=CRASH_AND_LOSS)
def forgetful_sender_mark_first(p: Builder) -> None:
    """A retrying sender whose unacked set is volatile, and a receiver that records an
    id before processing it (found as a mutant of mark-before-process: the shared
    retrying sender's ``durable=True`` made ``False``)."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
    p.sender.var("unacked", Array(p.msg, Bool))
    p.receiver.var("seen", Array(p.msg, Bool), durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.unacked[m] = True
        ctx.send(data(msg=m))

    @p.sender.timer(p.msg)
    def retransmit(ctx: Ctx, m: Expr) -> None:
        ctx.require(ctx.unacked[m])
        ctx.send(data(msg=m))

    @p.sender.on(ack)
    def on_ack(ctx: Ctx, f: FrameView) -> None:
        ctx.unacked[f.msg] = False

    p.sender.holds(lambda ctx, m: ctx.unacked[m])

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(~ctx.seen[f.msg]):
            ctx.seen[f.msg] = True
            ctx.process(f.msg)
        ctx.send(ack(msg=f.msg))


def test_the_explicit_eventual_delivery_counterexample_is_shortest() -> None:
    # BMC on the lasso system finds submit, crash sender (unacked forgotten), lose the
    # DATA: stuck in 3 steps.  The explicit engine shows 5: submit, the receiver crashes
    # after recording the id, a retransmission is discarded and acked, the ACK arrives.
    system = forgetful_sender_mark_first.system(1)
    explicit = check_many(system, ["eventual-delivery"], engine="explicit")
    bmc = check_many(system, ["eventual-delivery"], engine="bmc", depth=6, timeout=30)
    lengths = {}
    for name, got in (("explicit", explicit), ("bmc", bmc)):
        r = got["eventual-delivery"]
        assert r.verdict == "violated", (name, r.detail)
        assert r.counterexample is not None
        lengths[name] = len(r.counterexample)
    assert lengths["bmc"] == 3
    assert lengths["explicit"] == lengths["bmc"]


def test_the_forgetful_sender_has_no_disagreement_left() -> None:
    # It used to be the one disagreement: BMC's eventual-delivery lasso was shorter than the
    # explicit engine's (the trigger state is now chosen by depth plus distance to stuck).
    system = forgetful_sender_mark_first.system(1)
    truth = oracle(system)
    found = disagreements(system, truth, engines=("bmc",), depth=8, timeout=30)
    assert [str(d) for d in found] == []
