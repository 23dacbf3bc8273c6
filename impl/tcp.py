"""TCP transport on loopback (127.0.0.1 only).

Frames are cut from the byte stream by the codec's length prefix (:class:`FrameSplitter`). A
stream that cannot be resynchronised (unknown version, oversized length) yields the bad header once
(so it is counted) and the connection is closed; a stream that ends mid-frame yields the leftover
bytes once (counted as truncated). Then ``receive`` raises ``trio.EndOfChannel``.

:class:`ReconnectingTCPTransport` (the sender's end) and :class:`AcceptingTCPTransport` (the
receiver's end) survive dropped connections: see the section at the end.
"""

from __future__ import annotations

import contextlib
import random
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from ackproof.impl.codec import FrameSplitter
from ackproof.impl.errors import UsageError
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


# --- reconnecting ends ---------------------------------------------------------------------------
#
# A dropped connection no longer ends a run. The sender's end (ReconnectingTCPTransport) dials
# again with capped, jittered exponential backoff whenever it needs a connection and has none;
# the receiver's end (AcceptingTCPTransport) takes the next connection from its listener. Frames
# in flight when a connection drops are lost with it (exactly a spec Connection drop): the
# sender's retransmission timers resend whatever is still unacknowledged, over the new
# connection. ``receive`` waits across reconnections and only ends after the local ``aclose``.

LINK_DOWN = (trio.BrokenResourceError, trio.ClosedResourceError, OSError)


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    """Delay before dial ``k`` (0-based) after a failure: ``min(maximum, initial *
    multiplier**k)``, shortened by up to ``jitter`` of itself at random (so many senders that
    lost one server do not dial it again in lockstep)."""

    initial: float = 0.01
    maximum: float = 1.0
    multiplier: float = 2.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not (0 < self.initial <= self.maximum and self.multiplier >= 1 and 0 <= self.jitter < 1):
            raise UsageError(f"bad backoff: {self}")

    def delay(self, attempt: int, rng: random.Random) -> float:
        base = min(self.maximum, self.initial * self.multiplier ** min(attempt, 64))
        return base * (1 - self.jitter * rng.random())


class _Reconnecting:
    """What both reconnecting ends share: the current stream, its splitter, and ``receive``
    that moves on to the next stream when one ends."""

    def __init__(self) -> None:
        self._stream: trio.SocketStream | None = None
        self._splitter = FrameSplitter()
        self._ready: deque[bytes] = deque()
        self._closed = False
        self._send_lock = trio.Lock()
        self._link_lock = trio.Lock()
        self._linked = trio.Event()
        self.connections = 0  # streams opened so far (the first one included)

    async def _open(self) -> trio.SocketStream:
        raise NotImplementedError

    async def _link(self) -> trio.SocketStream:
        """The current stream, opening one if there is none."""
        async with self._link_lock:
            if self._closed:
                raise trio.ClosedResourceError("transport closed")
            if self._stream is None:
                self._stream = await self._open()
                self._splitter = FrameSplitter()  # a new stream starts on a frame boundary
                self.connections += 1
            return self._stream

    async def _drop(self, stream: trio.SocketStream) -> None:
        if self._stream is stream:
            self._stream = None
        with contextlib.suppress(*LINK_DOWN):
            await stream.aclose()

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        stream = await self._link()
        async with self._send_lock:
            try:
                await stream.send_all(b"".join(frames))
            except LINK_DOWN:
                await self._drop(stream)  # the frames are lost with it; retransmission resends

    async def send(self, data: bytes) -> None:
        await self.send_batch([data])

    async def receive(self) -> bytes:
        while not self._ready:
            stream = await self._link()
            try:
                data = await stream.receive_some(RECEIVE_SIZE)
            except LINK_DOWN:
                data = b""
            if self._closed:
                raise trio.ClosedResourceError("transport closed")
            if data:
                self._ready.extend(self._splitter.feed(data))
                if self._splitter.broken:
                    await self._drop(stream)
            else:
                await self._drop(stream)  # the peer or the network ended it: take the next one
        return self._ready.popleft()

    async def abort(self) -> None:
        """Drop the current connection (a test hook: what a network fault does)."""
        if self._stream is not None:
            await self._drop(self._stream)

    async def aclose(self) -> None:
        self._closed = True
        if self._stream is not None:
            await self._drop(self._stream)


class ReconnectingTCPTransport(_Reconnecting):
    """The dialling end: connects on first use and again, with :class:`Backoff`, after a drop."""

    def __init__(
        self,
        port: int,
        *,
        host: str = LOOPBACK,
        backoff: Backoff | None = None,
        seed: int | None = None,
    ) -> None:
        check_loopback(host)
        super().__init__()
        self._port, self._host = port, host
        self._backoff = backoff or Backoff()
        self._rng = random.Random(seed)
        self.dial_failures = 0

    async def _open(self) -> trio.SocketStream:
        attempt = 0
        while True:
            try:
                return await trio.open_tcp_stream(self._host, self._port)
            except OSError:
                self.dial_failures += 1
                await trio.sleep(self._backoff.delay(attempt, self._rng))
                attempt += 1


class AcceptingTCPTransport(_Reconnecting):
    """The listening end: serves one connection at a time, the next one after a drop."""

    def __init__(self, listener: trio.SocketListener) -> None:
        super().__init__()
        self._listener = listener

    @property
    def port(self) -> int:
        port: int = self._listener.socket.getsockname()[1]
        return port

    async def _open(self) -> trio.SocketStream:
        return await self._listener.accept()

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        if self._stream is None:
            return  # no peer connected: the frames are lost (an ACK the sender will ask again)
        await super().send_batch(frames)

    async def aclose(self) -> None:
        await super().aclose()
        await self._listener.aclose()
