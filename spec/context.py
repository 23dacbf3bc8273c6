"""What a handler sees while the kernel lowers it: :class:`Ctx`, the field places and
:class:`FrameView`.

A handler reads its node's fields through ``ctx`` (each read is the field's *current*
expression, after the writes before it), writes them with assignments, and marks effects —
``send``, ``process``, ``ack``, writes of durable fields — in program order.  Everything
here is a view: the step being built (the environment, the effects, the crash snapshots)
lives in the :class:`~ackproof.spec.recorder.Recorder` behind it, which the lowering
(:mod:`ackproof.spec.lowering`) owns and reads.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import SpecError
from .expr import Expr, ExprLike, any_, const, lift, lt, max_, min_
from .network import FrameExpr, FrameKind
from .ops import Leaf
from .system import FrameValue
from .types import Array, Bag, Queue

if TYPE_CHECKING:
    from .kernel import VarDecl
    from .recorder import Recorder


class ArrayPlace(Expr):
    """An array field seen from a handler: index to read, assign an index to write."""

    __slots__ = ("_decl", "_rec")

    def __init__(self, rec: Recorder, decl: VarDecl) -> None:
        super().__init__(Leaf.ARRAY, (), "int", 0, 0)
        self._rec = rec
        self._decl = decl

    def __getitem__(self, index: ExprLike) -> Expr:
        t = self._decl.type
        assert isinstance(t, Array)
        idx = t.index.lit(index) if not isinstance(index, Expr) else index
        return self._rec.env.select(
            self._decl.slots,
            t.index.lo,
            idx,
            what=self._rec.field(self._decl),
            index_enum=t.index.enum,
        )

    def __setitem__(self, index: ExprLike, value: ExprLike) -> None:
        t = self._decl.type
        assert isinstance(t, Array)
        try:
            idx = t.index.lit(index) if not isinstance(index, Expr) else index
            v = t.elem.lit(value) if not isinstance(value, Expr) else value
        except SpecError as e:
            raise e.located(field=self._rec.field(self._decl)) from None
        self._rec.before_write(self._decl)
        self._rec.env.store(
            self._decl.slots,
            t.index.lo,
            idx,
            v,
            what=self._rec.field(self._decl),
            index_enum=t.index.enum,
        )


class BagPlace:
    """A bag field: ``add``, ``remove``, ``count``, ``size``."""

    def __init__(self, rec: Recorder, decl: VarDecl) -> None:
        self._rec = rec
        self._decl = decl
        assert isinstance(decl.type, Bag)
        self._type: Bag = decl.type

    def count(self, v: ExprLike) -> Expr:
        e = self._type.elem
        return self._rec.env.select(
            self._decl.slots, e.lo, lift(v), what=self._rec.field(self._decl), index_enum=e.enum
        )

    def size(self) -> Expr:
        total: Expr = const(0)
        for s in self._decl.slots:
            total = total + self._rec.env.read(s)
        return total

    def contains(self, v: ExprLike) -> Expr:
        return lt(0, self.count(v))

    def add(self, v: ExprLike) -> None:
        """Add one ``v``; the step waits while the bag is full."""
        self._rec.require(lt(self.size(), self._type.capacity))
        self._rec.before_write(self._decl)
        e = self._type.elem
        new = min_(self.count(v) + 1, self._type.capacity)
        self._rec.env.store(
            self._decl.slots,
            e.lo,
            lift(v),
            new,
            what=self._rec.field(self._decl),
            index_enum=e.enum,
        )

    def remove(self, v: ExprLike) -> None:
        """Remove one ``v``; the step is enabled only if there is one."""
        self._rec.require(self.contains(v))
        self._rec.before_write(self._decl)
        e = self._type.elem
        new = max_(self.count(v) - 1, 0)
        self._rec.env.store(
            self._decl.slots,
            e.lo,
            lift(v),
            new,
            what=self._rec.field(self._decl),
            index_enum=e.enum,
        )


class QueuePlace:
    """A bounded FIFO field: ``push``, ``pop``, ``head``, ``size``, ``empty``."""

    def __init__(self, rec: Recorder, decl: VarDecl) -> None:
        self._rec = rec
        self._decl = decl
        assert isinstance(decl.type, Queue)
        assert decl.length_slot is not None
        self._type: Queue = decl.type
        self._len: int = decl.length_slot

    def size(self) -> Expr:
        return self._rec.env.read(self._len)

    def empty(self) -> Expr:
        return self.size() == 0

    def head(self) -> Expr:
        """The first element (meaningful only when not empty)."""
        return self._rec.env.read(self._decl.slots[0])

    def contains(self, v: ExprLike) -> Expr:
        """Whether ``v`` is somewhere in the queue."""
        env = self._rec.env
        val = self._type.elem.lit(v) if not isinstance(v, Expr) else v
        n = self.size()
        return any_(lt(i, n) & (env.read(s) == val) for i, s in enumerate(self._decl.slots))

    def push(self, v: ExprLike) -> None:
        """Append ``v``; the step waits while the queue is full."""
        env = self._rec.env
        self._rec.require(lt(self.size(), self._type.capacity))
        self._rec.before_write(self._decl)
        what = self._rec.field(self._decl)
        val = self._type.elem.lit(v) if not isinstance(v, Expr) else v
        n = self.size()
        env.store(self._decl.slots, 0, n, val, what=what)
        env.write(self._len, min_(n + 1, self._type.capacity), what=what, trusted=True)

    def pop(self) -> Expr:
        """Remove and return the head; the step is enabled only if the queue is not empty."""
        env = self._rec.env
        self._rec.require(lt(0, self.size()))
        self._rec.before_write(self._decl)
        what = self._rec.field(self._decl)
        head = self.head()
        vals = [env.read(s) for s in self._decl.slots]
        fill = const(self._type.elem.default(), enum=self._type.elem.enum)
        for j, s in enumerate(self._decl.slots):
            env.write(s, vals[j + 1] if j + 1 < len(vals) else fill, what=what, trusted=True)
        env.write(self._len, max_(self.size() - 1, 0), what=what, trusted=True)
        return head


class Ctx:
    """A handler's view of its node: read and write fields, send, process, ack.

    A thin facade: it holds only its :class:`~ackproof.spec.recorder.Recorder` and
    forwards to it, so that any other attribute name is a field of the node
    (``ctx.x``, ``ctx.x = e``).  Nothing outside this module reads ``_rec``: the lowering
    keeps the recorder it made and reads that."""

    __slots__ = ("_rec",)
    _rec: Recorder

    def __init__(self, recorder: Recorder) -> None:
        # The one attribute, set past __setattr__ (which assigns fields of the node).
        object.__setattr__(self, "_rec", recorder)

    # -- fields ----------------------------------------------------------------------------
    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_"):
            raise AttributeError(name)
        decl = self._rec.decl(name)
        if isinstance(decl.type, Array):
            return ArrayPlace(self._rec, decl)
        return self._rec.read(decl)

    def __setattr__(self, name: str, value: ExprLike) -> None:
        self._rec.assign(name, value)

    def bag(self, name: str) -> BagPlace:
        return BagPlace(self._rec, self._rec.collection(name, Bag))

    def queue(self, name: str) -> QueuePlace:
        return QueuePlace(self._rec, self._rec.collection(name, Queue))

    # -- control -----------------------------------------------------------------------------
    def require(self, cond: ExprLike) -> None:
        """The step is enabled only if ``cond`` holds (here, inside any ``when``)."""
        self._rec.require(cond)

    @contextlib.contextmanager
    def when(self, cond: ExprLike) -> Iterator[None]:
        """Statements inside happen only if ``cond`` holds (read at this point)."""
        with self._rec.when(cond):
            yield

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Effects inside happen all or none: no crash falls between them."""
        with self._rec.atomic():
            yield

    # -- effects -------------------------------------------------------------------------------
    def send(self, frame: FrameExpr, *, to: str | None = None) -> None:
        """Put ``frame`` on the network, to the node its kind names (``to``: which one,
        when the kind goes to several)."""
        self._rec.send(frame, to)

    def process(self, msg: ExprLike) -> None:
        """The application's side effect runs for message ``msg``."""
        self._rec.process(msg)

    def ack(self, msg: ExprLike) -> None:
        """The sender tells its producer that ``msg`` was delivered."""
        self._rec.ack(msg)


# -- received frames ------------------------------------------------------------------------
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
