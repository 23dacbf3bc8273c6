"""The machinery behind a handler's ``ctx``: the symbolic step one handler run builds.

Theory of operation
-------------------
The lowering (:mod:`ackproof.spec.lowering`) runs each handler once per ground action.  It
makes a :class:`Recorder` over the action's :class:`~ackproof.spec.env.Env`, hands the
handler a :class:`~ackproof.spec.context.Ctx` (a thin view that only forwards to the
recorder), and when the handler returns reads the recorder directly: the final ``env``,
the ``effects`` in program order, the crash ``snapshots``, and ``reads`` (to name the
field in an error).

Rules it keeps:

* Every effect — a send, a process, an ack, a write of a durable field — goes through
  :meth:`Recorder.effect`; before it, outside an ``atomic()`` block and when the node may
  crash, a :class:`Snapshot` of the state a crash at that point leaves behind is taken
  (unless the state is the same as at the previous snapshot).
* ``holds()`` runs on a read-only recorder: any write or effect is a :class:`SpecError`.
* Every error about a field names it (``node.field``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .env import Env, Layout
from .errors import SpecError
from .expr import Expr, ExprLike, lift, render
from .network import FrameExpr
from .system import Check, Effect, EffectKind
from .types import Bag, Queue, Scalar

if TYPE_CHECKING:
    from .kernel import Node, VarDecl
    from .lowering import Lowering


@dataclass(frozen=True)
class Snapshot:
    """The state a crash at one point of a handler leaves behind, and how many of the
    handler's effects happened before that point."""

    cur: tuple[Expr, ...]
    guard: tuple[Expr, ...]
    checks: tuple[Check, ...]
    effects: int

    def env(self, layout: Layout) -> Env:
        """A fresh environment at this point: the state, guard and checks so far (no path
        condition: the crash itself is unconditional)."""
        env = Env(layout, self.cur, self.guard)
        env.checks = list(self.checks)
        return env


class Recorder:
    """One handler run: its node, the symbolic step being built, its effects and crash
    points.  Owned and read by the lowering; a handler only sees it through ``Ctx``."""

    def __init__(
        self,
        lowering: Lowering,
        node: Node,
        env: Env,
        *,
        crash_points: bool,
        read_only: bool = False,
    ) -> None:
        self.lowering = lowering
        self.node = node
        self.env = env
        #: Whether a crash may fall between this handler's effects (its node may crash).
        self.crash_points = crash_points
        #: ``holds()``: the handler may only read state.
        self.read_only = read_only
        self.effects: list[Effect] = []
        self.snapshots: list[Snapshot] = []
        #: The field each value read came from (by identity), to name the field in an
        #: error about Python control flow on a value whose path made it a constant.
        self.reads: dict[int, str] = {}
        self._atomic = 0

    # -- fields ------------------------------------------------------------------------------
    def decl(self, name: str) -> VarDecl:
        """The node's field ``name``, or an error saying how to declare it."""
        decl = self.node.vars.get(name)
        if decl is None:
            raise SpecError(
                f"node {self.node.name} has no field {name!r}; declare it with "
                f"{self.node.name}.var({name!r}, ...)",
                field=f"{self.node.name}.{name}",
            )
        return decl

    def field(self, decl: VarDecl) -> str:
        """How errors name ``decl``: ``node.field``."""
        return f"{self.node.name}.{decl.name}"

    def read(self, decl: VarDecl) -> Expr:
        """The current value of a scalar field (a bag or queue: an error saying how to use
        it)."""
        if isinstance(decl.type, Scalar):
            value = self.env.read(decl.slots[0])
            self.reads[id(value)] = self.field(decl)
            return value
        kind = "bag" if isinstance(decl.type, Bag) else "queue"
        raise SpecError(
            f"use ctx.{kind}({decl.name!r}) to work with a {kind}", field=self.field(decl)
        )

    def assign(self, name: str, value: ExprLike) -> None:
        """``ctx.name = value`` for a scalar field."""
        decl = self.decl(name)
        if not isinstance(decl.type, Scalar):
            raise SpecError(
                "assign elements (ctx.a[i] = v), not the whole field", field=self.field(decl)
            )
        try:
            v = decl.type.lit(value) if not isinstance(value, Expr) else value
            self.before_write(decl)
            self.env.write(decl.slots[0], v, what=self.field(decl))
        except SpecError as e:
            raise e.located(field=self.field(decl)) from None

    def collection(self, name: str, kind: type[Bag] | type[Queue]) -> VarDecl:
        """The field ``name``, which must be a bag (or a queue)."""
        decl = self.decl(name)
        if not isinstance(decl.type, kind):
            what = "bag" if kind is Bag else "queue"
            raise SpecError(f"is not a {what}", field=self.field(decl))
        return decl

    def before_write(self, decl: VarDecl) -> None:
        """``decl`` is about to be written: refused in ``holds()``; an effect if durable."""
        if self.read_only:
            raise SpecError("holds() may only read state")
        if decl.durable:
            self.effect("write")

    # -- control -----------------------------------------------------------------------------
    def condition(self, cond: ExprLike, what: str) -> Expr:
        """``cond`` as the bool a ``require`` or ``when`` decides on."""
        c = lift(cond)
        if c.sort != "bool":
            raise SpecError(f"{what} needs a bool condition, got {render(c)}")
        if c.ghost:
            raise SpecError(
                f"{what} condition {render(c)} reads a ghost field; the real protocol cannot "
                "decide on a value it does not have"
            )
        return c

    def require(self, cond: ExprLike) -> None:
        self.env.require(self.condition(cond, "require"))

    @contextlib.contextmanager
    def when(self, cond: ExprLike) -> Iterator[None]:
        with self.env.under(self.condition(cond, "when")):
            yield

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        self.mark()
        self._atomic += 1
        try:
            yield
        finally:
            self._atomic -= 1

    # -- effects -------------------------------------------------------------------------------
    def mark(self) -> None:
        """A crash may fall here, before the next effect."""
        if self.read_only:
            raise SpecError("holds() may only read state")
        if self._atomic or not self.crash_points:
            return
        env = self.env
        snap = Snapshot(tuple(env.cur), tuple(env.guard), tuple(env.checks), len(self.effects))
        last = self.snapshots[-1] if self.snapshots else None
        if last is None or any(a is not b for a, b in zip(last.cur, snap.cur, strict=True)):
            self.snapshots.append(snap)

    def effect(
        self,
        kind: EffectKind,
        *,
        channel: str | None = None,
        frame: str | None = None,
        fields: tuple[tuple[str, Expr], ...] = (),
        msg: Expr | None = None,
    ) -> None:
        """An effect is about to happen: a crash may fall before it; record it."""
        self.mark()
        self.effects.append(
            Effect(kind, self.env.path, channel, frame, fields, msg, self.node.name)
        )

    def send(self, frame: FrameExpr, to: str | None) -> None:
        if not isinstance(frame, FrameExpr):
            raise SpecError(f"send() takes a frame such as DATA(msg=m), got {frame!r}")
        kind, me = frame.kind, self.node.name
        if me not in kind.srcs:
            raise SpecError(f"frame {kind.name} is sent by {', '.join(kind.srcs)}, not {me}")
        if to is None:
            if len(kind.dsts) != 1:
                raise SpecError(f"frame {kind.name} goes to {', '.join(kind.dsts)}: say to=...")
            to = kind.dsts[0]
        if to not in kind.dsts:
            raise SpecError(f"frame {kind.name} goes to {', '.join(kind.dsts)}, not to {to!r}")
        channel = self.lowering.channel(me, to)
        self.effect(
            "send", channel=channel.name, frame=frame.kind.name, fields=tuple(frame.values.items())
        )
        channel.send(self.env, frame)

    def process(self, msg: ExprLike) -> None:
        m = self._msg(msg, "process")
        self.effect("process", msg=m)
        self.lowering.history.process(self.env, m)

    def ack(self, msg: ExprLike) -> None:
        m = self._msg(msg, "ack")
        self.effect("ack", msg=m)
        self.lowering.history.ack(self.env, m)

    def _msg(self, msg: ExprLike, what: str) -> Expr:
        m = lift(msg)
        if m.sort != "int" or m.enum is not None:
            raise SpecError(f"{what}() takes a message id, got {render(m)}")
        return m
