"""Wire codec: one frame = version byte, length prefix, body.

Layout (big-endian)::

    offset 0   version  u8     always VERSION (1)
    offset 1   length   u32    number of body bytes that follow
    offset 5   kind     u8     1 = DATA, 2 = ACK
    offset 6   msg      u64    message id, 0 .. MAX_MSG_ID (2**63 - 1)
    offset 14  payload  bytes  DATA only; an ACK carries none

:func:`decode` takes exactly one frame's bytes (a datagram, or what :class:`FrameSplitter` cut from
a stream) and raises :class:`~ackproof.impl.errors.FrameError` for anything that is not a
well-formed frame: *truncated* (fewer bytes than the header or the length says), *oversized*
(length above :data:`MAX_BODY`), *unknown* (unknown version or kind), *malformed* (trailing bytes,
a body too short for its fields, an ACK with a payload), *out-of-range* (a well-formed frame whose
message id is above :data:`MAX_MSG_ID`). Callers drop and count; nothing here crashes a node.

The id field is 64 bits wide, but the id space is 0 .. 2**63 - 1: what every durable store can
hold as an integer (SQLite's INTEGER, a Java ``long``, Postgres ``bigint``). A frame above it is
refused here, at the edge, so it can never reach a store: one such frame used to abort the
receiver's whole group commit (SQLite integer overflow), killing the process and rolling back the
valid messages of the same batch -- and a sender retrying that id crash-looped the receiver.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ackproof.impl.errors import FrameError, FrameErrorKind

VERSION = 1
HEADER = struct.Struct(">BI")
BODY_HEAD = struct.Struct(">BQ")
FULL_HEAD = struct.Struct(">BIBQ")
HEADER_SIZE = HEADER.size  # 5
BODY_HEAD_SIZE = BODY_HEAD.size  # 9
MAX_PAYLOAD = 60_000
MAX_BODY = BODY_HEAD_SIZE + MAX_PAYLOAD
MAX_MSG_ID = 2**63 - 1


class FrameKind(IntEnum):
    DATA = 1
    ACK = 2


@dataclass(frozen=True, slots=True)
class Frame:
    """One protocol frame."""

    kind: FrameKind
    msg: int
    payload: bytes = b""

    def to_json(self) -> dict[str, object]:
        """The frame's fields for a trace line (payload as its length)."""
        out: dict[str, object] = {"kind": self.kind.name, "msg": self.msg}
        if self.payload:
            out["len"] = len(self.payload)
        return out


def encode(frame: Frame) -> bytes:
    """Encode one frame. Raises ValueError for a frame no peer could accept (caller misuse)."""
    if not 0 <= frame.msg <= MAX_MSG_ID:
        raise ValueError(f"message id out of range: {frame.msg}")
    if len(frame.payload) > MAX_PAYLOAD:
        raise ValueError(f"payload too large: {len(frame.payload)} > {MAX_PAYLOAD}")
    if frame.kind is FrameKind.ACK and frame.payload:
        raise ValueError("an ACK carries no payload")
    body_len = BODY_HEAD_SIZE + len(frame.payload)
    return FULL_HEAD.pack(VERSION, body_len, frame.kind, frame.msg) + frame.payload


_KINDS = {int(k): k for k in FrameKind}


def decode(raw: bytes) -> Frame:
    """Decode exactly one frame, or raise FrameError saying why not."""
    if len(raw) < HEADER_SIZE:
        raise FrameError(FrameErrorKind.TRUNCATED, f"{len(raw)} bytes, header needs {HEADER_SIZE}")
    version, length = HEADER.unpack_from(raw)
    if version != VERSION:
        raise FrameError(FrameErrorKind.UNKNOWN, f"unknown version {version}")
    if length > MAX_BODY:
        raise FrameError(FrameErrorKind.OVERSIZED, f"body of {length} bytes > {MAX_BODY}")
    have = len(raw) - HEADER_SIZE
    if have < length:
        raise FrameError(FrameErrorKind.TRUNCATED, f"body has {have} of {length} bytes")
    if have > length:
        raise FrameError(FrameErrorKind.MALFORMED, f"{have - length} trailing bytes")
    if length < BODY_HEAD_SIZE:
        raise FrameError(FrameErrorKind.MALFORMED, f"body of {length} bytes < {BODY_HEAD_SIZE}")
    kind_byte, msg = BODY_HEAD.unpack_from(raw, HEADER_SIZE)
    kind = _KINDS.get(kind_byte)
    if kind is None:
        raise FrameError(FrameErrorKind.UNKNOWN, f"unknown kind {kind_byte}")
    payload = raw[HEADER_SIZE + BODY_HEAD_SIZE :]
    if kind is FrameKind.ACK and payload:
        raise FrameError(FrameErrorKind.MALFORMED, "ACK with a payload")
    if msg > MAX_MSG_ID:
        raise FrameError(
            FrameErrorKind.OUT_OF_RANGE,
            f"message id {msg} > {MAX_MSG_ID}",
            fields=Frame(kind, msg, payload).to_json(),
        )
    return Frame(kind, msg, payload)


class FrameSplitter:
    """Cuts a byte stream into raw frames using the length prefix.

    Every chunk it yields is handed to :func:`decode`, which judges it. Two cases cannot be
    resynchronised: an unknown version (the length field cannot be trusted) and an oversized length
    (skipping it would swallow the stream). For those the splitter yields the header it saw (so the
    error is counted) and then sets :attr:`broken`; the stream transport closes the connection.
    At end of stream, leftover bytes are yielded as one (truncated) chunk by :meth:`flush`.
    """

    __slots__ = ("_buf", "broken")

    def __init__(self) -> None:
        self._buf = bytearray()
        self.broken = False

    def feed(self, data: bytes) -> list[bytes]:
        if self.broken:
            return []
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_SIZE:
            version, length = HEADER.unpack_from(buf, pos)
            if version != VERSION or length > MAX_BODY:
                out.append(bytes(buf[pos : pos + HEADER_SIZE]))
                self.broken = True
                buf.clear()
                return out
            stop = pos + HEADER_SIZE + length
            if stop > end:
                break
            out.append(bytes(buf[pos:stop]))
            pos = stop
        del buf[:pos]
        return out

    def flush(self) -> bytes | None:
        """Bytes left over at end of stream (a truncated frame), if any."""
        if self.broken or not self._buf:
            return None
        rest = bytes(self._buf)
        self._buf.clear()
        return rest
