"""Counterexamples say what happened, in the order it happened.

Each step lists its effects in the order the handler performed them (a crash where it
fell, the restart handler's effects after it); "crash after k effects" counts only the
effects that ran; the no-loss line names a message that really has no copy left.
"""

from __future__ import annotations

from ackproof.proofs.trace import (
    Counterexample,
    decode,
    decode_step,
    mermaid,
    observations,
    to_json,
)
from ackproof.spec import Bool, Builder, Ctx, Expr, Faults, FrameView, ProtocolDef, protocol
from ackproof.spec.explore import explore
from ackproof.spec.interp import compile_system


def shortest(pdef: ProtocolDef, prop: str, n: int = 1) -> Counterexample:
    system = pdef.system(n)
    r = explore(system, [prop], stop_when_decided=True)
    return decode(system, prop, r.violations[prop])


@protocol("process-then-reply", claims=["no-duplicate"], faults=Faults(duplicate=True))
def process_then_reply(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    reply = p.frame("REPLY", p.receiver, p.sender, msg=p.msg)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)
        ctx.send(reply(msg=f.msg))

    @p.sender.on(reply)
    def on_reply(ctx: Ctx, f: FrameView) -> None:
        ctx.ack(f.msg)


def test_effects_are_listed_in_program_order() -> None:
    cx = shortest(process_then_reply, "no-duplicate")
    rows = [s.effects() for s in cx.steps if s.kind == "deliver"]
    assert rows[0] == ["process m=0", "send REPLY(msg=0)"]
    chart = mermaid(cx).splitlines()
    first_process = chart.index("    Note over receiver: process m=0")
    assert chart[first_process + 1] == "    receiver->>Network: REPLY(msg=0)"
    assert to_json(cx)["steps"][2]["effects"] == ["process m=0", "send REPLY(msg=0)"]


@protocol("announce-on-restart", claims=["no-loss"], faults=Faults(crash=("receiver",)))
def announce_on_restart(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    hello = p.frame("HELLO", p.receiver, p.sender, up=Bool)
    p.receiver.var("got", Bool)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.got = True  # volatile: not an effect
        ctx.send(hello(up=False))
        ctx.process(f.msg)

    @p.receiver.on_restart
    def restart(ctx: Ctx) -> None:
        ctx.send(hello(up=True))

    @p.sender.on(hello)
    def on_hello(ctx: Ctx, f: FrameView) -> None:
        pass


def test_a_crash_shows_where_it_fell_and_the_restart_effects_after_it() -> None:
    system = announce_on_restart.system(1)
    comp = compile_system(system)
    by_label = {a.label: a for a in system.actions}
    submit = by_label["submit(m=0)"]
    crash = by_label["receiver <- DATA(msg=0), crash after 1 effect"]
    s0 = system.initial()
    s1 = comp.step(s0, submit.index)
    assert s1 is not None
    s2 = comp.step(s1, crash.index)
    assert s2 is not None
    last = decode_step(system, 2, crash, s1, s2)
    assert last.label == "receiver <- DATA(msg=0), crash after 1 effect"
    assert last.effects() == ["send HELLO(up=false)", "CRASH + restart", "send HELLO(up=true)"]
    events = [e for _, e, _ in observations(last)]
    assert events == ["receive", "send", "crash", "restart", "send"]


@protocol("skipped-branch", claims=["no-loss"], faults=Faults(crash=("receiver",)))
def skipped_branch(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    note = p.frame("NOTE", p.receiver, p.sender, msg=p.msg)
    p.receiver.var("chatty", Bool, durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        with ctx.when(ctx.chatty):  # never true: chatty stays false
            ctx.send(note(msg=f.msg))
        ctx.process(f.msg)

    @p.sender.on(note)
    def on_note(ctx: Ctx, f: FrameView) -> None:
        pass


def test_crash_after_k_effects_counts_only_effects_that_ran() -> None:
    system = skipped_branch.system(1)
    labels = [a.label for a in system.actions if a.crash_after is not None]
    assert "receiver <- DATA(msg=0), crash after 1 effect" in labels  # one point in the program
    cx = shortest(skipped_branch, "no-loss")
    assert cx.steps[-1].label == "receiver <- DATA(msg=0), crash after 0 effects"
    assert cx.steps[-1].crash_after == 0
    assert cx.steps[-1].effects() == ["CRASH + restart"]


@protocol(
    "two-copies-of-the-first",
    claims=["no-loss"],
    faults=Faults(loss=True, reorder=True, max_losses=1, capacity=3),
)
def two_copies_of_the_first(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))
        with ctx.when(m == 0):
            ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


def test_the_no_loss_line_names_the_message_that_has_no_copy_left() -> None:
    cx = shortest(two_copies_of_the_first, "no-loss", n=2)
    assert [s.label for s in cx.steps][-1] == "network loses DATA(msg=1) on sender->receiver"
    assert cx.final.startswith("message 1 was submitted, never processed")
