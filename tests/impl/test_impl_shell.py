"""The trio shell: end to end over faulty links, crashes, bad frames, backpressure, group commit."""

from __future__ import annotations

import io
import json
import struct
from collections import Counter
from typing import TYPE_CHECKING

import pytest
import trio
import trio.testing
from hypothesis import given, settings
from hypothesis import strategies as st
from impl_testing import run_trio

from ackproof.impl.codec import MAX_BODY, MAX_PAYLOAD, VERSION, Frame, FrameKind, decode, encode
from ackproof.impl.errors import UsageError
from ackproof.impl.events import Guarantee, RecordProcessed, Write
from ackproof.impl.faults import FaultRates, open_faulty_transport
from ackproof.impl.nodes import open_receiver, open_sender
from ackproof.impl.sender import RetryPolicy
from ackproof.impl.store import MemoryDisk, MemoryStore
from ackproof.impl.tcp import tcp_transport_pair
from ackproof.impl.trace import Tracer
from ackproof.impl.transport import memory_transport_pair

if TYPE_CHECKING:
    from collections.abc import Sequence

POLICY = RetryPolicy(initial=0.05, maximum=0.4)
RATES = FaultRates(loss=0.2, dup=0.1, reorder=0.3, max_delay=0.02)


def mock_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


def processed(disk: MemoryDisk) -> Counter[int]:
    return Counter(msg for msg, _ in disk.processed)


async def _faulty_run(
    g: Guarantee, n: int, seed: int, *, crashes: int
) -> tuple[Counter[int], int, set[int]]:
    """n messages over a faulty memory link; the receiver is crashed (cancelled) ``crashes``
    times and restarted on the same disk. Returns processed counts, submitted count, acked ids."""
    a, b = memory_transport_pair()
    disk = MemoryDisk()
    acked: set[int] = set()
    queued = 0
    async with (
        open_faulty_transport(a, rates=RATES, seed=seed) as link,
        open_sender(g, link, policy=POLICY, max_in_flight=32) as sender,
    ):
        for life in range(crashes + 1):
            async with open_receiver(g, b, store=MemoryStore(disk), restarted=life > 0) as rx:
                target = n * (life + 1) // (crashes + 1)
                while queued < target:
                    await sender.send(b"m")
                    queued += 1
                if life == crashes:
                    await sender.wait_all_acked()
                    await trio.sleep(0.5)  # let stray copies land (virtual time)
                else:
                    await trio.sleep(0.03)  # crash with work in flight
            del rx
        stats = sender.statistics()
        acked = set(range(stats.acked)) if g is not Guarantee.AT_MOST_ONCE else set()
        assert stats.acked == (0 if g is Guarantee.AT_MOST_ONCE else n)
    return processed(disk), n, acked


@pytest.mark.parametrize("guarantee", list(Guarantee))
@pytest.mark.parametrize("seed", [1, 2])
def test_each_guarantee_keeps_its_promise_under_faults_and_crashes(
    guarantee: Guarantee, seed: int
) -> None:
    counts, n, _ = run_trio(
        lambda: _faulty_run(guarantee, 300, seed, crashes=3), clock=mock_clock()
    )
    assert set(counts) <= set(range(n))
    lost = n - len(counts)
    dups = sum(c - 1 for c in counts.values())
    match guarantee:
        case Guarantee.AT_MOST_ONCE:
            assert dups == 0
            assert lost > 0  # the "sometimes": 20% loss and no retries must lose something
        case Guarantee.AT_LEAST_ONCE:
            assert lost == 0
            assert dups > 0  # the "sometimes": duplicates and lost ACKs must show
        case Guarantee.EXACTLY_ONCE:
            assert lost == 0
            assert dups == 0


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), guarantee=st.sampled_from(list(Guarantee)))
def test_any_fault_plan_keeps_the_promises(seed: int, guarantee: Guarantee) -> None:
    """Hypothesis draws the fault plan (its seed); the shell runs in virtual time."""
    counts, n, _ = run_trio(lambda: _faulty_run(guarantee, 60, seed, crashes=2), clock=mock_clock())
    assert set(counts) <= set(range(n))
    if guarantee is not Guarantee.AT_LEAST_ONCE:
        assert all(c == 1 for c in counts.values())
    if guarantee is not Guarantee.AT_MOST_ONCE:
        assert len(counts) == n


class RecordingStore(MemoryStore):
    def __init__(self, log: list[tuple[str, int]]) -> None:
        super().__init__()
        self.log = log

    async def commit(self, writes: Sequence[Write]) -> None:
        await trio.sleep(0.001)  # a disk's commit latency (virtual time)
        await super().commit(writes)
        self.log += [("commit", w.msg) for w in writes if isinstance(w, RecordProcessed)]


@pytest.mark.parametrize("guarantee", [Guarantee.AT_LEAST_ONCE, Guarantee.EXACTLY_ONCE])
def test_persist_completes_before_the_ack_and_commits_are_grouped(guarantee: Guarantee) -> None:
    log: list[tuple[str, int]] = []

    async def main() -> tuple[int, int]:
        a, b = memory_transport_pair()
        store = RecordingStore(log)
        for i in range(200):  # a burst: frames pile up while a commit is in flight
            await a.send(encode(Frame(FrameKind.DATA, i, b"p")))
        async with open_receiver(guarantee, b, store=store):
            for _ in range(200):
                log.append(("ack", decode(await a.receive()).msg))
            burst = store.statistics().commits
            for i in range(200, 230):  # one at a time: nothing to group
                await a.send(encode(Frame(FrameKind.DATA, i, b"p")))
                log.append(("ack", decode(await a.receive()).msg))
            return burst, store.statistics().commits - burst

    burst, single = run_trio(main, clock=mock_clock())
    for i in range(230):
        assert log.index(("commit", i)) < log.index(("ack", i))
    assert burst <= 5  # group commit: 200 messages in a handful of transactions
    assert single == 30


def test_bad_frames_are_dropped_and_counted_and_the_node_keeps_going() -> None:
    bad = [
        encode(Frame(FrameKind.DATA, 1, b"x"))[:-1],  # truncated
        bytes([VERSION]) + struct.pack(">I", MAX_BODY + 5),  # oversized
        bytes([7]) + encode(Frame(FrameKind.DATA, 1))[1:],  # unknown version
        struct.pack(">BIBQ", VERSION, 9, 99, 1),  # unknown kind
        encode(Frame(FrameKind.DATA, 1)) + b"junk",  # malformed
    ]

    async def main() -> None:
        a, b = memory_transport_pair()
        disk = MemoryDisk()
        async with open_receiver(Guarantee.EXACTLY_ONCE, b, store=MemoryStore(disk)) as rx:
            for raw in bad:
                await a.send(raw)
            await a.send(encode(Frame(FrameKind.DATA, 1, b"ok")))
            assert decode(await a.receive()) == Frame(FrameKind.ACK, 1)
            s = rx.statistics()
            assert (s.truncated, s.oversized, s.unknown, s.malformed) == (1, 1, 2, 1)
            assert s.frames_rejected == 5
            assert s.processed == 1
        assert disk.processed == [(1, b"ok")]

    run_trio(main)


def test_an_unrecoverable_tcp_stream_is_counted_and_closed_not_fatal() -> None:
    async def main() -> None:
        a, b = await tcp_transport_pair()
        async with open_receiver(Guarantee.AT_LEAST_ONCE, b) as rx:
            await a.send(encode(Frame(FrameKind.DATA, 1, b"ok")))
            await a.send(b"\xff" * 20)  # not a frame: cannot resynchronise a stream
            await rx.wait_statistics(lambda s: s.frames_rejected == 1)
            assert rx.statistics().processed == 1
            assert rx.statistics().unknown == 1
        await a.aclose()

    run_trio(main)


def test_send_nowait_backpressure_and_misuse() -> None:
    async def main() -> None:
        a, _b = memory_transport_pair()
        async with open_sender(Guarantee.AT_LEAST_ONCE, a, max_in_flight=3) as tx:
            for _ in range(3):
                tx.send_nowait(b"x")
            with pytest.raises(trio.WouldBlock):
                tx.send_nowait(b"x")
            with pytest.raises(UsageError):
                await tx.send(b"x" * (MAX_PAYLOAD + 1))
            with trio.move_on_after(1):
                await tx.send(b"blocked")  # nothing is acked, so this must wait
                pytest.fail("send did not wait for window space")
            assert tx.statistics().in_flight == 3
        with pytest.raises(trio.ClosedResourceError):
            tx.send_nowait(b"x")
        with pytest.raises(UsageError):
            async with open_sender(Guarantee.AT_LEAST_ONCE, a, max_in_flight=0):
                pass

    run_trio(main, clock=mock_clock())


def test_deliveries_channel_yields_processed_messages_in_order() -> None:
    async def main() -> None:
        a, b = memory_transport_pair()
        async with (
            open_receiver(Guarantee.EXACTLY_ONCE, b) as rx,
            open_sender(Guarantee.EXACTLY_ONCE, a) as tx,
        ):
            for i in range(20):
                await tx.send(b"%d" % i)
            got = [await rx.deliveries.receive() for _ in range(20)]
            assert [d.payload for d in got] == [b"%d" % i for i in range(20)]
            await tx.wait_all_acked()
            assert tx.statistics().acked == 20

    run_trio(main)


REQUIRED = {"node", "event"}
EVENTS = {"submit", "send", "receive", "process", "ack", "crash", "restart"}


def _check_trace(text: str, node: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in text.splitlines()]
    last_t = -1.0
    for i, obj in enumerate(lines):
        assert obj.keys() >= REQUIRED
        assert obj["node"] == node
        assert obj["event"] in EVENTS
        assert obj["seq"] == i
        assert isinstance(obj["t"], float)
        assert obj["t"] >= last_t
        last_t = obj["t"]
        if obj["event"] in {"crash", "restart"}:
            assert "msg" not in obj
        else:
            assert isinstance(obj["msg"], int)
        if "frame" in obj:
            frame = obj["frame"]
            assert isinstance(frame, dict)
            assert frame["kind"] in {"DATA", "ACK"}
            assert frame["msg"] == obj["msg"]
    return lines


def test_traces_follow_the_documented_schema() -> None:
    sent_io, recv_io = io.StringIO(), io.StringIO()

    async def main() -> int:
        a, b = memory_transport_pair()
        clock = trio.current_time
        st = Tracer(sent_io, node="sender", guarantee=Guarantee.EXACTLY_ONCE, clock=clock)
        rt = Tracer(recv_io, node="receiver", guarantee=Guarantee.EXACTLY_ONCE, clock=clock)
        async with (
            open_faulty_transport(a, rates=RATES, seed=5) as link,
            open_receiver(Guarantee.EXACTLY_ONCE, b, tracer=rt, restarted=True),
            open_sender(Guarantee.EXACTLY_ONCE, link, tracer=st, policy=POLICY) as tx,
        ):
            for _ in range(30):
                await tx.send(b"p")
            await tx.wait_all_acked()
            return tx.statistics().retransmissions

    retransmissions = run_trio(main, clock=mock_clock())
    s_lines = _check_trace(sent_io.getvalue(), "sender")
    r_lines = _check_trace(recv_io.getvalue(), "receiver")
    assert r_lines[0]["event"] == "restart"
    by_event = Counter(str(o["event"]) for o in s_lines)
    assert by_event["submit"] == by_event["ack"] == 30
    assert by_event["send"] > 30  # retransmissions happened
    # the core's count (the shell used to recompute it as DATA frames sent minus submissions)
    assert retransmissions == by_event["send"] - by_event["submit"]
    processed_ids = [int(str(o["msg"])) for o in r_lines if o["event"] == "process"]
    assert sorted(processed_ids) == list(range(30))  # exactly once, as the trace shows it
    assert all(o.get("guarantee") == "exactly-once" for o in s_lines + r_lines)


def test_a_restarted_sender_is_not_all_acked_while_its_recovered_outbox_is_in_flight() -> None:
    """Found by the crash soak: after a restart, ``wait_all_acked`` returned at once (the
    in-flight count was only taken after the first batch), so a restarted sender with nothing
    new to submit said DONE with its whole recovered outbox unacknowledged."""

    async def main() -> None:
        disk = MemoryDisk()
        a, _b = memory_transport_pair()
        async with open_sender(Guarantee.EXACTLY_ONCE, a, store=MemoryStore(disk)) as tx:
            for i in range(3):
                await tx.send(b"m%d" % i)
            await tx.wait_statistics(lambda s: s.submitted == 3)
        assert len(disk.outbox) == 3  # nothing was acked: all three are durable, unacked
        a2, _b2 = memory_transport_pair()
        async with open_sender(
            Guarantee.EXACTLY_ONCE, a2, store=MemoryStore(disk), restarted=True
        ) as tx2:
            assert tx2.statistics().in_flight == 3
            assert tx2.statistics().retransmissions == 3  # the recovered outbox, resent
            with trio.move_on_after(1) as waited:
                await tx2.wait_all_acked()
            assert waited.cancelled_caught, "wait_all_acked returned with 3 messages unacked"

    run_trio(main, clock=mock_clock())


@pytest.mark.parametrize("guarantee", list(Guarantee))
def test_each_accepted_message_is_counted_once_and_reported_once(guarantee: Guarantee) -> None:
    """The shell counts an ``Accepted`` once, when it is carried out: the ``submitted``
    statistic and the ``on_accepted`` reports agree (the sender node used to count the same
    effects a second time for its window, and track in-flight messages beside the core)."""
    reported: list[int] = []

    async def main() -> tuple[int, int, int]:
        a, b = memory_transport_pair()
        async with (
            open_receiver(guarantee, b),
            open_sender(
                guarantee, a, policy=POLICY, max_in_flight=4, on_accepted=reported.append
            ) as tx,
        ):
            for i in range(20):
                await tx.send(b"m%d" % i)  # the window (4) makes most of these wait
            await tx.wait_all_acked()
            s = tx.statistics()
            return s.submitted, s.in_flight, s.retransmissions

    submitted, in_flight, retransmissions = run_trio(main, clock=mock_clock())
    assert reported == list(range(20))
    assert (submitted, in_flight, retransmissions) == (20, 0, 0)  # a lossless link
