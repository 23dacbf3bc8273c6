"""A malformed variant fails at definition time, naming the protocol, the action and the field."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    SpecError,
    StepError,
    explore,
    protocol,
)
from ackproof.spec.types import Scalar

Body = Callable[[Ctx, FrameView], object]


def variant(body: Body, flag: object = Bool) -> ProtocolDef:
    @protocol("bad-variant", claims=["exactly-once"], faults=Faults(loss=True, duplicate=True))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        p.receiver.var("flag", flag)  # type: ignore[arg-type]
        p.receiver.var("seen", Array(p.msg, Bool), durable=True)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            body(ctx, f)

    return build


def error_of(pdef: ProtocolDef) -> SpecError:
    with pytest.raises(SpecError) as info:
        pdef.system(2)
    return info.value


def test_type_error_in_state_names_protocol_action_and_field() -> None:
    e = error_of(variant(lambda ctx, f: setattr(ctx, "flag", 3)))
    assert e.protocol == "bad-variant"
    assert e.action == "receiver <- DATA(msg=0)"
    assert e.field == "receiver.flag"
    assert "expected a bool" in str(e)


def test_out_of_range_constant_update() -> None:
    e = error_of(variant(lambda ctx, f: setattr(ctx, "flag", 7), Int(0, 3)))
    assert e.field == "receiver.flag"
    assert "7 is outside Int[0..3]" in str(e)


def test_action_touching_undeclared_state() -> None:
    e = error_of(variant(lambda ctx, f: ctx.nope))
    assert e.field == "receiver.nope"
    assert "declare it" in str(e)


def test_unbounded_structure_is_refused() -> None:
    e = error_of(variant(lambda ctx, f: None, flag=list))
    assert e.field == "receiver.flag"
    assert "not a finite type" in str(e)


def test_python_control_flow_on_symbolic_state_is_refused() -> None:
    e = error_of(variant(lambda ctx, f: 1 if ctx.flag else 0))
    assert e.action == "receiver <- DATA(msg=0)"
    assert "Python control flow" in str(e)


def test_ghost_identity_cannot_drive_a_decision() -> None:
    @protocol("ghostly", claims=["exactly-once"], faults=Faults(loss=True))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", ghost=["msg"], msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.msg == 0):
                ctx.process(f.msg)

    e = error_of(build)
    assert "ghost" in str(e)
    assert e.protocol == "ghostly"


def test_wrong_enum_or_sort_comparisons_are_refused() -> None:
    e = error_of(variant(lambda ctx, f: ctx.when(ctx.flag == 1)))
    assert "==" in str(e)


def test_missing_handler_is_named() -> None:
    @protocol("deaf", claims=["at-most-once"], faults=Faults())
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

    e = error_of(build)
    assert "no @receiver.on(DATA) handler" in str(e)


def test_unknown_claim_is_refused() -> None:
    with pytest.raises(SpecError, match="unknown property or guarantee 'exactly-twice'"):
        protocol("x", claims=["exactly-twice"], faults=Faults())


def test_user_exception_inside_a_handler_is_wrapped_with_its_location() -> None:
    def boom(ctx: Ctx, f: FrameView) -> None:
        raise ValueError("oops")

    e = error_of(variant(boom))
    assert e.action == "receiver <- DATA(msg=0)"
    assert "ValueError: oops" in str(e)


def test_computed_out_of_range_value_is_a_step_error_naming_the_action() -> None:
    def count(ctx: Ctx, f: FrameView) -> None:
        ctx.flag = ctx.flag + 1

    pdef = variant(count, Int(0, 1))
    system = pdef.system(2, Faults(duplicate=True))
    with pytest.raises(StepError, match=r"receiver.flag set outside 0..1"):
        explore(system)


def test_scalar_types_reject_nonsense() -> None:
    with pytest.raises(SpecError):
        Int(3, 1)
    with pytest.raises(SpecError):
        Scalar("int", 0, 1).lit(True)


# -- a step that can never fit in its channel ----------------------------------------------
def too_many_sends(faults: Faults) -> ProtocolDef:
    @protocol("overfull", claims=["at-least-once"], faults=faults)
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build


@pytest.mark.parametrize("reorder", [False, True], ids=["fifo", "reordering"])
def test_a_step_sending_more_frames_than_the_channel_holds_is_named(reorder: bool) -> None:
    # Before: "index 1 is out of bounds" on FIFO, and a silently disabled step (every
    # property vacuous) on a reordering channel.
    e = error_of(too_many_sends(Faults(loss=True, reorder=reorder, capacity=1)))
    assert "submit(m=0)" in str(e)
    assert "sender->receiver" in str(e)
    assert "sends 2 frames" in str(e)
    assert "holds at most 1" in str(e)


def test_two_sends_fit_a_channel_of_two() -> None:
    system = too_many_sends(Faults(loss=True, reorder=True, capacity=2)).system(1)
    assert explore(system, ["no-phantom"]).complete
