"""Random well-formed protocols, as data, and the ``ProtocolDef`` each one means.

A :class:`Design` is a sender and a receiver described by plain data: which state they
keep (durable or not), and each handler as a list of statements — writes, sends, process,
ack, a bounded counter, ``require``, ``when`` and ``atomic`` blocks — plus a retransmit
timer, ``holds`` claims, and a fault model.  :func:`designs` is the Hypothesis strategy;
:meth:`Design.protocol` builds the protocol (one build function interprets the data), so a
failing example prints as readable data and re-runs exactly.

Every design is well-formed Python for the kernel (it defines without error); what it
does at run time — out-of-range counter steps included — is for the engines to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from ackproof.spec import (
    Array,
    Bool,
    Builder,
    Ctx,
    Expr,
    Faults,
    FrameKind,
    FrameView,
    Int,
    protocol,
)
from ackproof.spec.protocol import ProtocolDef

#: A condition on the handler's message ``m``: the node's flag for ``m``, its negation,
#: the counter below its bound, or always.
Cond: TypeAlias = Literal["flag", "not-flag", "count-low", "true"]
#: A statement: a write of the node's flag for ``m`` (true or false), a send of the
#: node's frame for ``m``, process ``m`` (receiver), ack ``m`` (sender), count up.
Atom: TypeAlias = Literal["set", "clear", "send", "process", "ack", "count"]


@dataclass(frozen=True)
class When:
    cond: Cond
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Atomic:
    body: tuple[Stmt, ...]


@dataclass(frozen=True)
class Require:
    cond: Cond


Stmt: TypeAlias = Atom | When | Atomic | Require

COUNT_MAX = 1


@dataclass(frozen=True)
class Side:
    """One node: its flag per message (``durable``?), whether it keeps a counter, and its
    handlers (the sender's submit and ACK handlers; the receiver's DATA handler)."""

    durable: bool
    counter: bool
    first: tuple[Stmt, ...]
    second: tuple[Stmt, ...] = ()
    holds: bool = True


@dataclass(frozen=True)
class Design:
    sender: Side
    receiver: Side
    #: The sender's retransmit timer: None (no timer), or its guard and whether it may
    #: fire early.
    timer: tuple[Cond, bool] | None
    retry: bool
    faults: Faults
    #: The bound checked (1 or 2 messages).
    messages: int

    def protocol(self) -> ProtocolDef:
        make = protocol("fuzzed", claims=["exactly-once"], faults=self.faults)
        return make(self._build)

    def _build(self, p: Builder) -> None:
        s, r = p.sender, p.receiver
        data = p.frame("DATA", s, r, carries="msg", msg=p.msg)
        ack = p.frame("ACK", r, s, msg=p.msg)
        for node, side in ((s, self.sender), (r, self.receiver)):
            node.var("flag", Array(p.msg, Bool), durable=side.durable)
            if side.counter:
                node.var("count", Int(0, COUNT_MAX), durable=side.durable)

        send_run = _Run(self.sender, data, "sender")
        recv_run = _Run(self.receiver, ack, "receiver")

        @s.on_submit(retry=self.retry)
        def submit(ctx: Ctx, m: Expr) -> None:
            send_run.block(ctx, m, self.sender.first)

        @s.on(ack)
        def on_ack(ctx: Ctx, f: FrameView) -> None:
            send_run.block(ctx, f.msg, self.sender.second)

        if self.timer is not None:
            guard, early = self.timer

            @s.timer(p.msg, early=early)
            def retransmit(ctx: Ctx, m: Expr) -> None:
                send_run.block(ctx, m, (Require(guard), "send"))

        @r.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            recv_run.block(ctx, f.msg, self.receiver.first)

        if self.sender.holds:
            s.holds(lambda ctx, m: ctx.flag[m])
        if self.receiver.holds:
            r.holds(lambda ctx, m: ctx.flag[m])


@dataclass(frozen=True)
class _Run:
    side: Side
    frame: FrameKind
    node: str

    def cond(self, ctx: Ctx, m: Expr, c: Cond) -> Expr | bool:
        match c:
            case "flag":
                return ctx.flag[m]
            case "not-flag":
                return ~ctx.flag[m]
            case "count-low":
                return ctx.count < COUNT_MAX if self.side.counter else True
            case "true":
                return True

    def block(self, ctx: Ctx, m: Expr, body: tuple[Stmt, ...]) -> None:
        for stmt in body:
            self.stmt(ctx, m, stmt)

    def stmt(self, ctx: Ctx, m: Expr, stmt: Stmt) -> None:
        match stmt:
            case When(cond, body):
                with ctx.when(self.cond(ctx, m, cond)):
                    self.block(ctx, m, body)
            case Atomic(body):
                with ctx.atomic():
                    self.block(ctx, m, body)
            case Require(cond):
                ctx.require(self.cond(ctx, m, cond))
            case "set":
                ctx.flag[m] = True
            case "clear":
                ctx.flag[m] = False
            case "send":
                ctx.send(self.frame(msg=m))
            case "process":
                if self.node == "receiver":
                    ctx.process(m)
            case "ack":
                if self.node == "sender":
                    ctx.ack(m)
            case "count":
                if self.side.counter:
                    ctx.count = ctx.count + 1


# -- strategies ---------------------------------------------------------------------------

CONDS: tuple[Cond, ...] = ("flag", "not-flag", "count-low", "true")


@st.composite
def _handler(draw: st.DrawFn, core: tuple[Atom, ...], extra: tuple[Atom, ...]) -> tuple[Stmt, ...]:
    """A handler shaped like the ones people write: the ``core`` effects in some order
    (some may be left out, the first always stays), now and then an ``extra`` one, a
    stretch of them under ``when`` or ``atomic``, and a ``require`` in front."""
    body: list[Stmt] = [core[0], *(a for a in core[1:] if draw(st.integers(0, 4)) > 0)]
    if extra and draw(st.integers(0, 3)) == 0:
        body.insert(draw(st.integers(0, len(body))), draw(st.sampled_from(extra)))
    body = list(draw(st.permutations(body)))
    for _ in range(draw(st.integers(0, 2))):
        lo = draw(st.integers(0, len(body) - 1))
        hi = draw(st.integers(lo + 1, len(body)))
        inner = tuple(body[lo:hi])
        cond = draw(st.sampled_from(CONDS))
        kinds: list[Stmt] = [When("not-flag", inner), When(cond, inner), Atomic(inner)]
        body[lo:hi] = [draw(st.sampled_from(kinds))]
    if draw(st.integers(0, 5)) == 0:
        body.insert(0, Require(draw(st.sampled_from(CONDS))))
    return tuple(body)


@st.composite
def fault_models(draw: st.DrawFn) -> Faults:
    crash = draw(st.sampled_from([(), ("sender",), ("receiver",), ("*",)]))
    return Faults(
        loss=draw(st.booleans()),
        duplicate=draw(st.booleans()),
        reorder=draw(st.booleans()),
        crash=crash,
        max_crashes=draw(st.sampled_from([None, 1])) if crash else None,
        max_losses=draw(st.sampled_from([None, 1])),
        capacity=draw(st.integers(1, 2)),
    )


@st.composite
def designs(draw: st.DrawFn, max_messages: int = 2) -> Design:
    """A random two-node protocol (see the module docstring)."""
    sender = Side(
        durable=draw(st.booleans()),
        counter=draw(st.booleans()),
        first=draw(_handler(("send", "set"), ("count",))),
        second=draw(_handler(("clear", "ack"), ("count", "send"))),
        holds=draw(st.integers(0, 3)) > 0,
    )
    receiver = Side(
        durable=draw(st.booleans()),
        counter=draw(st.booleans()),
        first=draw(_handler(("process", "set", "send"), ("count", "clear"))),
        holds=draw(st.integers(0, 3)) == 0,
    )
    timer = draw(st.none() | st.tuples(st.sampled_from(CONDS), st.booleans()))
    if draw(st.integers(0, 2)) > 0:  # mostly the usual retransmit-while-unacked timer
        timer = ("flag", draw(st.booleans()))
    return Design(
        sender,
        receiver,
        timer,
        retry=draw(st.booleans()),
        faults=draw(fault_models()),
        messages=draw(st.integers(1, max_messages)),
    )


# -- profiles -----------------------------------------------------------------------------
# Registered under names of their own and applied by this folder's tests only, so other
# folders keep their settings: a few derandomized examples in the default suite, hundreds
# of random ones in the long (``slow``) run.

settings.register_profile(
    "fuzz-fast",
    max_examples=6,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "fuzz-long",
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
