"""Packed states: a system's state as one Python int, and its successors from one function.

Theory of operation
-------------------
The explicit search spends its time building, hashing and storing states.  A state as a
tuple of Python values costs a tuple (about 60 + 8 bytes per slot) and a hash over every
slot; here it is one int instead: slot ``i`` holds ``value - lo`` in a bit field of
``width_i`` bits at ``offset_i`` (:class:`Layout`).  Two states are equal exactly when
their ints are, so the visited set is a dict of ints, and a parent link is one int too
(the parent state shifted left, the action in the low bits).

Successors come from one generated function per system (:func:`compile_packed`), not one
call per action: it decodes every slot it reads into a local once, evaluates the
sub-expressions the guards share once (every operator is total, so computing one a guard
would have skipped is harmless), then for each enabled action runs its well-formedness
checks and builds the successor by adding each updated field's difference at its offset
(``t = s + ((v - x_i) << offset_i)``): only the fields a step changes cost anything.

Rules this module keeps:

1. The meaning is the tuple interpreter's (:mod:`ackproof.spec.interp`), action by
   action, in the same order: ``decode(succ(encode(s)))`` lists exactly
   ``Compiled.successors(s)``; a test pins the two to agree.
2. A value never leaves its bit field silently: an update whose declared interval is not
   inside its slot's range is range-checked at run time (after the action's own checks,
   which raise :class:`StepError` first in every well-formed system).
3. Predicates (invariants, witnesses) are compiled over packed states the same way, all
   properties of a search in one function returning a bit mask (:class:`Probe`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import StepError
from .expr import Expr
from .packsource import probe_source, step_source
from .system import State, System

#: A packed state's successors: ``(action index, packed state)`` in action order.
SuccFn = Callable[[int], list[tuple[int, int]]]
ExpandFn = Callable[[int, dict[int, int], list[int]], int]
CalmFn = Callable[[int], tuple[list[tuple[int, int]], tuple[int, ...]]]


@dataclass(frozen=True)
class Layout:
    """Where each slot lives in a packed state: ``value - lo`` at ``offsets[i]``."""

    offsets: tuple[int, ...]
    widths: tuple[int, ...]
    los: tuple[int, ...]
    bools: tuple[bool, ...]
    bits: int

    @classmethod
    def of(cls, system: System) -> Layout:
        offsets, widths = [], []
        at = 0
        for s in system.slots:
            w = max(1, (s.hi - s.lo).bit_length())
            offsets.append(at)
            widths.append(w)
            at += w
        return cls(
            tuple(offsets),
            tuple(widths),
            tuple(s.lo for s in system.slots),
            tuple(s.sort == "bool" for s in system.slots),
            at,
        )

    def encode(self, state: Sequence[object]) -> int:
        out = 0
        for v, off, w, lo in zip(state, self.offsets, self.widths, self.los, strict=True):
            x = int(v) - lo  # type: ignore[call-overload]
            if not 0 <= x < (1 << w):
                raise ValueError(f"value {v!r} does not fit its slot (range starts at {lo})")
            out |= x << off
        return out

    def decode(self, packed: int) -> State:
        """The state as a tuple (bools for bool slots), by a generated function."""
        return self.decoder()(packed)

    def decoder(self) -> Callable[[int], State]:
        fn = _DECODERS.get(self)
        if fn is None:
            items = []
            for off, w, lo, b in zip(self.offsets, self.widths, self.los, self.bools, strict=True):
                field = f"(s >> {off} & {(1 << w) - 1})"
                items.append(f"{field} == 1" if b else f"{field} + {lo}" if lo else field)
            ns: dict[str, object] = {}
            exec(f"def decode(s):\n    return ({', '.join(items)},)", ns)
            got = ns["decode"]
            assert callable(got)
            if len(_DECODERS) >= 256:  # a long-lived process checking many systems
                _DECODERS.clear()
            fn = _DECODERS[self] = got
        return fn


#: Layout -> its generated decoder (layouts are frozen and hashable).
_DECODERS: dict[Layout, Callable[[int], State]] = {}


@dataclass
class Probe:
    """Every invariant and witness of a search over packed states, in one function."""

    fn: Callable[[int, int], int]
    #: Bits of every invariant and witness (``2k``, ``2k + 1`` for the k-th property).
    everything: int


@dataclass
class Packed:
    """A system's packed layout and its compiled successor functions."""

    system: System
    layout: Layout
    #: ``expand(s, parent, new) -> successors``: the breadth-first search's inner loop for
    #: one state (new successors linked in ``parent`` and appended to ``new``).
    expand: ExpandFn
    #: Bits of a parent link that hold the action (``link = parent << action_bits | a``).
    action_bits: int
    #: The namespace the functions were compiled in (``_fail``, ``_range``).
    namespace: dict[str, object] = field(default_factory=dict, repr=False)
    _calm: CalmFn | None = field(default=None, repr=False)
    _succ: SuccFn | None = field(default=None, repr=False)

    @property
    def succ(self) -> SuccFn:
        """``succ(s) -> [(action, successor)]``, compiled on first use: the search needs it
        only near a state count where it must stop, and a small system never gets there
        (generating code is most of the time a small system takes)."""
        if self._succ is None:
            src = step_source(self.system, self.layout, self.action_bits, expand=False)
            ns = dict(self.namespace)
            exec(compile(src, f"<ackproof {self.system.protocol} succ>", "exec"), ns)
            fn = ns["succ"]
            assert callable(fn)
            self._succ = fn
        return self._succ

    def calm(self) -> CalmFn:
        """``calm(s) -> (successors by fault-free actions, starved actions)``, compiled on
        first use (the liveness checks' state graph)."""
        if self._calm is None:
            src = step_source(self.system, self.layout, self.action_bits, expand=False, calm=True)
            ns = dict(self.namespace)
            exec(compile(src, f"<ackproof {self.system.protocol} calm>", "exec"), ns)
            fn = ns["calm"]
            assert callable(fn)
            self._calm = fn
        return self._calm

    def probe(self, invs: Sequence[Expr], wits: Sequence[Expr]) -> Probe:
        ns: dict[str, object] = {}
        src = probe_source(self.layout, invs, wits)
        exec(compile(src, f"<ackproof {self.system.protocol} probe>", "exec"), ns)
        fn = ns["probe"]
        assert callable(fn)
        return Probe(fn, (1 << 2 * len(invs)) - 1)


def compile_packed(system: System) -> Packed:
    """The packed layout of ``system`` and its successor function (see the module doc)."""
    layout = Layout.of(system)
    actions = system.actions

    def fail(ai: int, k: int, s: int) -> None:
        a = actions[ai]
        state = layout.decode(s)
        raise StepError(
            f"protocol {system.protocol!r}, action {a.label!r}: {a.checks[k].failure(state)} "
            f"(in state {system.show_state(state)})"
        )

    def out_of_range(ai: int, i: int, v: int, s: int) -> None:
        slot = system.slots[i]
        raise StepError(
            f"protocol {system.protocol!r}, action {actions[ai].label!r}: {slot.name} set to "
            f"{v}, outside {slot.lo}..{slot.hi} (in state {system.show_state(layout.decode(s))})"
        )

    abits = max(1, (len(actions) - 1).bit_length())
    ns: dict[str, object] = {"_fail": fail, "_range": out_of_range}
    src = step_source(system, layout, abits, expand=True)
    exec(compile(src, f"<ackproof {system.protocol} packed>", "exec"), ns)
    expand = ns["expand"]
    assert callable(expand)
    return Packed(system, layout, expand, abits, ns)
