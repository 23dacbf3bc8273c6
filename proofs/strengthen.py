"""Cheap invariants: guessed from a sample of reachable states, kept only if inductive.

Theory of operation
-------------------
PDR and k-induction both stall on the same thing: the property is true but not inductive,
and the facts that make it inductive are about combinations of slot values that never
occur together (on alternating bit: "a DATA frame with bit 1 about message 0 is never in
flight", "while message 1 is pending and unprocessed, the receiver expects bit 1").  Such
facts are short clauses over ``slot == value`` atoms, and a breadth-first sample of the
reachable states suggests them:

1. **Sample**: the first ``max_states`` states of the explicit search
   (:func:`ackproof.spec.explore`), in breadth-first order.
2. **Guess**: every *cube* of one, two or three ``slot == value`` atoms (each value seen
   in the sample, each sub-cube seen) that no sampled state matches becomes a candidate
   clause "not this cube" — true on the sample, possibly false beyond it.
3. **Check** (Houdini): drop the candidates ``Init`` violates, then, while some step from a
   ``Dom`` state satisfying every remaining candidate breaks one of them, drop those the
   step breaks (plain incremental queries, bit-vectors).  What is left, ``L``, has
   ``Init -> L`` and ``L & Dom & T -> L'``: an inductive invariant, whatever the sample
   was.  A candidate that is false in some reachable state can never survive (every
   reachable state satisfies an inductive set that ``Init`` satisfies).

``L`` is the largest inductive subset of the candidates, so it is sound to assume in any
reachable state: Spacer gets it as background (often it implies the property outright and
is then the certificate), k-induction assumes it on every state of the step case.  Nothing
is trusted: the engines' certificates re-check ``L`` with the rest.

:func:`houdini` is the check alone, for invariants from elsewhere (Spacer's lemmas, or a
caller's guess): what it returns is inductive, what it drops was not.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ackproof.spec import Expr, System, explore
from ackproof.spec import expr as E
from ackproof.spec.ops import Op
from ackproof.spec.system import State

from . import z3seam as z
from .budget import Clock
from .encode import Encoding
from .z3seam import Term

#: Sampled states, candidates and literals per cube: small enough that guessing and
#: checking cost a few seconds on the shipped models, big enough to find the facts the
#: FIFO protocols need (alternating bit at N = 2: 67 states, 190 candidates, all kept).
MAX_STATES = 4000
MAX_CANDIDATES = 6000
#: Triples are guessed only while ``states * C(slots, 3)`` stays under this (the cost of
#: the Python loop that collects the sampled triples).
TRIPLE_WORK = 12_000_000

#: At most this long guessing and checking, by default (the engines take less when their
#: time limit is short).
STRENGTHEN_SECONDS = 10.0

#: Pairs range over every value of a slot with at most this many (else: the values seen).
WIDE = 8

Cube = tuple[tuple[int, bool | int], ...]


@dataclass(frozen=True)
class Strengthening:
    """An inductive invariant, one clause per entry (empty: nothing survived or no time)."""

    clauses: tuple[Expr, ...]
    sampled: int
    candidates: int
    seconds: float
    #: A sampled state violates the goal given to :func:`infer`: no invariant implies it,
    #: and none was looked for.
    refuted: bool = False

    @property
    def invariant(self) -> Expr:
        return E.all_(self.clauses)


def _leaf(system: System, i: int) -> Expr:
    s = system.slots[i]
    return E.slot(i, s.sort, s.lo, s.hi, enum=None, ghost=False)


def _not_cube(system: System, cube: Cube) -> Expr:
    """The clause "not all of ``cube``'s atoms"."""
    lits: list[Expr] = []
    for i, v in cube:
        x = _leaf(system, i)
        if system.slots[i].sort == "bool":
            lits.append(E.not_(x) if v else x)
        else:
            lits.append(E.not_(E.eq(x, E.const(int(v)))))
    return E.any_(lits)


def _domain(system: System, i: int) -> list[bool | int]:
    s = system.slots[i]
    return [False, True] if s.sort == "bool" else list(range(s.lo, s.hi + 1))


def guess(system: System, states: Sequence[State], *, limit: int = MAX_CANDIDATES) -> list[Cube]:
    """Cubes of up to three atoms that no state of ``states`` matches, smallest first."""
    n = len(system.slots)
    values = [sorted({s[i] for s in states}, key=int) for i in range(n)]
    out: list[Cube] = [
        ((i, v),) for i in range(n) for v in _domain(system, i) if v not in values[i]
    ]
    # pairs range over whole small domains: a value the sample never reached may still be
    # reachable (its unary clause then fails), and what it goes with matters
    wide = [_domain(system, i) if len(_domain(system, i)) <= WIDE else values[i] for i in range(n)]
    pairs: dict[tuple[int, int], set[tuple[bool | int, bool | int]]] = {}
    for i, j in itertools.combinations(range(n), 2):
        seen = {(s[i], s[j]) for s in states}
        pairs[i, j] = seen
        if len(values[i]) == 1 == len(values[j]):
            continue  # both constant on the sample: the unary clauses say it all
        out.extend(((i, a), (j, b)) for a in wide[i] for b in wide[j] if (a, b) not in seen)
        if len(out) > limit:
            return out[:limit]
    live = [i for i in range(n) if len(values[i]) > 1]
    width = len(live) * (len(live) - 1) * (len(live) - 2) // 6
    if len(states) * width > TRIPLE_WORK:
        return out
    for i, j, k in itertools.combinations(live, 3):
        seen3 = {(s[i], s[j], s[k]) for s in states}
        for a, b in pairs[i, j]:
            for c in values[k]:
                if (a, c) in pairs[i, k] and (b, c) in pairs[j, k] and (a, b, c) not in seen3:
                    out.append(((i, a), (j, b), (k, c)))
        if len(out) > limit:
            return out[:limit]
    return out


def houdini(
    system: System, clauses: Sequence[Expr], *, timeout: float | None = None
) -> tuple[Expr, ...] | None:
    """The largest subset of ``clauses`` that is an inductive invariant (``Init`` implies
    it, a ``Dom`` step keeps it); ``None`` if z3 could not decide a query in time."""
    enc = Encoding(system, mode="bv", shape="selector", extra=tuple(clauses))
    xs, ys, a = enc.state("hx"), enc.state("hy"), enc.selector("ha")
    init = system.initial()
    live = [c for c in clauses if E.evaluate(c, init)]
    solver = z.Solver("QF_BV", mode="bv")
    solver.add(enc.domain(xs), enc.trans(xs, ys, a))
    pre = [enc.expr(c, xs) for c in live]
    post = [enc.expr(c, ys) for c in live]
    kept = inductive_subset(solver, pre, post, Clock(timeout))
    return None if kept is None else tuple(live[i] for i in kept)


def inductive_subset(
    solver: z.Solver, pre: Sequence[Term], post: Sequence[Term], clock: Clock
) -> list[int] | None:
    """Houdini's fixpoint: ``solver`` holds the step (``Dom & T`` and whatever the caller
    assumes around it); ``pre[i]``/``post[i]`` are clause ``i`` before and after it.  The
    indices of the largest subset that, all assumed before the step, all hold after it;
    ``None`` if z3 could not decide a query within ``clock``."""
    live = list(range(len(pre)))
    while live:
        if clock.expired():
            return None
        solver.set_timeout(clock.left())
        with solver.scope():
            solver.add(*(pre[i] for i in live))
            solver.add(z.or_(*(z.not_(post[i]) for i in live)))
            out = solver.check()
            if out == "unsat":
                break
            if out == "unknown":
                return None
            m = solver.model()
            live = [i for i in live if m.value(post[i])]
    return live


def infer(
    system: System,
    *,
    timeout: float | None = None,
    max_states: int = MAX_STATES,
    max_candidates: int = MAX_CANDIDATES,
    goal: Expr | None = None,
) -> Strengthening:
    """Sample, guess and check (see the module's docstring); an empty strengthening if
    the check runs out of time, or if a sampled state violates ``goal`` (``refuted``:
    the engine's own search will find that violation, and no invariant can help)."""
    clock = Clock(timeout)
    ex = explore(system, [], max_states=max_states, keep=True, packed=False)
    assert ex.visited is not None
    states = list(ex.visited)
    if goal is not None and not all(E.evaluate(goal, s) for s in states):
        return Strengthening((), len(states), 0, clock.elapsed, refuted=True)
    cubes = guess(system, states, limit=max_candidates)
    # the properties' own conjuncts join the candidates: often they are inductive with the
    # guesses' help (no conjunct of a violated property can be kept: see houdini)
    stated = [
        c
        for p in system.properties.values()
        for c in (p.invariant.args if p.invariant.op is Op.AND else (p.invariant,))
        if not c.is_const
    ]
    kept = houdini(system, [*stated, *(_not_cube(system, c) for c in cubes)], timeout=clock.left())
    return Strengthening(kept or (), len(states), len(cubes), clock.elapsed)
