"""The Promela export and the environment's constructs: each is carried, or refused by name.

Every construct is lowered into the flat system's guards and updates, so the model
carries it with no special case: a branch for each of the environment's steps (a link's
loss, a connection's drop and reconnect with its handlers, a crash that closes
connections, the clock's tick), a slot for each budget, age and shared field.  Where
``spin`` is installed, SPIN's breadth-first search gives the explicit engine's verdict
and shortest length on them.  What a safety search cannot carry — eventual delivery on
fair runs, and the response obligations behind ``holds()`` claims — is refused by name.
"""

from __future__ import annotations

import pytest
from environment_cases import CASES, CONSTRUCTS, system

from ackproof.proofs.promela import PromelaError, promela, run_spin, spin_available
from ackproof.spec import Builder, Ctx, Expr, Faults, FrameView, explore, protocol
from ackproof.spec.types import Int

needs_spin = pytest.mark.skipif(not spin_available(), reason="spin is not installed")

#: For each construct, a case and a step label (or slot name) its model must contain.
CARRIED: dict[str, tuple[str, str]] = {
    "link": ("one-ack-loss", "budget.losses@receiver->sender"),
    "connection": ("session", "connection sender<->receiver drops"),
    "on_connect": ("session", "connection sender<->receiver up again"),
    "on_disconnect": ("clean-session", "connection sender<->receiver drops"),
    "crash-closes": ("session", "crash sender (restart)"),
    "crash-budget": ("crash-budget", "budget.crashes@sender"),
    "patient-timer": ("patient", "sender timer retransmit(0)"),
    "age": ("window-w2", "receiver.seen[0]"),
    "within": ("window-w2", "sender->receiver#DATA(msg=0)@1"),  # a frame a tick old
    "tick": ("window-w2", "a tick of the clock"),
    "producers": ("two-producers", "submit(m=1)"),
    "several-senders": ("two-producers", "broker <- DATA(msg=1) from right"),
    "shared": ("outbox-relay", "shared.outbox[0]"),
}


def test_every_construct_has_a_promela_case() -> None:
    assert set(CARRIED) == set(CONSTRUCTS)
    for construct, (name, _) in CARRIED.items():
        assert construct in CASES[name].constructs, construct


@pytest.mark.parametrize("construct", sorted(CARRIED))
def test_the_model_carries_the_construct(construct: str) -> None:
    name, mark = CARRIED[construct]
    s = system(name)
    text = promela(s, "no-duplicate")
    assert f"{mark}" in text
    for slot in s.slots:
        assert f"/* {slot.name} */" in text
    assert text.count(":: atomic {") == sum(1 for a in s.actions if a.updates)


@pytest.mark.parametrize("name", ["session", "patient", "window-w2", "outbox-relay"])
def test_eventual_delivery_is_refused_as_liveness(name: str) -> None:
    with pytest.raises(PromelaError, match=r"eventual-delivery .* is a liveness property"):
        promela(system(name), "eventual-delivery")


def test_no_loss_with_claims_is_refused_unless_the_invariant_alone_is_asked_for() -> None:
    s = system("session")
    with pytest.raises(PromelaError, match=r"response obligations \(sender's holds\(\) claims\)"):
        promela(s, "no-loss")
    text = promela(s, "no-loss", invariant_only=True)
    assert "its invariant only" in text.splitlines()[0]
    with pytest.raises(PromelaError, match="unknown property 'no-such'"):
        promela(s, "no-such")


#: One violation and one proof per construct for the default run (SPIN compiles each).
FAST = [
    ("one-ack-loss", "no-duplicate"),
    ("volatile-session", "no-loss"),
    ("crash-budget", "no-loss"),
    ("patient", "no-duplicate"),
    ("window-w3", "no-duplicate"),
    ("two-producers-no-dedup", "no-duplicate"),
    ("outbox-relay", "no-duplicate"),
]
COVERED = sorted(n for n, c in CASES.items() if c.constructs)
EVERY = [
    pytest.param(n, p, id=f"{n}:{p}", marks=() if (n, p) in FAST else (pytest.mark.slow,))
    for n in COVERED
    for p in system(n).properties
    if p != "eventual-delivery"
]


@needs_spin
@pytest.mark.parametrize(("name", "prop"), EVERY)
def test_spin_gives_the_explicit_engines_verdict_and_length(name: str, prop: str) -> None:
    s = system(name)
    ours = explore(s, [prop])
    assert ours.complete
    spin = run_spin(s, prop, invariant_only=True)
    assert spin.complete
    assert spin.violated == (prop in ours.violations)
    if spin.violated:
        assert spin.length == len(ours.violations[prop])
    else:  # two searches, one count: the reachable states, plus SPIN's before its loop
        assert spin.states == ours.states + 1


@protocol("overflow", claims=["at-most-once"], faults=Faults())
def overflow(p: Builder) -> None:
    """A counter that leaves its range on the first submit: an ill-formed model."""
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    p.sender.var("count", Int(0, 0))

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.count = ctx.count + 1
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)


def test_a_steps_well_formedness_is_asserted_apart_from_the_property() -> None:
    text = promela(overflow.system(1), "no-duplicate")
    assert "assert(wf)" in text
    assert "assert(INV)" in text


@needs_spin
def test_spin_stops_on_an_ill_formed_step_instead_of_giving_a_verdict() -> None:
    with pytest.raises(PromelaError, match="ill-formed step"):
        run_spin(overflow.system(1), "no-duplicate")
