"""TCP transport on loopback (127.0.0.1 only).

Frames are cut from the byte stream by the codec's length prefix (:class:`FrameSplitter`). A
stream that cannot be resynchronised (unknown version, oversized length) yields the bad header once
(so it is counted) and the connection is closed; a stream that ends mid-frame yields the leftover
bytes once (counted as truncated). Then ``receive`` raises ``trio.EndOfChannel``.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import trio

from ackproof.impl.codec import FrameSplitter
from ackproof.impl.udp import LOOPBACK, check_loopback

if TYPE_CHECKING:
    from collections.abc import Sequence

RECEIVE_SIZE = 1 << 16


class TCPTransport:
    def __init__(self, stream: trio.SocketStream) -> None:
        self._stream = stream
        self._splitter = FrameSplitter()
        self._ready: deque[bytes] = deque()
        self._eof = False
        self._send_lock = trio.Lock()

    @classmethod
    async def connect(cls, port: int, *, host: str = LOOPBACK) -> TCPTransport:
        check_loopback(host)
        return cls(await trio.open_tcp_stream(host, port))

    async def send(self, data: bytes) -> None:
        async with self._send_lock:
            await self._stream.send_all(data)

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        async with self._send_lock:
            await self._stream.send_all(b"".join(frames))

    async def receive(self) -> bytes:
        while not self._ready:
            if self._eof:
                raise trio.EndOfChannel
            data = await self._stream.receive_some(RECEIVE_SIZE)
            if data:
                self._ready.extend(self._splitter.feed(data))
                if self._splitter.broken:
                    self._eof = True
                    await self._stream.aclose()
            else:
                self._eof = True
                rest = self._splitter.flush()
                if rest is not None:
                    self._ready.append(rest)
        return self._ready.popleft()

    async def aclose(self) -> None:
        await self._stream.aclose()


async def tcp_listener(*, port: int = 0, host: str = LOOPBACK) -> trio.SocketListener:
    check_loopback(host)
    (listener,) = await trio.open_tcp_listeners(port, host=host)
    return listener


async def tcp_transport_pair() -> tuple[TCPTransport, TCPTransport]:
    """A connected pair over a loopback TCP connection."""
    listener = await tcp_listener()
    try:
        port: int = listener.socket.getsockname()[1]
        client = await TCPTransport.connect(port)
        server = TCPTransport(await listener.accept())
    finally:
        await listener.aclose()
    return client, server
