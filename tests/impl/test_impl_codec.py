"""Wire codec: round trips, and every way a frame can be bad (classified, never fatal)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ackproof.impl.codec import (
    MAX_BODY,
    MAX_MSG_ID,
    MAX_PAYLOAD,
    VERSION,
    Frame,
    FrameKind,
    FrameSplitter,
    decode,
    encode,
)
from ackproof.impl.errors import FrameError, FrameErrorKind, PeerError

frames = st.one_of(
    st.builds(Frame, st.just(FrameKind.DATA), st.integers(0, MAX_MSG_ID), st.binary(max_size=64)),
    st.builds(Frame, st.just(FrameKind.ACK), st.integers(0, MAX_MSG_ID)),
)


@given(frames)
def test_round_trip(frame: Frame) -> None:
    raw = encode(frame)
    assert raw[0] == VERSION
    assert struct.unpack_from(">I", raw, 1)[0] == len(raw) - 5
    assert decode(raw) == frame


def _kind_of(raw: bytes) -> FrameErrorKind:
    with pytest.raises(FrameError) as info:
        decode(raw)
    assert isinstance(info.value, PeerError)
    return info.value.kind


GOOD = encode(Frame(FrameKind.DATA, 5, b"hello"))


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param(b"", FrameErrorKind.TRUNCATED, id="empty"),
        pytest.param(GOOD[:3], FrameErrorKind.TRUNCATED, id="short-header"),
        pytest.param(GOOD[:-1], FrameErrorKind.TRUNCATED, id="short-body"),
        pytest.param(
            bytes([VERSION]) + struct.pack(">I", MAX_BODY + 1),
            FrameErrorKind.OVERSIZED,
            id="oversized",
        ),
        pytest.param(bytes([9]) + GOOD[1:], FrameErrorKind.UNKNOWN, id="unknown-version"),
        pytest.param(GOOD[:5] + bytes([77]) + GOOD[6:], FrameErrorKind.UNKNOWN, id="unknown-kind"),
        pytest.param(GOOD + b"!", FrameErrorKind.MALFORMED, id="trailing-bytes"),
        pytest.param(
            bytes([VERSION]) + struct.pack(">I", 2) + b"\x01\x00",
            FrameErrorKind.MALFORMED,
            id="body-too-short",
        ),
        pytest.param(
            struct.pack(">BIBQ", VERSION, 10, 2, 1) + b"x",
            FrameErrorKind.MALFORMED,
            id="ack-with-payload",
        ),
    ],
)
def test_bad_frames_are_classified(raw: bytes, kind: FrameErrorKind) -> None:
    assert _kind_of(raw) is kind


@given(st.binary(max_size=40))
def test_garbage_never_raises_anything_but_frame_error(raw: bytes) -> None:
    try:
        frame = decode(raw)
    except FrameError:
        return
    assert encode(frame) == raw


def test_encode_rejects_what_no_peer_could_accept() -> None:
    with pytest.raises(ValueError, match="too large"):
        encode(Frame(FrameKind.DATA, 1, b"x" * (MAX_PAYLOAD + 1)))
    with pytest.raises(ValueError, match="out of range"):
        encode(Frame(FrameKind.DATA, -1))
    with pytest.raises(ValueError, match="no payload"):
        encode(Frame(FrameKind.ACK, 1, b"x"))


@given(st.lists(frames, max_size=8), st.lists(st.integers(1, 30), min_size=1, max_size=20))
def test_splitter_recovers_frames_from_any_chunking(batch: list[Frame], cuts: list[int]) -> None:
    stream = b"".join(encode(f) for f in batch)
    splitter = FrameSplitter()
    out: list[bytes] = []
    pos = 0
    i = 0
    while pos < len(stream):
        step = cuts[i % len(cuts)]
        out += splitter.feed(stream[pos : pos + step])
        pos += step
        i += 1
    assert [decode(r) for r in out] == batch
    assert splitter.flush() is None


def test_splitter_flags_an_unrecoverable_stream_once() -> None:
    splitter = FrameSplitter()
    out = splitter.feed(GOOD + bytes([9]) + GOOD[1:] + GOOD)
    assert decode(out[0]).msg == 5
    assert _kind_of(out[1]) is FrameErrorKind.UNKNOWN
    assert len(out) == 2
    assert splitter.broken
    assert splitter.feed(GOOD) == []


def test_splitter_yields_oversized_header_and_leftover_as_truncated() -> None:
    splitter = FrameSplitter()
    (bad,) = splitter.feed(bytes([VERSION]) + struct.pack(">I", MAX_BODY + 1) + b"zzz")
    assert _kind_of(bad) is FrameErrorKind.OVERSIZED
    tail = FrameSplitter()
    assert tail.feed(GOOD[:-2]) == []
    rest = tail.flush()
    assert rest is not None
    assert _kind_of(rest) is FrameErrorKind.TRUNCATED
