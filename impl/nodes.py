"""The public trio nodes: :class:`SenderNode`, :class:`ReceiverNode` and their openers.

``open_sender`` / ``open_receiver`` run a node for the duration of an ``async with`` block.
Everything else (the loop, group commit, the effect rules) lives in :mod:`ackproof.impl.shell`.
"""

from __future__ import annotations

import math
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

import trio

from ackproof.impl.codec import MAX_PAYLOAD
from ackproof.impl.errors import UsageError
from ackproof.impl.events import Accepted, Effect, Guarantee, Submit
from ackproof.impl.receiver import make_receiver
from ackproof.impl.sender import RetryPolicy, SenderCore, make_sender
from ackproof.impl.shell import Delivery, Node
from ackproof.impl.store import MemoryStore, Store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ackproof.impl.receiver import ReceiverCore
    from ackproof.impl.trace import NodeName, Tracer
    from ackproof.impl.transport import Transport


class SenderNode(Node):
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
        on_accepted: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(
            core, transport, store, tracer=tracer, restarted=restarted, batch_limit=batch_limit
        )
        if max_in_flight < 1:
            raise UsageError("max_in_flight must be >= 1")
        self._max_in_flight = max_in_flight
        self._on_accepted = on_accepted
        self._queued = 0
        self._settled_in_flight = 0

    def _settle(self) -> None:
        self._settled_in_flight = self._core.in_flight

    def _accepted(self, msg: int) -> None:
        if self._on_accepted is not None:
            self._on_accepted(msg)

    def _in_flight(self) -> int:
        return self._core.in_flight

    def _outstanding(self) -> int:
        # The window bounds the id span from the oldest unacked message, not only how many
        # are unacked (TCP's window is a span too): a message stuck in retries holds the
        # window, so the exactly-once receiver's dedup set above its watermark stays within it.
        core = self._core
        return self._queued + max(core.in_flight, core.span)

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


class ReceiverNode(Node):
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


NodeT = TypeVar("NodeT", SenderNode, ReceiverNode)


@asynccontextmanager
async def _running(node: NodeT) -> AsyncIterator[NodeT]:
    """Run ``node`` in a nursery for the duration of the block, cancel it after."""
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        try:
            yield node
        finally:
            nursery.cancel_scope.cancel()


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
    on_accepted: Callable[[int], None] | None = None,
) -> AsyncIterator[SenderNode]:
    """Run a sender node for the duration of the ``async with`` block.

    ``on_accepted(msg)`` is called, in submission order, when a submission gets its id: after
    its durable write (at-least-once, exactly-once) and before its first frame is sent.
    """
    sender = SenderNode(
        make_sender(guarantee, policy=policy),
        transport,
        MemoryStore() if store is None else store,
        max_in_flight=max_in_flight,
        tracer=tracer,
        restarted=restarted,
        batch_limit=batch_limit,
        on_accepted=on_accepted,
    )
    async with _running(sender) as running:
        yield running


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
    receiver = ReceiverNode(
        make_receiver(guarantee),
        transport,
        MemoryStore() if store is None else store,
        max_buffer=max_buffer,
        tracer=tracer,
        restarted=restarted,
        batch_limit=batch_limit,
    )
    async with _running(receiver) as running:
        yield running
