"""What a handler sees while the kernel lowers it: :class:`Ctx` and the field places.

A handler reads its node's fields through ``ctx`` (each read is the field's *current*
expression, after the writes before it), writes them with assignments, and marks effects —
``send``, ``process``, ``ack``, writes of durable fields — in program order.  Before each
effect outside an ``atomic()`` block, :class:`Ctx` records a snapshot: the state a crash at
that point would leave behind.  The lowering (:mod:`ackproof.spec.lowering`) turns the
final environment into the action and every snapshot into a crash variant.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .env import Env
from .errors import SpecError
from .expr import Expr, ExprLike, and_, any_, const, lift, lt, max_, min_, render
from .network import FrameExpr, FrameKind
from .ops import Leaf
from .system import Check, Effect, EffectKind, FrameValue
from .types import Array, Bag, Queue, Scalar

if TYPE_CHECKING:
    from .kernel import Node, VarDecl
    from .lowering import Lowering


@dataclass
class _Snapshot:
    cur: tuple[Expr, ...]
    guard: tuple[Expr, ...]
    checks: tuple[Check, ...]
    effects: int


class ArrayPlace(Expr):
    """An array field seen from a handler: index to read, assign an index to write."""

    __slots__ = ("_ctx", "_decl")

    def __init__(self, ctx: Ctx, decl: VarDecl) -> None:
        super().__init__(Leaf.ARRAY, (), "int", 0, 0)
        self._ctx = ctx
        self._decl = decl

    def __getitem__(self, index: ExprLike) -> Expr:
        t = self._decl.type
        assert isinstance(t, Array)
        idx = t.index.lit(index) if not isinstance(index, Expr) else index
        return self._ctx._env.select(
            self._decl.slots,
            t.index.lo,
            idx,
            what=self._ctx._field(self._decl),
            index_enum=t.index.enum,
        )

    def __setitem__(self, index: ExprLike, value: ExprLike) -> None:
        t = self._decl.type
        assert isinstance(t, Array)
        try:
            idx = t.index.lit(index) if not isinstance(index, Expr) else index
            v = t.elem.lit(value) if not isinstance(value, Expr) else value
        except SpecError as e:
            raise e.located(field=self._ctx._field(self._decl)) from None
        self._ctx._effect_if_durable(self._decl)
        self._ctx._env.store(
            self._decl.slots,
            t.index.lo,
            idx,
            v,
            what=self._ctx._field(self._decl),
            index_enum=t.index.enum,
        )


class BagPlace:
    """A bag field: ``add``, ``remove``, ``count``, ``size``."""

    def __init__(self, ctx: Ctx, decl: VarDecl) -> None:
        self._ctx = ctx
        self._decl = decl
        assert isinstance(decl.type, Bag)
        self._type: Bag = decl.type

    def count(self, v: ExprLike) -> Expr:
        e = self._type.elem
        return self._ctx._env.select(
            self._decl.slots, e.lo, lift(v), what=self._ctx._field(self._decl), index_enum=e.enum
        )

    def size(self) -> Expr:
        total: Expr = const(0)
        for s in self._decl.slots:
            total = total + self._ctx._env.read(s)
        return total

    def contains(self, v: ExprLike) -> Expr:
        return lt(0, self.count(v))

    def add(self, v: ExprLike) -> None:
        """Add one ``v``; the step waits while the bag is full."""
        self._ctx.require(lt(self.size(), self._type.capacity))
        self._ctx._effect_if_durable(self._decl)
        e = self._type.elem
        new = min_(self.count(v) + 1, self._type.capacity)
        self._ctx._env.store(
            self._decl.slots,
            e.lo,
            lift(v),
            new,
            what=self._ctx._field(self._decl),
            index_enum=e.enum,
        )

    def remove(self, v: ExprLike) -> None:
        """Remove one ``v``; the step is enabled only if there is one."""
        self._ctx.require(self.contains(v))
        self._ctx._effect_if_durable(self._decl)
        e = self._type.elem
        new = max_(self.count(v) - 1, 0)
        self._ctx._env.store(
            self._decl.slots,
            e.lo,
            lift(v),
            new,
            what=self._ctx._field(self._decl),
            index_enum=e.enum,
        )


class QueuePlace:
    """A bounded FIFO field: ``push``, ``pop``, ``head``, ``size``, ``empty``."""

    def __init__(self, ctx: Ctx, decl: VarDecl) -> None:
        self._ctx = ctx
        self._decl = decl
        assert isinstance(decl.type, Queue)
        assert decl.length_slot is not None
        self._type: Queue = decl.type
        self._len: int = decl.length_slot

    def size(self) -> Expr:
        return self._ctx._env.read(self._len)

    def empty(self) -> Expr:
        return self.size() == 0

    def head(self) -> Expr:
        """The first element (meaningful only when not empty)."""
        return self._ctx._env.read(self._decl.slots[0])

    def contains(self, v: ExprLike) -> Expr:
        """Whether ``v`` is somewhere in the queue."""
        env = self._ctx._env
        val = self._type.elem.lit(v) if not isinstance(v, Expr) else v
        n = self.size()
        return any_(lt(i, n) & (env.read(s) == val) for i, s in enumerate(self._decl.slots))

    def push(self, v: ExprLike) -> None:
        """Append ``v``; the step waits while the queue is full."""
        env = self._ctx._env
        self._ctx.require(lt(self.size(), self._type.capacity))
        self._ctx._effect_if_durable(self._decl)
        what = self._ctx._field(self._decl)
        val = self._type.elem.lit(v) if not isinstance(v, Expr) else v
        n = self.size()
        env.store(self._decl.slots, 0, n, val, what=what)
        env.write(self._len, min_(n + 1, self._type.capacity), what=what, trusted=True)

    def pop(self) -> Expr:
        """Remove and return the head; the step is enabled only if the queue is not empty."""
        env = self._ctx._env
        self._ctx.require(lt(0, self.size()))
        self._ctx._effect_if_durable(self._decl)
        what = self._ctx._field(self._decl)
        head = self.head()
        vals = [env.read(s) for s in self._decl.slots]
        fill = const(self._type.elem.default(), enum=self._type.elem.enum)
        for j, s in enumerate(self._decl.slots):
            env.write(s, vals[j + 1] if j + 1 < len(vals) else fill, what=what, trusted=True)
        env.write(self._len, max_(self.size() - 1, 0), what=what, trusted=True)
        return head


class Ctx:
    """A handler's view of its node: read and write fields, send, process, ack."""

    _low: Lowering
    _node: Node
    _env: Env
    _action: str
    _crash_points: bool
    _read_only: bool
    _atomic: int
    _effects: list[Effect]
    _snapshots: list[_Snapshot]
    _reads: dict[int, str]

    def __init__(
        self,
        lowering: Lowering,
        node: Node,
        env: Env,
        *,
        action: str,
        crash_points: bool,
        read_only: bool = False,
    ) -> None:
        object.__setattr__(self, "_low", lowering)
        object.__setattr__(self, "_node", node)
        object.__setattr__(self, "_env", env)
        object.__setattr__(self, "_action", action)
        object.__setattr__(self, "_crash_points", crash_points)
        object.__setattr__(self, "_read_only", read_only)
        object.__setattr__(self, "_atomic", 0)
        object.__setattr__(self, "_effects", [])
        object.__setattr__(self, "_snapshots", [])
        #: The field each value read came from (by identity), to name the field in an
        #: error about Python control flow on a value whose path made it a constant.
        object.__setattr__(self, "_reads", {})

    # -- fields ----------------------------------------------------------------------------
    def _decl(self, name: str) -> VarDecl:
        decl = self._node.vars.get(name)
        if decl is None:
            raise SpecError(
                f"node {self._node.name} has no field {name!r}; declare it with "
                f"{self._node.name}.var({name!r}, ...)",
                field=f"{self._node.name}.{name}",
            )
        return decl

    def _field(self, decl: VarDecl) -> str:
        return f"{self._node.name}.{decl.name}"

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_"):
            raise AttributeError(name)
        decl = self._decl(name)
        if isinstance(decl.type, Scalar):
            value = self._env.read(decl.slots[0])
            self._reads[id(value)] = self._field(decl)
            return value
        if isinstance(decl.type, Array):
            return ArrayPlace(self, decl)
        kind = "bag" if isinstance(decl.type, Bag) else "queue"
        raise SpecError(f"use ctx.{kind}({name!r}) to work with a {kind}", field=self._field(decl))

    def __setattr__(self, name: str, value: ExprLike) -> None:
        decl = self._decl(name)
        if not isinstance(decl.type, Scalar):
            raise SpecError(
                "assign elements (ctx.a[i] = v), not the whole field", field=self._field(decl)
            )
        try:
            v = decl.type.lit(value) if not isinstance(value, Expr) else value
            self._effect_if_durable(decl)
            self._env.write(decl.slots[0], v, what=self._field(decl))
        except SpecError as e:
            raise e.located(field=self._field(decl)) from None

    def bag(self, name: str) -> BagPlace:
        decl = self._decl(name)
        if not isinstance(decl.type, Bag):
            raise SpecError("is not a bag", field=self._field(decl))
        return BagPlace(self, decl)

    def queue(self, name: str) -> QueuePlace:
        decl = self._decl(name)
        if not isinstance(decl.type, Queue):
            raise SpecError("is not a queue", field=self._field(decl))
        return QueuePlace(self, decl)

    # -- control -----------------------------------------------------------------------------
    def _condition(self, cond: ExprLike, what: str) -> Expr:
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
        """The step is enabled only if ``cond`` holds (here, inside any ``when``)."""
        self._env.require(self._condition(cond, "require"))

    @contextlib.contextmanager
    def when(self, cond: ExprLike) -> Iterator[None]:
        """Statements inside happen only if ``cond`` holds (read at this point)."""
        c = self._condition(cond, "when")
        saved = self._env.path
        self._env.path = and_(saved, c)
        try:
            yield
        finally:
            self._env.path = saved

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Effects inside happen all or none: no crash falls between them."""
        self._mark()
        object.__setattr__(self, "_atomic", self._atomic + 1)
        try:
            yield
        finally:
            object.__setattr__(self, "_atomic", self._atomic - 1)

    # -- effects -------------------------------------------------------------------------------
    def _mark(self) -> None:
        """A crash may fall here, before the next effect."""
        if self._read_only:
            raise SpecError("holds() may only read state")
        if self._atomic or not self._crash_points:
            return
        env = self._env
        snap = _Snapshot(tuple(env.cur), tuple(env.guard), tuple(env.checks), len(self._effects))
        last = self._snapshots[-1] if self._snapshots else None
        if last is None or any(a is not b for a, b in zip(last.cur, snap.cur, strict=True)):
            self._snapshots.append(snap)

    def _effect(
        self,
        kind: EffectKind,
        *,
        channel: str | None = None,
        frame: str | None = None,
        fields: tuple[tuple[str, Expr], ...] = (),
        msg: Expr | None = None,
    ) -> None:
        """An effect is about to happen: a crash may fall before it; record it."""
        self._mark()
        self._effects.append(
            Effect(kind, self._env.path, channel, frame, fields, msg, self._node.name)
        )

    def _effect_if_durable(self, decl: VarDecl) -> None:
        if self._read_only:
            raise SpecError("holds() may only read state")
        if decl.durable:
            self._effect("write")

    def send(self, frame: FrameExpr, *, to: str | None = None) -> None:
        """Put ``frame`` on the network, to the node its kind names (``to``: which one,
        when the kind goes to several)."""
        if not isinstance(frame, FrameExpr):
            raise SpecError(f"send() takes a frame such as DATA(msg=m), got {frame!r}")
        kind, me = frame.kind, self._node.name
        if me not in kind.srcs:
            raise SpecError(f"frame {kind.name} is sent by {', '.join(kind.srcs)}, not {me}")
        if to is None:
            if len(kind.dsts) != 1:
                raise SpecError(f"frame {kind.name} goes to {', '.join(kind.dsts)}: say to=...")
            to = kind.dsts[0]
        if to not in kind.dsts:
            raise SpecError(f"frame {kind.name} goes to {', '.join(kind.dsts)}, not to {to!r}")
        channel = self._low.channel(me, to)
        self._effect(
            "send", channel=channel.name, frame=frame.kind.name, fields=tuple(frame.values.items())
        )
        channel.send(self._env, frame)

    def process(self, msg: ExprLike) -> None:
        """The application's side effect runs for message ``msg``."""
        m = self._msg(msg, "process")
        self._effect("process", msg=m)
        self._low.history.process(self._env, m)

    def ack(self, msg: ExprLike) -> None:
        """The sender tells its producer that ``msg`` was delivered."""
        m = self._msg(msg, "ack")
        self._effect("ack", msg=m)
        self._low.history.ack(self._env, m)

    def _msg(self, msg: ExprLike, what: str) -> Expr:
        m = lift(msg)
        if m.sort != "int" or m.enum is not None:
            raise SpecError(f"{what}() takes a message id, got {render(m)}")
        return m


# -- lowering -------------------------------------------------------------------------------
class FrameView:
    """The fields of a received frame, each a constant (ghost fields marked ghost), and
    ``source``: the name of the node that sent it."""

    def __init__(self, kind: FrameKind, g: FrameValue, source: str) -> None:
        self._kind = kind
        self.source = source
        self._values: dict[str, Expr] = {}
        types = dict(kind.fields)
        for name, v in g.fields:
            t = types[name]
            e = const(v, enum=t.enum) if t.sort == "int" else const(bool(v))
            if name in kind.ghost:
                n = int(v)
                e = Expr(Leaf.CONST, (), e.sort, n, n, value=n, enum=e.enum, ghost=True)
            self._values[name] = e

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise SpecError(f"frame {self._kind.name} has no field {name!r}") from None
