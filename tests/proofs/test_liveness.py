"""No claim on faith: holds() claims are checked, and eventual delivery is a property.

no-loss trusts a node's ``holds()`` claim that it keeps a copy; each claim is now an
obligation (once faults stop, a claimed copy is resent or processed in every fair run),
and *eventual-delivery* (every submitted message is processed in every fair run once
faults stop) is the ground truth the two must agree with.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from ackproof.cli import main
from ackproof.loader import load_file, shipped
from ackproof.proofs import check
from ackproof.proofs.liveness import check_lasso
from ackproof.proofs.result import EngineError, EngineName
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
    protocol,
)
from ackproof.spec.interp import compile_system

ENGINES: tuple[EngineName, ...] = ("explicit", "bmc", "pdr", "kinduction", "auto")
MY_EXACTLY_ONCE = Path(__file__).resolve().parents[2] / "examples" / "my_exactly_once.py"
TIMER = re.compile(r"    @p\.sender\.timer\(p\.msg\)\n(?:    .*\n|\n(?=        ))*\n")


def variant(tmp_path: Path, edit: str) -> ProtocolDef:
    source = MY_EXACTLY_ONCE.read_text()
    if edit == "no timer":
        changed = TIMER.sub("", source)
    else:
        changed = source.replace(
            "ctx.require(ctx.unacked[m])", "ctx.require(ctx.unacked[m] & ~ctx.unacked[m])"
        )
    assert changed != source
    path = tmp_path / "variant.py"
    path.write_text(changed)
    (pdef,) = load_file(str(path)).values()
    return pdef


@pytest.mark.parametrize("edit", ["no timer", "a require that never holds"])
@pytest.mark.parametrize("engine", ENGINES)
def test_my_exactly_once_without_its_retransmissions_is_not_proved(
    tmp_path: Path, engine: EngineName, edit: str
) -> None:
    system = variant(tmp_path, edit).system(2)
    for prop in ("no-loss", "eventual-delivery"):
        r = check(system, prop, engine=engine, depth=10, timeout=60)
        assert r.verdict == "violated", (prop, r.detail)
        assert r.counterexample is not None
        assert r.counterexample.calm is not None  # a lasso: faults stop, it never arrives
    assert "sender claims a copy of message" in check(system, "no-loss", engine=engine).detail


def test_the_cli_exits_1_for_the_variant_without_a_timer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    variant(tmp_path, "no timer")
    code = main(["check", str(tmp_path / "variant.py"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 1
    assert "the claim is not backed" in out
    assert "(no fault after step" in out


def broker(redeliver: bool) -> ProtocolDef:
    @protocol(
        "broker-redelivers" if redeliver else "broker-forgets",
        claims=["at-least-once"],
        faults=Faults(crash=("consumer",), max_crashes=1),
    )
    def build(p: Builder) -> None:
        producer, queue, consumer = p.node("producer"), p.node("broker"), p.node("consumer")
        publish = p.frame("PUBLISH", producer, queue, carries="msg", msg=p.msg)
        deliver = p.frame("DELIVER", queue, consumer, carries="msg", msg=p.msg)
        done = p.frame("DONE", consumer, queue, msg=p.msg)
        queue.var("stored", Array(p.msg, Bool), durable=True)
        queue.var("sent", Array(p.msg, Bool), durable=True)

        @producer.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(publish(msg=m))

        @queue.on(publish)
        def on_publish(ctx: Ctx, f: FrameView) -> None:
            ctx.stored[f.msg] = True

        @queue.timer(p.msg)
        def dispatch(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.stored[m])
            if not redeliver:
                ctx.require(~ctx.sent[m])  # sent once, never again: the bug
            ctx.sent[m] = True
            ctx.send(deliver(msg=m))

        @queue.on(done)
        def on_done(ctx: Ctx, f: FrameView) -> None:
            ctx.stored[f.msg] = False

        queue.holds(lambda ctx, m: ctx.stored[m])  # "it is in the queue"

        @consumer.on(deliver)
        def on_deliver(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)
            ctx.send(done(msg=f.msg))

    return build


@pytest.mark.parametrize("engine", ENGINES)
def test_a_broker_that_never_redelivers_after_a_consumer_crash_is_caught(
    engine: EngineName,
) -> None:
    system = broker(redeliver=False).system(1)
    r = check(system, "no-loss", engine=engine, depth=10, timeout=60)
    assert r.verdict == "violated"
    assert "broker claims a copy of message 0" in r.detail
    fixed = check(broker(redeliver=True).system(1), "no-loss", engine="explicit")
    assert fixed.verdict == "proved"


def test_a_protocol_that_forgets_to_declare_holds_gets_an_error_naming_the_node() -> None:
    @protocol("undeclared", claims=["no-loss"], faults=Faults(loss=True))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
        p.sender.var("unacked", Array(p.msg, Bool), durable=True)

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

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)
            ctx.send(ack(msg=f.msg))

    for engine in ("explicit", "bmc"):
        with pytest.raises(SpecError, match=r"sender still has it .*@sender\.holds"):
            check(build.system(1), "no-loss", engine=engine)


#: Shipped protocols whose liveness the bounded model cannot decide (see their docstring).
UNDECIDED = {"mqtt-qos2-two-ids"}


@pytest.mark.parametrize("name", sorted(shipped()))
def test_eventual_delivery_agrees_with_no_loss_on_every_shipped_protocol(name: str) -> None:
    system = shipped()[name].system()
    loss = check(system, "no-loss", engine="explicit")
    delivery = check(system, "eventual-delivery", engine="explicit")
    assert (loss.verdict == "violated") == (delivery.verdict == "violated")
    if name in UNDECIDED:
        assert loss.verdict == delivery.verdict == "inconclusive"
        assert "undecided at channel capacity 2" in delivery.detail
    else:
        assert loss.verdict in ("proved", "violated")
        assert delivery.verdict in ("proved", "violated")


def test_a_bounded_buffer_deadlock_is_undecided_by_the_symbolic_engines_too() -> None:
    system = shipped()["mqtt-qos2-two-ids"].system()
    r = check(system, "eventual-delivery", engine="bmc", depth=10, timeout=60)
    assert r.verdict == "inconclusive"
    assert "can deadlock" in r.detail


def test_a_lasso_is_rechecked_and_an_unfair_one_refused(tmp_path: Path) -> None:
    system = variant(tmp_path, "no timer").system(2)
    r = check(system, "eventual-delivery", engine="explicit")
    assert r.counterexample is not None
    comp = compile_system(system)
    ob = system.properties["eventual-delivery"].eventually[0]
    check_lasso(comp, r.counterexample, ob)

    cut = r.counterexample.steps[:-1]
    with pytest.raises(EngineError):  # the shortened run is not stuck: a step is enabled
        check_lasso(comp, replace(r.counterexample, steps=cut), ob)
    with pytest.raises(EngineError, match="trigger"):  # nothing is pending at the start
        check_lasso(comp, replace(r.counterexample, calm=0), ob)
    with pytest.raises(EngineError, match="loop does not close"):
        check_lasso(comp, replace(r.counterexample, stuck=False, loop=0), ob)
