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
the spec actions it corresponds to, each a :class:`SpecStep` (the action's kind, node or channel,
message and crash point: its data, never its label text; :func:`_crash_step` holds the
correspondence of a step cut short).

:func:`abstract` is the abstraction function: impl state -> spec state, slot by slot; the history
slots are the one judge's (:func:`ackproof.spec.judge.judge`) reading of the impl.  Messages
are renamed by acceptance order (the impl's ids are 0, 1, ... and jump by a reserved block after
a sender restart; the spec's ids are 0..N-1 in submission order).

:class:`SpecSide` holds the spec system and its concrete interpreter and steps it by
:class:`SpecStep`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

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
from ackproof.spec.system import Action

PROFILES = ("default", "nightly")


@dataclass(frozen=True)
class SpecStep:
    """A spec action named by its data, never by its label text: the kind of step, the node
    that takes it (the channel, for the network's own moves), the message it is about, and,
    for a step a crash cut short, how many of its effects ran."""

    kind: str
    where: str
    msg: int | None = None
    crash_after: int | None = None

    @classmethod
    def of(cls, a: Action) -> SpecStep:
        if a.frame is not None:
            msg: int | None = int(a.frame.get("msg"))
        elif a.arg_values:
            msg = int(a.arg_values[0])
        else:
            msg = None
        where = a.node if a.node is not None else a.channel
        assert where is not None, a.label
        return cls(a.kind, where, msg, a.crash_after)

    def cut(self, k: int) -> SpecStep:
        return SpecStep(self.kind, self.where, self.msg, k)


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
    """The tests' one driver of the two cores (:class:`cores_testing.CorePair`), moved by the
    environment's moves, each of which returns the corresponding spec actions."""

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

    # --- moves: each returns the corresponding spec actions -----------------------------------

    def crash(self, node: str) -> list[SpecStep]:
        assert node in ("sender", "receiver"), node
        restarted = self.pair.restart("sender" if node == "sender" else "receiver")
        return [SpecStep("crash", node), *self._retransmits(restarted)]

    def submit(self, payload: bytes, crash_at: int | None) -> list[SpecStep]:
        effects = self.sender.handle(Submit(payload), self.pair.now)
        if crash_at is not None:
            crash_at = min(crash_at, len(effects))
            if unrepresentable_submit_crash(effects, crash_at):
                raise Skip("crash between the outbox write and Accepted")
        done = self.pair.carry_out("sender", effects, crash_at)
        steps = submit_steps(self, effects, done)
        if crash_at is not None:
            steps += self.crash("sender")
        return steps

    def deliver_to_receiver(self, i: int, crash_at: int | None) -> list[SpecStep]:
        frame = self.to_receiver.pop(i)
        step = SpecStep("deliver", "receiver", self.spec_id(frame.msg))
        effects, done = self.pair.step("receiver", FrameIn(frame), crash_at)
        if crash_at is None:
            return [step]
        cut = _crash_step(step, _RECEIVER_ORDER[self.guarantee], effects, done)
        return self._then_crash("receiver", cut)

    def deliver_to_sender(self, i: int, crash_at: int | None) -> list[SpecStep]:
        frame = self.to_sender.pop(i)
        step = SpecStep("deliver", "sender", self.spec_id(frame.msg))
        effects, done = self.pair.step("sender", FrameIn(frame), crash_at)
        if crash_at is None:
            return [step]
        return self._then_crash("sender", _crash_step(step, _SENDER_ORDER, effects, done))

    def _then_crash(self, node: NodeName, step: SpecStep) -> list[SpecStep]:
        """A step cut short by a crash: the spec's "crash after k" action already includes the
        crash and restart; a step that completed is followed by a separate crash action."""
        after = self.crash(node)
        return [step, *(after[1:] if step.crash_after is not None else after)]

    def lose(self, to_receiver: bool, i: int) -> list[SpecStep]:
        frame = self.pair.drop(to_receiver=to_receiver, index=i)
        return [SpecStep("lose", _channel(to_receiver), self.spec_id(frame.msg))]

    def duplicate(self, to_receiver: bool, i: int) -> list[SpecStep]:
        frame = self.pair.duplicate(to_receiver=to_receiver, index=i)
        return [SpecStep("duplicate", _channel(to_receiver), self.spec_id(frame.msg))]

    def fire_timer(self, crash_at: int | None) -> list[SpecStep]:
        assert self.timer is not None
        self.pair.now = max(self.pair.now, self.timer)
        _, done = self.pair.step("sender", TimerFired(), crash_at)
        steps = self._retransmits(done)
        if crash_at is not None:
            steps += self.crash("sender")
        return steps

    def _retransmits(self, done: Sequence[Effect]) -> list[SpecStep]:
        return [
            SpecStep("timer", "sender", self.spec_id(e.frame.msg))
            for e in done
            if isinstance(e, SendFrame)
        ]

    # --- a fair network from here on (for the eventual-delivery check) ------------------------

    def drain(self, *, max_rounds: int = 100) -> None:
        self.pair.drain(max_rounds=max_rounds)


def _channel(to_receiver: bool) -> str:
    return "sender->receiver" if to_receiver else "receiver->sender"


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


def _crash_step(
    step: SpecStep,
    order: tuple[frozenset[str], ...],
    effects: Sequence[Effect],
    done_effects: Sequence[Effect],
) -> SpecStep:
    """The spec action for ``step`` with ``effects`` that crashed after ``done_effects``."""
    full, done = _tokens(effects), _tokens(done_effects)
    if done == full:
        return step  # nothing of meaning was cut off: the whole step, then a crash
    if not done:
        return step.cut(0)
    k = 0
    covered: set[str] = set()
    for group in order:
        if not group <= done:
            break
        k += len(group)
        covered |= group
    if covered != done:
        raise AssertionError(
            f"no spec counterpart: {step} with only {sorted(done)} of {sorted(full)} done"
        )
    return step.cut(k)


def submit_steps(
    world: ImplWorld, effects: Sequence[Effect], done: Sequence[Effect]
) -> list[SpecStep]:
    """``submit(m)`` sends as part of the same spec action; a crash before the send is a loss."""
    accepted = [e.msg for e in done if isinstance(e, Accepted)]
    if not accepted:
        return []
    m = world.spec_id(accepted[0])
    steps = [SpecStep("submit", "sender", m)]
    if not any(isinstance(e, SendFrame) for e in done):
        steps.append(SpecStep("lose", _channel(True), m))
    return steps


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
    #: Each action by its data (unique: checked when the spec side is built).
    actions: dict[SpecStep, Action] = field(init=False)
    invariants: dict[str, PredFn] = field(init=False)
    #: The properties' reachability witness ("every message submitted and processed").
    witness: PredFn = field(init=False)

    def __post_init__(self) -> None:
        self.system = BUILTIN[str(self.guarantee)].system(
            self.messages, faults=spec_faults(self.capacity)
        )
        self.compiled = compile_system(self.system)
        self.actions = {SpecStep.of(a): a for a in self.system.actions}
        assert len(self.actions) == len(self.system.actions), "two actions share their data"
        self.invariants = {
            p: self.compiled.predicate(self.system.properties[p].invariant)
            for p in GUARANTEES[str(self.guarantee)]
        }
        (witness,) = {p.witness for p in self.system.properties.values()}
        self.witness = self.compiled.predicate(witness)

    def label(self, step: SpecStep) -> str:
        """The spec's name for ``step`` (for messages), or the step itself if it has none."""
        a = self.actions.get(step)
        return a.label if a is not None else str(step)

    def step(self, state: tuple[Value, ...], step: SpecStep) -> tuple[Value, ...]:
        a = self.actions.get(step)
        if a is None:
            raise AssertionError(f"the impl did something the spec has no action for: {step}")
        nxt = self.compiled.step(state, a.index)
        if nxt is None:
            raise AssertionError(
                f"the impl did {a.label!r}, which the spec does not allow in state "
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
        # A slot is read by its family (its name with message ids starred) and the ids it is
        # about, both data of the lowering: no slot name is taken apart.
        base = s.family
        m = s.msgs[0] if s.msgs else -1
        impl = back.get(m)
        if base == "order_broken":
            v: Value = history.order_broken
        elif base == "submitted[*]":
            v = impl is not None and impl in history.submitted
        elif base == "processed[*]":
            v = min(history.times.get(impl, 0), 2) if impl is not None else 0
        elif base == "acked[*]":
            v = impl is not None and impl in history.acked
        elif base == "sender.unacked[*]":
            v = impl is not None and impl in outbox
        elif base in ("receiver.seen[*]", "receiver.taken[*]"):
            v = impl is not None and (impl in seen or impl < low)
        elif base == "sender->receiver#DATA(msg=*)":
            v = data[m]
        elif base == "receiver->sender#ACK(msg=*)":
            v = acks[m]
        else:
            raise AssertionError(f"the abstraction function does not know slot {s.name}")
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


def run_demo(trace_dir: Path, flags: str) -> dict[str, dict[str, object]]:
    """``python -m ackproof.impl.demo --json --trace-dir TRACE_DIR FLAGS`` in its own process
    group (killed with it if it outlives its 60 s), which must exit 0; its report's rows by
    guarantee."""
    argv = [sys.executable, "-m", "ackproof.impl.demo", "--json", "--trace-dir", str(trace_dir)]
    proc = subprocess.Popen(
        [*argv, *flags.split()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    return {str(row["guarantee"]): row for row in report["guarantees"]}
