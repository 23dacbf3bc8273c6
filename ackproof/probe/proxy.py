"""A fault-injecting TCP proxy between the clients and the broker.

Theory of operation
-------------------
Clients connect to the proxy's loopback port; for each accepted connection the proxy opens
one to the broker and runs two pump threads (client -> broker, broker -> client). A pump
reads a chunk and, with a seeded random choice per chunk, does one of:

* forward it, after a **delay** (up to ``delay`` seconds; order within a direction kept:
  TCP never reorders, a slow path only delays);
* **blackhole** the connection: from now on both directions are silently discarded (a
  partition, a dead NAT entry: nothing arrives, nothing is closed) until ``hold`` seconds
  later the proxy resets it — clients notice through their keepalives or the reset;
* **reset** the connection: both sockets closed with ``SO_LINGER 0``, so each peer gets an
  RST mid-stream, whatever was in flight lost.

A connection the broker refuses (it is down) is closed at once, as a refused connect would
be. :meth:`FaultyProxy.statistics` counts what was injected.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ProxyFaults:
    """Per-chunk probabilities; ``delay``/``hold`` in seconds."""

    delay_rate: float = 0.0
    delay: float = 0.0
    blackhole_rate: float = 0.0
    hold: float = 1.5
    reset_rate: float = 0.0

    @property
    def active(self) -> bool:
        return self.delay_rate > 0 or self.blackhole_rate > 0 or self.reset_rate > 0


@dataclass
class ProxyStatistics:
    connections: int = 0
    refused: int = 0
    delayed: int = 0
    blackholes: int = 0
    resets: int = 0
    chunks: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Conn:
    client: socket.socket
    upstream: socket.socket
    silent: bool = False
    closed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


def _rst(sock: socket.socket) -> None:
    """Abort: linger 0 makes the close send an RST; shutting down the read side first wakes
    a pump blocked in ``recv`` on it (a plain close would wait for that ``recv``)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)
    with contextlib.suppress(OSError):
        sock.close()


class FaultyProxy:
    """``with FaultyProxy(broker_port, faults, seed) as proxy:`` clients use ``proxy.port``."""

    def __init__(self, target_port: int, faults: ProxyFaults, *, seed: int = 0) -> None:
        self.target_port = target_port
        self.faults = faults
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._stats = ProxyStatistics()
        self._conns: list[_Conn] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="probe-proxy", daemon=True)

    def __enter__(self) -> FaultyProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def statistics(self) -> ProxyStatistics:
        with self._lock:
            return ProxyStatistics(**self._stats.as_dict())

    def close(self) -> None:
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            self._close(c, reset=False)
        self._thread.join(timeout=2)

    # -- internals ---------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
                upstream.settimeout(None)
            except OSError:
                with self._lock:
                    self._stats.refused += 1
                _rst(client)
                continue
            for s in (client, upstream):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = _Conn(client, upstream)
            with self._lock:
                self._stats.connections += 1
                self._conns.append(conn)
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(conn, src, dst), name="probe-pump", daemon=True
                ).start()

    def _choose(self) -> tuple[str, float]:
        f = self.faults
        with self._lock:
            self._stats.chunks += 1
            r = self._random.random()
            if r < f.reset_rate:
                self._stats.resets += 1
                return "reset", 0.0
            r -= f.reset_rate
            if r < f.blackhole_rate:
                self._stats.blackholes += 1
                return "blackhole", 0.0
            r -= f.blackhole_rate
            if r < f.delay_rate:
                self._stats.delayed += 1
                return "delay", self._random.uniform(0, f.delay)
        return "forward", 0.0

    def _pump(self, conn: _Conn, src: socket.socket, dst: socket.socket) -> None:
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                self._close(conn, reset=False)
                return
            if conn.silent:
                continue
            action, pause = self._choose() if self.faults.active else ("forward", 0.0)
            if action == "reset":
                self._close(conn, reset=True)
                return
            if action == "blackhole":
                conn.silent = True
                threading.Timer(self.faults.hold, self._close, (conn,), {"reset": True}).start()
                continue
            if pause:
                time.sleep(pause)
            try:
                dst.sendall(data)
            except OSError:
                self._close(conn, reset=False)
                return

    def _close(self, conn: _Conn, *, reset: bool) -> None:
        with conn.lock:
            if conn.closed:
                return
            conn.closed = True
        for s in (conn.client, conn.upstream):
            if reset:
                _rst(s)
            else:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    s.close()
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)
