"""The symbolic meaning of a :class:`~ackproof.spec.System`, derived generically.

Theory of operation
-------------------
A state is one z3 term per slot (``Bool`` for bool slots, a signed bit-vector or an
``Int`` for int slots).  For states ``s`` and ``t`` and an action-selector ``a``:

* ``Init(s)   := And(s[i] = init[i] for every slot i)``
* ``Dom(s)    := And(lo[i] <= s[i] <= hi[i] for every int slot i)``
* ``Step_j(s, t) := guard_j(s) & And(t[i] = upd_j,i(s) for i updated by j)
                               & And(t[i] = s[i] for i not updated by j)``
* ``T(s, t, a)`` has two shapes (both measured; see ``benchmarks/engines.py``):

  - ``"selector"``: ``a < n & Or(a = j & guard_j(s)) & And(t[i] = ITE(a = j, upd_j,i(s), …, s[i]))``
    — one if-then-else chain per slot over the actions that write it;
  - ``"disjunctive"``: ``Or(a = j & Step_j(s, t) for every action j)``.

  Both add ``Dom(t)``: a successor outside a slot's range is not a state.  The spec's
  well-formedness ``checks`` flag such steps: the concrete interpreter raises on them, and
  the symbolic engines search for :meth:`~ackproof.spec.system.System.ill_formed` (BMC
  with the bad states, every proof after it: ``proofs/engines.py``'s
  ``check_well_formed``), so an ill-formed step is never silently "no transition".

* ``P(s)`` and ``W(s)`` are a property's invariant and witness, translated node by node.

Rules kept here: bit-vectors are sized once per system, from the sound interval of every
int expression the system contains (``Expr.lo``/``Expr.hi``, which may be negative), so
no bit-vector operation can wrap on states in ``Dom``; the selector is
``max(1, (n-1).bit_length())`` bits wide and constrained ``a <u n`` (one bit too narrow
and every transition is infeasible — the agreement tests exist to catch that).

``T`` is built once per transition relation (a system's slots and actions: a derived
system that changes only the properties shares it), integer flavour, widths and shape,
over template variables (``<slot>@pre``, ``<slot>@post``, ``action@step``), and kept in a small
cache shared by every :class:`Encoding` of that system in this process: a check's
properties, their certificate re-checks and the well-formedness proof all substitute
the same template (building it was about half of a large symbolic check).  The template
depends on nothing else, so a cached one is the term a fresh build would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias, assert_never

from ackproof.spec import Expr, System
from ackproof.spec.expr import walk
from ackproof.spec.ops import Leaf, Op
from ackproof.spec.system import State

from . import z3seam as z
from .z3seam import Term

Shape: TypeAlias = Literal["selector", "disjunctive"]
StateVars: TypeAlias = tuple[Term, ...]


#: The z3 term of an operator node: ``(arithmetic, node, its arguments' terms)``.
Builder: TypeAlias = Callable[[z.Arith, Expr, Sequence[Term]], Term]


def _z3(op: Op) -> Builder:
    match op:
        case Op.NOT:
            return lambda ar, e, a: z.not_(a[0])
        case Op.AND:
            return lambda ar, e, a: z.and_(*a)
        case Op.OR:
            return lambda ar, e, a: z.or_(*a)
        case Op.EQ:
            return lambda ar, e, a: z.eq(a[0], a[1])
        case Op.LT:
            return lambda ar, e, a: ar.lt(a[0], a[1])
        case Op.LE:
            return lambda ar, e, a: ar.le(a[0], a[1])
        case Op.ADD:
            return lambda ar, e, a: ar.add(a[0], a[1])
        case Op.SUB:
            return lambda ar, e, a: ar.sub(a[0], a[1])
        case Op.MUL:  # by a constant (the second argument)
            return lambda ar, e, a: ar.mul(a[0], e.args[1].value)
        case Op.MOD:  # by a positive constant (the second argument)
            return lambda ar, e, a: ar.mod(a[0], e.args[1].value)
        case Op.ITE:
            return lambda ar, e, a: z.ite(a[0], a[1], a[2])
        case Op.MIN:
            return lambda ar, e, a: ar.min(a[0], a[1])
        case Op.MAX:
            return lambda ar, e, a: ar.max(a[0], a[1])
        case _:
            assert_never(op)


#: The z3 meaning of every operator (the spec's concrete one is ``ops.CONCRETE``).
Z3: dict[Op, Builder] = {op: _z3(op) for op in Op}


def _signed_bits(v: int) -> int:
    return (v.bit_length() if v >= 0 else (-v - 1).bit_length()) + 1


def bit_width(system: System, extra: Sequence[Expr] = ()) -> int:
    """Signed width that holds every slot and every intermediate int value."""
    roots: list[Expr] = list(extra)
    for a in system.actions:
        roots.append(a.guard)
        roots.extend(e for _, e in a.updates)
        roots.extend(c.cond for c in a.checks)
    for p in system.properties.values():
        roots.extend((p.invariant, p.witness))
    bounds = [(s.lo, s.hi) for s in system.slots if s.sort == "int"]
    bounds.extend((e.lo, e.hi) for e in walk(roots) if e.sort == "int")
    w = 2
    for lo, hi in bounds:
        w = max(w, _signed_bits(lo), _signed_bits(hi))
    return w


def selector_width(n_actions: int) -> int:
    return max(1, (n_actions - 1).bit_length())


#: ``T`` over its template variables: ``(pre-state, post-state, selector, body)``.
Template: TypeAlias = tuple[StateVars, StateVars, Term, Term]
#: Which template: the ``id`` of the system's slots and of its actions (all ``T`` reads:
#: a derived system that only changes the properties, such as no-loss's backing system,
#: shares it), integer flavour, bit width, selector width, shape.
_Key: TypeAlias = tuple[int, int, str, int, int, str]
#: The shared templates, with the slots and actions they were built from: held here, so
#: their ``id`` cannot be reused while the entry lives, and compared by identity on a hit.
_TEMPLATES: dict[_Key, tuple[object, object, Template]] = {}
#: Templates kept at most (oldest dropped first): a check uses a handful of systems.
TEMPLATES_KEPT = 8


@dataclass
class Encoding:
    """z3 terms for one system: states, ``Init``, ``Dom``, ``T``, properties."""

    system: System
    mode: z.IntMode = "bv"
    shape: Shape = "selector"
    #: More expressions the bit-width must accommodate (e.g. a certificate to re-check).
    extra: tuple[Expr, ...] = ()
    arith: z.Arith = field(init=False)
    sel_width: int = field(init=False)
    _template: Template | None = field(init=False, default=None)
    #: Constants made so far, by sort and value (``IntVal`` is slow to make).
    _values: dict[tuple[str, int], Term] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        width = bit_width(self.system, self.extra) if self.mode == "bv" else 0
        self.arith = z.Arith(self.mode, width)
        self.sel_width = selector_width(len(self.system.actions))

    # -- variables ------------------------------------------------------------------------
    def state(self, tag: str) -> StateVars:
        """Fresh variables for one state, named ``<slot name>@<tag>``."""
        out = []
        for s in self.system.slots:
            name = f"{s.name}@{tag}"
            out.append(z.bool_var(name) if s.sort == "bool" else self.arith.var(name))
        return tuple(out)

    def selector(self, tag: str) -> Term:
        return z.bv_var(f"action@{tag}", self.sel_width)

    def value(self, v: bool | int, sort: str) -> Term:
        key = (sort, int(v))
        got = self._values.get(key)
        if got is None:
            got = z.bool_val(bool(v)) if sort == "bool" else self.arith.val(int(v))
            self._values[key] = got
        return got

    # -- expressions ----------------------------------------------------------------------
    def expr(self, e: Expr, s: Sequence[Term], cache: dict[int, Term] | None = None) -> Term:
        """``e`` over state ``s`` (``cache`` shares nodes between calls on one state)."""
        memo: dict[int, Term] = {} if cache is None else cache
        ar = self.arith
        for node in walk([e]):
            if id(node) in memo:
                continue
            match node.op:
                case Leaf.CONST:
                    t = self.value(node.value, node.sort)
                case Leaf.SLOT:
                    t = s[node.value]
                case Leaf.ARRAY:
                    raise ValueError("cannot encode an array field: it is not a value")
                case Op() as op:
                    t = Z3[op](ar, node, [memo[id(x)] for x in node.args])
                case _:
                    assert_never(node.op)
            memo[id(node)] = t
        return memo[id(e)]

    # -- the system -----------------------------------------------------------------------
    def init(self, s: Sequence[Term]) -> Term:
        return z.and_(*(z.eq(v, value) for v, value in self.initial_values(s)))

    def initial_values(self, s: Sequence[Term]) -> list[tuple[Term, Term]]:
        """``s``'s variables, each with its initial value (``Init`` is one state)."""
        slots = self.system.slots
        return [(v, self.value(sl.init, sl.sort)) for v, sl in zip(s, slots, strict=True)]

    def domain(self, s: Sequence[Term]) -> Term:
        ar = self.arith
        parts = []
        for v, sl in zip(s, self.system.slots, strict=True):
            if sl.sort == "int":
                parts.append(ar.le(self.value(sl.lo, "int"), v))
                parts.append(ar.le(v, self.value(sl.hi, "int")))
        return z.and_(*parts)

    def prop(self, pid: str, s: Sequence[Term]) -> Term:
        return self.expr(self.system.properties[pid].invariant, s)

    def witness(self, pid: str, s: Sequence[Term]) -> Term:
        return self.expr(self.system.properties[pid].witness, s)

    def is_action(self, a: Term, j: int) -> Term:
        return z.eq(a, z.bv_val(j, self.sel_width))

    def action_range(self, a: Term) -> Term:
        n = len(self.system.actions)
        if n == 1 << self.sel_width:
            return z.TRUE
        return z.ult(a, z.bv_val(n, self.sel_width))

    def trans(self, s: Sequence[Term], t: Sequence[Term], a: Term) -> Term:
        """``T(s, t, a)``: the shared template (:meth:`template`), substituted."""
        ts, tt, ta, body = self.template()
        pairs = [*zip(ts, s, strict=True), *zip(tt, t, strict=True), (ta, a)]
        return z.substitute(body, pairs)

    def template(self) -> Template:
        """``T`` over the template variables: built once per system, flavour, widths and
        shape in this process (see the module docstring), then shared."""
        if self._template is not None:
            return self._template
        slots, actions = self.system.slots, self.system.actions
        key = (id(slots), id(actions), self.mode, self.arith.width, self.sel_width, self.shape)
        hit = _TEMPLATES.get(key)
        if hit is not None and hit[0] is slots and hit[1] is actions:
            self._template = hit[2]
            return hit[2]
        ts, tt, ta = self.state("pre"), self.state("post"), self.selector("step")
        self._template = (ts, tt, ta, self._build_trans(ts, tt, ta))
        _TEMPLATES.pop(key, None)
        while len(_TEMPLATES) >= TEMPLATES_KEPT:
            del _TEMPLATES[next(iter(_TEMPLATES))]
        _TEMPLATES[key] = (slots, actions, self._template)
        return self._template

    def _build_trans(self, s: StateVars, t: StateVars, a: Term) -> Term:
        # Each action-selector test and each frame equation ``t[i] = s[i]`` is made once
        # and reused (z3 would hash-cons the repeats into the same terms anyway).
        cache: dict[int, Term] = {}
        actions = self.system.actions
        guards = [self.expr(act.guard, s, cache) for act in actions]
        picks = [self.is_action(a, j) for j in range(len(actions))]
        if self.shape == "disjunctive":
            frame = [z.eq(t[i], s[i]) for i in range(len(s))]
            steps = []
            for j, act in enumerate(actions):
                upd = dict(act.updates)
                eqs = [
                    z.eq(t[i], self.expr(upd[i], s, cache)) if i in upd else frame[i]
                    for i in range(len(s))
                ]
                steps.append(z.and_(picks[j], guards[j], *eqs))
            return z.and_(self.action_range(a), z.or_(*steps), self.domain(t))
        enabled = z.or_(*(z.and_(picks[j], g) for j, g in enumerate(guards)))
        # per slot, its writers from the last action to the first: the innermost
        # if-then-else is the last action's
        writers: list[list[tuple[int, Expr]]] = [[] for _ in s]
        for j in reversed(range(len(actions))):
            for slot_index, e in actions[j].updates:
                writers[slot_index].append((j, e))
        nexts = []
        for i in range(len(s)):
            value = s[i]
            for j, e in writers[i]:
                value = z.ite(picks[j], self.expr(e, s, cache), value)
            nexts.append(z.eq(t[i], value))
        return z.and_(self.action_range(a), enabled, *nexts, self.domain(t))

    # -- reading models -------------------------------------------------------------------
    def decode(self, model: z.Model, s: Sequence[Term]) -> State:
        out: list[bool | int] = []
        for v, sl in zip(s, self.system.slots, strict=True):
            x = model.value(v)
            out.append(bool(x) if sl.sort == "bool" else int(x))
        return tuple(out)
