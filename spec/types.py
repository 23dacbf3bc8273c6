"""Declared types of state fields and frame fields: all finite.

``Bool``, ``Int(lo, hi)`` and ``Enum(name, *members)`` are scalars; ``Array(index, elem)``
is a fixed-size map over a finite index type; ``Bag(elem, capacity)`` an unordered
multiset and ``Queue(elem, capacity)`` a bounded FIFO.  Every type knows its finite set of
values, which is what makes a protocol a finite transition system.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError
from .expr import Expr, Value, const


@dataclass(frozen=True, slots=True)
class Scalar:
    """A finite scalar type: bool, an integer range, or an enum (ints tagged by name)."""

    sort: str
    lo: int
    hi: int
    enum: str | None = None
    members: tuple[str, ...] = ()
    #: An :func:`Age`: the clock adds one to it at every tick (up to ``hi``).
    ticks: bool = False
    #: The type of message ids (``p.msg``): a field of it is about one message.
    msg_id: bool = False

    def values(self) -> list[Value]:
        if self.sort == "bool":
            return [False, True]
        return list(range(self.lo, self.hi + 1))

    def describe(self) -> str:
        if self.sort == "bool":
            return "Bool"
        if self.ticks:
            return f"Age[..{self.hi}]"
        if self.enum is not None:
            return f"{self.enum}{{{', '.join(self.members)}}}"
        return f"Int[{self.lo}..{self.hi}]"

    def show(self, v: Value) -> str:
        if self.sort == "bool":
            return "true" if v else "false"
        if self.enum is not None and 0 <= int(v) < len(self.members):
            return self.members[int(v)]
        return str(int(v))

    def lit(self, v: Value | Expr) -> Expr:
        """A constant of this type, checked against its range."""
        if isinstance(v, Expr):
            return v
        if self.sort == "bool":
            if not isinstance(v, bool):
                raise SpecError(f"expected a bool for {self.describe()}, got {v!r}")
            return const(v)
        if isinstance(v, bool):
            raise SpecError(f"expected an int for {self.describe()}, got {v!r}")
        if self.enum is not None:
            raise SpecError(f"use a member of {self.enum} ({', '.join(self.members)}), not {v!r}")
        if not self.lo <= v <= self.hi:
            raise SpecError(f"{v} is outside {self.describe()}")
        return const(v)

    def default(self) -> Value:
        if self.ticks:  # an age starts "long ago"
            return self.hi
        return False if self.sort == "bool" else self.lo


Bool = Scalar("bool", 0, 1)


def Int(lo: int, hi: int) -> Scalar:
    """Integers ``lo..hi`` inclusive."""
    if not isinstance(lo, int) or not isinstance(hi, int) or isinstance(lo, bool):
        raise SpecError(f"Int bounds must be ints, got {lo!r}, {hi!r}")
    if hi < lo:
        raise SpecError(f"Int({lo}, {hi}) is empty")
    if hi - lo > 4096:
        raise SpecError(f"Int({lo}, {hi}) is too large to be a finite state type (max 4097 values)")
    return Scalar("int", lo, hi)


def Age(limit: int) -> Scalar:
    """Ticks of the logical clock since the field was last set to 0, counted up to
    ``limit`` (then it stays at ``limit``: "at least that long ago").  Every tick of the
    clock adds one; a protocol that declares an ``Age`` (or a channel with a delivery bound)
    has a clock.  Starts at ``limit`` unless given ``init``."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 64:
        raise SpecError(f"Age(limit) takes an int from 1 to 64, got {limit!r}")
    return Scalar("int", 0, limit, ticks=True)


class Enum(Scalar):
    """An enumeration; members are read as attributes: ``Phase.IDLE``."""

    def __init__(self, name: str, *members: str) -> None:
        if not members:
            raise SpecError(f"enum {name} has no members")
        if len(set(members)) != len(members):
            raise SpecError(f"enum {name} repeats a member")
        Scalar.__init__(self, "int", 0, len(members) - 1, name, tuple(members))

    def __getattr__(self, member: str) -> Expr:
        members = object.__getattribute__(self, "members")
        if member in members:
            return const(members.index(member), enum=object.__getattribute__(self, "enum"))
        raise SpecError(f"enum {object.__getattribute__(self, 'enum')} has no member {member!r}")

    def member(self, name: str) -> Expr:
        return self.__getattr__(name)


@dataclass(frozen=True, slots=True)
class Array:
    """A fixed-size map from every value of ``index`` to an ``elem``."""

    index: Scalar
    elem: Scalar

    def describe(self) -> str:
        return f"Array[{self.index.describe()} -> {self.elem.describe()}]"


@dataclass(frozen=True, slots=True)
class Bag:
    """An unordered multiset of ``elem`` holding at most ``capacity`` items."""

    elem: Scalar
    capacity: int

    def describe(self) -> str:
        return f"Bag[{self.elem.describe()}, {self.capacity}]"


@dataclass(frozen=True, slots=True)
class Queue:
    """A FIFO queue of ``elem`` holding at most ``capacity`` items."""

    elem: Scalar
    capacity: int

    def describe(self) -> str:
        return f"Queue[{self.elem.describe()}, {self.capacity}]"


FieldType = Scalar | Array | Bag | Queue
