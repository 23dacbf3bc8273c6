"""The frame transport interface, and the in-memory transport.

A transport carries opaque frames (bytes, each one :func:`~ackproof.impl.codec.encode` output or
whatever a peer sent) between two endpoints. ``send``/``send_batch`` hand frames over;
``receive`` returns the next frame's bytes and raises ``trio.EndOfChannel`` once the peer has
closed a link that can tell (memory, TCP) and ``trio.ClosedResourceError`` after the local
``aclose``. Loss, duplication and reordering are allowed of a transport (UDP) and never errors;
the reliable ones (memory, TCP) keep order. Every implementation passes the same conformance
suite (``tests/impl/test_impl_transport_conformance.py``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Protocol

import trio

if TYPE_CHECKING:
    from collections.abc import Sequence


class Transport(Protocol):
    async def send(self, data: bytes) -> None: ...

    async def send_batch(self, frames: Sequence[bytes]) -> None: ...

    async def receive(self) -> bytes: ...

    async def aclose(self) -> None: ...


class MemoryTransport:
    """One end of an in-process link built on trio memory channels."""

    def __init__(
        self, tx: trio.MemorySendChannel[bytes], rx: trio.MemoryReceiveChannel[bytes]
    ) -> None:
        self._tx = tx
        self._rx = rx

    async def send(self, data: bytes) -> None:
        await self._tx.send(data)

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        for data in frames:
            await self._tx.send(data)

    async def receive(self) -> bytes:
        return await self._rx.receive()

    async def aclose(self) -> None:
        await self._tx.aclose()
        await self._rx.aclose()


def memory_transport_pair(*, capacity: float = math.inf) -> tuple[MemoryTransport, MemoryTransport]:
    """Two connected in-memory endpoints; ``capacity`` frames may be buffered per direction."""
    a_tx, b_rx = trio.open_memory_channel[bytes](capacity)
    b_tx, a_rx = trio.open_memory_channel[bytes](capacity)
    return MemoryTransport(a_tx, a_rx), MemoryTransport(b_tx, b_rx)
