"""Unbounded proofs with z3's Spacer (IC3/PDR over constrained Horn clauses).

Theory of operation
-------------------
For a property ``P = P_1 & … & P_m`` (the spec states its guarantees per message, so
``P`` is usually such a conjunction), each conjunct ``P_i`` in turn is posed as Horn
clauses over one unknown relation ``Inv``::

    Init(s)                               -> Inv(s)
    Inv(s) & L(s) & T(s, t, a) & L(t)     -> Inv(t)
    Inv(s) & Not(P_i(s))                  -> False

where ``L`` is the conjunction of the invariants already found for ``P_1 … P_{i-1}``
(true in every reachable state, so assuming it is sound and it helps Spacer).  A model
of the clauses is an ``Inv_i`` with ``Init -> Inv_i``, ``Inv_i & L & T -> Inv_i'`` and
``Inv_i -> P_i``; so ``L & Inv_i`` is inductive, and by induction on ``i`` the
conjunction of all of them is an inductive invariant implying ``P``.  If the clauses are
unsatisfiable, a state violating ``P_i`` is reachable.

Splitting was measured: exactly-once no-loss at N = 6 went from over 30 s (no answer)
to about 60 s, and at N = 3..5 from 3-8 s to 1.7-4.7 s.  Spacer runs on ``Int`` with
the disjunctive transition (fastest of the four shapes measured; see the benchmark).

Reuse across messages.  The built-in protocols are symmetric in message ids (but for
in-order submission), and Spacer's lemma for a later message grows with the clutter
of the lemmas before it (no-loss at N = 5 took 20-55 s, at N = 6 60 s or more, almost
all of it in the last conjuncts).  So for a conjunct about exactly one message ``m``
(its slots' names mention one id, ``[m]`` or ``msg=m``), the lemmas already proved
for messages ``m - 1`` and the first one are renamed (the slot permutation exchanging
the two ids) and their clauses filtered Houdini-style with plain queries: drop what
``Init`` violates, then what a step breaks from ``known & Dom & C`` into ``known``.
The survivors ``C`` meet the obligations of a Spacer model (``Init -> C``,
``known & C & T & known' -> C'``, on ``Dom`` states, which every reachable state is)
and are used if ``C & Dom -> P_m``; otherwise Spacer runs for that conjunct as before.
Measured: no-loss at N = 4..6 in 0.2-0.5 s, certificate re-checked.  The first reuse
also renames message 0's lemma to every later message and filters the union in the
same run (one Houdini run instead of one per message: at exactly-once N = 6 the reuse
took half the time); the later conjuncts are then found implied by the lemmas so far.

The first message's lemma itself usually comes from the protocol with one message
(:mod:`.seed`: Spacer's query grows with N), through the same filter.

Cheap invariants when Spacer stalls.  On FIFO models a conjunct's inductive invariant
needs facts about which frames (frame numbers in position slots) can be in flight with
which node state, and Spacer's arithmetic generalisation rarely finds them: alternating
bit's message 1 did not finish in 126 s, with bit-vectors, bit-blasted Booleans, one-hot
slots, a per-conjunct cone of influence or Spacer's options alike.  So each conjunct gets
``FIRST_TRY_SECONDS`` first; if Spacer stalls, the invariants of :mod:`.strengthen`
(short clauses guessed from a breadth-first sample, kept only if Houdini finds them
inductive) join the lemmas, and the conjunct is tried again — usually it is then implied
outright (alternating bit at N = 2: 190 clauses, every property implied, about a second).
Being inductive and true initially, they meet the same obligations as Spacer's lemmas.
On a liveness-to-safety system they help less (its slots double, Houdini runs out of
time at N = 3): :mod:`.l2s` decides FIFO models' obligations by a local reason first.

The invariant is never trusted: :mod:`ackproof.proofs.certificate` re-checks it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from ackproof.spec import Expr, System
from ackproof.spec.expr import TRUE, and_, walk
from ackproof.spec.ops import Leaf, Op

from . import z3seam as z
from .budget import Clock
from .certificate import Certificate, Untranslatable, recheck, recheck_term, render, to_expr
from .encode import Encoding, StateVars
from .result import EngineError
from .seed import seed_lemma
from .strengthen import STRENGTHEN_SECONDS, inductive_subset, infer
from .z3seam import Term

#: Spacer's first try at a conjunct, before the cheap invariants (:mod:`.strengthen`) join
#: the lemmas: most conjuncts take well under a second, alternating bit's message 1 never
#: finished (126 s and more) without them and takes a fraction of a second with them.
FIRST_TRY_SECONDS = 5.0


@dataclass(frozen=True)
class PdrOutcome:
    status: Literal["proved", "violated", "unknown"]
    certificate: Certificate | None
    detail: str
    #: When Spacer stops without a proof: the lemmas it had (the invariants of the
    #: conjuncts proved so far and the cheap invariants, as spec expressions; those the
    #: spec cannot spell are left out).  With a proof whose invariant the spec cannot
    #: spell as a whole: its clauses that it can.  Each was found inductive relative to the ones
    #: before it, but a caller assumes them only through a check of its own (k-induction:
    #: :func:`~.strengthen.houdini`).
    lemmas: tuple[Expr, ...] = ()
    #: How many of ``then``'s goals (:func:`spacer`'s later goals), from the first, the
    #: certificate covers as well.
    then_proved: int = 0


def _conjuncts(e: Expr) -> tuple[Expr, ...]:
    return e.args if e.op is Op.AND else (e,)


def spacer(
    system: System,
    prop: str,
    *,
    timeout: float | None = None,
    clock: Clock | None = None,
    split: bool = True,
    target: Expr | None = None,
    strengthen: bool = True,
    then: Sequence[Expr] = (),
) -> PdrOutcome:
    """Prove ``prop``'s invariant (or ``target``, an invariant of your own) for all depths;
    ``strengthen``: when Spacer stalls on a conjunct, add the cheap invariants of
    :mod:`.strengthen` to the lemmas and try it again.  The budget is ``clock`` (a
    check's), or ``timeout`` seconds from now.

    ``then``: later goals, tried in order once the first is proved, on top of its lemmas
    (no-loss's local reason, :func:`~ackproof.spec.lasso.backing_reason`, which restates
    the invariant and adds to it, so proving the two apart proves the invariant twice;
    then the bounded model's deadlock freedom, :func:`~ackproof.spec.lasso.
    deadlock_invariant`).  Each of their conjuncts gets one try of
    :data:`FIRST_TRY_SECONDS` and no cheap invariants; at the first one not proved the
    run stops, the outcome covers the goals proved before it, and :attr:`PdrOutcome.
    then_proved` says how many."""
    clock = clock if clock is not None else Clock(timeout)
    goal = target if target is not None else system.properties[prop].invariant
    enc = Encoding(system, mode="int", shape="disjunctive")
    xs, ys, a = enc.state("x"), enc.state("y"), enc.selector("a")
    trans = enc.trans(xs, ys, a)
    lemmas: list[Term] = []
    hinted = not strengthen  # the cheap invariants join once, when Spacer first stalls
    parts = _conjuncts(goal) if split else (goal,)
    firsts = len(parts)  # parts[firsts:] are then's
    ends: list[int] = []  # where each of then's goals ends in parts
    for later in then:
        parts = (*parts, *_conjuncts(later))
        ends.append(len(parts))
    starts = [firsts, *ends][: len(ends)]  # and where each starts
    cuts: list[int] = []  # len(lemmas) when each of then's goals was reached
    ids = _message_ids(system)
    solved: dict[int, Term] = {}  # message id -> the lemma proved for its conjunct
    seeded = False  # the first message's lemma was asked of a smaller instance (seed.py)
    follows = _Follows(enc, xs)
    k = 0
    while k < len(parts):
        part = parts[k]
        while len(cuts) < len(starts) and k >= starts[len(cuts)]:
            cuts.append(len(lemmas))
        if k >= firsts and clock.expired():
            break
        if clock.expired():
            why = f"{clock.spent()} ({k}/{len(parts)} conjuncts proved)"
            return PdrOutcome("unknown", None, why, _spelled(system, lemmas, xs))
        left = clock.left()
        if follows.implied(lemmas, enc.expr(part, xs), left):
            k += 1
            continue  # the lemmas so far already imply it (Spacer can stall on a tautology)
        known = z.and_(*lemmas)
        mid = _only_id(part, ids)
        sources = solved  # lemmas to rename to ``mid``: those of other messages, or a seed
        if mid is not None and not solved and not seeded:
            seeded = True  # once: where it fails, Spacer on this system decides as before
            seed = seed_lemma(system, enc, xs, part, clock)
            sources = {} if seed is None else {mid: seed}
        if mid is not None and sources:
            ahead = _ahead(parts, k, firsts, ids, {mid, *solved})
            reused = _reuse(enc, ids, sources, mid, ahead, known, trans, xs, ys, part, left)
            if reused is not None:
                lemmas.append(reused)
                solved[mid] = reused
                k += 1
                continue
        first = FIRST_TRY_SECONDS if left is None else min(left, FIRST_TRY_SECONDS)
        h = z.Horn(xs, timeout=left if hinted and k < firsts else first)
        known_next = z.substitute(known, list(zip(xs, ys, strict=True)))
        h.rule(xs, enc.init(xs), h.inv(xs))
        h.rule([*xs, *ys, a], z.and_(h.inv(xs), known, trans, known_next), h.inv(ys))
        h.rule(xs, z.and_(h.inv(xs), z.not_(enc.expr(part, xs))), z.FALSE)
        out = h.check()
        if k >= firsts and out != "sat":
            break  # then's conjunct is refuted or stalled: the first goal's outcome stands
        if out == "unsat":
            return PdrOutcome("violated", None, f"Spacer: {system.render(part)} can be broken")
        if out == "unknown" and not hinted and (left is None or first < left):
            hinted = True  # stopped by the first try's cap, not by the time limit
            rest = clock.left()
            cap = STRENGTHEN_SECONDS if rest is None else min(STRENGTHEN_SECONDS, rest / 2)
            found = infer(system, timeout=cap, goal=goal)
            if found.refuted:  # a concrete reachable state: the caller finds a path by BMC
                return PdrOutcome("violated", None, "a state the sample reached violates it")
            lemmas.extend(enc.expr(c, xs) for c in found.clauses)
            continue  # this conjunct again, from the cheap invariants
        if out == "unknown":
            why = clock.spent() if clock.expired() else f"Spacer: {h.reason_unknown()}"
            why = f"{why} ({k}/{len(parts)} conjuncts proved)"
            return PdrOutcome("unknown", None, why, _spelled(system, lemmas, xs))
        lemma = z.quantifier_free(z.simplify(h.invariant(xs)))
        if lemma is None and k >= firsts:
            break
        if lemma is None:  # later queries cannot assume it, and no certificate prints it
            why = f"Spacer: a quantified invariant ({k + 1}/{len(parts)} conjuncts)"
            return PdrOutcome("unknown", None, why, _spelled(system, lemmas, xs))
        lemmas.append(lemma)
        if mid is not None:
            solved[mid] = lemmas[-1]
        k += 1
    done = sum(1 for end in ends if end <= k)  # then's goals proved (the run stops at one)
    if done:
        upto = cuts[done] if done < len(cuts) else len(lemmas)
        try:
            more = and_(goal, *then[:done])
            ok = lemmas[:upto]
            cert = certify(system, enc, ok, xs, more, prop, clock.left_for_recheck())
            return _proved(system, cert, ok, xs, then_proved=done)
        except Unchecked:
            pass  # the first goal's lemmas alone, re-checked against it alone
    if cuts:
        lemmas = lemmas[: cuts[0]]
    try:
        cert = certify(system, enc, lemmas, xs, goal, prop, clock.left_for_recheck())
        return _proved(system, cert, lemmas, xs)
    except Unchecked as e:
        return PdrOutcome("unknown", None, f"Spacer: {e}", _spelled(system, lemmas, xs))


class _Follows:
    """Whether the lemmas so far imply a conjunct: ``lemmas & Dom`` asserted in one solver
    for as long as the lemmas stay the same, each conjunct's negation tried in a scope of
    its own.  A fresh solver per conjunct asserted every lemma again: at exactly-once
    no-loss N = 6, 12 of the 13 conjuncts are implied once message 0's lemma is renamed
    to the others, and those queries took 0.025 s of a 0.18 s proof."""

    def __init__(self, enc: Encoding, xs: StateVars) -> None:
        self.enc, self.xs = enc, xs
        self.solver: z.Solver | None = None
        self.count = 0  # the lemmas asserted (while conjuncts are tried they only grow)

    def implied(self, lemmas: list[Term], part: Term, timeout: float | None) -> bool:
        if self.solver is None or self.count != len(lemmas):
            self.solver = z.Solver(None, mode=self.enc.mode)
            self.solver.add(*lemmas, self.enc.domain(self.xs))
            self.count = len(lemmas)
        self.solver.set_timeout(timeout)
        with self.solver.scope() as s:
            s.add(z.not_(part))
            return s.check() == "unsat"


def _proved(
    system: System, cert: Certificate, lemmas: list[Term], xs: StateVars, then_proved: int = 0
) -> PdrOutcome:
    """A proof; where the spec cannot spell the invariant as a whole (the certificate's
    invariant is then ``true`` and its text z3's), the clauses it can spell come with it as
    :attr:`PdrOutcome.lemmas` (k-induction assumes Spacer's lemmas, :mod:`.kengine`)."""
    spelled = _spelled(system, lemmas, xs) if cert.invariant is TRUE and lemmas else ()
    return PdrOutcome("proved", cert, "", spelled, then_proved)


def _spelled(system: System, lemmas: list[Term], xs: StateVars) -> tuple[Expr, ...]:
    """The lemmas the spec can spell, clause by clause (for :attr:`PdrOutcome.lemmas`)."""
    out: list[Expr] = []
    for lemma in lemmas:
        for c in _clauses(lemma):
            try:
                out.append(to_expr(system, c, xs))
            except Untranslatable:
                continue
    return tuple(out)


def certify(
    system: System,
    enc: Encoding,
    lemmas: list[Term],
    xs: tuple[Term, ...],
    goal: Expr,
    prop: str,
    timeout: float | None,
) -> Certificate:
    """Translate and re-check the invariant; :class:`EngineError` if it does not hold."""
    try:
        inv = to_expr(system, z.and_(*lemmas), xs)
    except Untranslatable:
        check = recheck_term(enc, lemmas, xs, goal, timeout=timeout)
        text = "\n".join(z.show(t) for t in lemmas)
        for v, s in zip(xs, system.slots, strict=True):
            text = text.replace(z.show(v), s.name)
        _refuse(prop, check.outcomes)
        return Certificate(prop, TRUE, text)
    check = recheck(system, inv, goal, timeout=timeout)
    _refuse(prop, check.outcomes)
    return Certificate(prop, inv, render(system, inv))


class Unchecked(Exception):
    """z3 could not decide one of the certificate's re-check queries (``unknown``)."""


def _refuse(prop: str, outcomes: dict[str, str]) -> None:
    """A certificate that fails a re-check query is an engine bug; one that z3 cannot
    re-check is no certificate (the proof is then unknown, never trusted)."""
    if any(v == "sat" for v in outcomes.values()):
        raise EngineError(f"certificate for {prop} does not re-check: {outcomes}")
    if any(v != "unsat" for v in outcomes.values()):
        raise Unchecked(f"the certificate for {prop} could not be re-checked: {outcomes}")


# -- reusing one message's lemma for another ----------------------------------------------
def _message_ids(system: System) -> list[frozenset[int]]:
    """Per slot, the message ids it is about (``submitted[2]``, ``DATA(msg=2)``: 2)."""
    return [frozenset(s.msgs) for s in system.slots]


def _only_id(part: Expr, ids: list[frozenset[int]]) -> int | None:
    """The one message id every slot of ``part`` is about, if there is exactly one."""
    seen: set[int] = set()
    for node in walk([part]):
        if node.op is Leaf.SLOT:
            seen |= ids[node.value]
    return next(iter(seen)) if len(seen) == 1 else None


def _ahead(
    parts: Sequence[Expr], k: int, firsts: int, ids: list[frozenset[int]], skip: set[int]
) -> list[int]:
    """The messages of the single-message conjuncts after ``parts[k]``, up to the end of
    its goal (``firsts``: the first goal's conjuncts and ``then``'s are not mixed)."""
    end = firsts if k < firsts else len(parts)
    later = {_only_id(p, ids) for p in parts[k + 1 : end]}
    return sorted({i for i in later if i is not None} - skip)


def _clauses(t: Term) -> list[Term]:
    kind, kids, _ = z.decompose(t)
    return [c for k in kids for c in _clauses(k)] if kind == "and" else [t]


def _reuse(
    enc: Encoding,
    ids: list[frozenset[int]],
    solved: dict[int, Term],
    mid: int,
    ahead: Sequence[int],
    known: Term,
    trans: Term,
    xs: StateVars,
    ys: StateVars,
    part: Expr,
    timeout: float | None,
) -> Term | None:
    """A lemma for message ``mid``'s conjunct ``part`` from lemmas already proved for other
    messages, renamed; ``None`` if none survives the checks.  The messages ``ahead`` (the
    later conjuncts') get their candidates in the same filter: one Houdini run instead of
    one per message (what survives for them is inductive with the rest, and their
    conjuncts are then found implied; where not, they come here again on their own).

    The candidates' clauses are filtered Houdini-style with plain queries: drop those
    ``Init`` violates, then repeatedly those some step breaks from a state satisfying
    ``known``, ``Dom`` and all remaining clauses (into a state satisfying ``known``).
    What is left, ``C``, has ``Init -> C`` and ``known & C & Dom & T & known' -> C'`` —
    the same obligations Spacer's model meets — and is used only if ``C & Dom -> part``.
    """
    system = enc.system
    cands: dict[int, Term] = {}
    for target in (mid, *ahead):
        sources = sorted({target - 1, min(solved)} & set(solved), reverse=True)
        for src in sources:
            perm = system.id_swap(src, target)
            if perm is None:
                continue
            pairs = [(xs[k], xs[perm[k]]) for k in range(len(xs)) if perm[k] != k]
            for c in _clauses(z.substitute(solved[src], pairs)):
                cands.setdefault(z.term_id(c), c)
    start, init = enc.initial_values(xs), enc.init(xs)

    def initially(c: Term) -> bool:
        """``Init -> c``: ``c`` on the initial state, by z3's simplifier (a query if it
        leaves something: the candidates of a batch are many, a query each took half of
        the filter's time)."""
        value = z.simplify(z.substitute(c, start))
        if z.is_true(value) or z.is_false(value):
            return z.is_true(value)
        return z.valid(z.implies(init, c), timeout=timeout) == "unsat"

    live = [c for c in cands.values() if initially(c)]
    nxt = list(zip(xs, ys, strict=True))
    solver = z.Solver(None, mode=enc.mode)
    solver.add(known, enc.domain(xs), trans, z.substitute(known, nxt))
    after = [z.substitute(c, nxt) for c in live]
    kept = inductive_subset(solver, live, after, Clock(timeout))
    if not kept:
        return None
    inv = z.and_(*(live[i] for i in kept))
    safe = z.implies(z.and_(inv, enc.domain(xs)), enc.expr(part, xs))
    return inv if z.valid(safe, timeout=timeout) == "unsat" else None
