"""Symbolic execution of one ground action over the flat state.

Theory of operation
-------------------
:class:`Layout` hands out slots.  :class:`Env` is the state *during* one ground action:
for every slot, an expression over the pre-state giving its current value, plus the
guard collected so far, the path condition of the enclosing ``when`` blocks, and the
well-formedness checks.  Writes under a path condition become ``ite(path, new, old)``,
so when the handler returns, ``cur`` is exactly the parallel update of the action.

Reads and writes at a symbolic index unfold into ``ite`` chains over the elements the
index can reach (its interval), so arrays never need an array theory.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from .errors import SpecError
from .expr import TRUE, Expr, Value, and_, const, eq, implies, ite, le, lift, render, slot
from .system import Check, Slot


class Layout:
    """The slots of a system, allocated in order."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []

    def add(
        self,
        name: str,
        *,
        sort: str,
        lo: int,
        hi: int,
        init: Value,
        owner: str,
        durable: bool = True,
        ghost: bool = False,
        enum: str | None = None,
        members: tuple[str, ...] = (),
        ticks: bool = False,
        msgs: tuple[int, ...] = (),
        family: str | None = None,
    ) -> int:
        i = len(self.slots)
        assert sort in ("bool", "int")
        self.slots.append(
            Slot(
                index=i,
                name=name,
                sort="bool" if sort == "bool" else "int",
                lo=lo,
                hi=hi,
                init=init,
                owner=owner,
                durable=durable,
                ghost=ghost,
                enum=enum,
                members=members,
                ticks=ticks,
                msgs=msgs,
                family=name if family is None else family,
            )
        )
        return i

    def leaf(self, i: int) -> Expr:
        s = self.slots[i]
        return slot(i, s.sort, s.lo, s.hi, enum=s.enum, ghost=s.ghost)

    def leaves(self) -> list[Expr]:
        return [self.leaf(i) for i in range(len(self.slots))]


class Env:
    """The state of one ground action while its handler runs."""

    def __init__(self, layout: Layout, cur: Sequence[Expr], guard: Sequence[Expr] = ()) -> None:
        self.layout = layout
        self.cur: list[Expr] = list(cur)
        self.guard: list[Expr] = list(guard)
        self.path: Expr = TRUE
        self.checks: list[Check] = []
        self.room: list[Expr] = []
        self.sent: dict[str, int] = {}  # channel -> frames sent on every path of the step

    @classmethod
    def fresh(cls, layout: Layout, leaves: Sequence[Expr]) -> Env:
        return cls(layout, leaves)

    def fork(self) -> Env:
        e = Env(self.layout, self.cur, self.guard)
        e.path = self.path
        e.checks = list(self.checks)
        e.sent = dict(self.sent)
        return e

    # -- reading and writing -----------------------------------------------------------
    def read(self, i: int) -> Expr:
        return self.cur[i]

    @contextlib.contextmanager
    def under(self, cond: Expr) -> Iterator[None]:
        """Writes, requires and checks inside apply only where ``cond`` holds too: the
        path condition is ``path and cond`` inside, and back to ``path`` after."""
        saved = self.path
        self.path = and_(saved, cond)
        try:
            yield
        finally:
            self.path = saved

    def require(self, cond: Expr, *, room: bool = False) -> None:
        """The step is enabled only if ``cond`` holds (on the current path).  ``room``:
        the condition is that a channel has room for a send — a bound of the model, not
        of the protocol (the liveness checks tell a run stuck on it apart)."""
        c = implies(self.path, cond)
        self.guard.append(c)
        if room:
            self.room.append(c)

    def check(self, cond: Expr, message: str, value: Expr | None = None) -> None:
        """Whenever this step runs (on the current path), ``cond`` must hold."""
        c = implies(self.path, cond)
        if c is not TRUE:
            self.checks.append(Check(c, message, value))

    def write(self, i: int, value: Expr, *, what: str, trusted: bool = False) -> None:
        """Assign ``value`` to slot ``i`` under the current path condition."""
        s = self.layout.slots[i]
        v = lift(value)
        if v.sort != s.sort:
            raise SpecError(
                f"{what} is a {s.sort}, cannot be set to {render(v)} ({v.sort})", field=what
            )
        if s.sort == "int" and v.enum != s.enum and not trusted:
            if v.is_const and v.enum is None and s.enum is not None:
                raise SpecError(f"{what} holds {s.enum} members, not {v.value}", field=what)
            raise SpecError(
                f"{what} holds {s.enum or 'ints'}, cannot take {v.enum or 'an int'}", field=what
            )
        if v.ghost and not s.ghost and not trusted:
            raise SpecError(
                f"{what} is real state but the value {render(v)} is derived from a ghost "
                "field (a logical identity the real protocol does not have)"
            )
        if s.sort == "int":
            if v.is_const and not s.lo <= v.value <= s.hi:
                raise SpecError(
                    f"{what} = {v.value} is outside its range {s.lo}..{s.hi}", field=what
                )
            if v.lo < s.lo or v.hi > s.hi:
                self.check(and_(le(s.lo, v), le(v, s.hi)), f"{what} set outside {s.lo}..{s.hi}", v)
        self.cur[i] = ite(self.path, v, self.cur[i])

    # -- arrays as slot lists ------------------------------------------------------------
    def _candidates(
        self, n: int, index_lo: int, idx: Expr, what: str, index_enum: str | None
    ) -> list[int]:
        if idx.sort != "int":
            raise SpecError(f"{what}: index {render(idx)} is not an int", field=what)
        if idx.enum != index_enum:
            raise SpecError(
                f"{what}: indexed by {index_enum or 'ints'}, not by {idx.enum or 'an int'}"
            )
        if idx.is_const:
            k = idx.value - index_lo
            if not 0 <= k < n:
                raise SpecError(f"{what}: index {idx.value} is out of bounds", field=what)
            return [k]
        ks = [k for k in range(n) if idx.lo <= k + index_lo <= idx.hi]
        if not ks:
            raise SpecError(f"{what}: index {render(idx)} can never be in bounds", field=what)
        if idx.lo < index_lo or idx.hi > index_lo + n - 1:
            self.check(
                and_(le(index_lo, idx), le(idx, index_lo + n - 1)),
                f"{what}: index out of bounds",
                idx,
            )
        return ks

    def select(
        self,
        slots: Sequence[int],
        index_lo: int,
        idx: Expr,
        *,
        what: str,
        index_enum: str | None = None,
    ) -> Expr:
        ks = self._candidates(len(slots), index_lo, idx, what, index_enum)
        acc = self.cur[slots[ks[-1]]]
        for k in reversed(ks[:-1]):
            acc = ite(eq(idx, const(k + index_lo, enum=idx.enum)), self.cur[slots[k]], acc)
        return acc

    def store(
        self,
        slots: Sequence[int],
        index_lo: int,
        idx: Expr,
        value: Expr,
        *,
        what: str,
        trusted: bool = False,
        index_enum: str | None = None,
    ) -> None:
        ks = self._candidates(len(slots), index_lo, idx, what, index_enum)
        if len(ks) == 1 and idx.is_const:
            self.write(slots[ks[0]], value, what=what, trusted=trusted)
            return
        for k in ks:
            with self.under(eq(idx, const(k + index_lo, enum=idx.enum))):
                self.write(slots[k], value, what=f"{what}", trusted=trusted)
