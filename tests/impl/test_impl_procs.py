"""Node processes: the start handshake, and what a receiver process reports (real processes)."""

from __future__ import annotations

import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import trio

from ackproof.impl.codec import VERSION, Frame, FrameKind, encode
from ackproof.impl.events import Guarantee
from ackproof.impl.nodeproc import Line, Tag
from ackproof.impl.procs import NodeProcess, NodeProcessError, free_udp_port

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")

# A fork server that answers START the wrong way round: the child's READY line reaches the pipe
# before the fork server's PID line (which is what a fast child does, one restart in many).
REVERSED = r"""
import os, sys, time
for line in sys.stdin:
    word = line.split()[0]
    if word == "SYNC":
        print("SYNCED", line.split()[1], flush=True)
        continue
    pid = os.fork()
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    print(f"READY {pid}", flush=True)
    time.sleep(0.05)
    print(f"STAT {pid} processed=3 rejected=2 out_of_range=1", flush=True)
    print(f"PID {pid}", flush=True)
"""

FAILING = r"""
import os, sys
for line in sys.stdin:
    print(f"FAILED {os.getpid() + 1} OSError: [Errno 98] Address already in use", flush=True)
"""


class ScriptProcess(NodeProcess):
    node = "receiver"

    def __init__(self, script: str, tmp: Path, *, start_timeout: float = 30.0) -> None:
        super().__init__(
            Guarantee.EXACTLY_ONCE,
            db=tmp / "x.sqlite",
            trace=None,
            args=[],
            start_timeout=start_timeout,
        )
        self._script = script

    def _command(self) -> list[str]:
        return [sys.executable, "-c", self._script]


def test_a_ready_line_before_its_pid_line_is_not_dropped(tmp_path: Path) -> None:
    """The race behind ``demo --crash-every 1`` dying after 30 s: READY from a pid not yet
    announced was dropped, and the start waited for a READY that had already come."""

    async def main() -> float:
        proc = ScriptProcess(REVERSED, tmp_path, start_timeout=5)
        async with trio.open_nursery() as nursery:
            started = trio.current_time()
            await proc.start(nursery, restarted=False)
            took = trio.current_time() - started
            await proc.sync()
            assert proc.total("processed") == 3
            assert proc.total("rejected") == 2
            await proc.kill()  # counted as a death, like a crash
            assert proc.kills == 1
            await proc.start(nursery, restarted=True)  # again, with the next child
            await proc.shutdown()
            nursery.cancel_scope.cancel()
        return took

    assert run(main) < 2


def test_a_node_that_fails_to_start_is_one_clear_error_at_once(tmp_path: Path) -> None:
    async def main() -> None:
        proc = ScriptProcess(FAILING, tmp_path, start_timeout=20)
        async with trio.open_nursery() as nursery:
            with trio.fail_after(5), pytest.raises(NodeProcessError, match="Address already"):
                await proc.start(nursery, restarted=False)
            await proc.shutdown()
            nursery.cancel_scope.cancel()

    run(main)


def test_stat_lines_carry_every_rejection_counter() -> None:
    line = Line.decode(b"STAT 7 processed=1 rejected=4 truncated=1 malformed=2 out_of_range=1 junk")
    assert line is not None
    assert (line.tag, line.pid) == (Tag.STAT, 7)
    assert line.counts == {
        "processed": 1,
        "rejected": 4,
        "truncated": 1,
        "malformed": 2,
        "out_of_range": 1,
    }


@pytest.mark.parametrize(
    "line",
    [
        Line(Tag.PID, 12),
        Line(Tag.READY, 12),
        Line(Tag.STAT, 12, counts={"processed": 3, "rejected": 0}),
        Line(Tag.ACCEPTED, 12, (4, 9)),
        Line(Tag.PAUSED, 12, (8,)),
        Line(Tag.DONE, 12),
        Line(Tag.FAILED, 12, text="OSError: [Errno 98] Address already in use"),
        Line(Tag.SYNCED, text="3"),
    ],
    ids=lambda line: str(line.tag),
)
def test_every_line_of_the_process_protocol_reads_back_as_written(line: Line) -> None:
    """One codec for the node processes' stdout: the parent decodes what a child encoded
    (it used to split the text and index the words wherever it read a line)."""
    assert Line.decode(line.encode().encode()) == line


@pytest.mark.parametrize("raw", [b"", b"READY", b"READY x", b"HELLO 3", b"ACCEPTED 3 4 x"])
def test_a_line_that_is_not_the_protocol_is_ignored(raw: bytes) -> None:
    assert Line.decode(raw) is None


def run(fn: Callable[[], Awaitable[T]]) -> T:
    return trio.run(fn)


# --- the standalone receiver process ------------------------------------------------------------


def test_the_standalone_receiver_reports_what_it_rejected_and_survives_a_poison_id(
    tmp_path: Path,
) -> None:
    """A receiver process fed a frame with id 2**63 keeps running, commits the valid message,
    and reports the rejection (STAT lines, the trace, and the report it prints on SIGTERM)."""
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    port = free_udp_port()
    db, trace = tmp_path / "r.sqlite", tmp_path / "r.jsonl"
    argv = [sys.executable, "-m", "ackproof.impl.receiver_proc", "--guarantee", "exactly-once"]
    argv += ["--db", str(db), "--port", str(port), "--peer-port", str(peer.getsockname()[1])]
    argv += ["--trace", str(trace), "--synchronous", "OFF"]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split()[0] == b"READY"
        poison = struct.pack(">BIBQ", VERSION, 13, FrameKind.DATA, 2**63) + b"boom"
        for raw in (b"\x01\x00", poison, encode(Frame(FrameKind.DATA, 3, b"ok")), poison):
            peer.sendto(raw, ("127.0.0.1", port))
        deadline = time.monotonic() + 10
        stat: dict[str, int] = {}
        while stat.get("processed") != 1 or stat.get("rejected") != 3:
            assert time.monotonic() < deadline, stat
            line = Line.decode(proc.stdout.readline().rstrip(b"\n"))
            if line is not None and line.tag is Tag.STAT:
                stat = line.counts
        assert proc.poll() is None  # still running
        assert (stat["out_of_range"], stat["truncated"]) == (2, 1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        peer.close()
    assert proc.returncode == 0
    stats = [line for ln in out.splitlines() if (line := Line.decode(ln)) and line.tag is Tag.STAT]
    assert stats[-1].counts["rejected"] == 3
    report = err.decode()
    assert "Traceback" not in report
    assert "rejected 3 (truncated 1, " in report
    assert "out-of-range id 2)" in report
    with sqlite3.connect(db) as conn:
        assert list(conn.execute("SELECT msg, payload FROM processed")) == [(3, b"ok")]
    assert trace.read_text().count('"event":"reject"') == 2
