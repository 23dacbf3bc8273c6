"""The kernel's semantics: expressions, channels, crashes, atomic blocks, the two meanings."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackproof.spec import (
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    Int,
    ProtocolDef,
    Queue,
    SpecError,
    compile_system,
    explore,
    protocol,
)
from ackproof.spec.expr import and_, const, eq, evaluate, ite, lift, or_, slot
from ackproof.spec.interp import step_reference
from ackproof.spec.ops import Leaf
from ackproof.spec.protocols import BROKEN, BUILTIN
from ackproof.spec.system import State

ALL = {**BUILTIN, **{k: v for k, (v, _) in BROKEN.items()}}


def test_symbolic_values_refuse_python_truthiness() -> None:
    x = slot(0, "int", 0, 3, enum=None, ghost=False)
    with pytest.raises(SpecError, match="Python control flow"):
        bool(x == 1)


def test_constants_fold_and_intervals_are_sound() -> None:
    x = slot(0, "int", 0, 3, enum=None, ghost=False)
    assert (lift(2) + 3).const_value() == 5
    assert (x < 7) is lift(True)
    assert (x + 1).lo == 1
    assert (x + 1).hi == 4
    assert (x % 2).hi == 1
    e = ite(x == 2, x + 10, x - 1)
    assert [evaluate(e, (v,)) for v in range(4)] == [-1, 0, 12, 2]


def test_a_ghost_constant_decides_a_junction_and_keeps_its_taint() -> None:
    """Two message ids compared fold to a *ghost* constant: ``and_`` with a ghost false
    is that constant (it used to be kept inside a conjunction, so a step about another
    message looked like one that may send this one), still a ghost, so a guard built
    from it is still refused."""
    x = slot(0, "bool", 0, 1, enum=None, ghost=False)
    two, again, three = (Expr(Leaf.CONST, (), "int", v, v, value=v, ghost=True) for v in (2, 2, 3))
    ghost_false = eq(two, three)
    assert ghost_false.is_const
    assert ghost_false.ghost
    assert ghost_false.const_value() is False
    anded = and_(x, ghost_false)
    assert anded.is_const
    assert anded.const_value() is False
    assert anded.ghost
    ored = or_(x, eq(two, again))
    assert ored.is_const
    assert ored.const_value() is True
    assert ored.ghost
    kept = and_(x, eq(two, again))  # a ghost true does not decide: the taint stays
    assert kept.ghost
    assert not kept.is_const


def fire(name: str, faults: Faults) -> ProtocolDef:
    @protocol(name, claims=["at-most-once"], faults=faults)
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build


def test_fifo_channels_keep_order_and_bags_reorder() -> None:
    fifo = explore(fire("fifo", Faults()).system(3), ["in-order"])
    assert fifo.complete
    assert "in-order" not in fifo.violations
    bag = explore(fire("bag", Faults(reorder=True)).system(3), ["in-order"])
    # submit 0, submit 1, deliver 1, deliver 0: the first processing of 0 comes after 1
    assert len(bag.violations["in-order"]) == 4


@pytest.mark.parametrize("capacity", [1, 2, 3])
def test_channel_capacity_bounds_frames_in_flight(capacity: int) -> None:
    system = fire("cap", Faults(reorder=True, capacity=capacity)).system(4)
    ch = system.channels[0]
    comp = compile_system(system)
    seen = {system.initial()}
    frontier = [system.initial()]
    biggest = 0
    while frontier:
        s = frontier.pop()
        biggest = max(biggest, len(ch.contents(s)))
        for _, t in comp.successors(s):
            if t not in seen:
                seen.add(t)
                frontier.append(t)
    assert biggest == capacity


def test_crash_resets_volatile_state_and_keeps_durable_state() -> None:
    @protocol("memory", claims=["at-most-once"], faults=Faults(crash=("receiver",)))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        p.receiver.var("volatile", Bool)
        p.receiver.var("durable", Bool, durable=True)
        p.receiver.var("restarts", Int(0, 1), durable=True)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.volatile = True
            ctx.durable = True
            ctx.process(f.msg)

        @p.receiver.on_restart
        def restart(ctx: Ctx) -> None:
            ctx.restarts = 1

    system = build.system(1)
    comp = compile_system(system)
    by_label = {a.label: a.index for a in system.actions}
    s = system.initial()
    for label in ("submit(m=0)", "receiver <- DATA(msg=0)", "crash receiver (restart)"):
        nxt = comp.step(s, by_label[label])
        assert nxt is not None, label
        s = nxt
    value = {sl.name: s[sl.index] for sl in system.slots}
    assert value["receiver.volatile"] is False
    assert value["receiver.durable"] is True
    assert value["receiver.restarts"] == 1
    assert value["processed[0]"] == 1


def crash_points(pdef: ProtocolDef) -> set[int]:
    system = pdef.system(1)
    return {
        a.crash_after
        for a in system.actions
        if a.kind == "deliver" and a.node == "receiver" and a.crash_after is not None
    }


def test_atomic_blocks_admit_no_crash_between_their_effects() -> None:
    # exactly-once: [process + record] atomically, then ACK: a crash falls before the
    # pair or after both of its effects, never after just one.
    assert crash_points(BUILTIN["exactly-once"]) == {0, 2}
    # mark-before-process: record, process, ACK are three separate effects.
    assert crash_points(BROKEN["mark-before-process"][0]) == {0, 1, 2}


def test_a_three_node_broker_with_a_durable_queue() -> None:
    """Producer -> broker (durable FIFO queue) -> consumer, each hop acked and deduped."""

    @protocol(
        "broker",
        claims=["exactly-once"],
        faults=Faults(loss=True, crash=("broker",), capacity=1),
    )
    def build(p: Builder) -> None:
        producer, broker, consumer = p.node("producer"), p.node("broker"), p.node("consumer")
        pub = p.frame("PUB", producer, broker, carries="msg", msg=p.msg)
        puback = p.frame("PUBACK", broker, producer, msg=p.msg)
        push = p.frame("PUSH", broker, consumer, carries="msg", msg=p.msg)
        pushack = p.frame("PUSHACK", consumer, broker, msg=p.msg)
        producer.var("pending", Int(0, p.messages), durable=True)
        producer.var("busy", Bool, durable=True)
        broker.var("log", Queue(p.msg, p.messages), durable=True)
        broker.var("enqueued", Int(0, p.messages), durable=True)
        consumer.var("next", Int(0, p.messages), durable=True)

        @producer.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.require(~ctx.busy)
            ctx.busy = True
            ctx.pending = m
            ctx.send(pub(msg=m))

        @producer.timer()
        def republish(ctx: Ctx) -> None:
            ctx.require(ctx.busy)
            ctx.send(pub(msg=ctx.pending))

        @producer.on(puback)
        def on_puback(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.busy & (ctx.pending == f.msg)):
                ctx.busy = False
                ctx.ack(f.msg)

        @producer.holds
        def producer_holds(ctx: Ctx, m: Expr) -> Expr:
            return ctx.busy & (ctx.pending == m)

        @broker.on(pub)
        def on_pub(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.msg == ctx.enqueued), ctx.atomic():
                ctx.queue("log").push(f.msg)
                ctx.enqueued = ctx.enqueued + 1
            ctx.send(puback(msg=f.msg))

        @broker.timer()
        def forward(ctx: Ctx) -> None:
            q = ctx.queue("log")
            ctx.require(~q.empty())
            ctx.send(push(msg=q.head()))

        @broker.on(pushack)
        def on_pushack(ctx: Ctx, f: FrameView) -> None:
            q = ctx.queue("log")
            with ctx.when(~q.empty() & (q.head() == f.msg)):
                q.pop()

        @broker.holds
        def broker_holds(ctx: Ctx, m: Expr) -> Expr:
            return ctx.queue("log").contains(m)

        @consumer.on(push)
        def on_push(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(f.msg == ctx.next), ctx.atomic():
                ctx.process(f.msg)
                ctx.next = ctx.next + 1
            ctx.send(pushack(msg=f.msg))

    r = explore(build.system(2))
    assert r.complete
    for prop in ("no-loss", "no-duplicate", "no-phantom", "in-order"):
        assert prop not in r.violations, (prop, r.violations.get(prop) and r.labels(prop))
        assert prop in r.witnesses


def random_walk_states(pdef: ProtocolDef, n: int, seed: int, count: int) -> list[State]:
    system = pdef.system(n)
    comp = compile_system(system)
    rng = random.Random(seed)
    states = [system.initial()]
    s = system.initial()
    for _ in range(count):
        succ = comp.successors(s)
        if not succ:
            s = system.initial()
            continue
        s = rng.choice(succ)[1]
        states.append(s)
    return states


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(sorted(ALL)), n=st.integers(1, 3), seed=st.integers(0, 10**6))
def test_compiled_steps_agree_with_the_reference_evaluator(name: str, n: int, seed: int) -> None:
    pdef = ALL[name]
    system = pdef.system(n)
    comp = compile_system(system)
    for state in random_walk_states(pdef, n, seed, 15):
        for a in system.actions:
            assert comp.step(state, a.index) == step_reference(system, a, state), a.label


def test_protocol_without_submit_handler_is_refused() -> None:
    @protocol("mute", claims=["at-most-once"], faults=Faults())
    def build(p: Builder) -> None:
        p.node("sender")

    with pytest.raises(SpecError, match="no node handles submit"):
        build.system(1)


def test_const_helper_round_trips() -> None:
    assert const(True).const_value() is True
    assert const(3).const_value() == 3


def test_fault_budgets_bound_what_the_environment_may_do() -> None:
    amo = BUILTIN["at-most-once"]
    none_left = explore(amo.system(2, Faults(loss=True, max_losses=0)), ["no-loss"])
    assert none_left.complete
    assert "no-loss" not in none_left.violations
    one = explore(amo.system(2, Faults(loss=True, max_losses=1)), ["no-loss"])
    assert len(one.violations["no-loss"]) == 2
    # volatile dedup needs a crash to duplicate: with no crash allowed it is correct
    vd = BROKEN["volatile-dedup"][0]
    safe = explore(vd.system(1, Faults(loss=True, crash=("*",), max_crashes=0)), ["no-duplicate"])
    assert "no-duplicate" not in safe.violations
    bad = explore(vd.system(1, Faults(loss=True, crash=("*",), max_crashes=1)), ["no-duplicate"])
    assert "no-duplicate" in bad.violations


def test_ctx_offers_the_handler_api_and_nothing_else() -> None:
    """``Ctx`` is a facade over the recorder the lowering owns: its public names are the
    handler API, each reserved as a field name (a field called ``send`` would be shadowed
    by the method), and it holds nothing but the recorder."""
    from ackproof.spec.kernel import _RESERVED

    public = {n for n in dir(Ctx) if not n.startswith("_")}
    assert public == {"ack", "atomic", "bag", "process", "queue", "require", "send", "when"}
    assert public <= _RESERVED
    assert Ctx.__slots__ == ("_rec",)


def test_an_action_carries_its_arguments_as_values_beside_their_display() -> None:
    """``arg_values`` is what code compares (the conformance tests find a spec action by its
    kind, node, message and crash point, never by parsing its label); ``params`` shows them."""
    from ackproof.spec.protocols import BUILTIN

    system = BUILTIN["at-least-once"].system(3)
    for a in system.actions:
        assert len(a.arg_values) == len(a.params), a.label
        if a.kind == "submit":
            assert a.label.startswith(f"submit(m={a.arg_values[0]})"), a.label
        if a.kind == "timer":
            assert a.label == f"sender timer retransmit({a.arg_values[0]})", a.label
    assert sorted(a.arg_values for a in system.actions if a.kind == "timer") == [(0,), (1,), (2,)]


def test_a_system_that_differs_only_in_its_properties_shares_the_compiled_steps() -> None:
    s = BUILTIN["exactly-once"].system(2)
    comp = compile_system(s)
    backing = replace(s, properties={"no-loss": s.properties["no-loss"]})
    derived = comp.derived(backing)
    assert derived.system is backing
    assert derived.steps is comp.steps
    other = BUILTIN["exactly-once"].system(3)
    fresh = comp.derived(other)
    assert fresh.steps is not comp.steps
    assert len(fresh.steps) == len(other.actions)
    start = other.initial()
    assert fresh.successors(start) == compile_system(other).successors(start)
