"""SQLite store (stdlib ``sqlite3``), run off the trio thread.

Theory of operation
-------------------
One connection per store, used from worker threads via ``trio.to_thread.run_sync`` behind a
capacity limiter of one, so statements never interleave. ``commit(writes)`` is one
``BEGIN IMMEDIATE ... COMMIT``; the shell merges the Persists of a batch of steps into one call
(group commit), which is where exactly-once gets its throughput. WAL journal; ``synchronous``
defaults to FULL (each commit is fsynced). The thread call is not abandoned on cancellation, so a
cancelled node still finishes (or never starts) each commit: commits stay atomic.

Tables: ``meta`` (the id reservation; the receiver's dedup watermark ``low``), ``outbox``
(sender), ``inbox`` (receiver's dedup set: the ids at or above ``low`` only — ``CompactSeen``
moves ``low`` and deletes the rows below it in the same transaction as the processing that moved
it) and ``processed`` (append-only log of processed records; duplicates stay visible).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypeVar

import trio

from ackproof.impl.events import (
    CompactSeen,
    MarkSeen,
    OutboxDelete,
    OutboxPut,
    RecordProcessed,
    ReserveIds,
    Snapshot,
    Write,
)
from ackproof.impl.store import StoreCrashed, StoreStatistics

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_T = TypeVar("_T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox(msg INTEGER PRIMARY KEY, payload BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS inbox(msg INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS processed(
    seq INTEGER PRIMARY KEY AUTOINCREMENT, msg INTEGER NOT NULL, payload BLOB NOT NULL);
"""

Synchronous = Literal["OFF", "NORMAL", "FULL"]


def _connect(path: Path, synchronous: Synchronous) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.executescript(SCHEMA)
    return conn


class SQLiteStore:
    """A durable store in one SQLite file. Open it with :meth:`open`."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._limiter = trio.CapacityLimiter(1)
        self._crash_after: int | None = None
        self._commits = 0
        self._writes = 0
        #: Test hook: called in the worker thread with a commit's writes staged and not yet
        #: committed (the crash soak SIGKILLs its own process there: a real mid-commit death).
        self.before_commit: Callable[[], None] | None = None

    @classmethod
    async def open(cls, path: str | Path, *, synchronous: Synchronous = "FULL") -> SQLiteStore:
        conn = await trio.to_thread.run_sync(_connect, Path(path), synchronous)
        return cls(conn)

    def _c(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreCrashed("store crashed or closed")
        return self._conn

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        conn = self._c()
        return await trio.to_thread.run_sync(fn, conn, limiter=self._limiter)

    async def load(self) -> Snapshot:
        def load(conn: sqlite3.Connection) -> Snapshot:
            row = conn.execute("SELECT value FROM meta WHERE key='next_id'").fetchone()
            outbox = dict(conn.execute("SELECT msg, payload FROM outbox"))
            seen = frozenset(m for (m,) in conn.execute("SELECT msg FROM inbox"))
            low = conn.execute("SELECT value FROM meta WHERE key='low'").fetchone()
            next_id = 0 if row is None else int(row[0])
            return Snapshot(next_id, MappingProxyType(outbox), seen, 0 if low is None else low[0])

        return await self._run(load)

    async def commit(self, writes: Sequence[Write]) -> None:
        crash_after = self._crash_after
        hook = self.before_commit

        def commit(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                _apply(conn, writes, crash_after)
                if hook is not None:
                    hook()
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        try:
            await self._run(commit)
        except StoreCrashed:
            self.crash()
            raise
        self._commits += 1
        self._writes += len(writes)

    async def processed(self) -> list[tuple[int, bytes]]:
        def read(conn: sqlite3.Connection) -> list[tuple[int, bytes]]:
            return list(conn.execute("SELECT msg, payload FROM processed ORDER BY seq"))

        return await self._run(read)

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(self._commits, self._writes)

    def crash(self) -> None:
        """Drop the connection without committing anything pending."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def inject_crash(self, *, after_writes: int) -> None:
        self._crash_after = after_writes

    async def aclose(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await trio.to_thread.run_sync(conn.close, limiter=self._limiter)


def _apply(conn: sqlite3.Connection, writes: Sequence[Write], crash_after: int | None) -> None:
    """Apply writes inside an open transaction; same-table order is kept, tables commute."""
    if crash_after is not None:
        writes = writes[:crash_after]
    upto = low = -1
    seen: list[tuple[int]] = []
    processed: list[tuple[int, bytes]] = []
    for write in writes:
        match write:
            case ReserveIds(n):
                upto = max(upto, n)
            case OutboxPut(msg, payload):
                conn.execute("INSERT OR REPLACE INTO outbox VALUES (?, ?)", (msg, payload))
            case OutboxDelete(msg):
                conn.execute("DELETE FROM outbox WHERE msg = ?", (msg,))
            case MarkSeen(msg):
                seen.append((msg,))
            case RecordProcessed(msg, payload):
                processed.append((msg, payload))
            case CompactSeen(n):
                low = max(low, n)
    if upto >= 0:
        conn.execute(
            "INSERT INTO meta VALUES ('next_id', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            (upto,),
        )
    conn.executemany("INSERT OR IGNORE INTO inbox VALUES (?)", seen)
    if low >= 0:
        conn.execute(
            "INSERT INTO meta VALUES ('low', ?) "
            "ON CONFLICT(key) DO UPDATE SET value = max(value, excluded.value)",
            (low,),
        )
        conn.execute("DELETE FROM inbox WHERE msg < (SELECT value FROM meta WHERE key='low')")
    conn.executemany("INSERT INTO processed(msg, payload) VALUES (?, ?)", processed)
    if crash_after is not None:
        raise StoreCrashed(f"crashed after staging {len(writes)} writes")
