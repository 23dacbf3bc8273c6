"""Liveness to safety: a system whose unsafe states are the ends of lassos.

Theory of operation
-------------------
The response obligations of a property (:class:`~ackproof.spec.system.Eventually`: when
``trigger`` holds, every fair run without faults reaches ``goal``) are liveness.  The
symbolic engines check invariants, so :func:`lasso_system` builds a second system
(Biere–Artho–Schuppan's liveness-to-safety construction) whose invariant fails exactly at
the end of a violating lasso of the first:

* ``live.phase`` — 0: the run may still meet faults; 1: *armed* (an ``arm(i)`` step chose
  obligation ``i`` in a state where its trigger holds and its goal does not; from here on
  no fault and the goal must stay false); 2: *saved* (a ``save`` step copied the state
  into ``saved.*`` — the loop starts here).
* ``live.watch`` — which obligation was armed.
* ``fair.taken[a]`` / ``fair.seen[a]`` — per fault-free action ``a``: taken since the save,
  and enabled in some state since the save.
* Bad: armed, goal false, and either *stuck* (no fault-free action enabled) or *back at
  the saved state* after at least one step, with every action enabled on the loop also
  taken on it (strong fairness).

With ``room=True`` an action that waits only for room on a full channel counts as enabled
(channels as big as needed): a run stuck on the model's bound is then no violation.

The original slots keep their indices (new slots come after them), and the original
actions keep theirs (the two meta actions come last), so a path of the new system maps
back to a path of the old one by dropping the meta steps and the new slots
(:meth:`LassoSystem.original_path`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .explore import Path
from .expr import (
    FALSE,
    TRUE,
    Expr,
    all_,
    and_,
    any_,
    const,
    eq,
    evaluate,
    implies,
    ite,
    lt,
    not_,
    or_,
    slot,
)
from .ops import Leaf
from .system import Action, Eventually, Property, Slot, State, System


@dataclass(frozen=True)
class LassoSystem:
    system: System
    original: System
    prop: str
    arms: tuple[int, ...]
    save: int
    stuck: Expr
    #: The slot saying which obligation a lasso watches.
    watch: int

    def obligation(self, path: Path) -> Eventually:
        """The obligation the lasso ``path`` (of :attr:`system`) violates."""
        last = path.steps[-1][1] if path.steps else path.initial
        return self.original.properties[self.prop].eventually[int(last[self.watch])]

    def original_path(self, path: Path) -> Path:
        """The lasso ``path`` (of :attr:`system`, ending in a bad state) as a path of the
        original system, with ``calm`` and ``loop``/``stuck`` set."""
        width = len(self.original.slots)

        def cut(s: State) -> State:
            return s[:width]

        steps: list[tuple[int, State]] = []
        calm = loop = None
        for a, s in path.steps:
            if a in self.arms:
                calm = len(steps)
            elif a == self.save:
                loop = len(steps)
            else:
                steps.append((a, cut(s)))
        last = path.steps[-1][1] if path.steps else path.initial
        stuck = bool(evaluate(self.stuck, last))
        return Path(
            cut(path.initial),
            tuple(steps),
            calm=calm,
            loop=None if stuck else loop,
            stuck=stuck,
        )


def deadlock_invariant(system: System, prop: str) -> Expr:
    """No state where one of ``prop``'s obligations is pending (trigger, no goal) and no
    fault-free step is enabled, not even one waiting for room on a full channel: no
    deadlock of the bounded model."""
    p = system.properties[prop]
    pending = any_(and_(ob.trigger, not_(ob.goal)) for ob in p.eventually)
    stuck = all_(not_(a.guard) for a in system.calm_actions())
    return not_(and_(pending, stuck))


def deadlock_system(system: System, prop: str) -> System:
    """``system`` with ``prop``'s invariant replaced by :func:`deadlock_invariant`."""
    return _with_invariant(system, prop, deadlock_invariant(system, prop))


def _with_invariant(system: System, prop: str, inv: Expr) -> System:
    """``system`` with ``prop`` alone, its invariant ``inv`` (its statement and witness
    kept, no obligations): the same slots and actions, so :meth:`~ackproof.spec.interp.
    Compiled.derived` shares their compiled steps."""
    p = system.properties[prop]
    return replace(
        system, properties={prop: Property(prop, p.statement, inv, p.witness, p.witness_statement)}
    )


def lasso_system(system: System, prop: str, *, room: bool = True) -> LassoSystem:
    """The liveness-to-safety system for ``prop``'s response obligations."""
    p = system.properties[prop]
    obligations = p.eventually
    assert obligations, f"{prop} has no response obligations"
    calm = system.calm_actions()
    slots: list[Slot] = list(system.slots)

    def add(
        name: str, sort: str, lo: int, hi: int, init: bool | int, like: Slot | None = None
    ) -> Expr:
        i = len(slots)
        new = Slot(
            index=i,
            name=name,
            sort="bool" if sort == "bool" else "int",
            lo=lo,
            hi=hi,
            init=init,
            owner="live",
        )
        if like is not None:  # a saved copy: same enum, same ghostliness
            new = replace(new, enum=like.enum, members=like.members, ghost=like.ghost)
        slots.append(new)
        return slot(i, new.sort, lo, hi, enum=new.enum, ghost=new.ghost)

    originals = [
        slot(s.index, s.sort, s.lo, s.hi, enum=s.enum, ghost=s.ghost) for s in system.slots
    ]
    phase = add("live.phase", "int", 0, 2, 0)
    watch = add("live.watch", "int", 0, len(obligations) - 1, 0)
    saved = [add(f"saved.{s.name}", s.sort, s.lo, s.hi, s.init, s) for s in system.slots]
    taken = {a.index: add(f"fair.taken[{a.label}]", "bool", 0, 1, False) for a in calm}
    seen = {a.index: add(f"fair.seen[{a.label}]", "bool", 0, 1, False) for a in calm}
    enabled = {
        a.index: or_(a.guard, a.starved) if room and a.starved is not None else a.guard
        for a in calm
    }

    goal: Expr = obligations[-1].goal
    for i in range(len(obligations) - 2, -1, -1):
        goal = ite(eq(watch, i), obligations[i].goal, goal)
    armed = lt(0, phase)
    looping = eq(phase, 2)
    quiet = {a.index for a in calm}

    actions: list[Action] = []
    for a in system.actions:
        guard = and_(
            a.guard, TRUE if a.index in quiet else eq(phase, 0), implies(armed, not_(goal))
        )
        updates = list(a.updates)
        if a.index in quiet:
            updates.append((_index(taken[a.index]), or_(taken[a.index], looping)))
            updates += [(_index(seen[b]), or_(seen[b], and_(looping, enabled[b]))) for b in seen]
        actions.append(replace(a, guard=guard, updates=tuple(updates)))
    arms = []
    for i, ob in enumerate(obligations):
        arms.append(len(actions))
        actions.append(
            Action(
                index=len(actions),
                kind="meta",
                label=f"faults stop; watch message {ob.msg}",
                guard=and_(eq(phase, 0), ob.trigger, not_(ob.goal)),
                updates=((_index(phase), _int(1)), (_index(watch), _int(i))),
            )
        )
    save = len(actions)
    save_updates: list[tuple[int, Expr]] = [(_index(phase), _int(2))]
    save_updates += [(_index(c), o) for c, o in zip(saved, originals, strict=True)]
    save_updates += [(_index(t), FALSE) for t in taken.values()]
    save_updates += [(_index(seen[b]), enabled[b]) for b in seen]
    actions.append(
        Action(
            index=save,
            kind="meta",
            label="the loop starts here",
            guard=and_(eq(phase, 1), not_(goal)),
            updates=tuple(save_updates),
        )
    )
    stuck = and_(armed, not_(goal), all_(not_(e) for e in enabled.values()))
    back = and_(
        looping,
        not_(goal),
        all_(eq(c, o) for c, o in zip(saved, originals, strict=True)),
        all_(implies(seen[b], taken[b]) for b in seen),
        any_(taken.values()),
    )
    prop_live = Property(
        prop,
        p.statement,
        not_(or_(stuck, back)),
        p.witness,
        p.witness_statement,
    )
    lifted = replace(
        system,
        slots=tuple(slots),
        actions=tuple(actions),
        properties={prop: prop_live},
    )
    return LassoSystem(lifted, system, prop, tuple(arms), save, stuck, _index(watch))


def _index(e: Expr) -> int:
    assert e.op is Leaf.SLOT
    return int(e.value)


def _int(v: int) -> Expr:
    return const(v)


def backing_system(system: System, prop: str, sample: Sequence[State] = ()) -> System | None:
    """``system`` with ``prop``'s invariant strengthened by a *local* reason why every
    ``holds()`` claim is backed, or ``None`` if ``prop`` has other obligations.

    Per obligation, with *ready* meaning enabled or waiting only for room, *pending* its
    trigger (the message submitted, not processed, no copy in flight, a claim), and
    ``S_1 … S_K`` disjoint sets of fault-free steps (*levels*), in every pending state:

    (i)   some step of some level is ready;
    (ii)  every step of ``S_1`` that is enabled leads to a state where the obligation's
          goal holds (a copy in flight, or the message processed);
    (iii) every step of ``S_k`` (``k > 1``) that is enabled leads to a state where the
          goal holds or some step of a lower level is ready.

    "Leads to" is the weakest precondition (the step's updates substituted into the
    post-condition), not the step's effects: a copy sent on a connection that is down is
    lost, and does not count.  This invariant, with the property's own (no state without
    a copy), implies the obligations under strong fairness.  In a fair run that never
    reaches the goal every state is pending (the property keeps a claim while the goal is
    false), so by (i) one of finitely many steps is ready again and again, and is taken
    (enabled, then).  Let ``k`` be the lowest level with a step taken again and again.
    ``k = 1`` reaches the goal (ii).  For ``k > 1``, after each such step a step of a
    lower level is ready (iii), so one of them is ready again and again, and is taken:
    against the choice of ``k``.  So no such run exists.

    Without a ``sample``, ``S_1`` is every step that may send a copy or process it, and
    there is no other level: the one-step reason "some sender is ready, and each one
    taken puts a copy in flight".  With one (a few reachable states), ``S_1`` is the steps
    ready on one of its pending states that meet (ii) on all of them, and each next level
    likewise for (iii), until none is found: a claim may then be backed some steps away
    (MQTT QoS 2 method A: PUBREC in flight, the client answers PUBREL, the broker
    processes at PUBREL; a patient timer: the frames ahead are delivered first).  The
    sample only chooses the levels; soundness rests on the invariant being proved.  It
    is sufficient, not necessary: if it fails, the lasso system decides."""
    reason = backing_reason(system, prop, sample)
    return None if reason is None else with_reason(system, prop, reason)


def with_reason(system: System, prop: str, reason: Expr) -> System:
    """``system`` with ``prop`` alone, its invariant strengthened by ``reason`` (and no
    obligations: the reason stands for them)."""
    return _with_invariant(system, prop, and_(system.properties[prop].invariant, reason))


def backing_reason(system: System, prop: str, sample: Sequence[State] = ()) -> Expr | None:
    """The local reason of :func:`backing_system` alone (what it adds to ``prop``'s
    invariant), or ``None`` if ``prop`` has other obligations."""
    p = system.properties[prop]
    if not p.eventually or any(not ob.claims for ob in p.eventually):
        return None
    calm = system.calm_actions()
    parts: list[Expr] = []
    for ob in p.eventually:
        pending = [st for st in sample if evaluate(ob.trigger, st)]

        if sample:
            direct = _chosen(ob.goal, list(calm), pending)
        else:
            senders = [a for a in calm if not _never(_sends(system, a, ob.msg))]
            direct = [(a, implies(a.guard, _after(a, ob.goal))) for a in senders]
        steps = list(direct)
        while sample:  # the next level: steps that lead to the goal or to a lower level
            picked = {a.index for a, _ in steps}
            handed = or_(ob.goal, any_(_ready(a) for a, _ in steps))
            more = _chosen(handed, [a for a in calm if a.index not in picked], pending)
            if not more:
                break
            steps += more
        some = any_(_ready(a) for a, _ in steps)  # (i)
        parts.append(implies(ob.trigger, and_(some, all_(w for _, w in steps))))  # (ii), (iii)
    return all_(parts)


def _chosen(
    post: Expr, among: Sequence[Action], pending: Sequence[State]
) -> list[tuple[Action, Expr]]:
    """The steps of ``among`` ready on one of the ``pending`` states, each with "when
    enabled, it leads to ``post``", kept if that holds on every one of them."""
    out = [(a, implies(a.guard, _after(a, post))) for a in among]
    return [
        (a, w)
        for a, w in out
        if any(evaluate(_ready(a), st) for st in pending) and all(evaluate(w, st) for st in pending)
    ]


def _never(e: Expr) -> bool:
    return e.is_const and not e.value


def _ready(a: Action) -> Expr:
    """``a`` is enabled or waits only for room on a full channel."""
    return or_(a.guard, a.starved) if a.starved is not None else a.guard


def _after(a: Action, e: Expr) -> Expr:
    """``e`` after step ``a`` (its updates substituted: a pre-state expression).  The
    rebuilt nodes keep their intervals, which stay sound wherever the step is enabled and
    well-formed (its updates within their slots' ranges): every use is under ``a``'s
    guard, and every engine proves the reachable steps well-formed before a verdict."""
    new = dict(a.updates)
    done: dict[int, Expr] = {}

    def go(x: Expr) -> Expr:
        key = id(x)
        if key not in done:
            if x.op is Leaf.SLOT:
                done[key] = new.get(x.value, x)
            elif not x.args:
                done[key] = x
            else:
                args = tuple(go(y) for y in x.args)
                done[key] = (
                    x
                    if all(p is q for p, q in zip(args, x.args, strict=True))
                    else Expr(x.op, args, x.sort, x.lo, x.hi, value=x.value, enum=x.enum)
                )
        return done[key]

    return go(e)


def _sends(system: System, a: Action, m: int) -> Expr:
    """When step ``a`` sends a copy of message ``m`` or processes it (pre-state)."""
    out: list[Expr] = []
    for e in a.effects:
        if e.kind == "send" and e.frame in system.carriers:
            carried = dict(e.fields)[system.carriers[e.frame]]
            out.append(_when(e.cond, eq(carried, const(m, enum=carried.enum))))
        elif e.kind == "process" and e.msg is not None:
            out.append(_when(e.cond, eq(e.msg, const(m, enum=e.msg.enum))))
    return any_(out)


def _when(cond: Expr, hit: Expr) -> Expr:
    """``cond & hit``, ``FALSE`` when either is a false constant.  A message id is a ghost
    value, and a comparison of two ghost constants folds to a *ghost* constant, which
    ``and_`` returns as it is (its taint kept), not as ``FALSE``, the constant the checks
    here look for: without this, a step about another message counted as one that may
    send this one, and had to send it whenever enabled."""
    if any(x.is_const and not x.value for x in (cond, hit)):
        return FALSE
    return and_(cond, hit)
