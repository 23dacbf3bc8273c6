"""Conformance of the trio shell: every recorded trace keeps its guarantee, under drawn fault plans.

A fault plan (Hypothesis draws it) is: a seed and loss / duplication / reorder rates for the
fault-injecting transport (both directions), a number of messages, and crash points — after
queuing the k-th message, let ``crash_delay`` of virtual time pass with work in flight, then
crash the receiver or the sender (cancel the node, drop its SQLite connection with nothing
pending) and start a new incarnation on the same file.  Time is virtual
(``MockClock(autojump_threshold=0)``).  Both nodes record JSONL traces with the virtual clock;
``ackproof validate``'s judge reads them merged and must find: at-most-once — maybe losses,
never a duplicate or phantom; at-least-once — maybe duplicates, never a loss or phantom;
exactly-once — none of them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import trio
import trio.testing
from conformance_support import profile
from hypothesis import given, settings
from hypothesis import strategies as st

from ackproof.cli import main as cli_main
from ackproof.impl import (
    FaultRates,
    Guarantee,
    MemoryDisk,
    MemoryStore,
    ReceiverNode,
    RetryPolicy,
    SenderNode,
    SQLiteStore,
    Tracer,
    memory_transport_pair,
    open_faulty_transport,
    open_receiver,
    open_sender,
)
from ackproof.impl.trace import NodeName, TraceEvent
from ackproof.spec.history import GUARANTEES
from ackproof.validate import Report, events, judge

if TYPE_CHECKING:
    from collections.abc import Callable
    from sqlite3 import Connection

    from ackproof.impl.store import Store
    from ackproof.impl.transport import Transport

T = TypeVar("T")


POLICY = RetryPolicy(initial=0.05, maximum=0.4)


@dataclass(frozen=True, slots=True)
class Plan:
    seed: int
    loss: float
    dup: float
    reorder: float
    messages: int
    receiver_crashes: tuple[int, ...]
    sender_crashes: tuple[int, ...]
    crash_delay: float


def _points(hi: int) -> st.SearchStrategy[tuple[int, ...]]:
    return st.lists(st.integers(1, hi), max_size=3, unique=True).map(lambda xs: tuple(sorted(xs)))


PLANS = st.builds(
    Plan,
    seed=st.integers(0, 2**20),
    loss=st.sampled_from([0.0, 0.1, 0.3]),
    dup=st.sampled_from([0.0, 0.1, 0.3]),
    reorder=st.sampled_from([0.0, 0.3, 1.0]),
    messages=st.integers(3, 25),
    receiver_crashes=_points(25),
    sender_crashes=_points(25),
    crash_delay=st.sampled_from([0.0, 0.001, 0.02, 0.1]),
)


class InlineSQLiteStore(SQLiteStore):
    """The SQLite store with its statements run on the trio thread instead of a worker thread.

    Under ``MockClock`` a task waiting for a worker thread counts as idle: on a loaded machine a
    commit that took a few real milliseconds let virtual time jump to the next deadline -- as far
    as the 3600 s ``fail_after`` -- in the middle of the commit, and the run failed (or, while
    ``open_faulty_transport`` swallowed that timeout, hung).  Run inline, a commit takes no
    virtual time, whatever the machine's load; the store's durability semantics are the same.
    """

    async def _run(self, fn: Callable[[Connection], T]) -> T:
        await trio.lowlevel.checkpoint()
        return fn(self._c())


class Incarnations:
    """One node over its lives: start on the SQLite file, crash, start again."""

    def __init__(
        self,
        node: NodeName,
        g: Guarantee,
        transport: Transport,
        db: Path,
        trace: Path,
        store_kind: str,
    ) -> None:
        self.store_kind = store_kind
        self.name = node
        self.guarantee = g
        self.transport = transport
        self.db = db
        self.trace = trace
        self.lives = 0
        self.disk = MemoryDisk()
        self._scope: trio.CancelScope | None = None
        self._gone = trio.Event()
        self._crashing = False
        self.sender: SenderNode | None = None
        self.receiver: ReceiverNode | None = None

    async def start(self, nursery: trio.Nursery) -> None:
        restarted = self.lives > 0
        self.lives += 1
        store: Store
        if self.store_kind == "sqlite":
            store = await InlineSQLiteStore.open(self.db, synchronous="OFF")
        else:
            store = MemoryStore(self.disk)
        seq = len(self.trace.read_text().splitlines()) if self.trace.exists() else 0
        tracer = Tracer(
            self.trace.open("a", encoding="utf-8"),
            node=self.name,
            guarantee=self.guarantee,
            clock=trio.current_time,
            seq=seq,
        )
        self._gone = trio.Event()
        scope = self._scope = trio.CancelScope()
        await nursery.start(self._run, scope, store, tracer, restarted)

    async def _run(
        self,
        scope: trio.CancelScope,
        store: Store,
        tracer: Tracer,
        restarted: bool,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        try:
            with scope:
                if self.name == "sender":
                    async with open_sender(
                        self.guarantee,
                        self.transport,
                        store=store,
                        policy=POLICY,
                        tracer=tracer,
                        restarted=restarted,
                    ) as tx:
                        self.sender = tx
                        task_status.started()
                        await trio.sleep_forever()
                else:
                    async with open_receiver(
                        self.guarantee,
                        self.transport,
                        store=store,
                        tracer=tracer,
                        restarted=restarted,
                    ) as rx:
                        self.receiver = rx
                        task_status.started()
                        async with rx.deliveries:
                            async for _ in rx.deliveries:
                                pass  # the application; the processed record is what counts
        finally:
            store.crash()  # drop the connection; nothing is pending between commits
            if self._crashing:
                tracer.emit(TraceEvent.CRASH)
            tracer.close()
            self._gone.set()

    async def stop(self, *, crash: bool) -> None:
        assert self._scope is not None
        self._crashing = crash
        self._scope.cancel()
        await self._gone.wait()
        self._crashing = False


async def run_plan(g: Guarantee, plan: Plan, workdir: Path, store_kind: str) -> tuple[Path, Path]:
    """Run ``plan``; returns the sender's and the receiver's trace files."""
    a, b = memory_transport_pair()
    rates = FaultRates(loss=plan.loss, dup=plan.dup, reorder=plan.reorder, max_delay=0.02)
    s_trace, r_trace = workdir / "sender.jsonl", workdir / "receiver.jsonl"
    async with (
        trio.open_nursery() as nursery,
        open_faulty_transport(a, rates=rates, seed=plan.seed) as link,
    ):
        rx = Incarnations("receiver", g, b, workdir / "receiver.sqlite", r_trace, store_kind)
        tx = Incarnations("sender", g, link, workdir / "sender.sqlite", s_trace, store_kind)
        await rx.start(nursery)
        await tx.start(nursery)
        for i in range(plan.messages):
            for who, points in ((rx, plan.receiver_crashes), (tx, plan.sender_crashes)):
                if i in points:
                    await trio.sleep(plan.crash_delay)  # work in flight when it dies
                    await who.stop(crash=True)
                    await who.start(nursery)
            assert tx.sender is not None
            await tx.sender.send(b"m%d" % i)
        assert tx.sender is not None
        with trio.fail_after(3600):  # virtual seconds: a hang is a failure, not a timeout
            await tx.sender.wait_all_acked()
        await trio.sleep(1.0)  # let delayed copies land
        await tx.stop(crash=False)
        await rx.stop(crash=False)
        nursery.cancel_scope.cancel()
    return s_trace, r_trace


def run_and_judge(
    g: Guarantee, plan: Plan, workdir: Path, store_kind: str
) -> tuple[Report, list[str]]:
    clock = trio.testing.MockClock(autojump_threshold=0)  # SQLite runs inline: see above
    paths = trio.run(run_plan, g, plan, workdir, store_kind, clock=clock)
    files = [str(p) for p in paths]
    return judge(events(files)), files


def _check(g: Guarantee, plan: Plan, report: Report, files: list[str]) -> None:
    for prop in GUARANTEES[str(g)]:
        assert not report.violated(prop), f"{g}: {prop} violated under {plan}: {report}"
    assert report.submitted > 0
    points = plan.receiver_crashes + plan.sender_crashes
    assert report.crashes == sum(1 for k in points if k < plan.messages)
    if g is not Guarantee.AT_MOST_ONCE:
        assert report.processed == report.submitted  # every accepted message, nothing else
    # The command line agrees with the judge.
    with contextlib.redirect_stdout(None):
        assert cli_main(["validate", *files, "--guarantee", str(g)]) == 0


_TRIO = settings(profile(), max_examples=max(4, profile().max_examples // 15))


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
@pytest.mark.parametrize("guarantee", list(Guarantee), ids=str)
@_TRIO
@given(plan=PLANS)
def test_every_trace_keeps_its_guarantee(
    guarantee: Guarantee, store_kind: str, plan: Plan, tmp_path_factory: pytest.TempPathFactory
) -> None:
    workdir = tmp_path_factory.mktemp(str(guarantee))
    report, files = run_and_judge(guarantee, plan, workdir, store_kind)
    _check(guarantee, plan, report, files)


ROUGH = Plan(
    seed=7,
    loss=0.3,
    dup=0.3,
    reorder=0.3,
    messages=40,
    receiver_crashes=(10, 25),
    sender_crashes=(18,),
    crash_delay=0.02,
)


@pytest.mark.parametrize("guarantee", list(Guarantee), ids=str)
def test_traces_show_what_each_guarantee_gives_up(guarantee: Guarantee, tmp_path: Path) -> None:
    """The "sometimes" beside the "always": the same judge does see losses and duplicates."""
    report, files = run_and_judge(guarantee, ROUGH, tmp_path, "sqlite")
    _check(guarantee, ROUGH, report, files)
    with contextlib.redirect_stdout(None):
        strict = cli_main(["validate", *files, "--guarantee", "exactly-once"])
    match guarantee:
        case Guarantee.AT_MOST_ONCE:
            assert report.lost  # 30% loss and no retries
            assert strict == 1
        case Guarantee.AT_LEAST_ONCE:
            assert report.duplicated  # lost ACKs and duplicated frames
            assert strict == 1
        case Guarantee.EXACTLY_ONCE:
            assert strict == 0
