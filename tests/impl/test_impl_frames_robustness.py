"""Hostile wire frames, fed to the codec and to a running receiver (Hypothesis).

Strategies: valid frames with extreme ids (0, 2**63 - 1, and the poison range 2**63 .. 2**64 - 1)
and extreme lengths (empty, the largest payload, one byte over), truncated frames, headers that
announce an oversized body, unknown versions and kinds, and random bytes. Properties:

* the codec either decodes a frame that re-encodes to the same bytes, or raises ``FrameError``
  -- nothing else, whatever the bytes;
* a running receiver (SQLite store) survives every frame: it still processes a valid message
  sent after them, loses nothing it had already committed, and never processes an id that was
  not sent in a valid frame.

Default: a few dozen examples (seconds). ``HYPOTHESIS_PROFILE=nightly`` or ``ACKPROOF_SLOW=1``:
many more.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackproof.impl.codec import (
    HEADER,
    MAX_BODY,
    MAX_MSG_ID,
    MAX_PAYLOAD,
    VERSION,
    Frame,
    FrameKind,
    decode,
    encode,
)
from ackproof.impl.errors import FrameError
from ackproof.impl.events import Guarantee
from ackproof.impl.nodes import open_receiver
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.transport import memory_transport_pair

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "nightly" or os.environ.get("ACKPROOF_SLOW") == "1"
CODEC = settings(max_examples=20_000 if LONG else 400, deadline=None, database=None)
NODE = settings(
    max_examples=600 if LONG else 25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

EXTREME_IDS = st.sampled_from([0, 1, MAX_MSG_ID - 1, MAX_MSG_ID, 2**63, 2**63 + 1, 2**64 - 1])
IDS = st.one_of(EXTREME_IDS, st.integers(0, 2**64 - 1))
PAYLOADS = st.one_of(
    st.binary(max_size=32),
    st.sampled_from([b"", b"x" * MAX_PAYLOAD, b"y" * (MAX_PAYLOAD + 1)]),
)


def raw(kind: int, msg: int, payload: bytes, *, version: int = VERSION) -> bytes:
    """Any frame a peer could put on the wire, ``encode``'s checks bypassed."""
    return struct.pack(">BIBQ", version, 9 + len(payload), kind, msg) + payload


@st.composite
def hostile_frames(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from([FrameKind.DATA, FrameKind.ACK, 0, 3, 255]))
    frame = raw(kind, draw(IDS), draw(PAYLOADS), version=draw(st.sampled_from([VERSION, 0, 2])))
    how = draw(st.sampled_from(["whole", "truncated", "trailing", "oversized", "random"]))
    match how:
        case "whole":
            return frame
        case "truncated":
            return frame[: draw(st.integers(0, len(frame) - 1))]
        case "trailing":
            return frame + draw(st.binary(min_size=1, max_size=8))
        case "oversized":
            length = draw(st.integers(MAX_BODY + 1, 2**32 - 1))
            return HEADER.pack(VERSION, length) + frame[HEADER.size :]
        case _:
            return draw(st.binary(max_size=64))


@CODEC
@given(hostile_frames())
def test_the_codec_decodes_or_raises_frame_error_and_nothing_else(data: bytes) -> None:
    try:
        frame = decode(data)
    except FrameError as exc:
        refused = exc
    else:
        assert 0 <= frame.msg <= MAX_MSG_ID
        assert encode(frame) == data
        return
    assert refused.msg is None or refused.msg > MAX_MSG_ID


def _valid(frame: bytes) -> Frame | None:
    try:
        return decode(frame)
    except FrameError:
        return None


@NODE
@given(
    before=st.lists(st.integers(0, 50), min_size=1, max_size=5, unique=True),
    hostile=st.lists(hostile_frames(), min_size=1, max_size=12),
    guarantee=st.sampled_from(list(Guarantee)),
)
def test_a_running_receiver_survives_every_frame_and_keeps_what_it_committed(
    before: list[int], hostile: list[bytes], guarantee: Guarantee, tmp_path: Path
) -> None:
    db = Path(tempfile.mkdtemp(dir=tmp_path)) / "receiver.sqlite"  # fresh for every example
    final = 10**6

    async def main() -> None:
        a, b = memory_transport_pair()
        store = await SQLiteStore.open(db, synchronous="OFF")
        async with open_receiver(guarantee, b, store=store) as rx:
            for msg in before:
                await a.send(encode(Frame(FrameKind.DATA, msg, b"before")))
            with trio.fail_after(10):
                seen: set[int] = set()
                while seen != set(before):
                    seen.add((await rx.deliveries.receive()).msg)
            committed = await store.processed()
            await a.send_batch(hostile)
            await a.send(encode(Frame(FrameKind.DATA, final, b"after")))  # the node still works
            with trio.fail_after(10):
                while (await rx.deliveries.receive()).msg != final:
                    pass
        log = await store.processed()
        await store.aclose()
        assert log[: len(committed)] == committed  # nothing committed was lost
        sent = {f.msg for f in map(_valid, hostile) if f is not None and f.kind is FrameKind.DATA}
        assert {msg for msg, _ in log} <= {*before, *sent, final}
        assert all(0 <= msg <= MAX_MSG_ID for msg, _ in log)

    trio.run(main)
