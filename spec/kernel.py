"""The spec kernel: write a protocol once, get a finite transition system.

Theory of operation
-------------------
A protocol is a Python function ``build(p)`` decorated with
:func:`~ackproof.spec.protocol.protocol`.  It declares nodes, their typed state (durable
or volatile), frame kinds, and handlers:

* ``@node.on_submit`` — the producer hands message ``m`` to this node (a crash may cut
  the call short; the producer then gives up, or with ``on_submit(retry=True)`` calls
  again with the same id);
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

:meth:`~ackproof.spec.protocol.ProtocolDef.system` runs every handler once per ground
action (each parameter and each frame value a constant) with a symbolic
:class:`~ackproof.spec.env.Env`, and adds the environment's actions (delivery, loss,
duplication, crash and restart).  Rule: nothing in
a handler may branch in Python on a value read from state; the expressions refuse
``bool()`` so such a mistake fails at definition time, named.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import overload

from .context import Ctx, FrameView
from .errors import SpecError, names
from .expr import Expr, ExprLike, Value, render
from .faults import Faults
from .network import FrameKind
from .types import Array, Bag, Bool, FieldType, Int, Queue, Scalar

#: The largest instance ackproof builds.  Every shipped protocol lowers and compiles in
#: seconds at 64 messages (up to about 1.4 GB); around 200 the generated code nests too
#: deeply for Python's compiler, and memory grows with the square of the count.
MAX_MESSAGES = 64

_RESERVED = frozenset(
    {"require", "when", "atomic", "send", "process", "ack", "node", "bag", "queue"}
)

Handler = Callable[..., None]
IdSet = Collection[int] | Callable[[int], bool]
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
    #: Declared with ``p.shared``: one durable store several co-located nodes use.
    shared: bool = False


@dataclass
class TimerDecl:
    name: str
    params: tuple[Scalar, ...]
    fn: Handler
    #: May fire while frames are in flight (a premature timeout); ``False``: only once
    #: nothing is in flight to or from its node (a timeout longer than any round trip).
    early: bool = True


class Node:
    """A participant: its state declarations and its handlers."""

    def __init__(self, builder: Builder, name: str) -> None:
        self.builder = builder
        self.name = name
        self.vars: dict[str, VarDecl] = {}
        self.frame_handlers: dict[str, Handler] = {}
        self.submit: Handler | None = None
        #: What the producer does when a crash cuts its submit call short: ``False`` —
        #: it gives up (the message stays submitted; what the handler did before the
        #: crash is all the protocol has); ``True`` — it calls again with the same id.
        self.submit_retry = False
        #: Which message ids this producer submits (``None``: all of them; required when
        #: several nodes handle submit).
        self.submit_ids: Callable[[int], bool] | None = None
        self.timers: list[TimerDecl] = []
        self.restart: Handler | None = None
        self.connect: Handler | None = None
        self.disconnect: Handler | None = None
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

    def _adopt(self, decl: VarDecl) -> None:
        if decl.name in self.vars:
            raise SpecError(
                "declared twice", protocol=self.builder.name, field=f"{self.name}.{decl.name}"
            )
        self.vars[decl.name] = decl

    # -- handler registration ----------------------------------------------------------
    @overload
    def on_submit(self, fn: Handler, /) -> Handler: ...

    @overload
    def on_submit(
        self, fn: None = None, /, *, retry: bool = ..., ids: IdSet | None = ...
    ) -> Callable[[Handler], Handler]: ...

    def on_submit(
        self, fn: Handler | None = None, /, *, retry: bool = False, ids: IdSet | None = None
    ) -> Handler | Callable[[Handler], Handler]:
        """The producer hands message ``m`` to this node: ``@node.on_submit`` or
        ``@node.on_submit(retry=True)``.

        A message counts as submitted from the call's first effect on.  A crash may fall
        between any two effects of the handler (unless they share ``atomic()``); then,
        by default, the producer gives up on the call (it never learnt whether the
        message was taken), and with ``retry=True`` it calls again with the same id
        after the restart, before submitting anything else.

        Several nodes may handle submit (several producers): each then says which
        message ids it submits with ``ids=`` — a collection of ints, or a function of the
        id (``ids=lambda m: m % 2 == 0``) — and every id belongs to exactly one of them.
        Each producer submits its own ids in order."""
        if not isinstance(retry, bool):
            raise SpecError(
                f"on_submit(retry=...) takes True or False, got {retry!r}",
                protocol=self.builder.name,
                action=self.name,
            )

        def register(f: Handler) -> Handler:
            if self.submit is not None:
                raise SpecError(
                    "on_submit declared twice", protocol=self.builder.name, action=self.name
                )
            self.submit = f
            self.submit_retry = retry
            if ids is not None:
                self.submit_ids = _id_set(ids, self.builder.name, self.name)
            return f

        return register if fn is None else register(fn)

    def on(self, kind: FrameKind) -> Callable[[Handler], Handler]:
        if not isinstance(kind, FrameKind):
            raise SpecError(f"on() takes a frame kind, got {kind!r}", protocol=self.builder.name)
        if self.name not in kind.dsts:
            raise SpecError(
                f"frame {kind.name} goes to {', '.join(kind.dsts)}, not to {self.name}",
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

    def timer(self, *params: Scalar, early: bool = True) -> Callable[[Handler], Handler]:
        """A timer handler with one parameter per given type (e.g. one timer per message).

        It fires whenever its ``require`` s hold — timeouts may be premature.  With
        ``early=False`` it fires only when no frame is in flight to or from this node: a
        timeout longer than any round trip, which fires only once a frame or its reply
        was lost (or everything arrived)."""
        for t in params:
            if not isinstance(t, Scalar):
                raise SpecError(f"timer parameters are scalar types, got {t!r}")
        if not isinstance(early, bool):
            raise SpecError(f"timer(early=...) takes True or False, got {early!r}")

        def register(fn: Handler) -> Handler:
            name = getattr(fn, "__name__", "timer")
            self.timers.append(TimerDecl(name, tuple(params), fn, early))
            return fn

        return register

    def on_restart(self, fn: Handler) -> Handler:
        self.restart = fn
        return fn

    def on_connect(self, fn: Handler) -> Handler:
        """The node's connection to ``peer`` is up again: ``fn(ctx, peer)`` (MQTT resends
        its unacknowledged messages here)."""
        self.connect = fn
        return fn

    def on_disconnect(self, fn: Handler) -> Handler:
        """The node's connection to ``peer`` dropped (or ``peer`` crashed): ``fn(ctx, peer)``."""
        self.disconnect = fn
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
        self.msg = Scalar("int", 0, messages - 1, msg_id=True)
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

    def shared(
        self,
        name: str,
        type: FieldType,
        *,
        nodes: Sequence[Node],
        init: Value | Expr | None = None,
    ) -> None:
        """Durable state that several co-located nodes share (one database, several
        processes: a service and its outbox relay).  Each node in ``nodes`` reads and
        writes it as its own field ``name``; a crash of one of them leaves it as it is."""
        if not nodes or not all(isinstance(n, Node) for n in nodes):
            raise SpecError(f"shared({name!r}) needs the nodes that use it", protocol=self.name)
        scratch = Node(self, "shared")
        scratch.var(name, type, init=init, durable=True)
        decl = scratch.vars[name]
        decl.shared = True
        for n in nodes:
            n._adopt(decl)

    def frame(
        self,
        name: str,
        src: Node | Sequence[Node],
        dst: Node | Sequence[Node],
        *,
        carries: str | None = None,
        ghost: Sequence[str] = (),
        **fields: Scalar,
    ) -> FrameKind:
        """Declare a frame kind sent from ``src`` to ``dst`` — each a node, or a list of
        nodes (several senders of one kind: a handler's ``f.source`` names the sender;
        several receivers: ``ctx.send(F(...), to=node_name)`` picks one).

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
        for g in names(ghost, f"frame {name}: ghost=", "['uid']"):
            if g not in fields:
                raise SpecError(
                    f"frame {name}: ghost field {g!r} is not one of its fields", protocol=self.name
                )
        srcs = _nodes(src, "source", name, self.name)
        dsts = _nodes(dst, "destination", name, self.name)
        if "source" in fields:
            raise SpecError(f"frame {name}: 'source' names the sender; call the field otherwise")
        kind = FrameKind(name, srcs, dsts, tuple(fields.items()), carries, frozenset(ghost))
        self.kinds[name] = kind
        return kind


def _nodes(x: object, what: str, frame: str, protocol: str) -> tuple[str, ...]:
    items = [x] if isinstance(x, Node) else list(x) if isinstance(x, list | tuple) else None
    if not items or not all(isinstance(n, Node) for n in items):
        raise SpecError(
            f"frame {frame}: the {what} is a node or a list of nodes, got {x!r}", protocol=protocol
        )
    names = tuple(n.name for n in items if isinstance(n, Node))
    if len(set(names)) != len(names):
        raise SpecError(f"frame {frame}: a {what} is named twice", protocol=protocol)
    return names


def _id_set(ids: object, protocol: str, node: str) -> Callable[[int], bool]:
    if callable(ids):
        fn = ids
        return lambda m: bool(fn(m))
    if isinstance(ids, Collection) and not isinstance(ids, str | bytes):
        members = set(ids)
        if all(isinstance(m, int) and not isinstance(m, bool) for m in members):
            return members.__contains__
    raise SpecError(
        f"on_submit(ids=...) takes message ids (ints) or a function of the id, got {ids!r}",
        protocol=protocol,
        action=node,
    )


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


__all__ = [
    "Array",
    "Bag",
    "Bool",
    "Builder",
    "Ctx",
    "FrameView",
    "Int",
    "Node",
    "Queue",
]
