"""Small protocols, one or more per environment construct, for the engine-agreement and
Promela tests (the shapes of ``tests/spec/test_links.py``, ``test_time.py`` and
``test_producers.py``, and entries of the library).

Each case names the constructs it exercises, so a test failure says which construct the
engines disagree on, and :data:`CONSTRUCTS` lists what must be covered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameView,
    ProtocolDef,
    System,
    protocol,
)
from ackproof.spec.library import LIBRARY
from ackproof.spec.links import Connection, Link
from ackproof.spec.types import Age

#: Every construct of the environment the agreement tests must cover.
CONSTRUCTS = (
    "link",  # Faults(links={"a->b": Link(...)}): a link's own faults and budgets
    "connection",  # Faults(links={"a<->b": Connection(...)}): drop / reconnect
    "on_connect",
    "on_disconnect",
    "crash-closes",  # a crash drops the node's connections
    "crash-budget",  # Faults(crash_budgets=...)
    "patient-timer",  # timer(early=False)
    "age",  # Age(limit) fields
    "within",  # timed channels
    "tick",  # the clock's step
    "producers",  # on_submit(ids=...)
    "several-senders",  # p.frame(..., [a, b], ...), ctx.send(..., to=f.source)
    "shared",  # p.shared(...)
)


def retrying(
    name: str, faults: Faults, *, early: bool = True, durable: bool = True, forget: bool = False
) -> ProtocolDef:
    """At-least-once: retransmit until acked (on a timer, and on reconnect); ``forget``:
    the sender drops its unacked set when its connection drops (a clean session)."""

    @protocol(name, claims=["at-least-once"], faults=faults)
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
        p.sender.var("unacked", Array(p.msg, Bool), durable=durable)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.unacked[m] = True
            ctx.send(data(msg=m))

        @p.sender.timer(p.msg, early=early)
        def retransmit(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m])
            ctx.send(data(msg=m))

        @p.sender.on_connect
        def resend(ctx: Ctx, peer: str) -> None:
            for m in range(p.messages):
                with ctx.when(ctx.unacked[m]):
                    ctx.send(data(msg=m))

        if forget:

            @p.sender.on_disconnect
            def clean(ctx: Ctx, peer: str) -> None:
                for m in range(p.messages):
                    ctx.unacked[m] = False

        @p.sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.unacked[f.msg]):
                ctx.unacked[f.msg] = False
                ctx.ack(f.msg)

        p.sender.holds(lambda ctx, m: ctx.unacked[m])

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)
            ctx.send(ack(msg=f.msg))

    return build


def window(w: int, horizon: int, delay: int) -> ProtocolDef:
    """Time-window dedup (``test_time.py``): the receiver drops an id seen less than ``w``
    ticks ago; the sender retries for ``horizon`` ticks; frames arrive within ``delay``."""

    @protocol(
        f"window-w{w}-r{horizon}-d{delay}",
        claims=["at-most-once"],
        faults=Faults(loss=True, duplicate=True, reorder=True, within=delay),
    )
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
        ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)
        p.sender.var("unacked", Array(p.msg, Bool), durable=True)
        p.sender.var("since", Array(p.msg, Age(horizon)), durable=True)
        p.receiver.var("seen", Array(p.msg, Age(w)), durable=True)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            with ctx.atomic():
                ctx.unacked[m] = True
                ctx.since[m] = 0
            ctx.send(data(msg=m))

        @p.sender.timer(p.msg)
        def retry(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.unacked[m] & (ctx.since[m] < horizon))
            ctx.send(data(msg=m))

        @p.sender.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            ctx.unacked[f.msg] = False

        p.sender.holds(lambda ctx, m: ctx.unacked[m] & (ctx.since[m] < horizon))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(ctx.seen[f.msg] >= w), ctx.atomic():
                ctx.process(f.msg)
                ctx.seen[f.msg] = 0
            ctx.send(ack(msg=f.msg))

    return build


def timed_session() -> ProtocolDef:
    """Fire and forget over a timed connection: delivered or dropped within 2 ticks."""

    @protocol(
        "timed-session",
        claims=["at-most-once"],
        faults=Faults(loss=True, links={"sender<->receiver": Connection(within=2)}),
    )
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build


def two_producers(dedup: bool) -> ProtocolDef:
    """Two producers, one broker (``test_producers.py``); replies go back to the sender.
    Without ``dedup`` the broker processes every copy: a duplicate."""

    @protocol(
        "two-producers" if dedup else "two-producers-no-dedup",
        claims=["exactly-once"],
        faults=Faults(loss=True, crash=("broker",), max_crashes=1, crash_budgets={"left": 1}),
    )
    def build(p: Builder) -> None:
        left, right, broker = p.node("left"), p.node("right"), p.node("broker")
        data = p.frame("DATA", [left, right], broker, carries="msg", msg=p.msg)
        ack = p.frame("ACK", broker, [left, right], msg=p.msg)
        broker.var("inbox", Array(p.msg, Bool), durable=True)

        for node, mine in ((left, lambda m: m % 2 == 0), (right, lambda m: m % 2 == 1)):
            node.var("unacked", Array(p.msg, Bool), durable=True)

            @node.on_submit(ids=mine)
            def submit(ctx: Ctx, m: Expr) -> None:
                ctx.unacked[m] = True
                ctx.send(data(msg=m))

            @node.timer(p.msg)
            def retransmit(ctx: Ctx, m: Expr) -> None:
                ctx.require(ctx.unacked[m])
                ctx.send(data(msg=m))

            @node.on(ack)
            def on_ack(ctx: Ctx, f: FrameView) -> None:
                ctx.unacked[f.msg] = False

            node.holds(lambda ctx, m: ctx.unacked[m])

        @broker.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            if dedup:
                with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
                    ctx.process(f.msg)
                    ctx.inbox[f.msg] = True
            else:
                ctx.process(f.msg)
            ctx.send(ack(msg=f.msg), to=f.source)

    return build


def outbox(relay_durable: bool) -> ProtocolDef:
    """A service and its relay over one shared outbox (``test_producers.py``)."""

    @protocol(
        "outbox-relay" if relay_durable else "outbox-relay-volatile",
        claims=["exactly-once"],
        faults=Faults(loss=True, crash=("service", "relay")),
    )
    def build(p: Builder) -> None:
        service, relay, consumer = p.node("service"), p.node("relay"), p.node("consumer")
        event = p.frame("EVENT", relay, consumer, carries="msg", msg=p.msg)
        done = p.frame("DONE", consumer, relay, msg=p.msg)
        p.shared("outbox", Array(p.msg, Bool), nodes=[service, relay])
        relay.var("sending", Array(p.msg, Bool), durable=relay_durable)
        consumer.var("inbox", Array(p.msg, Bool), durable=True)

        @service.on_submit
        def commit(ctx: Ctx, m: Expr) -> None:
            ctx.outbox[m] = True

        @relay.timer(p.msg)
        def poll(ctx: Ctx, m: Expr) -> None:
            ctx.require(ctx.outbox[m])
            ctx.send(event(msg=m))

        @relay.on(done)
        def on_done(ctx: Ctx, f: FrameView) -> None:
            ctx.outbox[f.msg] = False

        relay.holds(lambda ctx, m: ctx.outbox[m])

        @consumer.on(event)
        def on_event(ctx: Ctx, f: FrameView) -> None:
            with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
                ctx.process(f.msg)
                ctx.inbox[f.msg] = True
            ctx.send(done(msg=f.msg))

    return build


SESSION = Faults(loss=True, crash=("sender",), links={"sender<->receiver": Connection(max_drops=2)})


def detected(s: System) -> set[str]:
    """The constructs a lowered system visibly uses (a patient timer is only a guard: it
    cannot be told from the system, so cases declare it)."""
    kinds = {type(spec).__name__ for spec in dict(s.faults.links).values()}
    found = {"link"} if "Link" in kinds else set()
    if "Connection" in kinds:
        found.add("connection")
        if any(a.kind == "crash" for a in s.actions):
            found.add("crash-closes")

    def handled(kind: str) -> bool:  # a node's handler ran: it sent, or changed its state
        steps = [a for a in s.actions if a.kind == kind]
        return any(a.effects for a in steps) or any(
            s.slots[i].owner in s.nodes for a in steps for i, _ in a.updates
        )

    if handled("connect"):
        found.add("on_connect")
    if handled("drop"):
        found.add("on_disconnect")
    if s.faults.crash_budgets:
        found.add("crash-budget")
    if any(slot.ticks for slot in s.slots):
        found.add("age")
    if any(ch.ages > 1 for ch in s.channels):
        found.add("within")
    if any(a.kind == "tick" for a in s.actions):
        found.add("tick")
    if any(slot.owner == "shared" for slot in s.slots):
        found.add("shared")
    if len({a.node for a in s.actions if a.kind == "submit"}) > 1:
        found.add("producers")
    if any(a.kind == "deliver" and " from " in a.label for a in s.actions):
        found.add("several-senders")
    return found


@dataclass(frozen=True)
class Case:
    """A protocol at a bound, and the environment constructs it exercises."""

    make: Callable[[], ProtocolDef]
    messages: int
    constructs: tuple[str, ...]
    #: Part of the default (fast) run; the others run under ``-m slow``.
    fast: bool = True

    @property
    def protocol(self) -> ProtocolDef:
        return _protocol(self.make)


@cache
def _protocol(make: Callable[[], ProtocolDef]) -> ProtocolDef:
    return make()


def _library(name: str) -> Callable[[], ProtocolDef]:
    def make() -> ProtocolDef:
        return next(e.protocol for e in LIBRARY if e.name == name)

    make.__name__ = name
    return make


def _bound(name: str) -> int:
    return next(e.bound for e in LIBRARY if e.name == name)


CONNECTION = ("connection", "on_connect", "crash-closes")
CASES: dict[str, Case] = {
    "one-ack-loss": Case(
        lambda: retrying(
            "one-ack-loss",
            Faults(
                loss=True,
                duplicate=True,
                links={"receiver->sender": Link(max_losses=1, duplicate=False)},
            ),
        ),
        2,
        ("link",),
    ),
    "session": Case(lambda: retrying("session", SESSION), 2, CONNECTION),
    "volatile-session": Case(
        lambda: retrying("volatile-session", SESSION, durable=False), 2, CONNECTION
    ),
    "clean-session": Case(
        lambda: retrying("clean-session", SESSION, forget=True), 2, (*CONNECTION, "on_disconnect")
    ),
    "crash-budget": Case(
        lambda: retrying(
            "crash-budget", Faults(loss=True, crash_budgets={"sender": 1}), durable=False
        ),
        2,
        ("crash-budget",),
    ),
    "patient": Case(
        lambda: retrying("patient", Faults(loss=True, reorder=True), early=False),
        2,
        ("patient-timer",),
    ),
    "window-w2": Case(lambda: window(2, 2, 1), 1, ("age", "within", "tick")),
    "window-w3": Case(lambda: window(3, 2, 1), 1, ("age", "within", "tick")),
    "timed-session": Case(timed_session, 2, ("connection", "within", "tick")),
    "two-producers": Case(
        lambda: two_producers(True), 2, ("producers", "several-senders", "crash-budget")
    ),
    "two-producers-no-dedup": Case(
        lambda: two_producers(False), 2, ("producers", "several-senders", "crash-budget")
    ),
    "outbox-relay": Case(lambda: outbox(True), 2, ("shared",)),
    "outbox-relay-volatile": Case(lambda: outbox(False), 2, ("shared",), fast=False),
}

#: The library entries in the default (fast) run; every other entry that uses a
#: construct runs under ``-m slow``.
LIBRARY_FAST = (
    "mqtt-qos1",
    "mqtt-qos1-clean-session",
    "amqp-settle-second",
    "consumer-processed-key-ttl",
    "outbox-relay-mark-before-publish",
)
#: What cannot be detected in a lowered system: the entries with a patient timer.
LIBRARY_PATIENT = ("consumer-processed-key-ttl", "consumer-processed-key-ttl-longer")
for _entry in LIBRARY:
    _system = _entry.protocol.system(_entry.bound)
    _extra = ("patient-timer",) if _entry.name in LIBRARY_PATIENT else ()
    CASES[f"library:{_entry.name}"] = Case(
        _library(_entry.name),
        _bound(_entry.name),
        (*sorted(detected(_system)), *_extra),
        fast=_entry.name in LIBRARY_FAST,
    )


@cache
def system(name: str) -> System:
    case = CASES[name]
    return case.protocol.system(case.messages)
