"""The public trio nodes: :class:`SenderNode`, :class:`ReceiverNode` and their openers.

``open_sender`` / ``open_receiver`` run a node for the duration of an ``async with`` block.
Each node *has* a :class:`~ackproof.impl.shell.Shell` (the loop, group commit, the effect rules)
and a core; it reads the shell for what it queued and carried out and the core for what is in
flight, and adds its role's API (the sender's window, the receiver's ``deliveries``).
"""

from __future__ import annotations

import math
from contextlib import asynccontextmanager, suppress
from typing import TYPE_CHECKING, TypeVar

import trio

from ackproof.impl.codec import MAX_PAYLOAD
from ackproof.impl.errors import UsageError
from ackproof.impl.events import Guarantee
from ackproof.impl.receiver import make_receiver
from ackproof.impl.sender import RetryPolicy, SenderCore, make_sender
from ackproof.impl.shell import (
    NULL_TRACER,
    Delivery,
    NodeStatistics,
    NodeTracer,
    Shell,
    ignore_accepted,
)
from ackproof.impl.store import MemoryStore, Store

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ackproof.impl.receiver import ReceiverCore
    from ackproof.impl.trace import NodeName
    from ackproof.impl.transport import Transport


class SenderNode:
    """Runs a sender core. Open one with :func:`open_sender`."""

    node: NodeName = "sender"

    def __init__(
        self,
        core: SenderCore,
        transport: Transport,
        store: Store,
        *,
        max_in_flight: int,
        tracer: NodeTracer,
        restarted: bool,
        batch_limit: int,
        on_accepted: Callable[[int], None] | None = None,
    ) -> None:
        self._shell = Shell(
            core,
            transport,
            store,
            node=self.node,
            tracer=tracer,
            restarted=restarted,
            batch_limit=batch_limit,
            on_accepted=ignore_accepted if on_accepted is None else on_accepted,
        )
        if max_in_flight < 1:
            raise UsageError("max_in_flight must be >= 1")
        self._core = core
        self.guarantee = core.guarantee
        self._max_in_flight = max_in_flight

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._shell.run(task_status=task_status)

    def _outstanding(self) -> int:
        # The window bounds the id span from the oldest unacked message, not only how many
        # are unacked (TCP's window is a span too): a message stuck in retries holds the
        # window, so the exactly-once receiver's dedup set above its watermark stays within it.
        core = self._core
        return self._shell.queued + max(core.in_flight, core.span)

    def _check_payload(self, payload: bytes) -> None:
        if self._shell.closed:
            raise trio.ClosedResourceError("sender node is closed")
        if len(payload) > MAX_PAYLOAD:
            raise UsageError(f"payload of {len(payload)} bytes > {MAX_PAYLOAD}")

    def send_nowait(self, payload: bytes) -> None:
        """Queue ``payload``; raise ``trio.WouldBlock`` if ``max_in_flight`` are outstanding."""
        self._check_payload(payload)
        if self._outstanding() >= self._max_in_flight:
            raise trio.WouldBlock
        self._shell.submit(payload)

    async def send(self, payload: bytes) -> None:
        """Queue ``payload``, waiting while ``max_in_flight`` messages are outstanding.

        The message is durable in the outbox (at-least-once, exactly-once) before it is first
        transmitted; ``send`` returns once it is queued, not once it is acknowledged.
        """
        self._check_payload(payload)
        shell = self._shell
        await shell.wait_until(lambda: shell.closed or self._outstanding() < self._max_in_flight)
        self._check_payload(payload)
        await trio.lowlevel.checkpoint()
        self.send_nowait(payload)

    async def wait_all_acked(self) -> None:
        """Wait until nothing is queued or unacknowledged (at-most-once: until all is sent).

        Returns only after the last ACK's effects (outbox delete, ``ack`` trace) are done.
        """
        await self._shell.wait_until(lambda: self._shell.settled and self._core.in_flight == 0)

    def statistics(self) -> NodeStatistics:
        core = self._core
        return self._shell.statistics(
            in_flight=core.in_flight, retransmissions=core.retransmissions
        )

    async def wait_statistics(self, predicate: Callable[[NodeStatistics], bool]) -> None:
        """Wait until ``predicate(self.statistics())`` holds (checked after every batch)."""
        await self._shell.wait_until(lambda: predicate(self.statistics()))


class ReceiverNode:
    """Runs a receiver core. Open one with :func:`open_receiver`; read ``deliveries``."""

    node: NodeName = "receiver"

    def __init__(
        self,
        core: ReceiverCore,
        transport: Transport,
        store: Store,
        *,
        max_buffer: float,
        tracer: NodeTracer,
        restarted: bool,
        batch_limit: int,
    ) -> None:
        self._shell = Shell(
            core,
            transport,
            store,
            node=self.node,
            tracer=tracer,
            restarted=restarted,
            batch_limit=batch_limit,
            deliver=self._deliver,
        )
        self.guarantee = core.guarantee
        self._deliver_tx, self.deliveries = trio.open_memory_channel[Delivery](max_buffer)
        self._nobody_reads = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await self._shell.run(task_status=task_status)

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

    def statistics(self) -> NodeStatistics:
        return self._shell.statistics()

    async def wait_statistics(self, predicate: Callable[[NodeStatistics], bool]) -> None:
        """Wait until ``predicate(self.statistics())`` holds (checked after every batch)."""
        await self._shell.wait_until(lambda: predicate(self.statistics()))


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
    tracer: NodeTracer = NULL_TRACER,
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
    tracer: NodeTracer = NULL_TRACER,
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
