"""Runs one guarantee end to end: a sender here, its receiver in a killable child process.

Theory of operation
-------------------
The sender node runs in this process over UDP on loopback, wrapped in a :class:`FaultyTransport`
(loss, duplication, delay/reorder in both directions, seeded). The receiver runs in a child
process (:mod:`ackproof.impl.receiver_proc`) on its own SQLite file. The crash schedule is counted
in submissions: after every ``crash_every`` submitted messages the child is killed with SIGKILL
and a new one is started on the same file and port. Submission pauses until the new child says
READY (the sender's retransmissions do not pause). Each receiver process is forked by a fork
server that has already imported everything, so a restart costs milliseconds; the new process
opens the SQLite file and recovers like any restarted process. So at-most-once's losses come
from the network and the crash windows, not from the restart's downtime.

The verdict is computed from durable records only: ids submitted (the sender's ``Accepted``
effects) against the receiver's ``processed`` table, which survives every kill.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates, open_faulty_transport
from ackproof.impl.nodes import open_sender
from ackproof.impl.sender import RetryPolicy
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.trace import TraceEvent, Tracer, append_event, reconcile_processed
from ackproof.impl.udp import LOOPBACK, UDPTransport

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    messages: int
    rates: FaultRates
    crash_every: int
    seed: int
    policy: RetryPolicy
    workdir: Path
    trace_dir: Path | None = None
    max_in_flight: int = 256
    timeout: float = 120.0
    quiet_period: float = 0.3


@dataclass(frozen=True, slots=True)
class GuaranteeResult:
    guarantee: Guarantee
    submitted: int
    processed: int
    unique: int
    lost: int
    duplicated: int
    phantom: int
    kills: int
    frames_sent: int
    durable_writes: int
    durable_commits: int
    elapsed: float
    finished: bool

    @property
    def kept_promise(self) -> bool:
        no_dup = self.duplicated == 0
        no_loss = self.lost == 0 and self.finished
        match self.guarantee:
            case Guarantee.AT_MOST_ONCE:
                return no_dup and self.phantom == 0
            case Guarantee.AT_LEAST_ONCE:
                return no_loss and self.phantom == 0
            case Guarantee.EXACTLY_ONCE:
                return no_loss and no_dup and self.phantom == 0


def payload_for(msg: int) -> bytes:
    return b"payload-%08d" % msg


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


class ReceiverProcess:
    """The receiver's processes: start, SIGKILL, restart; sums their counts over incarnations.

    ``python -m ackproof.impl.receiver_proc --zygote`` imports everything once and then forks one
    receiver process per (re)start on request, reporting its pid. Each receiver is its own
    process: it opens the SQLite file and the socket itself, after the fork, and is killed with
    SIGKILL by pid. The fork server only makes a restart cost milliseconds instead of an
    interpreter start.
    """

    def __init__(self, guarantee: Guarantee, cfg: RunConfig, *, peer_port: int) -> None:
        self.guarantee = guarantee
        self.db = cfg.workdir / f"{guarantee}-receiver.sqlite"
        self.trace = (
            None if cfg.trace_dir is None else cfg.trace_dir / f"{guarantee}-receiver.jsonl"
        )
        self.port = free_udp_port()
        self.peer_port = peer_port
        self.kills = 0
        self._zygote: trio.Process | None = None
        self._pid: int | None = None
        self._pid_known = trio.Event()
        self._ready = trio.Event()
        self._done: list[int] = [0, 0, 0, 0]  # frames, commits, writes, processed of dead ones
        self._live: list[int] = [0, 0, 0, 0]

    @property
    def counts(self) -> tuple[int, int, int, int]:
        f, c, w, p = (a + b for a, b in zip(self._done, self._live, strict=True))
        return f, c, w, p

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "ackproof.impl.receiver_proc", "--zygote"]
        cmd += ["--guarantee", str(self.guarantee), "--db", str(self.db)]
        cmd += ["--port", str(self.port), "--peer-port", str(self.peer_port)]
        if self.trace is not None:
            cmd += ["--trace", str(self.trace)]
        return cmd

    async def start(self, nursery: trio.Nursery, *, restarted: bool) -> None:
        """Fork a receiver process and wait until it says READY."""
        if self._zygote is None:
            self._zygote = await trio.lowlevel.open_process(
                self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
            nursery.start_soon(self._read, self._zygote)
        self._pid, self._pid_known, self._ready = None, trio.Event(), trio.Event()
        self._live = [0, 0, 0, 0]
        assert self._zygote.stdin is not None
        await self._zygote.stdin.send_all(b"RESTART\n" if restarted else b"START\n")
        with trio.fail_after(30):
            await self._pid_known.wait()
            await self._ready.wait()

    async def _read(self, zygote: trio.Process) -> None:
        assert zygote.stdout is not None
        buf = b""
        async with zygote.stdout:
            while True:
                try:
                    data = await zygote.stdout.receive_some(65536)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    return
                if not data:
                    return
                *lines, buf = (buf + data).split(b"\n")
                for line in lines:
                    self._on_line(line.split())

    def _on_line(self, parts: list[bytes]) -> None:
        if len(parts) < 2:
            return
        kind, pid = parts[0], int(parts[1])
        if kind == b"PID":
            self._pid = pid
            self._pid_known.set()
        elif pid != self._pid:
            return  # a line from an incarnation already killed
        elif kind == b"READY":
            self._ready.set()
        elif kind == b"STAT":
            p, f, c, w = (int(x) for x in parts[2:6])
            self._live = [f, c, w, p]

    async def kill(self, *, count: bool = True) -> None:
        """SIGKILL the running receiver process and wait until it is gone."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        with trio.CancelScope(shield=True):
            await _kill_and_wait(pid)
        self._done = [a + b for a, b in zip(self._done, self._live, strict=True)]
        self._live = [0, 0, 0, 0]
        if self.trace is not None:
            # A SIGKILL can land after a commit and before the trace lines it produced were
            # flushed: the durable processed log is the truth, so the trace catches up to it.
            reconcile_processed(
                self.trace,
                [msg for msg, _ in self.processed_log()],
                node="receiver",
                guarantee=self.guarantee,
            )
        if count:
            self.kills += 1
            if self.trace is not None:
                append_event(
                    self.trace, TraceEvent.CRASH, node="receiver", guarantee=self.guarantee
                )

    async def shutdown(self) -> None:
        """Kill the receiver and the fork server (not counted as crashes)."""
        await self.kill(count=False)
        zygote, self._zygote = self._zygote, None
        if zygote is not None:
            with trio.CancelScope(shield=True):
                zygote.kill()
                await zygote.wait()

    def processed_log(self) -> list[tuple[int, bytes]]:
        with sqlite3.connect(self.db) as conn:
            return list(conn.execute("SELECT msg, payload FROM processed ORDER BY seq"))


async def run_guarantee(
    guarantee: Guarantee, index: int, cfg: RunConfig, progress: Callable[[int], None]
) -> GuaranteeResult:
    started = time.monotonic()
    udp = await UDPTransport.bind()
    child = ReceiverProcess(guarantee, cfg, peer_port=udp.port)
    udp.connect_to(child.port)
    store = await SQLiteStore.open(cfg.workdir / f"{guarantee}-sender.sqlite")
    tracer = None
    if cfg.trace_dir is not None:
        tracer = Tracer.open(
            cfg.trace_dir / f"{guarantee}-sender.jsonl", node="sender", guarantee=guarantee
        )
    finished = False
    accepted = 0
    try:
        async with trio.open_nursery() as nursery:
            await child.start(nursery, restarted=False)
            async with (
                open_faulty_transport(udp, rates=cfg.rates, seed=f"{cfg.seed}/{index}") as link,
                open_sender(
                    guarantee,
                    link,
                    store=store,
                    policy=cfg.policy,
                    max_in_flight=cfg.max_in_flight,
                    tracer=tracer,
                ) as sender,
            ):
                with trio.move_on_after(cfg.timeout):
                    for i in range(cfg.messages):
                        await sender.send(payload_for(i))
                        progress(i + 1)
                        n = i + 1
                        if cfg.crash_every and n % cfg.crash_every == 0 and n < cfg.messages:
                            await child.kill()
                            await child.start(nursery, restarted=True)
                    await sender.wait_all_acked()
                    if guarantee is Guarantee.AT_MOST_ONCE:
                        await _wait_quiet(child, cfg.quiet_period)
                    finished = True
                accepted = sender.statistics().submitted
                stats = sender.statistics()
            await child.shutdown()
            nursery.cancel_scope.cancel()
    finally:
        await child.shutdown()
        await store.aclose()
        if tracer is not None:
            tracer.close()
    log = await trio.to_thread.run_sync(child.processed_log)
    frames, commits, writes, _ = child.counts
    return judge(
        guarantee,
        accepted,
        log,
        kills=child.kills,
        frames_sent=stats.frames_sent + frames,
        durable_writes=stats.durable_writes + writes,
        durable_commits=stats.durable_commits + commits,
        elapsed=time.monotonic() - started,
        finished=finished,
    )


async def _kill_and_wait(pid: int) -> None:
    """SIGKILL ``pid`` and wait until the process no longer exists."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        await trio.lowlevel.wait_readable(pidfd)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    # The fork server ignores SIGCHLD, so the kernel reaps the child; wait until it has.
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        await trio.sleep(0.001)


async def _wait_quiet(child: ReceiverProcess, period: float) -> None:
    """Wait until the child's processed count has not moved for ``period`` seconds."""
    last = -1
    while True:
        now = child.counts[3]
        if now == last:
            return
        last = now
        await trio.sleep(period)


def judge(
    guarantee: Guarantee,
    submitted: int,
    log: list[tuple[int, bytes]],
    *,
    kills: int,
    frames_sent: int,
    durable_writes: int,
    durable_commits: int,
    elapsed: float,
    finished: bool,
) -> GuaranteeResult:
    """Compare submitted ids 0..submitted-1 with the durable processed log."""
    counts = Counter(msg for msg, _ in log)
    phantom = sum(
        1 for msg, payload in log if not 0 <= msg < submitted or payload != payload_for(msg)
    )
    unique = sum(1 for msg in counts if 0 <= msg < submitted)
    return GuaranteeResult(
        guarantee=guarantee,
        submitted=submitted,
        processed=len(log),
        unique=unique,
        lost=submitted - unique,
        duplicated=sum(c - 1 for c in counts.values()),
        phantom=phantom,
        kills=kills,
        frames_sent=frames_sent,
        durable_writes=durable_writes,
        durable_commits=durable_commits,
        elapsed=elapsed,
        finished=finished,
    )
