"""The one driver of the two sans-I/O cores, shared by ``tests/impl`` and ``tests/conformance``.

:class:`CorePair` wires a sender core and a receiver core with no network (aioquic/h11-style pair
helper): frames in flight sit in two lists, ``to_receiver`` (sent by the sender) and
``to_sender`` (sent by the receiver), and a test says what happens to each — deliver frame
``i`` (which is reordering), ``drop``, ``duplicate``. Each node has a
:class:`~ackproof.impl.store.MemoryStore`. :meth:`CorePair.carry_out` is the one effect loop
of the test suite: it carries out a step's effects in order and can crash the node before any
of them; a crash that lands on a ``Persist`` kills the store in the middle of that commit,
which must leave nothing behind. The conformance tests drive the same pair and add the spec
label of each move (``conformance_support.ImplWorld``). Importable by name from any test folder
(``pythonpath`` in ``pyproject.toml``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Literal, TypeVar, assert_never

from ackproof.impl.codec import Frame
from ackproof.impl.events import (
    Accepted,
    Acked,
    Deliver,
    Discarded,
    Effect,
    Event,
    FrameIn,
    Guarantee,
    Persist,
    Restart,
    SendFrame,
    SetTimer,
    Submit,
    TimerFired,
)
from ackproof.impl.receiver import ReceiverCore, make_receiver
from ackproof.impl.sender import RetryPolicy, SenderCore, make_sender
from ackproof.impl.store import MemoryStore, StoreCrashed

if TYPE_CHECKING:
    from ackproof.impl.store import MemoryDisk

T = TypeVar("T")


def run_sync(coro: Coroutine[object, object, T]) -> T:
    """Run a coroutine that never suspends (MemoryStore's methods) to completion."""
    try:
        coro.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coro.close()
    raise AssertionError("a MemoryStore call suspended; drive it from trio instead")


NodeName = Literal["sender", "receiver"]
ReceiverFactory = Callable[[Guarantee], ReceiverCore]


class CorePair:
    """Both cores, their stores, the frames in flight and what an observer has seen."""

    def __init__(
        self,
        guarantee: Guarantee,
        *,
        rto: float = 1.0,
        receiver_factory: ReceiverFactory = make_receiver,
    ) -> None:
        self.guarantee = guarantee
        self.policy = RetryPolicy(initial=rto, maximum=4 * rto)
        self.receiver_factory = receiver_factory
        self.sender: SenderCore = make_sender(guarantee, policy=self.policy)
        self.receiver: ReceiverCore = receiver_factory(guarantee)
        self.sender_store = MemoryStore()
        self.receiver_store = MemoryStore()
        self.to_receiver: list[Frame] = []  # sent by the sender, not yet delivered
        self.to_sender: list[Frame] = []  # sent by the receiver, not yet delivered
        self.now = 0.0
        self.timer: float | None = None
        #: impl message id -> its place in acceptance order (the spec's id)
        self.index: dict[int, int] = {}
        self.submitted: dict[int, bytes] = {}
        self.acked: set[int] = set()
        self.delivered: list[int] = []
        self.discarded = 0

    @property
    def sender_disk(self) -> MemoryDisk:
        return self.sender_store.disk

    @property
    def receiver_disk(self) -> MemoryDisk:
        return self.receiver_store.disk

    # --- the one effect loop ----------------------------------------------------------------

    def carry_out(
        self, node: NodeName, effects: Sequence[Effect], crash_at: int | None = None
    ) -> list[Effect]:
        """Carry out ``effects`` of ``node`` in order; with ``crash_at``, stop before effect
        ``crash_at`` (a ``Persist`` there dies mid-commit). Returns the effects carried out."""
        store = self.sender_store if node == "sender" else self.receiver_store
        outgoing = self.to_receiver if node == "sender" else self.to_sender
        done: list[Effect] = []
        for i, effect in enumerate(effects):
            if crash_at is not None and i >= crash_at:
                if isinstance(effect, Persist) and effect.writes:
                    _crash_mid_commit(store, effect)
                break
            match effect:
                case Persist(writes):
                    run_sync(store.commit(writes))
                case SendFrame(frame):
                    outgoing.append(frame)
                case Accepted(msg):
                    assert msg not in self.index, f"message id {msg} handed out twice"
                    self.index[msg] = len(self.index)
                case Acked(msg):
                    self.acked.add(msg)
                case Deliver(msg, _):
                    self.delivered.append(msg)
                case SetTimer(deadline):
                    self.timer = deadline
                case Discarded():
                    self.discarded += 1
                case _:
                    assert_never(effect)
            done.append(effect)
        return done

    def step(
        self, node: NodeName, event: Event, crash_at: int | None = None
    ) -> tuple[list[Effect], list[Effect]]:
        """Feed ``event`` to ``node``'s core and carry out its effects: (all, carried out)."""
        core: SenderCore | ReceiverCore = self.sender if node == "sender" else self.receiver
        effects = core.handle(event, self.now)
        if crash_at is not None:
            crash_at = min(crash_at, len(effects))
        return effects, self.carry_out(node, effects, crash_at)

    def restart(self, node: NodeName) -> list[Effect]:
        """Crash ``node`` (its store dies, its core is dropped) and start a new incarnation on
        the same disk. Returns the effects of its ``Restart``."""
        if node == "sender":
            self.sender_store.crash()
            self.sender_store = MemoryStore(self.sender_store.disk)
            self.sender = make_sender(self.guarantee, policy=self.policy)
            self.timer = None
            snapshot = run_sync(self.sender_store.load())
        else:
            self.receiver_store.crash()
            self.receiver_store = MemoryStore(self.receiver_store.disk)
            self.receiver = self.receiver_factory(self.guarantee)
            snapshot = run_sync(self.receiver_store.load())
        return self.step(node, Restart(snapshot))[1]

    # --- moves ------------------------------------------------------------------------------

    def submit(self, payload: bytes) -> int:
        """Submit ``payload``; its message id."""
        _, done = self.step("sender", Submit(payload))
        (msg,) = [e.msg for e in done if isinstance(e, Accepted)]
        self.submitted[msg] = payload
        return msg

    def deliver_to_receiver(self, index: int = 0, *, crash_at: int | None = None) -> bool:
        """Deliver frame ``index`` of ``to_receiver``. With ``crash_at``, the receiver crashes
        before that effect and restarts; True if it did (``crash_at`` was within the step)."""
        effects, done = self.step("receiver", FrameIn(self.to_receiver.pop(index)), crash_at)
        crashed = len(done) < len(effects)
        if crashed:
            self.restart("receiver")
        return crashed

    def deliver_to_sender(self, index: int = 0) -> None:
        self.step("sender", FrameIn(self.to_sender.pop(index)))

    def duplicate(self, *, to_receiver: bool, index: int = 0) -> Frame:
        net = self.to_receiver if to_receiver else self.to_sender
        net.append(net[index])
        return net[index]

    def drop(self, *, to_receiver: bool, index: int = 0) -> Frame:
        net = self.to_receiver if to_receiver else self.to_sender
        return net.pop(index)

    def fire_timer(self) -> bool:
        """Fire the sender's timer at its deadline; False if it is not armed."""
        if self.timer is None:
            return False
        self.now = max(self.now, self.timer)
        self.step("sender", TimerFired())
        return True

    def restart_receiver(self) -> None:
        self.restart("receiver")

    def restart_sender(self) -> None:
        self.restart("sender")

    def drain(self, *, max_rounds: int = 200) -> None:
        """A fair network from here on: deliver everything, fire timers, until nothing is
        unacked (at-most-once: until the network is empty)."""
        for _ in range(max_rounds):
            while self.to_receiver or self.to_sender:
                if self.to_receiver:
                    self.deliver_to_receiver()
                if self.to_sender:
                    self.deliver_to_sender()
            if self.sender.in_flight == 0 or not self.fire_timer():
                return
        raise AssertionError(f"the network was fair for {max_rounds} rounds; still unacked")

    # --- observations -----------------------------------------------------------------------

    def processed_log(self) -> list[int]:
        return [msg for msg, _ in self.receiver_disk.processed]

    def processed_counts(self) -> Counter[int]:
        return Counter(self.processed_log())


def _crash_mid_commit(store: MemoryStore, persist: Persist) -> None:
    """Kill ``store`` in the middle of committing ``persist``: after staging all but its last
    write. The commit must leave nothing behind."""
    before = store.disk.copy()
    store.inject_crash(after_writes=len(persist.writes) - 1)
    try:
        run_sync(store.commit(persist.writes))
    except StoreCrashed:
        pass
    else:
        raise AssertionError("inject_crash did not crash the commit")
    assert store.disk == before, "a crashed commit left writes behind"
