"""Lockstep driving of the implementation's sans-I/O cores against the spec's interpreter.

Theory of operation
-------------------
:class:`ImplWorld` is the implementation: it moves the test suite's one driver of the two cores,
``tests/cores_testing.py``'s :class:`CorePair` (each core with a
:class:`~ackproof.impl.store.MemoryStore` that can crash, two lists of frames in flight, the one
effect loop).  Every *move* of the environment (submit, deliver frame ``i``, lose, duplicate,
fire the timer, crash a node) is carried out on the cores effect by effect, so a crash can be
placed after any prefix of a step's effects (when the crash lands on a ``Persist`` the store is
made to die in the middle of that commit, which must leave nothing behind).  Each move returns
the labels of the spec actions it corresponds to (:func:`receiver_labels` etc. hold the
correspondence).

:func:`abstract` is the abstraction function: impl state -> spec state, slot by slot; the history
slots are the one judge's (:func:`ackproof.spec.judge.judge`) reading of the impl.  Messages
are renamed by acceptance order (the impl's ids are 0, 1, ... and jump by a reserved block after
a sender restart; the spec's ids are 0..N-1 in submission order).

:class:`SpecSide` holds the spec system and its concrete interpreter and steps it by label.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

from cores_testing import CorePair, NodeName
from cores_testing import ReceiverFactory as ReceiverFactory
from hypothesis import settings

from ackproof.events import TraceEvent
from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.events import (
    Accepted,
    Acked,
    CompactSeen,
    Effect,
    FrameIn,
    Guarantee,
    MarkSeen,
    OutboxDelete,
    OutboxPut,
    Persist,
    RecordProcessed,
    SendFrame,
    Submit,
    TimerFired,
)
from ackproof.impl.receiver import make_receiver
from ackproof.impl.sender import RetryingSender, SenderCore
from ackproof.impl.store import MemoryStore
from ackproof.spec import Faults, System, compile_system
from ackproof.spec.expr import Value
from ackproof.spec.history import GUARANTEES
from ackproof.spec.interp import Compiled, PredFn
from ackproof.spec.judge import Judgement, Observation, judge
from ackproof.spec.protocols import BUILTIN

PROFILES = ("default", "nightly")


def profile() -> settings:
    """The Hypothesis settings chosen by ``HYPOTHESIS_PROFILE`` (see ``conftest.py``)."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "default")
    if name not in PROFILES:
        raise RuntimeError(f"HYPOTHESIS_PROFILE={name!r}: use one of {', '.join(PROFILES)}")
    return settings.get_profile(f"conformance-{name}")


def nightly() -> bool:
    return os.environ.get("HYPOTHESIS_PROFILE", "default") == "nightly"


# --- the implementation side -------------------------------------------------------------------


class Skip(Exception):
    """The move has no spec counterpart by design (a bound or a documented modelling gap)."""


class ImplWorld:
    """The tests' one driver of the two cores (:class:`impl_testing.CorePair`), moved by the
    environment's moves, each of which returns the labels of the corresponding spec actions."""

    def __init__(self, guarantee: Guarantee, receiver_factory: ReceiverFactory = make_receiver):
        self.guarantee = guarantee
        self.pair = CorePair(guarantee, receiver_factory=receiver_factory)

    # --- observation (what the abstraction function reads) -------------------------------------

    @property
    def sender(self) -> SenderCore:
        return self.pair.sender

    @property
    def sender_store(self) -> MemoryStore:
        return self.pair.sender_store

    @property
    def receiver_store(self) -> MemoryStore:
        return self.pair.receiver_store

    @property
    def to_receiver(self) -> list[Frame]:
        return self.pair.to_receiver

    @property
    def to_sender(self) -> list[Frame]:
        return self.pair.to_sender

    @property
    def timer(self) -> float | None:
        return self.pair.timer

    @property
    def index(self) -> dict[int, int]:
        """impl message id -> spec message id (acceptance order)"""
        return self.pair.index

    @property
    def acked(self) -> set[int]:
        return self.pair.acked

    def processed_log(self) -> list[int]:
        return self.pair.processed_log()

    def judgement(self, *, finished: bool = True) -> Judgement:
        """What an observer saw, judged by the one judge: the accepted ids (in acceptance
        order), the durable processed log, the acked ids; a copy is held while an id is in
        the sender's outbox or in a frame to the receiver."""
        held = set(self.sender_store.disk.outbox) | {f.msg for f in self.to_receiver}
        return judge(
            chain(
                (Observation(TraceEvent.SUBMIT, msg) for msg in self.index),
                (Observation(TraceEvent.PROCESS, msg) for msg in self.processed_log()),
                (Observation(TraceEvent.ACK, msg) for msg in self.acked),
            ),
            holding=held,
            finished=finished,
        )

    def spec_id(self, msg: int) -> int:
        if msg not in self.index:
            raise AssertionError(f"impl message id {msg} was never accepted (a phantom)")
        return self.index[msg]

    # --- moves: each returns the labels of the corresponding spec actions ---------------------

    def crash(self, node: str) -> list[str]:
        assert node in ("sender", "receiver"), node
        restarted = self.pair.restart("sender" if node == "sender" else "receiver")
        return [f"crash {node} (restart)", *self._retransmit_labels(restarted)]

    def submit(self, payload: bytes, crash_at: int | None) -> list[str]:
        effects = self.sender.handle(Submit(payload), self.pair.now)
        if crash_at is not None:
            crash_at = min(crash_at, len(effects))
            if unrepresentable_submit_crash(effects, crash_at):
                raise Skip("crash between the outbox write and Accepted")
        done = self.pair.carry_out("sender", effects, crash_at)
        labels = submit_labels(self, effects, done)
        if crash_at is not None:
            labels += self.crash("sender")
        return labels

    def deliver_to_receiver(self, i: int, crash_at: int | None) -> list[str]:
        frame = self.to_receiver.pop(i)
        m = self.spec_id(frame.msg)
        effects, done = self.pair.step("receiver", FrameIn(frame), crash_at)
        if crash_at is None:
            return [f"receiver <- DATA(msg={m})"]
        return self._then_crash("receiver", receiver_labels(self.guarantee, m, effects, done))

    def deliver_to_sender(self, i: int, crash_at: int | None) -> list[str]:
        frame = self.to_sender.pop(i)
        m = self.spec_id(frame.msg)
        effects, done = self.pair.step("sender", FrameIn(frame), crash_at)
        if crash_at is None:
            return [f"sender <- ACK(msg={m})"]
        return self._then_crash("sender", sender_ack_labels(m, effects, done))

    def _then_crash(self, node: NodeName, labels: list[str]) -> list[str]:
        """A step cut short by a crash: the spec's "crash after k" action already includes the
        crash and restart; a step that completed is followed by a separate crash action."""
        after = self.crash(node)
        return labels + (after[1:] if ", crash after" in labels[-1] else after)

    def lose(self, to_receiver: bool, i: int) -> list[str]:
        frame = self.pair.drop(to_receiver=to_receiver, index=i)
        return [f"network loses {_frame_label(self, frame)} on {_channel(to_receiver)}"]

    def duplicate(self, to_receiver: bool, i: int) -> list[str]:
        frame = self.pair.duplicate(to_receiver=to_receiver, index=i)
        return [f"network duplicates {_frame_label(self, frame)} on {_channel(to_receiver)}"]

    def fire_timer(self, crash_at: int | None) -> list[str]:
        assert self.timer is not None
        self.pair.now = max(self.pair.now, self.timer)
        _, done = self.pair.step("sender", TimerFired(), crash_at)
        labels = self._retransmit_labels(done)
        if crash_at is not None:
            labels += self.crash("sender")
        return labels

    def _retransmit_labels(self, done: Sequence[Effect]) -> list[str]:
        return [
            f"sender timer retransmit({self.spec_id(e.frame.msg)})"
            for e in done
            if isinstance(e, SendFrame)
        ]

    # --- a fair network from here on (for the eventual-delivery check) ------------------------

    def drain(self, *, max_rounds: int = 100) -> None:
        self.pair.drain(max_rounds=max_rounds)


def _channel(to_receiver: bool) -> str:
    return "sender->receiver" if to_receiver else "receiver->sender"


def _frame_label(world: ImplWorld, frame: Frame) -> str:
    return f"{frame.kind.name}(msg={world.spec_id(frame.msg)})"


# --- the correspondence of one impl step (a prefix of its effects) to spec actions ---------------
#
# The spec counts a step's effects as: at-most-once receiver [taken := true, process];
# at-least-once receiver [process, send ACK]; exactly-once receiver [atomic(process, seen := true)
# (two effects, no crash between them), send ACK]; retrying sender on ACK [unacked := false,
# ack].  "crash after k effects" is the spec action for a crash after the first k of them.
# Effects with no spec meaning (Deliver's hand-off, Discarded, SetTimer) do not count: the spec's
# "processed" is the impl's durable processed record.

_RECEIVER_ORDER: dict[Guarantee, tuple[frozenset[str], ...]] = {
    Guarantee.AT_MOST_ONCE: (frozenset({"seen"}), frozenset({"process"})),
    Guarantee.AT_LEAST_ONCE: (frozenset({"process"}), frozenset({"ack"})),
    Guarantee.EXACTLY_ONCE: (frozenset({"process", "seen"}), frozenset({"ack"})),
}
_SENDER_ORDER = (frozenset({"delete"}), frozenset({"acked"}))


def _tokens(effects: Sequence[Effect]) -> set[str]:
    out: set[str] = set()
    for e in effects:
        match e:
            case Persist(writes):
                for w in writes:
                    match w:
                        case MarkSeen() | CompactSeen():  # recorded: as a row, or under the mark
                            out.add("seen")
                        case RecordProcessed():
                            out.add("process")
                        case OutboxDelete():
                            out.add("delete")
                        case _:
                            pass
            case SendFrame(frame) if frame.kind is FrameKind.ACK:
                out.add("ack")
            case Acked():
                out.add("acked")
            case _:
                pass
    return out


def _crash_label(
    head: str, order: tuple[frozenset[str], ...], full: set[str], done: set[str]
) -> list[str]:
    """The spec label(s) for a step with effects ``full`` that crashed after ``done``."""
    if done == full:
        return [head]  # nothing of meaning was cut off: the whole step, then a crash
    if not done:
        return [f"{head}, crash after 0 effects"]
    k = 0
    covered: set[str] = set()
    for group in order:
        if not group <= done:
            break
        k += len(group)
        covered |= group
    if covered != done:
        return [f"<no spec counterpart: {head} with only {sorted(done)} of {sorted(full)}>"]
    return [f"{head}, crash after {k} effect{'s' if k != 1 else ''}"]


def receiver_labels(
    g: Guarantee, m: int, effects: Sequence[Effect], done: Sequence[Effect]
) -> list[str]:
    head = f"receiver <- DATA(msg={m})"
    return _crash_label(head, _RECEIVER_ORDER[g], _tokens(effects), _tokens(done))


def sender_ack_labels(m: int, effects: Sequence[Effect], done: Sequence[Effect]) -> list[str]:
    return _crash_label(f"sender <- ACK(msg={m})", _SENDER_ORDER, _tokens(effects), _tokens(done))


def submit_labels(world: ImplWorld, effects: Sequence[Effect], done: Sequence[Effect]) -> list[str]:
    """``submit(m)`` sends as part of the same spec action; a crash before the send is a loss."""
    accepted = [e.msg for e in done if isinstance(e, Accepted)]
    if not accepted:
        return []
    m = world.spec_id(accepted[0])
    labels = [f"submit(m={m})"]
    if not any(isinstance(e, SendFrame) for e in done):
        labels.append(f"network loses DATA(msg={m}) on sender->receiver")
    return labels


def unrepresentable_submit_crash(effects: Sequence[Effect], crash_at: int) -> bool:
    """A crash after the outbox write and before ``Accepted``: the message will be sent (the
    outbox is retransmitted on restart) but was never reported submitted.  The spec's submit is
    one atomic action, so it has no such state (see the report: a modelling gap)."""
    done = effects[:crash_at]
    put = any(
        isinstance(e, Persist) and any(isinstance(w, OutboxPut) for w in e.writes) for e in done
    )
    return put and not any(isinstance(e, Accepted) for e in done)


# --- the spec side and the abstraction function ------------------------------------------------


def spec_faults(capacity: int) -> Faults:
    return Faults(loss=True, duplicate=True, reorder=True, crash=("*",), capacity=capacity)


@dataclass
class SpecSide:
    guarantee: Guarantee
    messages: int
    capacity: int
    system: System = field(init=False)
    compiled: Compiled = field(init=False)
    labels: dict[str, int] = field(init=False)
    invariants: dict[str, PredFn] = field(init=False)
    #: The properties' reachability witness ("every message submitted and processed").
    witness: PredFn = field(init=False)

    def __post_init__(self) -> None:
        self.system = BUILTIN[str(self.guarantee)].system(
            self.messages, faults=spec_faults(self.capacity)
        )
        self.compiled = compile_system(self.system)
        self.labels = {a.label: a.index for a in self.system.actions}
        self.invariants = {
            p: self.compiled.predicate(self.system.properties[p].invariant)
            for p in GUARANTEES[str(self.guarantee)]
        }
        (witness,) = {p.witness for p in self.system.properties.values()}
        self.witness = self.compiled.predicate(witness)

    def step(self, state: tuple[Value, ...], label: str) -> tuple[Value, ...]:
        if label not in self.labels:
            raise AssertionError(f"the impl did something the spec has no action for: {label}")
        nxt = self.compiled.step(state, self.labels[label])
        if nxt is None:
            raise AssertionError(
                f"the impl did {label!r}, which the spec does not allow in state "
                f"{self.system.show_state(state)}"
            )
        return nxt

    def diff(self, want: Sequence[Value], got: Sequence[Value]) -> str:
        return ", ".join(
            f"{s.name}: spec {s.show(want[s.index])} / impl {s.show(got[s.index])}"
            for s in self.system.slots
            if want[s.index] != got[s.index]
        )


def abstract(world: ImplWorld, system: System) -> tuple[Value, ...]:
    """The abstraction function: the spec state that the impl's state stands for.  The
    history slots are the judge's reading of what an observer saw (``ImplWorld.judgement``);
    ids are renamed by acceptance order, the order the judge ranks them by."""
    back = {m: impl for impl, m in world.index.items()}
    history = world.judgement()
    for phantom in history.phantom:
        world.spec_id(phantom.msg)  # raises: processed, never accepted
    outbox = world.sender_store.disk.outbox
    seen = world.receiver_store.disk.seen
    low = world.receiver_store.disk.low  # every id below the dedup watermark counts as seen
    data = Counter(world.spec_id(f.msg) for f in world.to_receiver if f.kind is FrameKind.DATA)
    acks = Counter(world.spec_id(f.msg) for f in world.to_sender if f.kind is FrameKind.ACK)
    assert all(f.kind is FrameKind.DATA for f in world.to_receiver)
    assert all(f.kind is FrameKind.ACK for f in world.to_sender)
    out: list[Value] = []
    for s in system.slots:
        name = s.name
        base, _, rest = name.partition("[")
        m = int(rest.rstrip("]")) if rest else -1
        impl = back.get(m)
        if name == "order_broken":
            v: Value = history.order_broken
        elif base == "submitted":
            v = impl is not None and impl in history.submitted
        elif base == "processed":
            v = min(history.times.get(impl, 0), 2) if impl is not None else 0
        elif base == "acked":
            v = impl is not None and impl in history.acked
        elif base == "sender.unacked":
            v = impl is not None and impl in outbox
        elif base in ("receiver.seen", "receiver.taken"):
            v = impl is not None and (impl in seen or impl < low)
        elif name.startswith("sender->receiver#DATA(msg="):
            v = data[int(name.split("=")[1].rstrip(")"))]
        elif name.startswith("receiver->sender#ACK(msg="):
            v = acks[int(name.split("=")[1].rstrip(")"))]
        else:
            raise AssertionError(f"the abstraction function does not know slot {name}")
        out.append(v)
    return tuple(out)


def internal_consistency(world: ImplWorld) -> None:
    """The sender core's in-memory unacked set is its durable outbox after every step.

    (The receiver's in-memory dedup set is deliberately not compared with its durable one: a
    receiver that forgets its dedup set must be caught by the guarantee, not by peeking.)"""
    if isinstance(world.sender, RetryingSender):
        assert world.sender.unacked() == frozenset(world.sender_store.disk.outbox), (
            "the sender core's unacked set differs from its durable outbox"
        )
