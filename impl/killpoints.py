"""Self-inflicted SIGKILLs at the instants where a crash is hardest to get right.

A node process killed from outside dies wherever it happens to be, which is mostly waiting for
the network. :class:`KillPointStore` wraps a node's :class:`SQLiteStore` and, with the given
probabilities (a seeded ``random.Random``, so a run can be replayed), SIGKILLs its own process

* **mid-commit** — in the worker thread, with the transaction's writes staged and not committed
  (SQLite must roll them back on the next open: none of them may become visible);
* **after commit** — the transaction is durable, and nothing that follows it has happened yet:
  no trace line flushed, no frame sent, no delivery, no ACK (the window the trace
  reconciliation and the sender's outbox exist for).

Only the crash soak and ``ackproof demo --kill-points`` use it; a node never kills itself
otherwise.
"""

from __future__ import annotations

import os
import random
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ackproof.impl.events import Snapshot, Write
    from ackproof.impl.sqlite_store import SQLiteStore
    from ackproof.impl.store import StoreStatistics


def die() -> None:
    """SIGKILL this process, now (no cleanup, no flush: as a power cut would)."""
    os.kill(os.getpid(), signal.SIGKILL)


class KillPointStore:
    """A :class:`SQLiteStore` that may SIGKILL its own process mid-commit or just after one."""

    def __init__(
        self, inner: SQLiteStore, *, seed: int | str, mid_commit: float, after_commit: float
    ) -> None:
        self._inner = inner
        self._rng = random.Random(seed)
        self._mid = mid_commit
        self._after = after_commit
        inner.before_commit = self._maybe_die_mid_commit

    def _maybe_die_mid_commit(self) -> None:
        if self._mid > 0 and self._rng.random() < self._mid:
            die()

    async def load(self) -> Snapshot:
        return await self._inner.load()

    async def commit(self, writes: Sequence[Write]) -> None:
        await self._inner.commit(writes)
        if self._after > 0 and self._rng.random() < self._after:
            die()

    async def processed(self) -> list[tuple[int, bytes]]:
        return await self._inner.processed()

    def statistics(self) -> StoreStatistics:
        return self._inner.statistics()

    def crash(self) -> None:
        self._inner.crash()

    def inject_crash(self, *, after_writes: int) -> None:
        self._inner.inject_crash(after_writes=after_writes)

    async def aclose(self) -> None:
        await self._inner.aclose()
