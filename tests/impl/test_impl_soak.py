"""Crash soak: both nodes SIGKILLed at random points, every trace checked with ``validate``.

Each guarantee runs as in ``ackproof demo`` (two processes, SQLite, UDP with loss, duplication
and reordering) while the supervisor SIGKILLs the sender or the receiver after random delays,
and each node process SIGKILLs itself with small probabilities in the middle of a commit (writes
staged, not committed) and right after one (before any trace line, frame or ACK that follows).
Then, per guarantee:

* ``ackproof validate`` on the merged traces says the promise holds (exit 0);
* its counts equal the demo's, read off the durable records (one definition);
* exactly-once shows no loss and no duplicate; nothing is ever a phantom.

Default: one short run (a few seconds). ``ACKPROOF_SLOW=1`` or ``HYPOTHESIS_PROFILE=nightly``:
several seeds of thousands of messages; ``-s`` prints the figures (kills, messages, lost,
duplicated) per run.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
import trio

from ackproof.cli import main as cli_main
from ackproof.impl.demo import run_all
from ackproof.impl.faults import FaultRates
from ackproof.impl.harness import GuaranteeResult, RunConfig
from ackproof.impl.sender import RetryPolicy
from ackproof.validate import events, judge

LONG = os.environ.get("ACKPROOF_SLOW") == "1" or os.environ.get("HYPOTHESIS_PROFILE") == "nightly"

FAST = {"messages": 150, "kill_interval": 0.25, "seeds": [11]}
SLOW = {"messages": 4000, "kill_interval": 0.3, "seeds": [21, 22, 23]}
PLAN = SLOW if LONG else FAST


def soak(seed: int, workdir: Path, traces: Path) -> list[GuaranteeResult]:
    cfg = RunConfig(
        messages=int(str(PLAN["messages"])),
        rates=FaultRates(loss=0.2, dup=0.2, reorder=0.3, max_delay=0.02),
        crash_every=0,
        kill="both",
        kill_interval=float(str(PLAN["kill_interval"])),
        kill_mid_commit=0.01,
        kill_after_commit=0.01,
        seed=seed,
        policy=RetryPolicy(initial=0.05, maximum=0.5, minimum=0.05),
        workdir=workdir,
        trace_dir=traces,
        timeout=600.0 if LONG else 90.0,
        synchronous="OFF" if not LONG else "FULL",
    )
    return trio.run(lambda: run_all(cfg, show_progress=False))


@pytest.mark.parametrize("seed", PLAN["seeds"])  # type: ignore[arg-type]
def test_crash_soak_every_trace_validates_and_agrees_with_the_durable_records(
    seed: int, tmp_path: Path
) -> None:
    work, traces = tmp_path / "work", tmp_path / "traces"
    work.mkdir()
    traces.mkdir()
    results = soak(seed, work, traces)
    for r in results:
        g = str(r.guarantee)
        files = [str(traces / f"{g}-{node}.jsonl") for node in ("sender", "receiver")]
        print(
            f"soak seed={seed} {g}: messages={r.submitted} kills={r.kills} "
            f"(receiver {r.receiver_kills}, sender {r.sender_kills}) lost={r.lost} "
            f"duplicated={r.duplicated} extra_deliveries={r.extra_deliveries} "
            f"phantom={r.phantom} elapsed={r.elapsed:.1f}s"
        )
        assert r.finished, r
        assert r.kept_promise, r
        assert r.phantom == r.corrupted == 0
        with contextlib.redirect_stdout(None):
            assert cli_main(["validate", *files, "--guarantee", g]) == 0, g
        report = judge(events(files))
        assert report.counts.as_dict() == {k: getattr(r, k) for k in report.counts.as_dict()}
        assert report.crashes == r.kills
        if g == "exactly-once":
            assert r.lost == r.duplicated == 0
            assert r.processed == r.submitted == PLAN["messages"]
    assert sum(r.kills for r in results) >= 3  # it did kill
