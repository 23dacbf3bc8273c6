"""Runs one guarantee end to end: a sender here, its receiver in a killable child process.

Theory of operation
-------------------
The sender node runs in this process over UDP on loopback, wrapped in a :class:`FaultyTransport`
(loss, duplication, delay/reorder in both directions, seeded). The receiver runs in a child
process (:mod:`ackproof.impl.receiver_proc`) on its own SQLite file. The crash schedule is counted
in submissions: after every ``crash_every`` submitted messages the child is killed with SIGKILL
and a new one is started on the same file and port. Submission pauses until the new child says
READY (the sender's retransmissions do not pause). The new process is a warm standby started
ahead of time (imports done, store and socket not yet opened), so a restart costs milliseconds;
it recovers from the SQLite file like any restarted process. So at-most-once's losses come from the
network and the crash windows, not from the restart's downtime.

The verdict is computed from durable records only: ids submitted (the sender's ``Accepted``
effects) against the receiver's ``processed`` table, which survives every kill.
"""

from __future__ import annotations

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
from ackproof.impl.sender import RetryPolicy
from ackproof.impl.shell import open_sender
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.trace import TraceEvent, Tracer, append_event
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


@dataclass(frozen=True, slots=True)
class _Incarnation:
    proc: trio.Process
    warm: trio.Event
    ready: trio.Event


class ReceiverProcess:
    """The child receiver: start, SIGKILL, restart; sums its reported counts over incarnations."""

    def __init__(self, guarantee: Guarantee, cfg: RunConfig, *, peer_port: int) -> None:
        self.guarantee = guarantee
        self.db = cfg.workdir / f"{guarantee}-receiver.sqlite"
        self.trace = (
            None if cfg.trace_dir is None else cfg.trace_dir / f"{guarantee}-receiver.jsonl"
        )
        self.port = free_udp_port()
        self.peer_port = peer_port
        self.kills = 0
        self._proc: trio.Process | None = None
        self._standby: _Incarnation | None = None
        self._done: list[int] = [0, 0, 0, 0]  # frames, commits, writes, processed of dead ones
        self._live: list[int] = [0, 0, 0, 0]

    @property
    def counts(self) -> tuple[int, int, int, int]:
        f, c, w, p = (a + b for a, b in zip(self._done, self._live, strict=True))
        return f, c, w, p

    def _command(self, *, restarted: bool) -> list[str]:
        cmd = [sys.executable, "-m", "ackproof.impl.receiver_proc", "--standby"]
        cmd += ["--guarantee", str(self.guarantee), "--db", str(self.db)]
        cmd += ["--port", str(self.port), "--peer-port", str(self.peer_port)]
        if self.trace is not None:
            cmd += ["--trace", str(self.trace)]
        if restarted:
            cmd.append("--restarted")
        return cmd

    async def _spawn(self, nursery: trio.Nursery, *, restarted: bool) -> _Incarnation:
        proc = await trio.lowlevel.open_process(
            self._command(restarted=restarted), stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        inc = _Incarnation(proc, trio.Event(), trio.Event())
        nursery.start_soon(self._read, inc)
        return inc

    async def start(self, nursery: trio.Nursery, *, restarted: bool, standby: bool) -> None:
        """Start the receiver (from the warm standby if there is one) and wait for READY.

        With ``standby`` a further process is started and left waiting for the next restart.
        """
        inc = self._standby
        self._standby = None
        if inc is None:
            inc = await self._spawn(nursery, restarted=restarted)
        self._proc = inc.proc
        self._live = [0, 0, 0, 0]
        assert inc.proc.stdin is not None
        await inc.proc.stdin.send_all(b"GO\n")
        with trio.fail_after(30):
            await inc.ready.wait()
        if standby:
            self._standby = await self._spawn(nursery, restarted=True)

    async def _read(self, inc: _Incarnation) -> None:
        proc = inc.proc
        assert proc.stdout is not None
        buf = b""
        async with proc.stdout:
            while True:
                try:
                    data = await proc.stdout.receive_some(65536)
                except (trio.ClosedResourceError, trio.BrokenResourceError):
                    return
                if not data:
                    return
                *lines, buf = (buf + data).split(b"\n")
                for line in lines:
                    parts = line.split()
                    if parts[:1] == [b"READY"]:
                        inc.ready.set()
                    elif parts[:1] == [b"STANDBY"]:
                        inc.warm.set()
                    elif parts[:1] == [b"STAT"] and proc is self._proc:
                        p, f, c, w = (int(x) for x in parts[1:5])
                        self._live = [f, c, w, p]

    async def shutdown(self) -> None:
        """Kill the receiver and any standby (not counted as crashes)."""
        await self.kill(count=False)
        standby, self._standby = self._standby, None
        if standby is not None:
            with trio.CancelScope(shield=True):
                standby.proc.kill()
                await standby.proc.wait()

    async def wait_standby_warm(self) -> None:
        """Wait until the standby has finished importing (so a restart is quick)."""
        if self._standby is not None:
            with trio.fail_after(30):
                await self._standby.warm.wait()

    async def kill(self, *, count: bool = True) -> None:
        """SIGKILL the running receiver and wait until it is dead."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with trio.CancelScope(shield=True):
            proc.kill()
            await proc.wait()
        self._done = [a + b for a, b in zip(self._done, self._live, strict=True)]
        self._live = [0, 0, 0, 0]
        if count:
            self.kills += 1
            if self.trace is not None:
                append_event(
                    self.trace, TraceEvent.CRASH, node="receiver", guarantee=self.guarantee
                )

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
            kills_due = (cfg.messages - 1) // cfg.crash_every if cfg.crash_every else 0
            await child.start(nursery, restarted=False, standby=kills_due > 0)
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
                            await child.wait_standby_warm()
                            await child.kill()
                            more = child.kills < kills_due
                            await child.start(nursery, restarted=True, standby=more)
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
