"""The trio shell: runs a sans-I/O core against a transport, a store, a clock and a tracer.

Theory of operation
-------------------
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
* Frames that fail to decode are dropped and counted by reason; they never reach the core.
* A crash is cancellation: everything not yet committed is gone; a new node on the same store
  recovers from ``store.load()`` via the core's ``Restart`` event.
"""

from __future__ import annotations

import math
from collections import deque
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

import trio

from ackproof.impl.codec import MAX_PAYLOAD, FrameKind, decode, encode
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
from ackproof.impl.receiver import make_receiver
from ackproof.impl.sender import RetryPolicy, SenderCore, make_sender
from ackproof.impl.store import MemoryStore, Store
from ackproof.impl.trace import NodeName, TraceEvent, Tracer

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ackproof.impl.receiver import ReceiverCore
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
    send_failures: int
    durable_commits: int
    durable_writes: int

    @property
    def frames_rejected(self) -> int:
        return self.truncated + self.oversized + self.unknown + self.malformed


class _Node:
    node: NodeName

    def __init__(
        self,
        core: SenderCore | ReceiverCore,
        transport: Transport,
        store: Store,
        *,
        tracer: Tracer | None,
        restarted: bool,
        batch_limit: int,
    ) -> None:
        if batch_limit < 1:
            raise UsageError("batch_limit must be >= 1")
        self._core = core
        self.guarantee = core.guarantee
        self._transport = transport
        self._store = store
        self._tracer = tracer
        self._restarted = restarted
        self._batch_limit = batch_limit
        self._inbox: deque[Event] = deque()
        self._inbox_limit = 4 * batch_limit
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
        self._submitted = self._acked = self._processed = 0
        self._sent = self._received = self._data_sent = 0
        self._discarded = self._send_failures = 0

    # --- tasks ----------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        snapshot = await self._store.load()
        if self._tracer is not None and self._restarted:
            self._tracer.emit(TraceEvent.RESTART)
            self._tracer.flush()
        await self._execute(self._core.handle(Restart(snapshot), trio.current_time()))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._receive_loop)
            nursery.start_soon(self._send_loop)
            task_status.started()
            try:
                await self._main()
            finally:
                self._closed = True
                if self._tracer is not None:
                    self._tracer.flush()

    async def _receive_loop(self) -> None:
        transport, inbox, rejected = self._transport, self._inbox, self._rejected
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
            effects: list[Effect] = []
            if self._deadline is not None and self._deadline <= now:
                effects += core.handle(TimerFired(), now)
            for _ in range(min(len(inbox), self._batch_limit)):
                event = inbox.popleft()
                if tracer is not None and isinstance(event, FrameIn):
                    frame = event.frame
                    tracer.emit(TraceEvent.RECEIVE, frame.msg, frame)
                effects += core.handle(event, now)
            self._drained.set()
            self._drained = trio.Event()
            await self._execute(effects)
            if tracer is not None:
                tracer.flush()
            self._settle()
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
                    if frame.kind is FrameKind.DATA:
                        self._data_sent += 1
                    if tracer is not None:
                        tracer.emit(TraceEvent.SEND, frame.msg, frame)
                case Accepted(msg):
                    self._submitted += 1
                    if tracer is not None:
                        tracer.emit(TraceEvent.SUBMIT, msg)
                case Deliver(msg, payload):
                    self._processed += 1
                    if tracer is not None:
                        tracer.emit(TraceEvent.PROCESS, msg)
                    await self._deliver(Delivery(msg, payload))
                case Acked(msg):
                    self._acked += 1
                    if tracer is not None:
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

    async def _deliver(self, delivery: Delivery) -> None:
        del delivery

    def _settle(self) -> None:
        """Called after each batch's effects have all been carried out."""

    # --- queries --------------------------------------------------------------------------------

    def statistics(self) -> NodeStatistics:
        store = self._store.statistics()
        rej = self._rejected
        in_flight = self._core.in_flight if isinstance(self, SenderNode) else 0
        return NodeStatistics(
            node=self.node,
            guarantee=self.guarantee,
            submitted=self._submitted,
            acked=self._acked,
            processed=self._processed,
            in_flight=in_flight,
            frames_sent=self._sent,
            frames_received=self._received,
            retransmissions=max(0, self._data_sent - self._submitted)
            if self.node == "sender"
            else 0,
            discarded=self._discarded,
            truncated=rej[FrameErrorKind.TRUNCATED],
            oversized=rej[FrameErrorKind.OVERSIZED],
            unknown=rej[FrameErrorKind.UNKNOWN],
            malformed=rej[FrameErrorKind.MALFORMED],
            send_failures=self._send_failures,
            durable_commits=store.commits,
            durable_writes=store.writes,
        )

    async def wait_statistics(self, predicate: Callable[[NodeStatistics], bool]) -> None:
        """Wait until ``predicate(self.statistics())`` holds (checked after every batch)."""
        while not predicate(self.statistics()):
            await self._changed.park()


class SenderNode(_Node):
    """Runs a sender core. Open one with :func:`open_sender`."""

    node: NodeName = "sender"
    _core: SenderCore

    def __init__(
        self,
        core: SenderCore,
        transport: Transport,
        store: Store,
        *,
        max_in_flight: int,
        tracer: Tracer | None,
        restarted: bool,
        batch_limit: int,
    ) -> None:
        super().__init__(
            core, transport, store, tracer=tracer, restarted=restarted, batch_limit=batch_limit
        )
        if max_in_flight < 1:
            raise UsageError("max_in_flight must be >= 1")
        self._max_in_flight = max_in_flight
        self._queued = 0
        self._settled_in_flight = 0

    def _settle(self) -> None:
        self._settled_in_flight = self._core.in_flight

    def _outstanding(self) -> int:
        return self._queued + self._core.in_flight

    def _check_payload(self, payload: bytes) -> None:
        if self._closed:
            raise trio.ClosedResourceError("sender node is closed")
        if len(payload) > MAX_PAYLOAD:
            raise UsageError(f"payload of {len(payload)} bytes > {MAX_PAYLOAD}")

    def send_nowait(self, payload: bytes) -> None:
        """Queue ``payload``; raise ``trio.WouldBlock`` if ``max_in_flight`` are outstanding."""
        self._check_payload(payload)
        if self._outstanding() >= self._max_in_flight:
            raise trio.WouldBlock
        self._queued += 1
        self._inbox.append(Submit(payload))
        self._wakeup.set()

    async def send(self, payload: bytes) -> None:
        """Queue ``payload``, waiting while ``max_in_flight`` messages are outstanding.

        The message is durable in the outbox (at-least-once, exactly-once) before it is first
        transmitted; ``send`` returns once it is queued, not once it is acknowledged.
        """
        self._check_payload(payload)
        while self._outstanding() >= self._max_in_flight:
            await self._changed.park()
            self._check_payload(payload)
        await trio.lowlevel.checkpoint()
        self.send_nowait(payload)

    async def wait_all_acked(self) -> None:
        """Wait until nothing is queued or unacknowledged (at-most-once: until all is sent).

        Returns only after the last ACK's effects (outbox delete, ``ack`` trace) are done.
        """
        while self._queued > 0 or self._settled_in_flight > 0:
            await self._changed.park()

    async def _execute(self, effects: list[Effect]) -> None:
        self._queued -= sum(1 for e in effects if isinstance(e, Accepted))
        await super()._execute(effects)


class ReceiverNode(_Node):
    """Runs a receiver core. Open one with :func:`open_receiver`; read ``deliveries``."""

    node: NodeName = "receiver"

    def __init__(
        self,
        core: ReceiverCore,
        transport: Transport,
        store: Store,
        *,
        max_buffer: float,
        tracer: Tracer | None,
        restarted: bool,
        batch_limit: int,
    ) -> None:
        super().__init__(
            core, transport, store, tracer=tracer, restarted=restarted, batch_limit=batch_limit
        )
        self._deliver_tx, self.deliveries = trio.open_memory_channel[Delivery](max_buffer)
        self._nobody_reads = False

    async def _deliver(self, delivery: Delivery) -> None:
        # If nobody reads deliveries any more, the processed record is what counts.
        if self._nobody_reads:
            return
        try:
            self._deliver_tx.send_nowait(delivery)
        except trio.WouldBlock:
            with suppress(trio.BrokenResourceError):
                await self._deliver_tx.send(delivery)
        except trio.BrokenResourceError:
            self._nobody_reads = True


@asynccontextmanager
async def open_sender(
    guarantee: Guarantee,
    transport: Transport,
    *,
    store: Store | None = None,
    policy: RetryPolicy | None = None,
    max_in_flight: int = 1024,
    tracer: Tracer | None = None,
    restarted: bool = False,
    batch_limit: int = 1024,
) -> AsyncIterator[SenderNode]:
    """Run a sender node for the duration of the ``async with`` block."""
    node = SenderNode(
        make_sender(guarantee, policy=policy),
        transport,
        MemoryStore() if store is None else store,
        max_in_flight=max_in_flight,
        tracer=tracer,
        restarted=restarted,
        batch_limit=batch_limit,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_receiver(
    guarantee: Guarantee,
    transport: Transport,
    *,
    store: Store | None = None,
    max_buffer: float = math.inf,
    tracer: Tracer | None = None,
    restarted: bool = False,
    batch_limit: int = 1024,
) -> AsyncIterator[ReceiverNode]:
    """Run a receiver node for the duration of the ``async with`` block."""
    node = ReceiverNode(
        make_receiver(guarantee),
        transport,
        MemoryStore() if store is None else store,
        max_buffer=max_buffer,
        tracer=tracer,
        restarted=restarted,
        batch_limit=batch_limit,
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()
