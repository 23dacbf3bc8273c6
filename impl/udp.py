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
    """A UDP socket bound on 127.0.0.1 that talks to one peer port.

    The socket is a non-blocking stdlib socket driven with ``trio.lowlevel.wait_readable`` /
    ``wait_writable``, so a batch of frames costs one checkpoint, not one per datagram.
    """

    def __init__(self, sock: stdlib_socket.socket, peer_port: int) -> None:
        sock.setblocking(False)
        self._sock = sock
        self.peer: tuple[str, int] = (LOOPBACK, peer_port)
        self.send_errors = 0
        self.ignored = 0

    @classmethod
    async def bind(
        cls, *, port: int = 0, peer_port: int = 0, host: str = LOOPBACK, reuse: bool = True
    ) -> UDPTransport:
        check_loopback(host)
        sock = stdlib_socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
        try:
            if reuse:
                sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4 << 20)
            sock.bind((host, port))
        except BaseException:
            sock.close()
            raise
        await trio.lowlevel.checkpoint()
        return cls(sock, peer_port)

    @property
    def port(self) -> int:
        port: int = self._sock.getsockname()[1]
        return port

    def connect_to(self, peer_port: int) -> None:
        self.peer = (LOOPBACK, peer_port)

    def _check_open(self) -> None:
        if self._sock.fileno() == -1:
            raise trio.ClosedResourceError("transport closed")

    async def send(self, data: bytes) -> None:
        await self.send_batch((data,))

    async def send_batch(self, frames: Sequence[bytes]) -> None:
        self._check_open()
        await trio.lowlevel.checkpoint_if_cancelled()
        for data in frames:
            while True:
                try:
                    self._sock.sendto(data, self.peer)
                except BlockingIOError:
                    await trio.lowlevel.wait_writable(self._sock)
                    continue
                except OSError:
                    self.send_errors += 1  # e.g. ECONNREFUSED from an earlier ICMP: loss
                break
        await trio.lowlevel.cancel_shielded_checkpoint()

    async def receive(self) -> bytes:
        await trio.lowlevel.checkpoint_if_cancelled()
        while True:
            self._check_open()
            try:
                data, addr = self._sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                await trio.lowlevel.wait_readable(self._sock)
                continue
            except OSError:
                continue  # e.g. ICMP port unreachable reported on the socket: loss
            if addr[0] == LOOPBACK and addr[1] == self.peer[1]:
                await trio.lowlevel.cancel_shielded_checkpoint()
                return data
            self.ignored += 1

    async def aclose(self) -> None:
        if self._sock.fileno() != -1:
            trio.lowlevel.notify_closing(self._sock)
            self._sock.close()
        await trio.lowlevel.checkpoint()


async def udp_transport_pair() -> tuple[UDPTransport, UDPTransport]:
    a = await UDPTransport.bind()
    b = await UDPTransport.bind(peer_port=a.port)
    a.connect_to(b.port)
    return a, b
