"""Durable stores: the interface, shared write semantics, and an in-memory store for tests.

Theory of operation
-------------------
A store holds the durable part of a node: the sender's id reservation and outbox, the receiver's
seen (dedup/inbox) set, and the append-only processed log. ``commit(writes)`` applies one
``Persist`` — or several merged by group commit — as ONE transaction: after a crash either all of
its writes are visible or none is. ``load()`` returns the :class:`Snapshot` a restarted core
resumes from.

:class:`MemoryStore` keeps committed state in a :class:`MemoryDisk` that outlives the store
object, like a file outlives a process. ``crash()`` kills the store (uncommitted writes vanish;
later calls raise :class:`StoreCrashed`); ``inject_crash(after_writes=k)`` makes the next commit
die after staging ``k`` writes. A new store opened on the same disk recovers. The SQLite store
offers the same two hooks so one durability suite runs against both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Protocol, assert_never

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

if TYPE_CHECKING:
    from collections.abc import Sequence


class StoreCrashed(Exception):
    """The store was crashed (simulated) and can no longer be used."""


@dataclass(frozen=True, slots=True)
class StoreStatistics:
    commits: int
    writes: int


class Store(Protocol):
    async def load(self) -> Snapshot: ...

    async def commit(self, writes: Sequence[Write]) -> None: ...

    async def processed(self) -> list[tuple[int, bytes]]: ...

    def statistics(self) -> StoreStatistics: ...

    def crash(self) -> None: ...

    def inject_crash(self, *, after_writes: int) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(slots=True)
class MemoryDisk:
    """What survives a MemoryStore crash."""

    next_id: int = 0
    outbox: dict[int, bytes] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)
    processed: list[tuple[int, bytes]] = field(default_factory=list)
    low: int = 0

    def copy(self) -> MemoryDisk:
        return MemoryDisk(
            self.next_id, dict(self.outbox), set(self.seen), list(self.processed), self.low
        )

    def apply(self, write: Write) -> None:
        match write:
            case ReserveIds(upto):
                self.next_id = max(self.next_id, upto)
            case OutboxPut(msg, payload):
                self.outbox[msg] = payload
            case OutboxDelete(msg):
                self.outbox.pop(msg, None)
            case MarkSeen(msg):
                self.seen.add(msg)
            case RecordProcessed(msg, payload):
                self.processed.append((msg, payload))
            case CompactSeen(low):
                self.low = max(self.low, low)
                self.seen = {m for m in self.seen if m >= self.low}
            case _:
                assert_never(write)


class MemoryStore:
    """An in-memory store with simulated crashes."""

    def __init__(self, disk: MemoryDisk | None = None) -> None:
        self.disk = MemoryDisk() if disk is None else disk
        self._crashed = False
        self._crash_after: int | None = None
        self._commits = 0
        self._writes = 0

    def _check(self) -> None:
        if self._crashed:
            raise StoreCrashed("store crashed")

    async def load(self) -> Snapshot:
        self._check()
        d = self.disk
        return Snapshot(d.next_id, MappingProxyType(dict(d.outbox)), frozenset(d.seen), d.low)

    async def commit(self, writes: Sequence[Write]) -> None:
        self._check()
        staged = self.disk.copy()
        for i, write in enumerate(writes):
            if self._crash_after is not None and i >= self._crash_after:
                self.crash()
                raise StoreCrashed(f"crashed after staging {i} of {len(writes)} writes")
            staged.apply(write)
        if self._crash_after is not None:
            self.crash()
            raise StoreCrashed("crashed before commit")
        self.disk.next_id = staged.next_id
        self.disk.outbox = staged.outbox
        self.disk.seen = staged.seen
        self.disk.processed = staged.processed
        self.disk.low = staged.low
        self._commits += 1
        self._writes += len(writes)

    async def processed(self) -> list[tuple[int, bytes]]:
        self._check()
        return list(self.disk.processed)

    def statistics(self) -> StoreStatistics:
        return StoreStatistics(self._commits, self._writes)

    def crash(self) -> None:
        self._crashed = True

    def inject_crash(self, *, after_writes: int) -> None:
        self._crash_after = after_writes

    async def aclose(self) -> None:
        self._crashed = True
