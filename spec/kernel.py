"""The spec kernel: write a protocol once, get a finite transition system.

Theory of operation
-------------------
A protocol is a Python function ``build(p)`` decorated with :func:`protocol`.  It declares
nodes, their typed state (durable or volatile), frame kinds, and handlers:

* ``@node.on_submit`` — the producer hands message ``m`` to this node;
* ``@node.on(KIND)`` — a frame of ``KIND`` arrives;
* ``@node.timer`` — a timer fires (at any time its ``require`` s hold: timeouts may be
  premature, as in any asynchronous model);
* ``@node.on_restart`` — the node comes back after a crash, with its durable state only.

A handler receives a :class:`Ctx` and builds its step: ``ctx.require(c)`` (a guard),
``with ctx.when(c):`` (a conditional block), ``ctx.x = e`` / ``ctx.a[i] = e`` (updates),
``ctx.send(FRAME(...))``, ``ctx.process(m)``, ``ctx.ack(m)`` and ``with ctx.atomic():``.
The effects — sends, processing, acks and writes of durable state — happen in program
order, and a crash may fall between any two of them unless they share an ``atomic``
block.

:meth:`ProtocolDef.system` runs every handler once per ground action (each parameter and
each frame value a constant) with a symbolic :class:`~ackproof.spec.env.Env`, and adds the
environment's actions (delivery, loss, duplication, crash and restart).  Rule: nothing in
a handler may branch in Python on a value read from state; the expressions refuse
``bool()`` so such a mistake fails at definition time, named.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .env import Env, Layout
from .errors import SpecError
from .expr import TRUE, Expr, ExprLike, Value, and_, any_, const, lift, lt, max_, min_, render
from .faults import Faults
from .history import History, resolve
from .network import Channel, FrameExpr, FrameKind
from .system import Action, ActionKind, FrameValue, System
from .types import Array, Bag, Bool, FieldType, Int, Queue, Scalar

_RESERVED = frozenset(
    {"require", "when", "atomic", "send", "process", "ack", "node", "bag", "queue"}
)

Handler = Callable[..., None]
HoldsFn = Callable[["Ctx", Expr], ExprLike]


@dataclass
class VarDecl:
    name: str
    type: FieldType
    durable: bool
    ghost: bool
    init: Value
    slots: list[int] = field(default_factory=list)
    length_slot: int | None = None


@dataclass
class TimerDecl:
    name: str
    params: tuple[Scalar, ...]
    fn: Handler


class Node:
    """A participant: its state declarations and its handlers."""

    def __init__(self, builder: Builder, name: str) -> None:
        self.builder = builder
        self.name = name
        self.vars: dict[str, VarDecl] = {}
        self.frame_handlers: dict[str, Handler] = {}
        self.submit: Handler | None = None
        self.timers: list[TimerDecl] = []
        self.restart: Handler | None = None
        self.holds_fn: HoldsFn | None = None

    def __repr__(self) -> str:
        return f"Node({self.name!r})"

    def var(
        self,
        name: str,
        type: FieldType,
        *,
        init: Value | Expr | None = None,
        durable: bool = False,
        ghost: bool = False,
    ) -> None:
        """Declare a state field.  Volatile fields return to ``init`` when the node crashes."""
        where = {"protocol": self.builder.name, "field": f"{self.name}.{name}"}
        if not name.isidentifier() or name.startswith("_") or name in _RESERVED:
            raise SpecError(f"{name!r} cannot be a field name", **where)
        if name in self.vars:
            raise SpecError("declared twice", **where)
        if not isinstance(type, Scalar | Array | Bag | Queue):
            raise SpecError(
                f"{type!r} is not a finite type; use Bool, Int(lo, hi), Enum, Array, Bag or Queue",
                **where,
            )
        elem = type if isinstance(type, Scalar) else type.elem
        if isinstance(type, Bag | Queue):
            if init is not None:
                raise SpecError("bags and queues start empty; do not give init", **where)
            if not isinstance(type.capacity, int) or type.capacity < 1:
                raise SpecError("capacity must be a positive int", **where)
            value: Value = 0
        else:
            try:
                value = _declared_init(elem, init)
            except SpecError as e:
                raise e.located(**where) from None
        self.vars[name] = VarDecl(name, type, durable, ghost, value)

    # -- handler registration ----------------------------------------------------------
    def on_submit(self, fn: Handler) -> Handler:
        if self.submit is not None:
            raise SpecError(
                "on_submit declared twice", protocol=self.builder.name, action=self.name
            )
        self.submit = fn
        return fn

    def on(self, kind: FrameKind) -> Callable[[Handler], Handler]:
        if not isinstance(kind, FrameKind):
            raise SpecError(f"on() takes a frame kind, got {kind!r}", protocol=self.builder.name)
        if kind.dst != self.name:
            raise SpecError(
                f"frame {kind.name} goes to {kind.dst}, not to {self.name}",
                protocol=self.builder.name,
            )

        def register(fn: Handler) -> Handler:
            if kind.name in self.frame_handlers:
                raise SpecError(
                    f"{self.name} handles {kind.name} twice", protocol=self.builder.name
                )
            self.frame_handlers[kind.name] = fn
            return fn

        return register

    def timer(self, *params: Scalar) -> Callable[[Handler], Handler]:
        """A timer handler with one parameter per given type (e.g. one timer per message)."""
        for t in params:
            if not isinstance(t, Scalar):
                raise SpecError(f"timer parameters are scalar types, got {t!r}")

        def register(fn: Handler) -> Handler:
            self.timers.append(TimerDecl(getattr(fn, "__name__", "timer"), tuple(params), fn))
            return fn

        return register

    def on_restart(self, fn: Handler) -> Handler:
        self.restart = fn
        return fn

    def holds(self, fn: HoldsFn) -> HoldsFn:
        """Declare which messages this node still holds a copy of (to resend or process)."""
        self.holds_fn = fn
        return fn


class Builder:
    """What a protocol's ``build`` function receives: the bounds and the declarations."""

    def __init__(self, name: str, messages: int, faults: Faults) -> None:
        self.name = name
        self.messages = messages
        self.faults = faults
        #: The type of message ids, ``0..messages-1``.
        self.msg = Int(0, messages - 1)
        self.nodes: dict[str, Node] = {}
        self.kinds: dict[str, FrameKind] = {}

    def node(self, name: str) -> Node:
        if name in self.nodes:
            return self.nodes[name]
        if not name.isidentifier():
            raise SpecError(f"node name {name!r} is not an identifier", protocol=self.name)
        n = Node(self, name)
        self.nodes[name] = n
        return n

    @property
    def sender(self) -> Node:
        return self.node("sender")

    @property
    def receiver(self) -> Node:
        return self.node("receiver")

    def frame(
        self,
        name: str,
        src: Node,
        dst: Node,
        *,
        carries: str | None = None,
        ghost: Sequence[str] = (),
        **fields: Scalar,
    ) -> FrameKind:
        """Declare a frame kind sent from ``src`` to ``dst``.

        ``carries`` names the field holding the id of the message this frame is a copy of;
        ``ghost`` lists fields the real protocol would not put on the wire (a logical
        identity used only to observe the history).
        """
        if name in self.kinds:
            raise SpecError(f"frame {name} declared twice", protocol=self.name)
        for f, t in fields.items():
            if not isinstance(t, Scalar):
                raise SpecError(
                    f"frame field {name}.{f} must be a scalar type, got {t!r}", protocol=self.name
                )
        if carries is not None and carries not in fields:
            raise SpecError(
                f"frame {name}: carries={carries!r} is not one of its fields", protocol=self.name
            )
        for g in ghost:
            if g not in fields:
                raise SpecError(
                    f"frame {name}: ghost field {g!r} is not one of its fields", protocol=self.name
                )
        kind = FrameKind(name, src.name, dst.name, tuple(fields.items()), carries, frozenset(ghost))
        self.kinds[name] = kind
        return kind


# -- the handler context ------------------------------------------------------------------
@dataclass
class _Snapshot:
    cur: tuple[Expr, ...]
    guard: tuple[Expr, ...]
    checks: tuple[tuple[Expr, str], ...]
    effects: int


class ArrayPlace(Expr):
    """An array field seen from a handler: index to read, assign an index to write."""

    __slots__ = ("_ctx", "_decl")

    def __init__(self, ctx: Ctx, decl: VarDecl) -> None:
        super().__init__("array", (), "int", 0, 0)
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

    _low: _Lowering
    _node: Node
    _env: Env
    _action: str
    _crash_points: bool
    _read_only: bool
    _atomic: int
    _effects: int
    _snapshots: list[_Snapshot]

    def __init__(
        self,
        lowering: _Lowering,
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
        object.__setattr__(self, "_effects", 0)
        object.__setattr__(self, "_snapshots", [])

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
            return self._env.read(decl.slots[0])
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
        snap = _Snapshot(tuple(env.cur), tuple(env.guard), tuple(env.checks), self._effects)
        last = self._snapshots[-1] if self._snapshots else None
        if last is None or any(a is not b for a, b in zip(last.cur, snap.cur, strict=True)):
            self._snapshots.append(snap)

    def _effect(self) -> None:
        self._mark()
        object.__setattr__(self, "_effects", self._effects + 1)

    def _effect_if_durable(self, decl: VarDecl) -> None:
        if self._read_only:
            raise SpecError("holds() may only read state")
        if decl.durable:
            self._effect()

    def send(self, frame: FrameExpr) -> None:
        """Put ``frame`` on the network (to the node its kind names)."""
        if not isinstance(frame, FrameExpr):
            raise SpecError(f"send() takes a frame such as DATA(msg=m), got {frame!r}")
        if frame.kind.src != self._node.name:
            raise SpecError(
                f"frame {frame.kind.name} is sent by {frame.kind.src}, not {self._node.name}"
            )
        self._effect()
        self._low.channel(frame.kind).send(self._env, frame)

    def process(self, msg: ExprLike) -> None:
        """The application's side effect runs for message ``msg``."""
        self._effect()
        self._low.history.process(self._env, self._msg(msg, "process"))

    def ack(self, msg: ExprLike) -> None:
        """The sender tells its producer that ``msg`` was delivered."""
        self._effect()
        self._low.history.ack(self._env, self._msg(msg, "ack"))

    def _msg(self, msg: ExprLike, what: str) -> Expr:
        m = lift(msg)
        if m.sort != "int" or m.enum is not None:
            raise SpecError(f"{what}() takes a message id, got {render(m)}")
        return m


# -- lowering -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProtocolDef:
    """A protocol, ready to be instantiated at given bounds and under a fault model."""

    name: str
    build: Callable[[Builder], None]
    claims: tuple[str, ...]
    faults: Faults
    messages: int = 2
    description: str = ""

    def system(self, messages: int | None = None, faults: Faults | None = None) -> System:
        n = self.messages if messages is None else messages
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpecError(f"messages must be a positive int, got {n!r}", protocol=self.name)
        return _Lowering(self, n, self.faults if faults is None else faults).run()


def protocol(
    name: str,
    *,
    claims: Sequence[str],
    faults: Faults,
    messages: int = 2,
    description: str | None = None,
) -> Callable[[Callable[[Builder], None]], ProtocolDef]:
    """Declare a protocol: ``claims`` are guarantees or properties it promises under ``faults``."""
    try:
        props = resolve(claims)
    except KeyError as e:
        raise SpecError(str(e.args[0]), protocol=name) from None

    def wrap(fn: Callable[[Builder], None]) -> ProtocolDef:
        doc = description if description is not None else (fn.__doc__ or "").strip().split("\n")[0]
        return ProtocolDef(name, fn, props, faults, messages, doc)

    return wrap


class _Lowering:
    def __init__(self, pdef: ProtocolDef, messages: int, faults: Faults) -> None:
        self.pdef = pdef
        self.faults = faults
        self.builder = Builder(pdef.name, messages, faults)
        self.layout = Layout()
        self.actions: list[Action] = []
        self.channels: dict[tuple[str, str], Channel] = {}
        self.budgets: dict[str, int] = {}

    def err(self, e: Exception, action: str | None = None) -> SpecError:
        if isinstance(e, SpecError):
            return e.located(protocol=self.pdef.name, action=action)
        return SpecError(f"{type(e).__name__}: {e}", protocol=self.pdef.name, action=action)

    def channel(self, kind: FrameKind) -> Channel:
        return self.channels[(kind.src, kind.dst)]

    # -- allocation ---------------------------------------------------------------------------
    def run(self) -> System:
        try:
            self.pdef.build(self.builder)
        except Exception as e:
            raise self.err(e, "build") from None
        b = self.builder
        if not b.nodes:
            raise SpecError("declares no nodes", protocol=b.name)
        for c in self.faults.crash:
            if c != "*" and c not in b.nodes:
                raise SpecError(f"fault model crashes unknown node {c!r}", protocol=b.name)
        submitters = [n for n in b.nodes.values() if n.submit is not None]
        if len(submitters) != 1:
            raise SpecError(
                f"exactly one node must handle submit (@node.on_submit); found {len(submitters)}",
                protocol=b.name,
            )
        self.history = History.allocate(self.layout, b.messages)
        for node in b.nodes.values():
            self._alloc_node(node)
        pairs: dict[tuple[str, str], list[FrameKind]] = {}
        for k in b.kinds.values():
            pairs.setdefault((k.src, k.dst), []).append(k)
        for (src, dst), kinds in pairs.items():
            self.channels[(src, dst)] = Channel(
                src,
                dst,
                kinds,
                ordered=not self.faults.reorder,
                capacity=self.faults.capacity,
                layout=self.layout,
            )
        for key, cap in (
            ("losses", self.faults.max_losses),
            ("duplicates", self.faults.max_duplicates),
            ("crashes", self.faults.max_crashes),
        ):
            if cap is not None:
                self.budgets[key] = self.layout.add(
                    f"budget.{key}", sort="int", lo=0, hi=cap, init=0, owner="budget"
                )
        self.leaves = self.layout.leaves()
        self._lower_submit(submitters[0])
        for node in b.nodes.values():
            self._lower_frames(node)
            self._lower_timers(node)
        for node in b.nodes.values():
            if self.faults.crashes(node.name):
                self._lower_crash(node)
        for ch in self.channels.values():
            self._lower_network(ch)
        env = Env.fresh(self.layout, self.leaves)
        props = self.history.properties(env, self._copies(env))
        enums: dict[str, tuple[str, ...]] = {}
        for s in self.layout.slots:
            if s.enum is not None:
                enums[s.enum] = s.members
        for k in b.kinds.values():
            for _, t in k.fields:
                if t.enum is not None:
                    enums[t.enum] = t.members
        return System(
            protocol=b.name,
            messages=b.messages,
            faults=self.faults,
            slots=tuple(self.layout.slots),
            actions=tuple(self.actions),
            properties=dict(props),
            channels=tuple(c.info() for c in self.channels.values()),
            nodes=tuple(b.nodes),
            claims=self.pdef.claims,
            enums=enums,
            description=self.pdef.description,
        )

    def _alloc_node(self, node: Node) -> None:
        for decl in node.vars.values():
            base = f"{node.name}.{decl.name}"
            t = decl.type

            def add(name: str, s: Scalar, init: Value, *, d: VarDecl = decl) -> int:
                return self.layout.add(
                    name,
                    sort=s.sort,
                    lo=s.lo,
                    hi=s.hi,
                    init=init,
                    owner=node.name,
                    durable=d.durable,
                    ghost=d.ghost,
                    enum=s.enum,
                    members=s.members,
                )

            if isinstance(t, Scalar):
                decl.slots = [add(base, t, _init_value(decl.init, t))]
            elif isinstance(t, Array):
                decl.slots = [
                    add(f"{base}[{t.index.show(i)}]", t.elem, _init_value(decl.init, t.elem))
                    for i in t.index.values()
                ]
            elif isinstance(t, Bag):
                counts = Int(0, t.capacity)
                decl.slots = [add(f"{base}#{t.elem.show(v)}", counts, 0) for v in t.elem.values()]
            else:
                decl.slots = [
                    add(f"{base}[{i}]", t.elem, t.elem.default()) for i in range(t.capacity)
                ]
                decl.length_slot = add(f"{base}.len", Int(0, t.capacity), 0)

    # -- running handlers ---------------------------------------------------------------------
    def _run(
        self,
        node: Node,
        fn: Handler,
        args: Sequence[Any],
        env: Env,
        *,
        label: str,
        crash_points: bool,
    ) -> Ctx:
        ctx = Ctx(self, node, env, action=label, crash_points=crash_points)
        try:
            fn(ctx, *args)
        except Exception as e:
            raise self.err(e, label) from None
        return ctx

    def _emit(
        self,
        env: Env,
        kind: ActionKind,
        label: str,
        **meta: Any,
    ) -> None:
        updates = tuple(
            (i, v)
            for i, (v, leaf) in enumerate(zip(env.cur, self.leaves, strict=True))
            if v is not leaf
        )
        guard = and_(*env.guard)
        if guard.is_const and not guard.value:
            return
        self.actions.append(
            Action(
                index=len(self.actions),
                kind=kind,
                label=label,
                guard=guard,
                updates=updates,
                checks=tuple(env.checks),
                **meta,
            )
        )

    def _handler_actions(
        self,
        node: Node,
        fn: Handler,
        args: Sequence[Any],
        env: Env,
        *,
        kind: ActionKind,
        label: str,
        crashes: bool,
        skip_first_crash: bool,
        **meta: Any,
    ) -> None:
        crash_here = crashes and self.faults.crashes(node.name)
        ctx = self._run(node, fn, args, env, label=label, crash_points=crash_here)
        self._emit(ctx._env, kind, label, node=node.name, **meta)
        for snap in ctx._snapshots:
            if skip_first_crash and snap.effects == 0:
                continue
            cenv = Env(self.layout, snap.cur, snap.guard)
            cenv.checks = list(snap.checks)
            clabel = f"{label}, crash after {snap.effects} effect{'s' if snap.effects != 1 else ''}"
            self._crash_into(node, cenv, clabel)
            self._emit(cenv, kind, clabel, node=node.name, crash_after=snap.effects, **meta)

    def _crash_into(self, node: Node, env: Env, label: str) -> None:
        """The node crashes: volatile state resets, then its restart handler runs."""
        self._spend(env, "crashes")
        for decl in node.vars.values():
            if decl.durable:
                continue
            for s in [*decl.slots, *([decl.length_slot] if decl.length_slot is not None else [])]:
                sl = self.layout.slots[s]
                env.write(s, const(sl.init, enum=sl.enum), what=sl.name, trusted=True)
        if node.restart is not None:
            ctx = self._run(node, node.restart, (), env, label=label, crash_points=False)
            del ctx

    def _lower_submit(self, node: Node) -> None:
        assert node.submit is not None
        for m in range(self.builder.messages):
            env = Env.fresh(self.layout, self.leaves)
            env.require(self.history.can_submit(env, m))
            self.history.submit(env, m)
            label = f"submit(m={m})"
            ctx = self._run(node, node.submit, (const(m),), env, label=label, crash_points=False)
            self._emit(
                ctx._env, "submit", label, node=node.name, handler="submit", params=(("m", str(m)),)
            )

    def _lower_frames(self, node: Node) -> None:
        for (src, dst), ch in self.channels.items():
            if dst != node.name:
                continue
            for g, take in ch.takes():
                fn = node.frame_handlers.get(g.kind)
                if fn is None:
                    raise SpecError(
                        f"node {node.name} receives {g.kind} frames but has no "
                        f"@{node.name}.on({g.kind}) handler",
                        protocol=self.builder.name,
                    )
                env = Env.fresh(self.layout, self.leaves)
                take(env)
                kind = self.builder.kinds[g.kind]
                view = FrameView(kind, g)
                label = f"{node.name} <- {g}"
                self._handler_actions(
                    node,
                    fn,
                    (view,),
                    env,
                    kind="deliver",
                    label=label,
                    crashes=True,
                    skip_first_crash=False,
                    channel=ch.name,
                    handler=g.kind,
                    frame=g,
                )
            del src

    def _lower_timers(self, node: Node) -> None:
        for t in node.timers:
            for combo in itertools.product(*(p.values() for p in t.params)):
                args = [
                    p.lit(v) if p.enum is None else const(int(v), enum=p.enum)
                    for p, v in zip(t.params, combo, strict=True)
                ]
                shown = ", ".join(p.show(v) for p, v in zip(t.params, combo, strict=True))
                label = f"{node.name} timer {t.name}({shown})"
                env = Env.fresh(self.layout, self.leaves)
                self._handler_actions(
                    node,
                    t.fn,
                    args,
                    env,
                    kind="timer",
                    label=label,
                    crashes=True,
                    skip_first_crash=True,
                    handler=t.name,
                    params=tuple(
                        (f"p{i}", p.show(v))
                        for i, (p, v) in enumerate(zip(t.params, combo, strict=True))
                    ),
                )

    def _lower_crash(self, node: Node) -> None:
        env = Env.fresh(self.layout, self.leaves)
        label = f"crash {node.name} (restart)"
        self._crash_into(node, env, label)
        self._emit(env, "crash", label, node=node.name)

    def _lower_network(self, ch: Channel) -> None:
        f = self.faults
        faults: list[tuple[bool, ActionKind, str, str, list[Any]]] = [
            (f.loss, "lose", "losses", "loses", list(ch.losses())),
            (f.duplicate, "duplicate", "duplicates", "duplicates", list(ch.duplications())),
        ]
        for enabled, kind, budget, verb, moves in faults:
            if not enabled:
                continue
            for g, pos, apply in moves:
                env = Env.fresh(self.layout, self.leaves)
                self._spend(env, budget)
                apply(env)
                what = str(g) if g is not None else f"frame #{pos}"
                label = f"network {verb} {what} on {ch.name}"
                self._emit(env, kind, label, channel=ch.name, frame=g, position=pos)

    def _spend(self, env: Env, key: str) -> None:
        budget = self.budgets.get(key)
        if budget is None:
            return
        used = env.read(budget)
        env.require(lt(used, self.layout.slots[budget].hi))
        env.write(budget, used + 1, what=f"budget.{key}", trusted=True)

    def _copies(self, env: Env) -> Callable[[int], Expr]:
        holders: list[tuple[Node, HoldsFn]] = [
            (n, n.holds_fn) for n in self.builder.nodes.values() if n.holds_fn is not None
        ]

        def copies(m: int) -> Expr:
            parts = [ch.copies(env, m) for ch in self.channels.values()]
            for node, fn in holders:
                ctx = Ctx(self, node, env, action="holds", crash_points=False, read_only=True)
                try:
                    h = lift(fn(ctx, const(m)))
                except Exception as e:
                    raise self.err(e, f"{node.name}.holds") from None
                if h.sort != "bool":
                    raise SpecError(
                        f"holds() must return a bool, got {render(h)}",
                        protocol=self.builder.name,
                        action=f"{node.name}.holds",
                    )
                parts.append(h)
            return any_(parts)

        return copies


class FrameView:
    """The fields of a received frame, each a constant (ghost fields marked ghost)."""

    def __init__(self, kind: FrameKind, g: FrameValue) -> None:
        self._kind = kind
        self._values: dict[str, Expr] = {}
        types = dict(kind.fields)
        for name, v in g.fields:
            t = types[name]
            e = const(v, enum=t.enum) if t.sort == "int" else const(bool(v))
            if name in kind.ghost:
                n = int(v)
                e = Expr("const", (), e.sort, n, n, value=n, enum=e.enum, ghost=True)
            self._values[name] = e

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise SpecError(f"frame {self._kind.name} has no field {name!r}") from None


def _declared_init(t: Scalar, init: object) -> Value:
    if init is None:
        return t.default()
    if isinstance(init, Expr):
        if not init.is_const or init.enum != t.enum or init.sort != t.sort:
            raise SpecError(f"init must be a constant of {t.describe()}, got {render(init)}")
        return init.const_value()
    if not isinstance(init, bool | int):
        raise SpecError(f"init must be a constant of {t.describe()}, got {init!r}")
    t.lit(init)
    return init


def _init_value(init: Value, t: Scalar) -> Value:
    if t.sort == "bool":
        return bool(init)
    return int(init)


__all__ = [
    "TRUE",
    "Array",
    "Bag",
    "Bool",
    "Builder",
    "Ctx",
    "Int",
    "Node",
    "ProtocolDef",
    "Queue",
    "protocol",
]
