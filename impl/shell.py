"""The trio shell: runs a sans-I/O core against a transport, a store, a clock and a tracer.

Theory of operation
-------------------
* The core owns the protocol state; the shell only moves inputs in and carries effects out.
  A public node (:mod:`ackproof.impl.nodes`) *has* a :class:`Shell` and a core and reads each
  for what it knows: the shell for what it queued and carried out, the core for what is in
  flight. Nothing subclasses the shell; the role-specific effects (``Accepted`` for a sender's
  producer, ``Deliver`` for a receiver's application) are callbacks it was given.
* An untraced node has the :data:`NULL_TRACER`, so tracing is never a special case.
* One task per node (``_main``) owns the core. Inputs — submissions from ``send``, frames from the
  receive task, the timer — are queued in ``_inbox``; ``_main`` takes them in batches (at most
  ``batch_limit``), feeds each to ``core.handle(event, now)`` and collects the effects in order.
* Rule 1 (persist before what follows): effects are carried out in order, except that the
  ``Persist`` writes of a batch are merged into ONE store transaction (group commit). Outputs that
  came before the first ``Persist`` run first; every output that came after any ``Persist`` runs
  only after that transaction has committed. Group commit therefore only *delays* outputs; no
  output ever overtakes a write that preceded it, which is the property a step needs.
* Timer: the core says ``SetTimer(deadline)``; ``_main`` sleeps until the next input or the
  deadline, whichever is first, then feeds ``TimerFired``.
* Frames leave through a queue drained by one writer task, in order and as many per transport
  call as have accumulated (the queue is bounded: a full queue stalls ``_main``). A frame is
  queued only after every write before it has committed.
* Frames that fail to decode are dropped and counted by reason; they never reach the core. One
  whose fields could be read (a well-formed frame with an id outside the id space) is also
  traced as ``reject``. No frame, however bad, stops the node or touches its batch.
* A crash is cancellation: everything not yet committed is gone; a new node on the same store
  recovers from ``store.load()`` via the core's ``Restart`` event.
* Trace lines are written ahead of the frames they lead to: the tracer is flushed before a
  batch's frames are queued, and again at the end of the batch. So a node killed at any
  instruction has on file every ``submit``/``process`` line whose frame a peer could have seen;
  what a kill can lose is only lines whose effects stayed inside the node (the committed but
  unflushed window, which :mod:`ackproof.impl.trace` reconciles from the durable records).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, assert_never

import trio

from ackproof.impl.codec import decode, encode
from ackproof.impl.errors import FrameError, FrameErrorKind, UsageError
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
    Write,
)
from ackproof.impl.trace import NodeName, TraceEvent

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from ackproof.impl.codec import Frame
    from ackproof.impl.store import Store
    from ackproof.impl.transport import Transport

LINK_ERRORS = (trio.EndOfChannel, trio.ClosedResourceError, trio.BrokenResourceError)


@dataclass(frozen=True, slots=True)
class Delivery:
    msg: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class NodeStatistics:
    node: NodeName
    guarantee: Guarantee
    submitted: int
    acked: int
    processed: int
    in_flight: int
    frames_sent: int
    frames_received: int
    retransmissions: int
    discarded: int
    truncated: int
    oversized: int
    unknown: int
    malformed: int
    out_of_range: int
    send_failures: int
    durable_commits: int
    durable_writes: int

    @property
    def frames_rejected(self) -> int:
        """Frames dropped at the edge, whatever the reason (never passed to the core)."""
        return self.truncated + self.oversized + self.unknown + self.malformed + self.out_of_range


class NodeTracer(Protocol):
    """What the shell needs of a tracer (:class:`~ackproof.impl.trace.Tracer` is one)."""

    def emit(
        self,
        event: TraceEvent,
        msg: int | None = None,
        frame: Frame | None = None,
        *,
        fields: dict[str, object] | None = None,
        reason: str | None = None,
    ) -> None: ...

    def flush(self) -> None: ...


class NullTracer:
    """The tracer of an untraced node: records nothing, so no call site checks for None."""

    def emit(self, *args: object, **kwargs: object) -> None:
        del args, kwargs

    def flush(self) -> None:
        pass


NULL_TRACER: NodeTracer = NullTracer()


class Core(Protocol):
    """What the shell needs of a sans-I/O core (every sender and receiver core is one)."""

    @property
    def guarantee(self) -> Guarantee: ...

    def handle(self, event: Event, now: float) -> list[Effect]: ...


def ignore_accepted(msg: int) -> None:
    """The ``on_accepted`` of a sender whose producer does not ask."""
    del msg


async def _delivery_ignored(delivery: Delivery) -> None:
    del delivery


class Shell:
    """Runs one core; :mod:`ackproof.impl.nodes` wraps one in each public node.

    It owns only what the core cannot know: the inbox, the timer, the outgoing queue, the
    frames rejected at the edge and the counts of effects carried out. What the core knows
    (messages in flight, retransmissions) is read from the core by the node that owns both.
    ``on_accepted(msg)`` runs when an ``Accepted`` is carried out, ``deliver`` on each
    ``Deliver``: the two role-specific effects, passed in rather than overridden.
    """

    def __init__(
        self,
        core: Core,
        transport: Transport,
        store: Store,
        *,
        node: NodeName,
        tracer: NodeTracer,
        restarted: bool,
        batch_limit: int,
        on_accepted: Callable[[int], None] = ignore_accepted,
        deliver: Callable[[Delivery], Awaitable[None]] = _delivery_ignored,
    ) -> None:
        if batch_limit < 1:
            raise UsageError("batch_limit must be >= 1")
        self.node = node
        self._core = core
        self._transport = transport
        self._store = store
        self._tracer = tracer
        self._restarted = restarted
        self._batch_limit = batch_limit
        self._on_accepted = on_accepted
        self._deliver = deliver
        self._inbox: deque[Event] = deque()
        self._inbox_limit = 4 * batch_limit
        self._queued = 0  # Submit events in the inbox (not yet handed to the core)
        self._busy = True  # inputs handed to the core whose effects are not all carried out
        self._wakeup = trio.Event()
        self._drained = trio.Event()
        self._deadline: float | None = None
        self._outgoing: list[bytes] = []
        self._outgoing_limit = 4 * batch_limit
        self._outgoing_ready = trio.Event()
        self._outgoing_drained = trio.Event()
        self._changed = trio.lowlevel.ParkingLot()
        self._closed = False
        self._rejected = dict.fromkeys(FrameErrorKind, 0)
        self._accepted = self._acked = self._processed = 0
        self._sent = self._received = 0
        self._discarded = self._send_failures = 0

    # --- what a node asks of its shell ------------------------------------------------------------

    def submit(self, payload: bytes) -> None:
        """Queue a submission for the core (the window is the node's business)."""
        self._inbox.append(Submit(payload))
        self._queued += 1
        self._wakeup.set()

    @property
    def queued(self) -> int:
        """Submissions queued and not yet handed to the core."""
        return self._queued

    @property
    def settled(self) -> bool:
        """Nothing queued, and every input handed to the core has had all its effects."""
        return self._queued == 0 and not self._busy

    @property
    def closed(self) -> bool:
        return self._closed

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        """Wait until ``condition()`` holds (checked again after every batch)."""
        while not condition():
            await self._changed.park()

    # --- tasks ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        tracer = self._tracer
        snapshot = await self._store.load()
        if self._restarted:
            tracer.emit(TraceEvent.RESTART)
            tracer.flush()
        await self._execute(self._core.handle(Restart(snapshot), trio.current_time()))
        self._busy = False  # a recovered outbox is in flight from the start: the core says so
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._receive_loop)
            nursery.start_soon(self._send_loop)
            task_status.started()
            try:
                await self._main()
            finally:
                self._closed = True
                tracer.flush()

    async def _receive_loop(self) -> None:
        transport, inbox, rejected = self._transport, self._inbox, self._rejected
        tracer = self._tracer
        while True:
            try:
                raw = await transport.receive()
            except LINK_ERRORS:
                self._changed.unpark_all()
                return
            try:
                frame = decode(raw)
            except FrameError as exc:
                rejected[exc.kind] += 1
                if exc.msg is not None:
                    tracer.emit(TraceEvent.REJECT, exc.msg, fields=exc.fields, reason=str(exc))
                    tracer.flush()
                self._changed.unpark_all()
                continue
            self._received += 1
            inbox.append(FrameIn(frame))
            self._wakeup.set()
            if len(inbox) >= self._inbox_limit:
                await self._drained.wait()

    async def _main(self) -> None:
        core, inbox, tracer = self._core, self._inbox, self._tracer
        while True:
            if not inbox:
                self._wakeup = trio.Event()
                if self._deadline is None:
                    await self._wakeup.wait()
                else:
                    with trio.move_on_at(self._deadline):
                        await self._wakeup.wait()
            now = trio.current_time()
            self._busy = True
            effects: list[Effect] = []
            if self._deadline is not None and self._deadline <= now:
                effects += core.handle(TimerFired(), now)
            for _ in range(min(len(inbox), self._batch_limit)):
                event = inbox.popleft()
                if isinstance(event, Submit):
                    self._queued -= 1
                elif isinstance(event, FrameIn):
                    tracer.emit(TraceEvent.RECEIVE, event.frame.msg, event.frame)
                effects += core.handle(event, now)
            self._drained.set()
            self._drained = trio.Event()
            await self._execute(effects)
            tracer.flush()
            self._busy = False
            self._changed.unpark_all()

    # --- effects --------------------------------------------------------------------------------

    async def _execute(self, effects: list[Effect]) -> None:
        writes: list[Write] = []
        before: list[Effect] = []
        after: list[Effect] = []
        for effect in effects:
            if isinstance(effect, Persist):
                writes.extend(effect.writes)
            else:
                (after if writes else before).append(effect)
        if before:
            await self._carry_out(before)
        if writes:
            await self._store.commit(writes)
        if after:
            await self._carry_out(after)

    async def _carry_out(self, effects: list[Effect]) -> None:
        tracer = self._tracer
        frames: list[bytes] = []
        for effect in effects:
            match effect:
                case SendFrame(frame):
                    frames.append(encode(frame))
                    tracer.emit(TraceEvent.SEND, frame.msg, frame)
                case Accepted(msg):
                    self._accepted += 1
                    tracer.emit(TraceEvent.SUBMIT, msg)
                    self._on_accepted(msg)
                case Deliver(msg, payload):
                    self._processed += 1
                    tracer.emit(TraceEvent.PROCESS, msg)
                    await self._deliver(Delivery(msg, payload))
                case Acked(msg):
                    self._acked += 1
                    tracer.emit(TraceEvent.ACK, msg)
                case Discarded():
                    self._discarded += 1
                case SetTimer(deadline):
                    self._deadline = deadline
                case Persist():
                    raise AssertionError("persists are committed by _execute")
                case _:
                    assert_never(effect)
        if frames:
            tracer.flush()  # write-ahead: a line is on file before the frames it led to leave
            self._sent += len(frames)
            self._outgoing += frames
            self._outgoing_ready.set()
            while len(self._outgoing) > self._outgoing_limit:
                await self._outgoing_drained.wait()

    async def _send_loop(self) -> None:
        """Write queued frames in order, as many per transport call as have accumulated."""
        while True:
            await self._outgoing_ready.wait()
            self._outgoing_ready = trio.Event()
            frames, self._outgoing = self._outgoing, []
            self._outgoing_drained.set()
            self._outgoing_drained = trio.Event()
            try:
                await self._transport.send_batch(frames)
            except LINK_ERRORS:
                self._send_failures += 1

    # --- queries --------------------------------------------------------------------------------

    def statistics(self, *, in_flight: int = 0, retransmissions: int = 0) -> NodeStatistics:
        """The shell's counts, with what only the core knows passed in by the node."""
        store = self._store.statistics()
        rej = self._rejected
        return NodeStatistics(
            node=self.node,
            guarantee=self._core.guarantee,
            submitted=self._accepted,
            acked=self._acked,
            processed=self._processed,
            in_flight=in_flight,
            frames_sent=self._sent,
            frames_received=self._received,
            retransmissions=retransmissions,
            discarded=self._discarded,
            truncated=rej[FrameErrorKind.TRUNCATED],
            oversized=rej[FrameErrorKind.OVERSIZED],
            unknown=rej[FrameErrorKind.UNKNOWN],
            malformed=rej[FrameErrorKind.MALFORMED],
            out_of_range=rej[FrameErrorKind.OUT_OF_RANGE],
            send_failures=self._send_failures,
            durable_commits=store.commits,
            durable_writes=store.writes,
        )
