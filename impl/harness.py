"""Runs one guarantee end to end: a sender process and a receiver process, killed and restarted.

Theory of operation
-------------------
Both nodes run in their own processes (:mod:`ackproof.impl.sender_proc`,
:mod:`ackproof.impl.receiver_proc`, managed by :mod:`ackproof.impl.procs`), each on its own SQLite
file, over UDP on loopback through a seeded fault-injecting wrapper in the sender process (loss,
duplication, delay/reorder, both directions). The sender process also holds the producer, which
submits the workload items ``0 .. messages-1`` in order.

Kills (SIGKILL, then a restart on the same file and port) come from three sources:

* ``crash_every``: each time another ``crash_every`` items have been accepted, the nodes chosen
  by ``kill`` (``"receiver"``, ``"sender"`` or ``"both"``) are killed and restarted;
* ``kill_interval``: after random delays (seeded, uniform in ``[0, 2 * kill_interval]``), one of
  the chosen nodes at random (the crash soak);
* ``kill_mid_commit`` / ``kill_after_commit``: probabilities per commit that a node process
  SIGKILLs itself inside a commit or right after one (:mod:`ackproof.impl.killpoints`).

Every death is accounted for the same way: the parent reads everything the dead process wrote,
reconciles its trace with its durable records, appends the ``crash`` line, and starts a new
process, which recovers from its SQLite file alone (the sender from its outbox, which it
retransmits).

The verdict is computed from durable records only: the items accepted by the sender (its
``ACCEPTED`` reports and its outbox) against the receiver's ``processed`` table (ids and
payloads), judged by :func:`ackproof.spec.judge.judge` -- the judge ``ackproof validate``
uses. Messages still in the sender's outbox are in flight, not lost; a run that timed out is
*unfinished*: a promise not yet broken is inconclusive rather than kept.
"""

from __future__ import annotations

import os
import random
import signal
import time
from contextlib import suppress
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import trio

from ackproof.events import TraceEvent
from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates
from ackproof.impl.nodeproc import payload_for
from ackproof.impl.procs import NodeProcess, free_udp_port
from ackproof.impl.role_procs import ReceiverProcess, SenderProcess
from ackproof.spec.history import GUARANTEES
from ackproof.spec.judge import Observation, Verdict
from ackproof.spec.judge import judge as judge_history

if TYPE_CHECKING:
    from collections.abc import Callable

    from ackproof.impl.sender import RetryPolicy

Kill = Literal["receiver", "sender", "both"]


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    messages: int
    rates: FaultRates
    crash_every: int
    seed: int
    policy: RetryPolicy
    workdir: Path
    trace_dir: Path | None = None
    kill: Kill = "both"
    kill_interval: float = 0.0
    kill_mid_commit: float = 0.0
    kill_after_commit: float = 0.0
    max_in_flight: int = 256
    timeout: float = 120.0
    quiet_period: float = 0.3
    synchronous: Literal["OFF", "NORMAL", "FULL"] = "FULL"


@dataclass(frozen=True, slots=True)
class GuaranteeResult:
    guarantee: Guarantee
    submitted: int  # ids submitted (accepted by the sender)
    processed: int  # ids processed at least once
    lost: int  # ids submitted, never processed, and no longer in the sender's outbox
    in_flight: int  # ids submitted, not processed yet, still in the outbox (unfinished run)
    duplicated: int  # ids processed more than once
    extra_deliveries: int  # processings beyond each id's first
    phantom: int  # ids processed that were never submitted
    corrupted: int  # processings of a submitted id with a payload that is not its own
    kills: int
    receiver_kills: int
    sender_kills: int
    frames_sent: int
    frames_rejected: int
    durable_writes: int
    durable_commits: int
    elapsed: float
    finished: bool
    #: ``broken`` when the run shows a violation of the promise, else ``unfinished`` when the
    #: run did not finish or (no-loss promised) an id is still in flight, else ``kept``.
    verdict: Verdict

    @property
    def kept_promise(self) -> bool:
        return self.verdict == "kept"


def _node_args(cfg: RunConfig, g: Guarantee, index: int, *, port: int, peer: int) -> list[str]:
    args = ["--guarantee", str(g), "--port", str(port), "--peer-port", str(peer)]
    args += ["--synchronous", cfg.synchronous, "--seed", f"{cfg.seed}/{index}"]
    if cfg.kill_mid_commit or cfg.kill_after_commit:
        args += ["--kill-mid-commit", str(cfg.kill_mid_commit)]
        args += ["--kill-after-commit", str(cfg.kill_after_commit)]
    return args


def _trace(cfg: RunConfig, g: Guarantee, node: str) -> Path | None:
    return None if cfg.trace_dir is None else cfg.trace_dir / f"{g}-{node}.jsonl"


def make_processes(
    g: Guarantee, index: int, cfg: RunConfig
) -> tuple[SenderProcess, ReceiverProcess]:
    s_port, r_port = free_udp_port(), free_udp_port()
    r_trace, s_trace = _trace(cfg, g, "receiver"), _trace(cfg, g, "sender")
    r_args = _node_args(cfg, g, index, port=r_port, peer=s_port)
    r_args += ["--db", str(cfg.workdir / f"{g}-receiver.sqlite")]
    if r_trace is not None:
        r_args += ["--trace", str(r_trace)]
    receiver = ReceiverProcess(
        g, db=cfg.workdir / f"{g}-receiver.sqlite", trace=r_trace, args=r_args
    )
    rates, policy = cfg.rates, cfg.policy
    s_args = _node_args(cfg, g, index, port=s_port, peer=r_port)
    s_args += ["--db", str(cfg.workdir / f"{g}-sender.sqlite")]
    s_args += ["--messages", str(cfg.messages), "--max-in-flight", str(cfg.max_in_flight)]
    s_args += ["--loss", str(rates.loss), "--dup", str(rates.dup), "--reorder", str(rates.reorder)]
    s_args += ["--max-delay", str(rates.max_delay), "--rto", str(policy.initial)]
    s_args += ["--pause-every", str(cfg.crash_every)]
    if s_trace is not None:
        s_args += ["--trace", str(s_trace)]
    sender = SenderProcess(g, db=cfg.workdir / f"{g}-sender.sqlite", trace=s_trace, args=s_args)
    return sender, receiver


class _Run:
    """Drives one guarantee's two processes until the sender is done (see the module doc)."""

    def __init__(self, g: Guarantee, index: int, cfg: RunConfig) -> None:
        self.g = g
        self.cfg = cfg
        self.sender, self.receiver = make_processes(g, index, cfg)
        self.rng = random.Random(f"{cfg.seed}/{index}/kills")

    def _chosen(self) -> list[NodeProcess]:
        match self.cfg.kill:
            case "receiver":
                return [self.receiver]
            case "sender":
                return [self.sender]
            case "both":
                return [self.sender, self.receiver]

    async def _restart(self, nursery: trio.Nursery, nodes: list[NodeProcess]) -> None:
        # The receiver first, so the restarted sender's retransmissions find it listening.
        for node in sorted(nodes, key=lambda n: n is self.sender):
            if node is self.sender:
                await self.sender.start(
                    nursery, restarted=True, first_key=self.sender.first_unaccepted
                )
            else:
                await node.start(nursery, restarted=True)

    async def _kill_and_restart(self, nursery: trio.Nursery, victims: list[NodeProcess]) -> None:
        """Kill (or, for nodes that died on their own, account for) and restart ``victims``.

        A live sender is held still (SIGSTOP, or it stopped itself at a ``crash_every`` point)
        while the receiver is down and restarting, and resumed (SIGCONT) once the receiver is
        READY, as a producer waits for a consumer being restarted: so at-most-once's losses come
        from the network and the crash windows, not from a restart's downtime. Its timers keep
        running: it retransmits what is due when resumed.
        """
        sender = self.sender
        hold = sender not in victims and (self.receiver in victims or sender.paused)
        if hold and not sender.paused and sender.pid is not None:
            with suppress(ProcessLookupError):
                os.kill(sender.pid, signal.SIGSTOP)
        try:
            for node in victims:
                if node.died is not None:
                    await node.recover()
                else:
                    await node.kill()
            await self._restart(nursery, victims)
        finally:
            if hold:
                sender.resume()

    def _next_timed_kill(self) -> float:
        interval = self.cfg.kill_interval
        return trio.current_time() + self.rng.uniform(0, 2 * interval) if interval else float("inf")

    async def drive(self, nursery: trio.Nursery, progress: Callable[[int], None]) -> None:
        cfg, sender, receiver = self.cfg, self.sender, self.receiver
        await receiver.start(nursery, restarted=False)
        await sender.start(nursery, restarted=False, first_key=0)
        timed_kill = self._next_timed_kill()
        while not sender.done:
            await trio.sleep(0.002)
            progress(len(sender.accepted))
            victims: list[NodeProcess] = [n for n in (sender, receiver) if n.died is not None]
            if sender.paused:  # it stopped itself after another crash_every accepted items
                await sender.wait_stopped()
                victims += [n for n in self._chosen() if n not in victims]
            elif trio.current_time() >= timed_kill and len(sender.accepted) < cfg.messages:
                timed_kill = self._next_timed_kill()
                victim = self.rng.choice(self._chosen())
                victims += [victim] if victim not in victims else []
            if victims:
                await self._kill_and_restart(nursery, victims)
        progress(len(sender.accepted))
        if self.g is Guarantee.AT_MOST_ONCE:
            await self._wait_quiet()

    async def _wait_quiet(self) -> None:
        """Wait until the receiver's processed count has not moved for a quiet period."""
        last = -1
        while True:
            now = self.receiver.total("processed")
            if now == last:
                return
            last = now
            await trio.sleep(self.cfg.quiet_period)


async def run_guarantee(
    guarantee: Guarantee, index: int, cfg: RunConfig, progress: Callable[[int], None]
) -> GuaranteeResult:
    started = time.monotonic()
    run = _Run(guarantee, index, cfg)
    finished = False
    async with trio.open_nursery() as nursery:
        try:
            with trio.move_on_after(cfg.timeout):
                await run.drive(nursery, progress)
                finished = True
        finally:  # while the readers still run, so the last reports are read
            await run.sender.shutdown()
            await run.receiver.shutdown()
        nursery.cancel_scope.cancel()
    sender, receiver = run.sender, run.receiver
    log = await trio.to_thread.run_sync(receiver.processed_log)
    outbox = await trio.to_thread.run_sync(sender.outbox)
    return judge(
        guarantee,
        sender.accepted,
        log,
        outbox=set(outbox),
        receiver_kills=receiver.kills,
        sender_kills=sender.kills,
        frames_sent=sender.total("frames_sent") + receiver.total("frames_sent"),
        frames_rejected=sender.total("rejected") + receiver.total("rejected"),
        durable_writes=sender.total("writes") + receiver.total("writes"),
        durable_commits=sender.total("commits") + receiver.total("commits"),
        elapsed=time.monotonic() - started,
        finished=finished,
    )


def judge(
    guarantee: Guarantee,
    accepted: dict[int, int],
    log: list[tuple[int, bytes]],
    *,
    outbox: set[int],
    receiver_kills: int,
    sender_kills: int,
    frames_sent: int,
    frames_rejected: int,
    durable_writes: int,
    durable_commits: int,
    elapsed: float,
    finished: bool,
) -> GuaranteeResult:
    """Judge the accepted items (key -> message id) against the durable processed log
    (message id, payload); ``outbox``: the ids the sender still holds."""
    submits = (
        Observation(TraceEvent.SUBMIT, msg, payload_for(key)) for key, msg in accepted.items()
    )
    processings = (Observation(TraceEvent.PROCESS, msg, payload) for msg, payload in log)
    j = judge_history(chain(submits, processings), holding=outbox, finished=finished)
    counts = j.counts
    return GuaranteeResult(
        guarantee=guarantee,
        submitted=counts.submitted,
        processed=counts.processed,
        lost=counts.lost,
        in_flight=counts.in_flight,
        duplicated=counts.duplicated,
        extra_deliveries=counts.extra_deliveries,
        phantom=counts.phantom,
        corrupted=counts.corrupted,
        kills=receiver_kills + sender_kills,
        receiver_kills=receiver_kills,
        sender_kills=sender_kills,
        frames_sent=frames_sent,
        frames_rejected=frames_rejected,
        durable_writes=durable_writes,
        durable_commits=durable_commits,
        elapsed=elapsed,
        finished=finished,
        verdict=j.verdict(GUARANTEES[str(guarantee)]),
    )
