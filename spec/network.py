"""The network: one channel per direction between two nodes.

Theory of operation
-------------------
A channel carries the ground frames of every frame kind declared from its source to its
destination.  Its shape depends on the fault model:

* **reordering** (``Faults.reorder``): a bag, stored as one counter per ground frame.
  Any frame in flight may be delivered next, so reordering costs no state at all.
* **FIFO** (otherwise): ``capacity`` position slots holding frame numbers plus a length.

Either way the channel holds at most ``capacity`` frames; a send into a full channel is
not enabled (the sender waits), which is the bound a finite model needs.  Loss removes a
frame, duplication adds a copy (in a FIFO, right behind the original).  Both are
environment actions that may be limited by a fault budget.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeAlias

from .env import Env, Layout
from .errors import SpecError
from .expr import FALSE, TRUE, Expr, add, and_, any_, const, eq, ite, le, lt, max_, min_, or_
from .system import ChannelInfo, FrameValue
from .types import Scalar

#: One way the network can lose or duplicate a frame: (frame, FIFO position, age, apply).
Move: TypeAlias = tuple[FrameValue | None, int | None, int | None, Callable[[Env], None]]


@dataclass(frozen=True, slots=True)
class FrameKind:
    """A declared kind of frame, e.g. ``DATA(msg, seq)`` from sender to receiver."""

    name: str
    #: The nodes that send it, and those it goes to.
    srcs: tuple[str, ...]
    dsts: tuple[str, ...]
    fields: tuple[tuple[str, Scalar], ...]
    #: The field holding the logical message id this frame carries a copy of, if any.
    carries: str | None
    ghost: frozenset[str]

    def __call__(self, **values: object) -> FrameExpr:
        names = [n for n, _ in self.fields]
        unknown = [k for k in values if k not in names]
        if unknown:
            raise SpecError(f"frame {self.name} has no field {unknown[0]!r} (fields: {names})")
        missing = [n for n in names if n not in values]
        if missing:
            raise SpecError(f"frame {self.name} needs a value for field {missing[0]!r}")
        out: dict[str, Expr] = {}
        for n, t in self.fields:
            v = values[n]
            if not isinstance(v, Expr | bool | int):
                raise SpecError(f"frame {self.name}.{n}: expected an expression, got {v!r}")
            e = t.lit(v)
            if e.sort != t.sort or (t.sort == "int" and e.enum != t.enum):
                raise SpecError(f"frame {self.name}.{n} is {t.describe()}, got {e!r}")
            if e.ghost and n not in self.ghost:
                raise SpecError(
                    f"frame {self.name}.{n} is a real field but its value {e!r} is derived "
                    "from a ghost field"
                )
            out[n] = e
        return FrameExpr(self, out)

    def ground(self) -> list[FrameValue]:
        doms = [t.values() for _, t in self.fields]
        out = []
        for combo in itertools.product(*doms):
            fields = tuple((n, v) for (n, _), v in zip(self.fields, combo, strict=True))
            shown = tuple((n, t.show(v)) for (n, t), v in zip(self.fields, combo, strict=True))
            out.append(FrameValue(self.name, fields, shown))
        return out


@dataclass(frozen=True, slots=True)
class FrameExpr:
    """A frame being sent: its kind and an expression per field."""

    kind: FrameKind
    values: Mapping[str, Expr]


class Channel:
    """The frames in flight from ``src`` to ``dst``."""

    def __init__(
        self,
        src: str,
        dst: str,
        kinds: Sequence[FrameKind],
        *,
        ordered: bool,
        capacity: int,
        layout: Layout,
        within: int | None = None,
    ) -> None:
        self.src = src
        self.dst = dst
        self.name = f"{src}->{dst}"
        self.kinds = tuple(kinds)
        self.ordered = ordered
        self.capacity = capacity
        self.layout = layout
        self.frames: list[FrameValue] = [f for k in self.kinds for f in k.ground()]
        self.number = {f: i for i, f in enumerate(self.frames)}
        #: For a direction of a connection: the slot saying the connection is up.
        self.up: int | None = None
        #: A timed channel delivers or loses each frame within this many ticks.
        self.within = within
        self.ages = 1 if within is None else within + 1
        owner = f"net:{self.name}"
        self.length_slot: int | None = None
        self.age_slots: list[int] = []
        if not ordered:
            self.slots = [
                layout.add(
                    f"{self.name}#{f}" + ("" if within is None else f"@{a}"),
                    sort="int",
                    lo=0,
                    hi=capacity,
                    init=0,
                    owner=owner,
                    msgs=self._about(f),
                    family=f"{self.name}#{self._family(f)}" + ("" if within is None else f"@{a}"),
                )
                for f in self.frames
                for a in range(self.ages)
            ]
        else:
            top = len(self.frames) - 1
            self.slots = [
                layout.add(f"{self.name}[{i}]", sort="int", lo=0, hi=top, init=0, owner=owner)
                for i in range(capacity)
            ]
            self.length_slot = layout.add(
                f"{self.name}.len", sort="int", lo=0, hi=capacity, init=0, owner=owner
            )
            if within is not None:
                self.age_slots = [
                    layout.add(
                        f"{self.name}.age[{i}]", sort="int", lo=0, hi=within, init=0, owner=owner
                    )
                    for i in range(capacity)
                ]

    def cell(self, i: int, age: int = 0) -> int:
        """The count slot of frame ``i`` at ``age`` (an unordered channel)."""
        return self.slots[i * self.ages + age]

    def info(self) -> ChannelInfo:
        return ChannelInfo(
            name=self.name,
            src=self.src,
            dst=self.dst,
            ordered=self.ordered,
            capacity=self.capacity,
            frames=tuple(self.frames),
            slots=tuple(self.slots),
            length_slot=self.length_slot,
            ages=self.ages,
        )

    # -- helpers ---------------------------------------------------------------------------
    def _size(self, env: Env) -> Expr:
        if self.length_slot is not None:
            return env.read(self.length_slot)
        total: Expr = const(0)
        for s in self.slots:
            total = add(total, env.read(s))
        return total

    def _match(self, frame: FrameExpr, g: FrameValue) -> Expr:
        if g.kind != frame.kind.name:
            return FALSE
        return and_(
            *(eq(frame.values[n], const(v, enum=frame.values[n].enum)) for n, v in g.fields)
        )

    def _number(self, frame: FrameExpr) -> Expr:
        """The frame's number in ``self.frames`` as an expression (FIFO positions)."""
        acc: Expr = const(self.frames.index(frame.kind.ground()[0]))
        radix = 1
        for n, t in reversed(frame.kind.fields):
            v = frame.values[n]
            term = _as_plain_int(v, t)
            if t.lo != 0:
                term = term - t.lo
            acc = add(acc, term * radix) if radix != 1 else add(acc, term)
            radix *= t.hi - t.lo + 1
        return acc

    def _id_fields(self, f: FrameValue) -> set[str]:
        kind = next(k for k in self.kinds if k.name == f.kind)
        return {name for name, t in kind.fields if t.msg_id}

    def _about(self, f: FrameValue) -> tuple[int, ...]:
        """The message ids a ground frame carries (its fields typed ``p.msg``)."""
        ids = self._id_fields(f)
        return tuple(int(v) for name, v in f.fields if name in ids)

    def _family(self, f: FrameValue) -> str:
        """The frame's text with its message ids abstracted (``DATA(msg=*, seq=0)``)."""
        ids = self._id_fields(f)
        shown = f.shown or tuple((k, str(v)) for k, v in f.fields)
        return str(replace(f, shown=tuple((k, "*" if k in ids else v) for k, v in shown)))

    # -- the sender's side ---------------------------------------------------------------------
    def send(self, env: Env, frame: FrameExpr) -> None:
        """Put ``frame`` in flight (under ``env.path``); waits if the channel is full.

        Every field value must lie in its field's range, like a write of state: a value
        that can fall outside it is a well-formedness check of the step (never a frame
        that silently vanishes or aliases another one)."""
        _check_fields(env, frame)
        if env.path is TRUE:  # unconditional: every run of the step sends it
            k = env.sent[self.name] = env.sent.get(self.name, 0) + 1
            if k > self.capacity:
                raise SpecError(
                    f"the step sends {k} frames into channel {self.name}, which holds at "
                    f"most {self.capacity} (its capacity): the step could never fire; "
                    "raise the capacity (Faults(capacity=...) or the link's) or send fewer "
                    "frames in one step",
                    field=self.name,
                )
        # On a connection that is down, the frame is lost.
        link = contextlib.nullcontext() if self.up is None else env.under(env.read(self.up))
        with link:
            self._put(env, frame)

    def _put(self, env: Env, frame: FrameExpr) -> None:
        env.require(lt(self._size(env), self.capacity), room=True)
        if not self.ordered:
            for i, g in enumerate(self.frames):
                s = self.cell(i, 0)
                m = self._match(frame, g)
                if m is FALSE:
                    continue
                with env.under(m):
                    new = min_(add(env.read(s), 1), self.capacity)
                    env.write(s, new, what=self.name, trusted=True)
            return
        assert self.length_slot is not None
        n = env.read(self.length_slot)
        num = self._number(frame)
        env.store(self.slots, 0, n, num, what=self.name, trusted=True)
        if self.age_slots:
            env.store(self.age_slots, 0, n, const(0), what=self.name, trusted=True)
        env.write(self.length_slot, min_(add(n, 1), self.capacity), what=self.name, trusted=True)

    def clear(self, env: Env) -> None:
        """Every frame in flight is lost (a connection dropped)."""
        for s in [*self.slots, *self.age_slots]:
            env.write(s, const(0), what=self.name, trusted=True)
        if self.length_slot is not None:
            env.write(self.length_slot, const(0), what=self.name, trusted=True)

    def empty(self, env: Env) -> Expr:
        return eq(self._size(env), 0)

    def tick(self, env: Env) -> None:
        """A tick of the clock: every frame in flight ages by one.  A timed channel does
        not let time pass while a frame is as old as its bound: it is delivered or lost
        first."""
        if self.within is None:
            return
        if not self.ordered:
            for i in range(len(self.frames)):
                env.require(eq(env.read(self.cell(i, self.within)), 0))
                olds = [env.read(self.cell(i, a)) for a in range(self.ages)]
                env.write(self.cell(i, 0), const(0), what=self.name, trusted=True)
                for a in range(1, self.ages):
                    env.write(self.cell(i, a), olds[a - 1], what=self.name, trusted=True)
            return
        assert self.length_slot is not None
        n = env.read(self.length_slot)
        for p, s in enumerate(self.age_slots):
            age = env.read(s)
            env.require(or_(le(n, p), lt(age, self.within)))
            env.write(
                s, ite(lt(p, n), min_(add(age, 1), self.within), age), what=self.name, trusted=True
            )

    # -- environment actions ---------------------------------------------------------------
    def takes(self) -> list[tuple[FrameValue, int | None, Callable[[Env], None]]]:
        """Per ground frame (and age, on a timed unordered channel): remove it for
        delivery (unordered: any copy; FIFO: the head)."""
        out: list[tuple[FrameValue, int | None, Callable[[Env], None]]] = []
        for i, g in enumerate(self.frames):
            if self.ordered:
                out.append((g, None, self._fifo_take_head(i)))
                continue
            for a in range(self.ages):
                out.append((g, a if self.within is not None else None, self._bag_remove(i, a)))
        return out

    def _bag_remove(self, i: int, age: int = 0) -> Callable[[Env], None]:
        s = self.cell(i, age)

        def apply(env: Env) -> None:
            c = env.read(s)
            env.require(lt(0, c))
            env.write(s, max_(c - 1, 0), what=self.name, trusted=True)

        return apply

    def _fifo_take_head(self, number: int) -> Callable[[Env], None]:
        def apply(env: Env) -> None:
            assert self.length_slot is not None
            env.require(lt(0, env.read(self.length_slot)))
            env.require(eq(env.read(self.slots[0]), number))
            self._fifo_remove_at(env, 0)

        return apply

    def _fifo_remove_at(self, env: Env, pos: int) -> None:
        assert self.length_slot is not None
        for slots in (self.slots, self.age_slots):
            vals = [env.read(s) for s in slots]
            for j in range(pos, len(slots)):
                nxt = vals[j + 1] if j + 1 < len(slots) else const(0)
                env.write(slots[j], nxt, what=self.name, trusted=True)
        n = env.read(self.length_slot)
        env.write(self.length_slot, max_(n - 1, 0), what=self.name, trusted=True)

    def losses(self) -> list[Move]:
        """(frame, position, age, apply) per way to lose one frame."""
        if not self.ordered:
            return [
                (g, None, self._age(a), self._bag_remove(i, a))
                for i, g in enumerate(self.frames)
                for a in range(self.ages)
            ]
        return [(None, p, None, self._fifo_lose(p)) for p in range(self.capacity)]

    def _age(self, a: int) -> int | None:
        return None if self.within is None else a

    def _fifo_lose(self, pos: int) -> Callable[[Env], None]:
        def apply(env: Env) -> None:
            assert self.length_slot is not None
            env.require(lt(pos, env.read(self.length_slot)))
            self._fifo_remove_at(env, pos)

        return apply

    def duplications(self) -> list[Move]:
        """(frame, position, age, apply) per way to duplicate one frame (a copy keeps the
        original's age: it was sent at the same time)."""
        if not self.ordered:
            return [
                (g, None, self._age(a), self._bag_dup(i, a))
                for i, g in enumerate(self.frames)
                for a in range(self.ages)
            ]
        return [(None, p, None, self._fifo_dup(p)) for p in range(self.capacity - 1)]

    def _bag_dup(self, i: int, age: int = 0) -> Callable[[Env], None]:
        s = self.cell(i, age)

        def apply(env: Env) -> None:
            c = env.read(s)
            env.require(lt(0, c))
            env.require(lt(self._size(env), self.capacity))
            env.write(s, min_(c + 1, self.capacity), what=self.name, trusted=True)

        return apply

    def _fifo_dup(self, pos: int) -> Callable[[Env], None]:
        def apply(env: Env) -> None:
            assert self.length_slot is not None
            n = env.read(self.length_slot)
            env.require(lt(pos, n))
            env.require(lt(n, self.capacity))
            for slots in (self.slots, self.age_slots):
                vals = [env.read(s) for s in slots]
                for j in range(pos + 1, len(slots)):
                    env.write(slots[j], vals[j - 1], what=self.name, trusted=True)
            env.write(self.length_slot, min_(n + 1, self.capacity), what=self.name, trusted=True)

        return apply

    # -- observation -------------------------------------------------------------------------
    def carrying(self, m: int) -> list[int]:
        """Numbers of the frames that carry a copy of message ``m``."""
        out = []
        for i, g in enumerate(self.frames):
            kind = next(k for k in self.kinds if k.name == g.kind)
            if kind.carries is not None and g.get(kind.carries) == m:
                out.append(i)
        return out

    def copies(self, env: Env, m: int) -> Expr:
        """Whether a copy of message ``m`` is in flight on this channel."""
        nums = self.carrying(m)
        if not nums:
            return FALSE
        if not self.ordered:
            return any_(lt(0, env.read(self.cell(i, a))) for i in nums for a in range(self.ages))
        assert self.length_slot is not None
        n = env.read(self.length_slot)
        return any_(
            and_(lt(p, n), or_(*(eq(env.read(self.slots[p]), k) for k in nums)))
            for p in range(self.capacity)
        )


def _check_fields(env: Env, frame: FrameExpr) -> None:
    for n, t in frame.kind.fields:
        v = frame.values[n]
        if t.sort != "int" or (t.lo <= v.lo and v.hi <= t.hi):
            continue
        what = f"frame {frame.kind.name} field {n}"
        if v.is_const and env.path is TRUE:
            raise SpecError(f"{what} = {t.show(v.value)} is outside {t.describe()}")
        env.check(and_(le(t.lo, v), le(v, t.hi)), f"{what} set outside {t.lo}..{t.hi}", v)


def _as_plain_int(e: Expr, t: Scalar) -> Expr:
    """``e`` as an untagged int (bools as 0/1, enum members as their position)."""
    if t.sort == "bool":
        return ite(e, 1, 0)
    if t.enum is None:
        return e
    acc: Expr = const(t.hi)
    for k in range(t.hi - 1, t.lo - 1, -1):
        acc = ite(eq(e, const(k, enum=t.enum)), k, acc)
    return acc
