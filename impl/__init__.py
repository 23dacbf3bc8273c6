"""ackproof.impl — the reference implementation: sans-I/O cores and a trio shell.

Layers (see each module's docstring):

* ``events``, ``sender``, ``receiver`` — the sans-I/O cores: ``handle(event, now) -> effects``.
* ``codec`` — the wire format; ``errors`` — the two error families.
* ``shell`` — runs a core on trio; ``nodes`` — ``open_sender`` / ``open_receiver``.
* ``transport``, ``udp``, ``tcp``, ``faults`` — frame transports (memory, loopback UDP/TCP,
  seeded fault injection).
* ``store``, ``sqlite_store`` — durable state (in-memory with simulated crashes; SQLite).
* ``trace`` — JSONL traces (``TRACE_FORMAT.md``).
* ``harness``, ``procs``, ``role_procs``, ``nodeproc``, ``sender_proc``, ``receiver_proc``,
  ``killpoints``, ``demo`` — ``ackproof demo`` and the crash soak (both nodes as killable
  processes).
"""

from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.errors import FrameError, PeerError, UsageError
from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates, open_faulty_transport
from ackproof.impl.nodes import ReceiverNode, SenderNode, open_receiver, open_sender
from ackproof.impl.receiver import make_receiver
from ackproof.impl.sender import RetryPolicy, make_sender
from ackproof.impl.shell import Delivery, NodeStatistics
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.store import MemoryDisk, MemoryStore
from ackproof.impl.tcp import (
    AcceptingTCPTransport,
    Backoff,
    ReconnectingTCPTransport,
    TCPTransport,
    tcp_transport_pair,
)
from ackproof.impl.trace import Tracer
from ackproof.impl.transport import memory_transport_pair
from ackproof.impl.udp import UDPTransport, udp_transport_pair

__all__ = [
    "AcceptingTCPTransport",
    "Backoff",
    "Delivery",
    "FaultRates",
    "Frame",
    "FrameError",
    "FrameKind",
    "Guarantee",
    "MemoryDisk",
    "MemoryStore",
    "NodeStatistics",
    "PeerError",
    "ReceiverNode",
    "ReconnectingTCPTransport",
    "RetryPolicy",
    "SQLiteStore",
    "SenderNode",
    "TCPTransport",
    "Tracer",
    "UDPTransport",
    "UsageError",
    "make_receiver",
    "make_sender",
    "memory_transport_pair",
    "open_faulty_transport",
    "open_receiver",
    "open_sender",
    "tcp_transport_pair",
    "udp_transport_pair",
]
