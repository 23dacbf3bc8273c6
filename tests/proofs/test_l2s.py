"""The response obligations of no-loss under ``--engine pdr`` on FIFO models: the cheap
local reason (:func:`ackproof.spec.lasso.backing_system`, with relay steps chosen on a
sample) decides alternating bit and MQTT QoS 2 method A, and never proves a protocol
whose claims are not backed.

It used to fail on alternating bit: a step about *another* message (``receiver <-
DATA(bit=false, msg=0)``) counted as one that may send message 1, because comparing two
ghost message ids folds to a ghost ``false`` that ``and_`` keeps; then "every ready step
that may send it does send it" was false in reachable states, the local reason was
refuted, and the liveness-to-safety system stalled Spacer (N = 3: inconclusive at 300 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from ackproof.proofs import check
from ackproof.proofs.budget import Clock
from ackproof.proofs.certificate import recheck
from ackproof.proofs.engines import run_z3
from ackproof.proofs.l2s import BACKED, LocalReason, local_reason
from ackproof.proofs.pdr import PdrOutcome, spacer
from ackproof.spec import (
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    ProtocolDef,
    protocol,
)
from ackproof.spec.examples import EXAMPLES, alternating_bit
from ackproof.spec.expr import and_, le, render, slot
from ackproof.spec.interp import compile_system
from ackproof.spec.lasso import (
    _sends,
    backing_reason,
    backing_system,
    deadlock_system,
    with_reason,
)
from ackproof.spec.library.mqtt import mqtt_qos2_method_a, qos2
from ackproof.spec.protocols import BUILTIN
from ackproof.spec.system import State, System


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


#: N = 3 repeats N = 2's route at 15-20 s a proof: under ``-m slow`` (the suite's time).
AT_THREE = pytest.param(3, marks=pytest.mark.slow)


@pytest.mark.parametrize("n", [2, AT_THREE])
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


#: A client that does not resend PUBREL on reconnect: a PUBREL lost with the connection
#: leaves the broker holding the message for ever.
NO_PUBREL_RESEND = qos2(
    "mqtt-qos2-method-a-no-pubrel-resend",
    method="A",
    description="Method A, but the client does not resend PUBREL on reconnect.",
    resend_pubrel=False,
)


def test_a_claim_backed_two_steps_away_needs_the_relay_steps() -> None:
    """Method A's broker holds a stored message until PUBREL: with PUBREC in flight, the
    step that is ready (the client takes PUBREC) sends no copy, so the one-step reason
    fails on a reachable state; with the relay steps chosen on the sample it holds."""
    s = mqtt_qos2_method_a.system(2)
    one_step = backing_system(s, "no-loss")
    assert one_step is not None
    assert check(one_step, "no-loss", engine="explicit").verdict == "violated"
    relayed = local_reason(s, "no-loss")
    assert relayed is not None
    assert check(relayed.system, "no-loss", engine="explicit").verdict == "proved"


@pytest.mark.parametrize("n", [2, AT_THREE])
def test_mqtt_qos2_method_a_no_loss_is_proved_by_pdr_as_explicit_proves_it(n: int) -> None:
    """It used to go to the lasso system: proved in ~18 s at N = 2, inconclusive at
    150 s at N = 3 (Houdini on the lasso's 70 slots ran out of time)."""
    s = mqtt_qos2_method_a.system(n)
    explicit = check(s, "no-loss", engine="explicit")
    pdr = check(s, "no-loss", engine="pdr", timeout=240)
    assert explicit.verdict == pdr.verdict == "proved", pdr.detail
    assert BACKED in pdr.detail


def test_no_relay_backs_a_pubrel_that_is_never_resent() -> None:
    s = NO_PUBREL_RESEND.system(2)
    assert local_reason(s, "no-loss") is None
    explicit = check(s, "no-loss", engine="explicit")
    pdr = check(s, "no-loss", engine="pdr", timeout=240)
    assert explicit.verdict == pdr.verdict == "violated", pdr.detail
    assert pdr.counterexample is not None
    assert pdr.counterexample.calm is not None  # a lasso: faults stop, never processed
    assert "broker claims a copy of message" in pdr.detail


@pytest.mark.slow  # 20 s: its route (levels) is method A's, proved by default at N = 2
def test_a_patient_timer_is_backed_once_the_frames_ahead_are_delivered() -> None:
    """MQTT QoS 2 with two ids whose timer waits until nothing is in flight: the claim
    is backed several steps away (the frames ahead delivered, then the timer resends);
    the levels of the local reason decide it as the explicit engine does."""
    s = EXAMPLES["mqtt-qos2-two-ids-patient"].system()
    assert local_reason(s, "no-loss") is not None
    explicit = check(s, "no-loss", engine="explicit")
    pdr = check(s, "no-loss", engine="pdr", timeout=240)
    assert explicit.verdict == pdr.verdict == "proved", pdr.detail
    assert BACKED in pdr.detail


def test_the_one_step_reason_is_taken_without_choosing_levels_where_it_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Choosing levels evaluates every fault-free step on every pending sampled state (17 s
    at exactly-once N = 6): where the one-step reason holds on the sample, it is used as
    is, and levels are chosen only where it does not (alternating bit's relay steps)."""
    from ackproof.proofs import l2s

    sampled: list[str] = []

    def counting(system: System, prop: str, sample: Sequence[State] = ()) -> Expr | None:
        if sample:
            sampled.append(system.protocol)
        return backing_reason(system, prop, sample)

    monkeypatch.setattr(l2s, "backing_reason", counting)
    s = BUILTIN["exactly-once"].system(3)
    local = local_reason(s, "no-loss")
    one_step = backing_system(s, "no-loss")
    assert local is not None
    assert one_step is not None
    assert render(local.system.properties["no-loss"].invariant) == render(
        one_step.properties["no-loss"].invariant
    )
    assert sampled == []
    # method A's claim is backed two steps away: there the levels are chosen on the sample
    relayed = mqtt_qos2_method_a.system(2)
    assert local_reason(relayed, "no-loss") is not None
    assert sampled == [relayed.protocol]


# -- the local reason proved in the invariant's own Spacer run -----------------------------
def _processed_at_most_zero(s: System) -> Expr:
    """``processed[0] <= 0``: reachable states break it (exactly-once processes message 0)."""
    sl = s.slot("processed[0]")
    return le(slot(sl.index, "int", sl.lo, sl.hi, enum=None, ghost=False), 0)


@pytest.mark.parametrize("engine", ["pdr", "auto"])
def test_the_local_reason_is_proved_in_the_invariants_own_spacer_run(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backing system's invariant restates the property's: proving the two apart
    proved the invariant twice (0.3 s of 0.9 s at exactly-once N = 6).  One Spacer run now
    proves the invariant, then the reason on its lemmas, then the bounded model's
    deadlock freedom, and its certificate covers all three: no run has the backing
    system's goal or the deadlock system's."""
    from ackproof.proofs import engines

    s = BUILTIN["exactly-once"].system(3)
    reason = local_reason(s, "no-loss")
    assert reason is not None
    assert any(a.starved is not None for a in s.calm_actions())  # the deadlock check applies
    runs: list[tuple[str, int]] = []

    def spy(system: System, prop: str, **kw: Any) -> PdrOutcome:
        out = spacer(system, prop, **kw)
        runs.append((render(system.properties[prop].invariant), out.then_proved))
        return out

    monkeypatch.setattr(engines, "spacer", spy)
    r = run_z3(s, "no-loss", engine, 12, Clock(120), compile_system(s))
    assert r.verdict == "proved", r.detail
    assert BACKED in r.detail
    assert (render(s.properties["no-loss"].invariant), 2) in runs
    both = render(reason.system.properties["no-loss"].invariant)
    dead = render(deadlock_system(s, "no-loss").properties["no-loss"].invariant)
    assert all(goal not in (both, dead) for goal, _ in runs)


def test_the_deadlock_check_runs_on_its_own_when_the_run_does_not_prove_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Deadlock freedom that the invariant's run does not prove (here: replaced by a goal
    reachable states break) is checked afterwards on the deadlock system, as before."""
    from ackproof.proofs import engines

    s = BUILTIN["exactly-once"].system(2)
    monkeypatch.setattr(engines, "deadlock_goal", lambda *_: _processed_at_most_zero(s))
    runs: list[str] = []

    def spy(system: System, prop: str, **kw: Any) -> PdrOutcome:
        runs.append(render(system.properties[prop].invariant))
        return spacer(system, prop, **kw)

    monkeypatch.setattr(engines, "spacer", spy)
    r = run_z3(s, "no-loss", "pdr", 12, Clock(120), compile_system(s))
    assert r.verdict == "proved", r.detail
    assert BACKED in r.detail
    assert render(deadlock_system(s, "no-loss").properties["no-loss"].invariant) in runs


def test_a_second_goal_spacer_cannot_prove_leaves_the_first_proved() -> None:
    """A ``then`` that reachable states break: the invariant is still proved, and its
    certificate is re-checked against the invariant alone."""
    s = BUILTIN["exactly-once"].system(2)
    goal = s.properties["no-loss"].invariant
    broken = _processed_at_most_zero(s)
    fine = le(0, broken.args[0])
    out = spacer(s, "no-loss", timeout=60, then=[broken])
    assert out.status == "proved", out.detail
    assert out.then_proved == 0
    assert out.certificate is not None
    both = spacer(s, "no-loss", timeout=60, then=[fine])
    assert both.status == "proved"
    assert both.then_proved == 1
    # the goals after one that fails are not tried; the certificate covers those before
    some = spacer(s, "no-loss", timeout=60, then=[fine, broken, fine])
    assert some.status == "proved"
    assert some.then_proved == 1
    assert some.certificate is not None
    inv = some.certificate.invariant
    assert recheck(s, inv, and_(goal, fine)).ok
    assert not recheck(s, inv, and_(goal, fine, broken)).ok


def test_a_reason_that_fails_in_the_invariants_run_goes_the_old_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A local reason the invariant's Spacer run cannot prove (here a false one) is proved
    or refuted on its own afterwards: refuted, the obligations go to the lasso system."""
    from ackproof.proofs import engines

    s = BUILTIN["exactly-once"].system(1)
    bogus = _processed_at_most_zero(s)
    fake = LocalReason(bogus, with_reason(s, "no-loss", bogus))
    monkeypatch.setattr(engines, "local_reason", lambda *_: fake)
    r = run_z3(s, "no-loss", "pdr", 12, Clock(240), compile_system(s))
    assert r.verdict == "proved", r.detail
    assert BACKED not in r.detail
