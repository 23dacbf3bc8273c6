"""UDP transport on loopback (127.0.0.1 only).

Each frame is one datagram. Datagrams from anyone but the configured peer are ignored; send
errors (no listener yet, full buffers) are treated as loss, as UDP would lose the frame anyway.
"""

from __future__ import annotations

import socket as stdlib_socket
from typing import TYPE_CHECKING

import trio

from ackproof.impl.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

LOOPBACK = "127.0.0.1"
MAX_DATAGRAM = 65_535


def check_loopback(host: str) -> None:
    if host != LOOPBACK:
        raise UsageError(f"ackproof.impl only talks on {LOOPBACK}, not {host!r}")


class UDPTransport:
    """A UDP socket bound on 127.0.0.1 that talks to one peer port."""

    def __init__(self, sock: trio.socket.SocketType, peer_port: int) -> None:
        self._sock = sock
        self.peer: tuple[str, int] = (LOOPBACK, peer_port)
        self.send_errors = 0
        self.ignored = 0

    @classmethod
    async def bind(
        cls, *, port: int = 0, peer_port: int = 0, host: str = LOOPBACK, reuse: bool = True
    ) -> UDPTransport:
        check_loopback(host)
        sock = trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM)
        if reuse:
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
        try:
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4 << 20)
            await sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        return cls(sock, peer_port)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def connect_to(self, peer_port: int) -> None:
        self.peer = (LOOPBACK, peer_port)

    async def send(self, data: bytes) -> None:
        if self._sock.fileno() == -1:
            raise trio.ClosedResourceError("transport closed")
        try:
            await self._sock.sendto(data, self.peer)
        except OSError:
            self.send_errors += 1

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        for data in frames:
            await self.send(data)

    async def receive(self) -> bytes:
        while True:
            if self._sock.fileno() == -1:
                raise trio.ClosedResourceError("transport closed")
            try:
                data, addr = await self._sock.recvfrom(MAX_DATAGRAM)
            except OSError:
                continue  # e.g. ICMP port unreachable reported on the socket: loss
            if addr[0] == LOOPBACK and addr[1] == self.peer[1]:
                return data
            self.ignored += 1

    async def aclose(self) -> None:
        self._sock.close()
        await trio.lowlevel.checkpoint()


async def udp_transport_pair() -> tuple[UDPTransport, UDPTransport]:
    a = await UDPTransport.bind()
    b = await UDPTransport.bind(peer_port=a.port)
    a.connect_to(b.port)
    return a, b
