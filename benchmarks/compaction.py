"""Dedup state and throughput of the exactly-once receiver: compacted vs unbounded, 1M messages.

    python benchmarks/compaction.py [--messages N] [--window W] [--batch B] [--synchronous S]

In process, no network: the exactly-once receiver core and the SQLite store, fed DATA frames as
a lossy, duplicating, reordering network would deliver them from a sender with a window of ``W``
ids: ids arrive shuffled within each window, 5 % of them lost once (delivered again after the
next window: a retransmission that overtook nothing), 10 % duplicated.  The frames of one batch
(``B`` of them) go through the core and their writes commit as ONE transaction (the shell's
group commit).  Two receivers, the same frames:

* **compacted** — the shipped core: a watermark plus the sparse set above it, pruned in the
  transaction that processes;
* **unbounded** — the same core without compaction (one dedup row per id, kept forever): the
  baseline.

Printed per receiver: the dedup rows at the end and at most during the run (sampled after every
commit), the database size, and messages per second; then the ratios.  Both also check that
every id was processed exactly once.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import trio

from ackproof.impl.codec import Frame, FrameKind
from ackproof.impl.events import (
    Deliver,
    Discarded,
    Effect,
    FrameIn,
    MarkSeen,
    Persist,
    RecordProcessed,
    Restart,
    SendFrame,
    Snapshot,
    Write,
)
from ackproof.impl.receiver import ExactlyOnceReceiver
from ackproof.impl.sqlite_store import SQLiteStore, Synchronous

PAYLOAD = b"x" * 16


class UnboundedReceiver(ExactlyOnceReceiver):
    """The baseline: one dedup row per processed id, never pruned (the receiver before
    compaction)."""

    def _on_data(self, msg: int, payload: bytes) -> list[Effect]:
        ack = SendFrame(Frame(FrameKind.ACK, msg))
        if msg in self._seen:
            return [Discarded(msg, "duplicate DATA"), ack]
        self._seen.add(msg)
        return [
            Persist((MarkSeen(msg), RecordProcessed(msg, payload))),
            Deliver(msg, payload),
            ack,
        ]


def deliveries(messages: int, window: int, seed: int) -> Iterator[int]:
    """Ids in the order a lossy, duplicating, reordering network hands them over."""
    rng = random.Random(seed)
    late: list[int] = []
    for lo in range(0, messages, window):
        ids = list(range(lo, min(lo + window, messages)))
        rng.shuffle(ids)
        retries, late = late, []
        for m in retries:
            yield m
        for m in ids:
            if rng.random() < 0.05:
                late.append(m)  # lost: its retransmission comes with the next window
                continue
            yield m
            if rng.random() < 0.10:
                yield m
    yield from late


async def run(
    core: ExactlyOnceReceiver,
    messages: int,
    window: int,
    batch: int,
    db: Path,
    synchronous: Synchronous,
) -> dict[str, float]:
    store = await SQLiteStore.open(db, synchronous=synchronous)
    core.handle(Restart(Snapshot()), 0.0)
    rows_max = 0
    writes: list[Write] = []
    pending = 0
    sampling = 0.0  # time spent counting rows, not charged to the receiver
    start = time.perf_counter()

    async def commit() -> int:
        nonlocal sampling
        await store.commit(writes)
        writes.clear()
        t = time.perf_counter()
        rows = await trio.to_thread.run_sync(_rows, db)
        sampling += time.perf_counter() - t
        return rows

    for msg in deliveries(messages, window, seed=1):
        for effect in core.handle(FrameIn(Frame(FrameKind.DATA, msg, PAYLOAD)), 0.0):
            if isinstance(effect, Persist):
                writes.extend(effect.writes)
        pending += 1
        if pending == batch:
            rows_max = max(rows_max, await commit())
            pending = 0
    rows_end = await commit()
    elapsed = time.perf_counter() - start - sampling
    processed = await store.processed()
    await store.aclose()
    ids = [m for m, _ in processed]
    assert len(ids) == len(set(ids)) == messages, "not exactly once"
    return {
        "rows_end": rows_end,
        "rows_max": max(rows_max, rows_end),
        "bytes": sum(p.stat().st_size for p in db.parent.glob(db.name + "*")),
        "rate": messages / elapsed,
        "seconds": elapsed,
    }


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM inbox").fetchone()[0])


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, core in (
            ("compacted", ExactlyOnceReceiver()),
            ("unbounded", UnboundedReceiver()),
        ):
            db = Path(tmp) / f"{name}.sqlite"
            results[name] = r = await run(
                core, args.messages, args.window, args.batch, db, args.synchronous
            )
            print(
                f"{name:10} {args.messages} messages: dedup rows at end {int(r['rows_end'])}, "
                f"at most {int(r['rows_max'])} during the run; database "
                f"{r['bytes'] / 1e6:.1f} MB; {r['rate']:,.0f} msg/s ({r['seconds']:.1f} s)"
            )
        c, u = results["compacted"], results["unbounded"]
        print(
            f"compacted/unbounded: dedup rows at most {int(c['rows_max'])} / {int(u['rows_max'])}"
            f" = {c['rows_max'] / max(u['rows_max'], 1):.6f}, database "
            f"{c['bytes'] / u['bytes']:.2f}, throughput {c['rate'] / u['rate']:.2f}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=256, help="the sender's id window")
    parser.add_argument("--batch", type=int, default=1024, help="frames per transaction")
    parser.add_argument(
        "--synchronous", choices=["OFF", "NORMAL", "FULL"], default="NORMAL", help="SQLite"
    )
    args = parser.parse_args()
    trio.run(main, args)
