"""A poison message: a well-formed DATA frame whose id is outside the id space (>= 2**63).

It used to reach the SQLite store, overflow its INTEGER column inside the group commit, kill the
receiver and roll back the valid messages committed with it; a sender retrying the id
crash-looped the receiver. Now the codec refuses it at the edge: the receiver keeps running,
commits the rest of its batch, counts the frame and traces a ``reject`` line.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING

import pytest
import trio
from impl_testing import run_trio

from ackproof.impl.codec import MAX_MSG_ID, VERSION, Frame, FrameKind, decode, encode
from ackproof.impl.errors import FrameError, FrameErrorKind
from ackproof.impl.events import Guarantee
from ackproof.impl.nodes import open_receiver
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.trace import Tracer
from ackproof.impl.transport import memory_transport_pair

if TYPE_CHECKING:
    from pathlib import Path


def raw_frame(kind: FrameKind, msg: int, payload: bytes = b"") -> bytes:
    """Any u64 id, as a hostile or buggy peer could put it on the wire (``encode`` refuses)."""
    return struct.pack(">BIBQ", VERSION, 9 + len(payload), kind, msg) + payload


POISON = [2**63, 2**63 + 1, 2**64 - 1]


@pytest.mark.parametrize("msg", POISON)
def test_the_codec_refuses_ids_outside_the_id_space_and_says_which(msg: int) -> None:
    with pytest.raises(FrameError) as info:
        decode(raw_frame(FrameKind.DATA, msg, b"boom"))
    assert info.value.kind is FrameErrorKind.OUT_OF_RANGE
    assert info.value.msg == msg
    assert info.value.fields == {"kind": "DATA", "msg": msg, "len": 4}
    with pytest.raises(ValueError, match="out of range"):
        encode(Frame(FrameKind.DATA, msg))


def test_the_largest_id_is_fine() -> None:
    assert decode(raw_frame(FrameKind.ACK, MAX_MSG_ID)) == Frame(FrameKind.ACK, MAX_MSG_ID)
    assert MAX_MSG_ID == 2**63 - 1


@pytest.mark.parametrize("guarantee", list(Guarantee), ids=str)
def test_a_receiver_fed_id_2_63_keeps_running_and_commits_the_rest_of_its_batch(
    guarantee: Guarantee, tmp_path: Path
) -> None:
    db, trace = tmp_path / "receiver.sqlite", tmp_path / "receiver.jsonl"

    async def main() -> None:
        a, b = memory_transport_pair()
        store = await SQLiteStore.open(db, synchronous="OFF")
        tracer = Tracer.open(trace, node="receiver", guarantee=guarantee)
        async with open_receiver(guarantee, b, store=store, tracer=tracer) as rx:
            # one burst: the poison sits between two valid messages of the same batch
            await a.send_batch(
                [
                    encode(Frame(FrameKind.DATA, 5, b"five")),
                    raw_frame(FrameKind.DATA, 2**63, b"poison"),
                    encode(Frame(FrameKind.DATA, 6, b"six")),
                ]
            )
            with trio.fail_after(5):
                await rx.wait_statistics(lambda s: s.processed == 2 and s.frames_rejected == 1)
            for _ in range(3):  # the sender retries the poison: still nothing happens
                await a.send(raw_frame(FrameKind.DATA, 2**63, b"poison"))
            await a.send(encode(Frame(FrameKind.DATA, 7, b"seven")))
            with trio.fail_after(5):
                await rx.wait_statistics(lambda s: s.processed == 3)
            s = rx.statistics()
            assert (s.out_of_range, s.frames_rejected) == (4, 4)
        assert await store.processed() == [(5, b"five"), (6, b"six"), (7, b"seven")]
        await store.aclose()
        tracer.close()

    run_trio(main)
    lines = [json.loads(x) for x in trace.read_text().splitlines()]
    rejects = [x for x in lines if x["event"] == "reject"]
    assert len(rejects) == 4
    assert rejects[0]["msg"] == 2**63
    assert rejects[0]["frame"] == {"kind": "DATA", "msg": 2**63, "len": 6}
    assert "out-of-range" in rejects[0]["reason"]
    assert [x["msg"] for x in lines if x["event"] == "process"] == [5, 6, 7]
    assert not any(x["event"] == "receive" and x["msg"] >= 2**63 for x in lines)
