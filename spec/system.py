"""The lowered form of a protocol: a finite transition system over flat slots.

Theory of operation
-------------------
The kernel (:mod:`ackproof.spec.kernel`) runs every handler of a protocol once per ground
action and records what it did as an :class:`Action`: a guard and a parallel update, both
expressions over the *pre-state* slots.  A :class:`System` is the list of slots (every
scalar the protocol, the network, the history and the fault budgets hold), the initial
values, the actions and the properties.  Nothing below this line knows about handlers,
``when`` blocks or crashes: every engine, concrete or symbolic, works on this form only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from .expr import Expr, Names, Value, and_, any_, evaluate, not_, render
from .faults import Faults

#: ``meta``: a step of a derived system (:mod:`ackproof.spec.lasso`), not of the protocol.
ActionKind: TypeAlias = Literal[
    "submit",
    "deliver",
    "timer",
    "crash",
    "lose",
    "duplicate",
    "drop",
    "connect",
    "tick",
    "meta",
]
State: TypeAlias = tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Slot:
    """One scalar of the global state."""

    index: int
    name: str
    sort: Literal["bool", "int"]
    lo: int
    hi: int
    init: Value
    #: ``"history"``, ``"budget"``, a node name, or ``"net:<channel>"``.
    owner: str
    durable: bool = True
    ghost: bool = False
    enum: str | None = None
    members: tuple[str, ...] = ()
    #: The clock adds one at every tick (an ``Age`` field), up to ``hi``.
    ticks: bool = False
    #: The message ids this slot is about (``submitted[2]``: 2; ``DATA(msg=2)``: 2), and
    #: the slot's name with those ids abstracted: slots that differ only in the ids they
    #: are about share a family (the renaming of ids is a permutation of slots by data).
    msgs: tuple[int, ...] = ()
    family: str = ""

    def show(self, v: Value) -> str:
        if self.sort == "bool":
            return "true" if v else "false"
        if self.enum is not None and 0 <= int(v) < len(self.members):
            return self.members[int(v)]
        return str(int(v))


@dataclass(frozen=True, slots=True)
class FrameValue:
    """A ground frame: a kind and a value for each of its fields."""

    kind: str
    fields: tuple[tuple[str, Value], ...]
    shown: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        pairs = self.shown or tuple((k, str(v)) for k, v in self.fields)
        return f"{self.kind}({', '.join(f'{k}={v}' for k, v in pairs)})"

    def get(self, name: str) -> Value:
        return dict(self.fields)[name]


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """Where a channel lives in the state, so traces can show what is in flight."""

    name: str
    src: str
    dst: str
    ordered: bool
    capacity: int
    frames: tuple[FrameValue, ...]
    #: Bag: one count slot per frame and age (``ages`` of them per frame).  FIFO:
    #: ``capacity`` position slots holding frame numbers, then ``length_slot``.
    slots: tuple[int, ...]
    length_slot: int | None = None
    #: Ages a frame in flight can have (a timed channel: its delivery bound + 1).
    ages: int = 1

    def contents(self, state: Sequence[Value]) -> list[FrameValue]:
        if not self.ordered:
            out: list[FrameValue] = []
            for i, f in enumerate(self.frames):
                cells = self.slots[i * self.ages : (i + 1) * self.ages]
                out.extend([f] * sum(int(state[s]) for s in cells))
            return out
        assert self.length_slot is not None
        n = int(state[self.length_slot])
        return [self.frames[int(state[s])] for s in self.slots[:n]]


@dataclass(frozen=True, slots=True)
class Check:
    """A well-formedness condition of a step: ``cond`` must hold whenever the step runs
    (a value inside its declared range, an index in bounds); ``value``, if given, is the
    offending value, shown when the check fails."""

    cond: Expr
    message: str
    value: Expr | None = None

    def failure(self, state: State) -> str:
        """The message of this check failing in ``state``, with the offending value when
        the check names one."""
        if self.value is None:
            return self.message
        return f"{self.message} (got {int(evaluate(self.value, state))})"


EffectKind: TypeAlias = Literal["send", "process", "ack", "write", "crash"]


@dataclass(frozen=True, slots=True)
class Effect:
    """One effect of a handler, in program order: it happens when ``cond`` (the path
    condition of the enclosing ``when`` blocks, over the pre-state) holds.

    ``send``: a frame of kind ``frame`` on ``channel`` with ``fields``; ``process`` and
    ``ack``: message ``msg``; ``write``: a durable field (a crash point, not shown);
    ``crash``: the node crashes here and restarts (the effects after it are its restart
    handler's)."""

    kind: EffectKind
    cond: Expr
    channel: str | None = None
    frame: str | None = None
    fields: tuple[tuple[str, Expr], ...] = ()
    msg: Expr | None = None
    #: The node that performs it (a step can run handlers of several nodes: a
    #: connection's ends, a crashed node's peers).
    node: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """A ground action: enabled when ``guard`` holds; then every update applies at once."""

    index: int
    kind: ActionKind
    label: str
    guard: Expr
    updates: tuple[tuple[int, Expr], ...]
    #: Well-formedness conditions (value in range, index in bounds) with their messages.
    checks: tuple[Check, ...] = ()
    node: str | None = None
    channel: str | None = None
    handler: str | None = None
    params: tuple[tuple[str, str], ...] = ()
    #: The same arguments as values (a submit's message id, a timer's parameters):
    #: ``params`` is how they are shown, ``arg_values`` what code compares.
    arg_values: tuple[Value, ...] = ()
    frame: FrameValue | None = None
    position: int | None = None
    #: For a handler that crashed part-way: how many effects of its program came before
    #: the crash (those in ``when`` blocks not taken did not run: see ``effects``).
    crash_after: int | None = None
    #: For such a crash variant: the label of the same step without the crash.
    crash_of: str | None = None
    #: What the step does, in program order (empty for the network's own moves).
    effects: tuple[Effect, ...] = ()
    #: When the step would be enabled but a channel it sends on is full (``None``: it
    #: sends nothing).  Channel capacity bounds the model, not the protocol: the liveness
    #: checks do not count a run stuck on it as the protocol's failure.
    starved: Expr | None = None


@dataclass(frozen=True, slots=True)
class Eventually:
    """A response obligation about message ``msg``: whenever ``trigger`` holds, every fair
    run with no further faults reaches ``goal``.

    "Fair" is strong fairness per fault-free action (submit, delivery, timer): an action
    enabled again and again is eventually taken.  ``claims`` name what makes ``trigger``
    hold — a node's ``holds()`` claim, by node — so a violation can say whose claim is
    not backed by the protocol's own behaviour."""

    msg: int
    trigger: Expr
    goal: Expr
    claims: tuple[tuple[str, Expr], ...] = ()


@dataclass(frozen=True, slots=True)
class Property:
    """An invariant over the observable history, with a reachability witness, and the
    response obligations (liveness) that must hold too."""

    id: str
    statement: str
    invariant: Expr
    witness: Expr
    witness_statement: str
    #: Per message id, when that message breaks the property (the invariant is false
    #: exactly when one of these holds); empty for properties not about one message.
    culprits: tuple[Expr, ...] = ()
    #: Obligations checked on fair runs without faults (``eventual-delivery``; for
    #: no-loss, that every ``holds()`` claim is backed by a resend or a processing).
    eventually: tuple[Eventually, ...] = ()


@dataclass(frozen=True, slots=True)
class HistorySlots:
    """Where the observable history lives in the state: slot indices per message id."""

    submitted: tuple[int, ...]
    processed: tuple[int, ...]
    acked: tuple[int, ...]
    order_broken: int
    #: A submit call cut short that the producer will retry (empty unless it retries).
    interrupted: tuple[int, ...] = ()


@dataclass(frozen=True)
class System:
    """A protocol at fixed bounds under a fault model: a finite transition system."""

    protocol: str
    messages: int
    faults: Faults
    slots: tuple[Slot, ...]
    actions: tuple[Action, ...]
    properties: dict[str, Property]
    channels: tuple[ChannelInfo, ...]
    nodes: tuple[str, ...]
    history: HistorySlots
    claims: tuple[str, ...] = ()
    #: Frame kind -> the field that carries the message it is a copy of.
    carriers: dict[str, str] = field(default_factory=dict)
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    description: str = ""
    #: The same protocol under the same faults with another number of messages (the
    #: lowering's).  A source of candidates only (:mod:`ackproof.proofs.seed`): whatever
    #: comes from it is checked on this system.
    instance: Callable[[int], System] | None = field(default=None, compare=False, repr=False)

    def id_swap(self, i: int, j: int) -> list[int] | None:
        """The slot permutation exchanging message ids ``i`` and ``j`` (by each slot's
        ``family`` and ``msgs``), or ``None`` if some slot has no counterpart.  A source of
        candidates only (lemma reuse, symmetry): whatever uses it checks it first."""
        index = {(s.family, s.msgs): k for k, s in enumerate(self.slots)}
        out = []
        for s in self.slots:
            msgs = tuple(j if m == i else i if m == j else m for m in s.msgs)
            k = index.get((s.family, msgs))
            if k is None:
                return None
            out.append(k)
        return out

    def initial(self) -> State:
        return tuple(s.init for s in self.slots)

    def calm_actions(self) -> tuple[Action, ...]:
        """The actions a run takes once faults stop: submits, deliveries, timers that do
        not crash and reconnections (no loss, duplication, drop or crash)."""
        return tuple(
            a
            for a in self.actions
            if a.kind in ("submit", "deliver", "timer", "connect", "tick") and a.crash_after is None
        )

    def ill_formed(self) -> Expr | None:
        """Some enabled action would break a well-formedness check in this state (a value
        outside its field's range, an index out of bounds); ``None`` if no action has checks.

        The concrete interpreter raises :class:`~ackproof.spec.errors.StepError` on such a
        step; symbolic engines search for this predicate so that they never silently treat
        an ill-formed step as "no transition"."""
        parts = [and_(a.guard, not_(c.cond)) for a in self.actions for c in a.checks]
        return any_(parts) if parts else None

    @property
    def names(self) -> Names:
        return Names(tuple(s.name for s in self.slots), self.enums)

    def render(self, e: Expr) -> str:
        return render(e, self.names)

    def slot(self, name: str) -> Slot:
        for s in self.slots:
            if s.name == name:
                return s
        raise KeyError(name)

    def show_state(self, state: Sequence[Value], *, owners: Sequence[str] | None = None) -> str:
        parts = [
            f"{s.name}={s.show(state[s.index])}"
            for s in self.slots
            if owners is None or s.owner in owners
        ]
        return ", ".join(parts)
