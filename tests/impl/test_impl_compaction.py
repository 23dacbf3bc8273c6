"""Bounded dedup state in the exactly-once receiver, under real SIGKILLs of both nodes.

The scheme (``spec/examples/compaction.py``, proved there): a watermark plus the sparse set of
processed ids above it, compacted in the transaction that processes.  Here the demo's machinery
runs exactly-once (two processes, SQLite, UDP with loss, duplication and reordering; sender and
receiver killed every 100 submissions, and mid-commit / right after a commit by chance) while a
reader samples the receiver's ``inbox`` table; the set must stay within the sender's window, end
empty with the watermark at the message count, and exactly-once must still hold.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates
from ackproof.impl.harness import GuaranteeResult, RunConfig, run_guarantee
from ackproof.impl.sender import RetryPolicy

MESSAGES = 600
WINDOW = 32


def _dedup_rows(db: Path) -> int | None:
    if not db.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.05) as conn:
            return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet, or busy: skip this sample
        return None


def test_dedup_state_stays_bounded_and_exactly_once_holds_under_kills(tmp_path: Path) -> None:
    cfg = RunConfig(
        messages=MESSAGES,
        rates=FaultRates(loss=0.2, dup=0.2, reorder=0.3, max_delay=0.02),
        crash_every=100,
        kill="both",
        kill_mid_commit=0.01,
        kill_after_commit=0.01,
        seed=5,
        policy=RetryPolicy(initial=0.05, maximum=0.5, minimum=0.05),
        workdir=tmp_path,
        max_in_flight=WINDOW,
        timeout=90.0,
        synchronous="OFF",
    )
    db = tmp_path / "exactly-once-receiver.sqlite"
    samples: list[int] = []

    async def main() -> GuaranteeResult:
        async with trio.open_nursery() as nursery:

            async def sample() -> None:
                while True:
                    rows = await trio.to_thread.run_sync(_dedup_rows, db)
                    if rows is not None:
                        samples.append(rows)
                    await trio.sleep(0.01)

            nursery.start_soon(sample)
            result = await run_guarantee(Guarantee.EXACTLY_ONCE, 2, cfg, lambda _n: None)
            nursery.cancel_scope.cancel()
        return result

    r = trio.run(main)
    assert r.finished, r
    assert (r.lost, r.duplicated, r.processed) == (0, 0, MESSAGES)
    assert r.sender_kills >= 3
    assert r.receiver_kills >= 3
    assert len(samples) > 20  # the reader saw the run, not just its end
    assert max(samples) < WINDOW  # the ids that overtook a missing one: fewer than the window
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM inbox").fetchone()[0] == 0
        assert conn.execute("SELECT value FROM meta WHERE key='low'").fetchone()[0] == MESSAGES
        # the processed log is the application's record, kept whole: it is not dedup state
        assert conn.execute("SELECT count(DISTINCT msg) FROM processed").fetchone()[0] == MESSAGES
