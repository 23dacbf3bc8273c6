"""The two roles' node processes: what each reads from its process and its durable records.

:class:`ReceiverProcess` reconciles the receiver's ``process`` lines with its ``processed``
table; :class:`SenderProcess` collects ``ACCEPTED`` lines, reads the durable outbox after a
death (what was accepted is a prefix of the workload), and reconciles ``submit`` lines. Each
uses only :class:`~ackproof.impl.procs.NodeProcess`'s public surface and its two documented
hooks (``_on_node_line``, ``_after_death``); the process machinery stays in ``procs``.
"""

from __future__ import annotations

import os
import signal
import sqlite3
from contextlib import suppress
from typing import TYPE_CHECKING

import trio

from ackproof.impl.nodeproc import Line, Tag, key_of
from ackproof.impl.procs import NodeProcess, process_state
from ackproof.impl.trace import (
    EventCounts,
    NodeName,
    TraceEvent,
    reconcile_processed,
    reconcile_submitted,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ackproof.impl.events import Guarantee


class ReceiverProcess(NodeProcess):
    node: NodeName = "receiver"
    module = "ackproof.impl.receiver_proc"

    def __init__(
        self,
        guarantee: Guarantee,
        *,
        db: Path,
        trace: Path | None,
        args: list[str],
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(guarantee, db=db, trace=trace, args=args, start_timeout=start_timeout)
        self._log: list[tuple[int, bytes]] = []
        self._log_seq = 0
        self._counts = None if trace is None else EventCounts(trace, TraceEvent.PROCESS)

    def processed_log(self) -> list[tuple[int, bytes]]:
        """The durable processed log (read incrementally: it is append-only)."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as conn:
            try:
                rows = list(
                    conn.execute(
                        "SELECT seq, msg, payload FROM processed WHERE seq > ? ORDER BY seq",
                        (self._log_seq,),
                    )
                )
            except sqlite3.OperationalError:  # killed before its schema was created
                return list(self._log)
        if rows:
            self._log_seq = rows[-1][0]
            self._log += [(msg, payload) for _, msg, payload in rows]
        return list(self._log)

    def _after_death(self, pid: int) -> None:
        if self.trace is not None:
            # A SIGKILL can land after a commit and before the trace lines it produced were
            # flushed: the durable processed log is the truth, so the trace catches up to it.
            reconcile_processed(
                self.trace,
                [msg for msg, _ in self.processed_log()],
                node="receiver",
                guarantee=self.guarantee,
                counts=self._counts,
            )


class SenderProcess(NodeProcess):
    node: NodeName = "sender"
    module = "ackproof.impl.sender_proc"

    def __init__(
        self,
        guarantee: Guarantee,
        *,
        db: Path,
        trace: Path | None,
        args: list[str],
        start_timeout: float = 30.0,
    ) -> None:
        super().__init__(guarantee, db=db, trace=trace, args=args, start_timeout=start_timeout)

        self.accepted: dict[int, int] = {}  # workload key -> message id
        self._done: set[int] = set()
        self._paused: set[int] = set()
        self._counts = None if trace is None else EventCounts(trace, TraceEvent.SUBMIT)

    @property
    def done(self) -> bool:
        """The current sender process has every item accepted and acknowledged (or sent)."""
        return self.pid is not None and self.pid in self._done

    @property
    def first_unaccepted(self) -> int:
        """Where a restarted producer resumes: accepted items are always a prefix."""
        return max(self.accepted, default=-1) + 1

    @property
    def paused(self) -> bool:
        """The current sender process said PAUSED (it stops itself) and was not resumed yet."""
        return self.pid is not None and self.pid in self._paused

    async def wait_stopped(self) -> None:
        """Wait until the paused process has really stopped (it stops right after PAUSED)."""
        pid = self.pid
        for _ in range(1000):
            if pid is None or process_state(pid) in ("T", "t", None):
                return
            await trio.sleep(0.001)

    def resume(self) -> None:
        """SIGCONT the current process (paused by itself or by the parent)."""
        pid = self.pid
        if pid is None:
            return
        self._paused.discard(pid)
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)

    def _on_node_line(self, line: Line) -> None:
        match line.tag:
            case Tag.ACCEPTED if len(line.args) == 2:
                key, msg = line.args
                self.accepted[key] = msg
            case Tag.PAUSED:
                self._paused.add(line.pid)
            case Tag.DONE:
                self._done.add(line.pid)
            case _:
                pass

    def outbox(self) -> dict[int, bytes]:
        """The durable outbox: message id -> payload (unacknowledged messages)."""
        if not self.db.exists():
            return {}
        with sqlite3.connect(self.db) as conn:
            try:
                return dict(conn.execute("SELECT msg, payload FROM outbox"))
            except sqlite3.OperationalError:  # killed before its schema was created
                return {}

    def _after_death(self, pid: int) -> None:
        # Accepted = reported before the death, or durable in the outbox (committed, and the
        # ACCEPTED line lost with the process): the items the restarted producer must not redo.
        for msg, payload in self.outbox().items():
            key = key_of(payload)
            if key is not None:
                self.accepted.setdefault(key, msg)
        if self.trace is not None:
            reconcile_submitted(
                self.trace,
                sorted(self.accepted.values()),
                node="sender",
                guarantee=self.guarantee,
                counts=self._counts,
            )
