"""The response obligations of no-loss under ``--engine pdr`` on FIFO models: the cheap
local reason (:func:`ackproof.spec.lasso.backing_system`) decides alternating bit, and
never proves a protocol whose claims are not backed.

It used to fail on alternating bit: a step about *another* message (``receiver <-
DATA(bit=false, msg=0)``) counted as one that may send message 1, because comparing two
ghost message ids folds to a ghost ``false`` that ``and_`` keeps; then "every ready step
that may send it does send it" was false in reachable states, the local reason was
refuted, and the liveness-to-safety system stalled Spacer (N = 3: inconclusive at 300 s).
"""

from __future__ import annotations

import pytest

from ackproof.proofs import check
from ackproof.proofs.l2s import _refuted
from ackproof.spec import Bool, Builder, Ctx, Expr, Faults, FrameView, ProtocolDef, protocol
from ackproof.spec.examples import alternating_bit
from ackproof.spec.lasso import _sends, backing_system
from ackproof.spec.library import LIBRARY

BACKED = "every holds() claim is backed by a step that resends"


def test_a_step_about_another_message_is_not_a_sender_of_this_one() -> None:
    s = alternating_bit.system(2)
    senders = {
        a.label
        for a in s.calm_actions()
        if not (_sends(s, a, 1).is_const and not _sends(s, a, 1).value)
    }
    assert "receiver <- DATA(bit=false, msg=0)" not in senders
    assert "receiver <- DATA(bit=true, msg=0)" not in senders
    assert {"sender timer retransmit()", "receiver <- DATA(bit=true, msg=1)"} <= senders


@pytest.mark.parametrize("n", [2, 3])
def test_alternating_bit_no_loss_is_proved_by_pdr_as_explicit_proves_it(n: int) -> None:
    s = alternating_bit.system(n)
    explicit = check(s, "no-loss", engine="explicit")
    pdr = check(s, "no-loss", engine="pdr", timeout=240)
    assert explicit.verdict == pdr.verdict == "proved", pdr.detail
    assert pdr.liveness
    assert BACKED in pdr.detail


def lazy_alternating_bit() -> ProtocolDef:
    """Alternating bit whose timer resends only while the bit is 0: once the frame of the
    second message (bit 1) is lost, the sender's claim on it is never backed."""

    @protocol("lazy-alternating-bit", claims=["no-loss"], faults=Faults(loss=True), messages=2)
    def build(p: Builder) -> None:
        sender, receiver = p.sender, p.receiver
        data = p.frame("DATA", sender, receiver, carries="msg", ghost=["msg"], bit=Bool, msg=p.msg)
        ack = p.frame("ACK", receiver, sender, bit=Bool)
        sender.var("busy", Bool)
        sender.var("bit", Bool)
        sender.var("cur", p.msg, ghost=True)
        receiver.var("expected", Bool)

        @sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.require(~ctx.busy)
            ctx.busy = True
            ctx.cur = m
            ctx.send(data(bit=ctx.bit, msg=m))

        @sender.timer()
        def retransmit(ctx: Ctx) -> None:
            ctx.require(ctx.busy & ~ctx.bit)  # the bug: bit 1 is never resent
            ctx.send(data(bit=ctx.bit, msg=ctx.cur))

        @sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.busy & (f.bit == ctx.bit)):
                ctx.ack(ctx.cur)
                ctx.busy = False
                ctx.bit = ~ctx.bit

        @sender.holds
        def holds(ctx: Ctx, m: Expr) -> Expr:
            return ctx.busy & (ctx.cur == m)

        @receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.bit == ctx.expected):
                ctx.process(f.msg)
                ctx.expected = ~ctx.expected
            ctx.send(ack(bit=f.bit))

    return build


def test_the_local_reason_is_refuted_when_a_claim_is_not_backed() -> None:
    s = lazy_alternating_bit().system(2)
    local = backing_system(s, "no-loss")
    assert local is not None
    assert check(local, "no-loss", engine="explicit").verdict == "violated"


def test_pdr_finds_the_lasso_of_a_fifo_protocol_whose_claim_is_not_backed() -> None:
    s = lazy_alternating_bit().system(2)
    explicit = check(s, "no-loss", engine="explicit")
    pdr = check(s, "no-loss", engine="pdr", timeout=240)
    assert explicit.verdict == pdr.verdict == "violated", pdr.detail
    assert pdr.counterexample is not None
    assert explicit.counterexample is not None
    assert pdr.counterexample.calm is not None  # a lasso: faults stop, never resent
    assert "sender claims a copy of message" in pdr.detail


def test_the_local_reason_is_refuted_on_mqtt_qos2_method_a_by_a_sampled_state() -> None:
    """Pins why method A's liveness goes to the lasso system: the broker's claim on a
    stored message is backed two steps away (PUBREC in flight, the client answers PUBREL,
    the broker processes at PUBREL), and the local reason looks one step ahead.  The
    sample finds that at once (it used to cost Spacer's first try, 5 s, each check)."""
    (entry,) = (e for e in LIBRARY if e.name == "mqtt-qos2-method-a")
    s = entry.protocol.system(2)
    local = backing_system(s, "no-loss")
    assert local is not None
    assert _refuted(local, "no-loss")
    backed = backing_system(alternating_bit.system(2), "no-loss")
    assert backed is not None
    assert not _refuted(backed, "no-loss")
