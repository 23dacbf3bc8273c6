"""The parent's side of the node processes: start, SIGKILL, notice a death, restart, read reports.

Theory of operation
-------------------
:class:`NodeProcess` runs one fork server (``python -m <module> --zygote``) and through it one
node process at a time (:mod:`ackproof.impl.nodeproc` has the line protocol). Rules it keeps:

* **Lines are matched by pid, never by arrival order.** A fork server's ``PID`` line and its
  child's ``READY`` line race on the same pipe; either may come first. The current process is
  whichever not-yet-dead pid the parent heard of; it is ready once its ``READY`` was read.
* **No wait is unbounded and no failure is silent.** A start waits at most ``start_timeout``
  seconds, and ends early when the node reports ``FAILED`` or the fork server exits; each raises
  :class:`NodeProcessError` naming the node and the reason.
* **A kill is complete when the parent has read everything the dead process wrote.** After the
  SIGKILL the parent waits until the pid is gone, then sends ``SYNC`` to the fork server and
  waits for ``SYNCED`` on the same pipe; only then does it reconcile the trace with the durable
  records (:meth:`_after_death`) and append the ``crash`` line the dead process could not write.
* **A node may also die on its own** (the crash soak's kill points): a watcher per process
  notices (``pidfd``), and :attr:`died` tells the supervisor, which recovers it the same way.

:class:`~ackproof.impl.role_procs.ReceiverProcess` and
:class:`~ackproof.impl.role_procs.SenderProcess` add what each role reads and reconciles, through
two hooks (``_on_node_line``, ``_after_death``) and the public surface (``pid``, ``db``,
``trace``), never this class's private state.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from contextlib import suppress
from typing import TYPE_CHECKING

import trio

from ackproof.impl.nodeproc import Line, Tag
from ackproof.impl.trace import (
    NodeName,
    TraceEvent,
    append_event,
)
from ackproof.impl.udp import LOOPBACK

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ackproof.impl.events import Guarantee


class NodeProcessError(Exception):
    """A node process could not be started, or its fork server died."""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


async def kill_and_wait(pid: int) -> None:
    """SIGKILL ``pid`` and wait until the process no longer exists."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        os.kill(pid, signal.SIGKILL)
        await trio.lowlevel.wait_readable(pidfd)
    except ProcessLookupError:
        pass
    finally:
        os.close(pidfd)
    # The fork server ignores SIGCHLD, so the kernel reaps the child; wait until it has (or,
    # under a parent that does not, until it is a zombie: dead all the same).
    while process_state(pid) not in (None, "Z", "X"):
        await trio.sleep(0.001)


def process_state(pid: int) -> str | None:
    """A process's state letter from ``/proc/<pid>/stat`` (``T``: stopped), None if gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat[stat.rfind(b")") + 2 :][:1].decode() or None


class NodeProcess:
    """One node role's processes over their lives (see the module docstring)."""

    node: NodeName
    module: str

    def __init__(
        self,
        guarantee: Guarantee,
        *,
        db: Path,
        trace: Path | None,
        args: list[str],
        start_timeout: float = 30.0,
    ) -> None:
        self.guarantee = guarantee
        self.db = db
        self.trace = trace
        self.start_timeout = start_timeout
        self.kills = 0  # deaths: killed by the parent, or by a kill point
        self.incarnations = 0
        self.stats: dict[int, dict[str, int]] = {}  # pid -> its last STAT counts
        self._args = args
        self._zygote: trio.Process | None = None
        self._nursery: trio.Nursery | None = None
        self._pid: int | None = None
        self._ready: set[int] = set()
        self._dead: set[int] = set()
        self._failure: str | None = None
        self._eof = False
        self._synced: set[str] = set()
        self._syncs = 0
        self._changed = trio.Event()
        self.died: int | None = None  # a pid that died on its own and is not recovered yet

    # --- counts ---------------------------------------------------------------------------------

    def total(self, key: str) -> int:
        """A STAT count summed over every incarnation (as last reported by each)."""
        return sum(s.get(key, 0) for s in self.stats.values())

    @property
    def pid(self) -> int | None:
        return self._pid

    # --- lifecycle ------------------------------------------------------------------------------

    def _command(self) -> list[str]:
        return [sys.executable, "-m", self.module, "--zygote", *self._args]

    async def start(self, nursery: trio.Nursery, *, restarted: bool, **options: object) -> None:
        """Start a node process and wait until it says READY."""
        if self._zygote is None:
            self._nursery = nursery
            # Its own session: a Ctrl-C at the terminal reaches the parent alone (which kills
            # the node processes itself), even while the fork server is still importing.
            self._zygote = await trio.lowlevel.open_process(
                self._command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
            )
            nursery.start_soon(self._read, self._zygote)
        self.incarnations += 1
        self._pid = None
        self._failure = None
        opts = " ".join(
            f"{k}={v}" for k, v in {"incarnation": self.incarnations, **options}.items()
        )
        await self._tell(f"{'RESTART' if restarted else 'START'} {opts}")
        with trio.move_on_after(self.start_timeout) as waited:
            await self._wait(lambda: self._pid is not None and self._pid in self._ready)
        if waited.cancelled_caught:
            raise NodeProcessError(
                f"the {self.guarantee} {self.node} process did not start within "
                f"{self.start_timeout:g} s"
            )
        pid = self.pid  # set by the reader while we waited
        assert pid is not None
        nursery.start_soon(self._watch, pid)

    async def _tell(self, line: str) -> None:
        zygote = self._zygote
        assert zygote is not None
        assert zygote.stdin is not None
        try:
            await zygote.stdin.send_all(line.encode() + b"\n")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise NodeProcessError(f"the {self.guarantee} {self.node} fork server exited") from None

    async def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self._failure is not None:
                raise NodeProcessError(
                    f"the {self.guarantee} {self.node} process failed: {self._failure}"
                )
            if self._eof:
                raise NodeProcessError(f"the {self.guarantee} {self.node} fork server exited")
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _watch(self, pid: int) -> None:
        """Notice when ``pid`` dies without the parent killing it."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            pidfd = None
        try:
            if pidfd is not None:
                await trio.lowlevel.wait_readable(pidfd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        if self._pid == pid:
            self.died = pid
            self._notify()

    async def _read(self, zygote: trio.Process) -> None:
        assert zygote.stdout is not None
        buf = b""
        try:
            async with zygote.stdout:
                while True:
                    try:
                        data = await zygote.stdout.receive_some(65536)
                    except (trio.ClosedResourceError, trio.BrokenResourceError):
                        return
                    if not data:
                        return
                    *lines, buf = (buf + data).split(b"\n")
                    for raw in lines:
                        line = Line.decode(raw)
                        if line is not None:
                            self._on_line(line)
                    self._notify()
        finally:
            self._eof = True
            self._notify()

    def _on_line(self, line: Line) -> None:
        pid = line.pid
        match line.tag:
            case Tag.SYNCED:
                self._synced.add(line.text)
            case Tag.PID | Tag.READY:
                if pid not in self._dead:
                    self._pid = pid  # one node process at a time: one not yet dead is current
                if line.tag is Tag.READY:
                    self._ready.add(pid)
            case Tag.STAT:
                self.stats[pid] = line.counts
            case Tag.FAILED:
                if pid not in self._dead:
                    self._failure = line.text
            case _:
                self._on_node_line(line)

    def _on_node_line(self, line: Line) -> None:
        """A role's own lines (the sender's ACCEPTED and DONE)."""

    async def sync(self) -> None:
        """Return once every line written before this call by any node process has been read."""
        self._syncs += 1
        token = str(self._syncs)
        await self._tell(f"SYNC {token}")
        with trio.fail_after(self.start_timeout):
            await self._wait(lambda: token in self._synced)

    async def kill(self) -> None:
        """SIGKILL the current node process (if any) and account for its death."""
        pid, self._pid = self._pid, None
        if pid is None:
            return
        with trio.CancelScope(shield=True):
            await kill_and_wait(pid)
            await self._bury(pid)

    async def recover(self) -> None:
        """Account for a node process that died on its own (:attr:`died`)."""
        pid, self.died = self.died, None
        if pid is None:
            return
        if self._pid == pid:
            self._pid = None
        with trio.CancelScope(shield=True):
            await kill_and_wait(pid)  # already dead: waits until the kernel has reaped it
            await self._bury(pid)

    async def _bury(self, pid: int) -> None:
        self._dead.add(pid)
        if self.died == pid:
            self.died = None
        await self.sync()
        await trio.to_thread.run_sync(self._after_death, pid)
        self.kills += 1
        if self.trace is not None:
            append_event(self.trace, TraceEvent.CRASH, node=self.node, guarantee=self.guarantee)

    def _after_death(self, pid: int) -> None:
        """Reconcile the trace with the durable records (runs in a worker thread)."""

    async def shutdown(self) -> None:
        """Kill the node process and the fork server (not counted as deaths, no ``crash``
        line: the run is over), reconciling the trace with the durable records."""
        with trio.CancelScope(shield=True):
            pid, self._pid = self._pid, None
            if pid is not None:
                self._dead.add(pid)
                await kill_and_wait(pid)
                if not self._eof:
                    with suppress(NodeProcessError, trio.TooSlowError):
                        await self.sync()  # read its last lines
                # the trace catches up with what the last process committed (not a crash)
                await trio.to_thread.run_sync(self._after_death, pid)
            zygote, self._zygote = self._zygote, None
            if zygote is not None:
                zygote.kill()
                await zygote.wait()
