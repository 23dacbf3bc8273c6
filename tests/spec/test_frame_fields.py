"""Frame fields are range-checked like state: never aliased, never silently dropped.

Before: with ``seq: Int(0, 1)``, a frame sent with ``seq = 2`` on a FIFO channel was stored
as frame number 2 and decoded as another frame (``DATA(msg=1, seq=0)``), and on a
reordering channel it vanished (no-loss came back vacuous).  Now every engine reports the
step as ill-formed, naming the frame, the field and the value.
"""

from __future__ import annotations

import pytest

from ackproof.proofs import check
from ackproof.proofs.result import EngineName
from ackproof.spec import (
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    SpecError,
    StepError,
    protocol,
)

ENGINES: tuple[EngineName, ...] = ("explicit", "bmc", "pdr", "kinduction", "auto")


def counter_protocol(reorder: bool) -> ProtocolDef:
    @protocol("seq-overflow", claims=["at-most-once"], faults=Faults(reorder=reorder))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg, seq=Int(0, 1))
        p.sender.var("k", Int(0, 1), durable=True)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m, seq=ctx.k + 1))  # the second message overflows seq
            ctx.k = 1

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build


@pytest.mark.parametrize("reorder", [False, True], ids=["fifo", "reordering"])
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("prop", ["no-phantom", "no-loss"])
def test_an_out_of_range_frame_field_is_a_step_error_in_every_engine(
    engine: EngineName, reorder: bool, prop: str
) -> None:
    system = counter_protocol(reorder).system(2)
    with pytest.raises(StepError, match=r"frame DATA field seq set outside 0\.\.1 \(got 2\)"):
        check(system, prop, engine=engine, depth=6, timeout=60)


def test_a_constant_out_of_range_field_is_refused_at_definition_time() -> None:
    @protocol("seq-constant", claims=["no-loss"], faults=Faults())
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg, seq=Int(0, 1))

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m, seq=m + 1))  # m = 1 gives seq = 2

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    with pytest.raises(SpecError, match=r"submit\(m=1\).*frame DATA field seq = 2 is outside"):
        build.system(2)


def test_the_field_check_fails_only_when_the_value_is_out_of_range() -> None:
    system = counter_protocol(False).system(1)  # one message: k + 1 = 1 fits
    r = check(system, "no-phantom", engine="explicit")
    assert r.verdict == "proved"
    assert any(c.message.startswith("frame DATA") for a in system.actions for c in a.checks)
