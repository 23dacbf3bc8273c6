"""One durability suite, run against every store (memory with simulated crash, SQLite)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from impl_testing import run_trio

from ackproof.impl.events import MarkSeen, OutboxDelete, OutboxPut, RecordProcessed, ReserveIds
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.store import MemoryDisk, MemoryStore, Store, StoreCrashed

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path


@dataclass
class Kind:
    """``open()`` opens the store again on the same durable medium (a restart)."""

    name: str
    open: Callable[[], Awaitable[Store]]


@pytest.fixture(params=["memory", "sqlite"])
def kind(request: pytest.FixtureRequest, tmp_path: Path) -> Kind:
    if request.param == "memory":
        disk = MemoryDisk()

        async def open_memory() -> Store:
            return MemoryStore(disk)

        return Kind("memory", open_memory)

    async def open_sqlite() -> Store:
        return await SQLiteStore.open(tmp_path / "store.sqlite")

    return Kind("sqlite", open_sqlite)


def test_fresh_store_is_empty(kind: Kind) -> None:
    async def main() -> None:
        store = await kind.open()
        snap = await store.load()
        assert (snap.next_id, dict(snap.outbox), snap.seen) == (0, {}, frozenset())
        assert await store.processed() == []
        await store.aclose()

    run_trio(main)


def test_committed_writes_survive_a_restart(kind: Kind) -> None:
    async def main() -> None:
        store = await kind.open()
        await store.commit([ReserveIds(1024), OutboxPut(1, b"a"), OutboxPut(2, b"b")])
        await store.commit([OutboxDelete(1), MarkSeen(5), RecordProcessed(5, b"x")])
        await store.commit([MarkSeen(5), RecordProcessed(5, b"x"), OutboxDelete(99)])
        assert store.statistics().commits == 3
        assert store.statistics().writes == 9
        store.crash()
        again = await kind.open()
        snap = await again.load()
        assert snap.next_id == 1024
        assert dict(snap.outbox) == {2: b"b"}
        assert snap.seen == frozenset({5})
        # the processed log is append-only: a duplicate processing stays visible
        assert await again.processed() == [(5, b"x"), (5, b"x")]
        await again.aclose()

    run_trio(main)


def test_id_reservation_never_goes_backwards(kind: Kind) -> None:
    async def main() -> None:
        store = await kind.open()
        await store.commit([ReserveIds(2048)])
        await store.commit([ReserveIds(1024)])
        assert (await store.load()).next_id == 2048
        await store.aclose()

    run_trio(main)


@pytest.mark.parametrize("after_writes", [0, 1, 2])
def test_a_crash_during_commit_leaves_nothing_of_it(kind: Kind, after_writes: int) -> None:
    async def main() -> None:
        store = await kind.open()
        await store.commit([OutboxPut(1, b"kept")])
        store.inject_crash(after_writes=after_writes)
        with pytest.raises(StoreCrashed):
            await store.commit([OutboxPut(2, b"gone"), MarkSeen(2), RecordProcessed(2, b"g")])
        with pytest.raises(StoreCrashed):
            await store.load()  # a crashed store is dead
        again = await kind.open()
        snap = await again.load()
        assert dict(snap.outbox) == {1: b"kept"}
        assert snap.seen == frozenset()
        assert await again.processed() == []
        await again.aclose()

    run_trio(main)


def test_sqlite_uncommitted_transaction_vanishes_on_sigkill(tmp_path: Path) -> None:
    """A real crash: a child process writes inside a transaction and SIGKILLs itself."""
    db = tmp_path / "killed.sqlite"

    async def prepare() -> None:
        store = await SQLiteStore.open(db)
        await store.commit([MarkSeen(1), RecordProcessed(1, b"committed")])
        await store.aclose()

    run_trio(prepare)
    code = (
        "import os, signal, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "c.execute('INSERT INTO inbox VALUES (2)')\n"
        "c.execute(\"INSERT INTO processed(msg, payload) VALUES (2, x'00')\")\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(db)], check=False, timeout=30)
    assert proc.returncode == -9

    async def check() -> None:
        store = await SQLiteStore.open(db)
        assert (await store.load()).seen == frozenset({1})
        assert await store.processed() == [(1, b"committed")]
        await store.aclose()

    run_trio(check)
