"""What the node processes (:mod:`receiver_proc`, :mod:`sender_proc`) share: the fork server,
the line protocol they speak on stdout, and the demo's workload.

Theory of operation
-------------------
A node process is killed with SIGKILL by its parent (``ackproof demo``, the crash soak) and
restarted on the same SQLite file and port. To make a restart cost milliseconds rather than an
interpreter start, ``--zygote`` runs a fork server: it imports everything once and then, for each
``START`` / ``RESTART`` line on its stdin (``key=value`` options may follow), forks one node
process, which opens its store and socket itself, after the fork.

Every line on stdout names the process it is about, so lines of an incarnation already killed
can never be mistaken for the current one's, whatever order they arrive in::

    PID <pid>                      the fork server forked <pid> (may come after <pid>'s READY)
    READY <pid>                    the node is running and receiving
    STAT <pid> key=value ...       its counts since it started (every --stat-interval seconds)
    ACCEPTED <pid> <key> <msg>     sender: workload item <key> was accepted as message <msg>
    PAUSED <pid> <key>             sender: item <key> (a multiple of --pause-every) is accepted;
                                   the process has stopped itself (SIGSTOP) until the parent
                                   has done its kills and sends SIGCONT
    DONE <pid>                     sender: every item accepted and acknowledged (or sent)
    FAILED <pid> <reason>          the node could not start or stopped on an error
    SYNCED <token>                 the fork server's answer to ``SYNC <token>``

``SYNC`` is a barrier: the fork server answers it on the same pipe, so once the parent reads
``SYNCED`` it has read every line a node killed before the ``SYNC`` ever wrote.

Each line is a :class:`Line` (:class:`Tag` and its fields): the children :func:`say` one,
the parent reads it back with :meth:`Line.decode`; the text above exists only there.
Lines are written with one ``os.write`` each (shorter than ``PIPE_BUF``, so never interleaved),
unbuffered: a line written before a SIGKILL is in the pipe. Node processes ignore SIGINT (the
parent handles Ctrl-C and kills them) and die with the fork server (``PR_SET_PDEATHSIG``), which
exits when its stdin ends, i.e. when the parent is gone.
"""

from __future__ import annotations

import ctypes
import enum
import os
import signal
import sys
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import trio

if TYPE_CHECKING:
    from collections.abc import Callable

    from ackproof.impl.shell import NodeStatistics

Options = dict[str, str]


def payload_for(key: int) -> bytes:
    """The demo's workload: item ``key``'s payload (the key can be read back from it)."""
    return b"payload-%08d" % key


def key_of(payload: bytes) -> int | None:
    """The workload key a payload carries, or None if it is not a workload payload."""
    prefix = b"payload-"
    if not payload.startswith(prefix) or not payload[len(prefix) :].isdigit():
        return None
    return int(payload[len(prefix) :])


class Tag(enum.StrEnum):
    """The first word of a line on a node process's stdout (the grammar above)."""

    PID = "PID"
    READY = "READY"
    STAT = "STAT"
    ACCEPTED = "ACCEPTED"
    PAUSED = "PAUSED"
    DONE = "DONE"
    FAILED = "FAILED"
    SYNCED = "SYNCED"


@dataclass(frozen=True)
class Line:
    """One line of the protocol, typed: the writers build one and :meth:`encode` it, the
    parent :meth:`decode` s it; nothing else knows the text."""

    tag: Tag
    #: The process the line is about (``SYNCED``: none, it carries ``text``).
    pid: int = 0
    #: ``ACCEPTED``: (key, msg); ``PAUSED``: (key,).
    args: tuple[int, ...] = ()
    #: ``STAT``: the counts.
    counts: dict[str, int] = field(default_factory=dict)
    #: ``FAILED``: the reason; ``SYNCED``: the token.
    text: str = ""

    def encode(self) -> str:
        if self.tag is Tag.SYNCED:
            return f"SYNCED {self.text}"
        words = [self.tag.value, str(self.pid), *map(str, self.args)]
        words += (f"{k}={v}" for k, v in self.counts.items())
        if self.text:
            words.append(self.text.replace("\n", " "))
        return " ".join(words)

    @classmethod
    def decode(cls, raw: bytes) -> Line | None:
        """The line ``raw`` (without its newline), or ``None`` if it is not one: a line a
        process killed mid-write cannot be (writes are atomic), but a parent never trusts."""
        words = raw.decode(errors="replace").split()
        if len(words) < 2 or words[0] not in Tag.__members__:
            return None
        tag = Tag(words[0])
        if tag is Tag.SYNCED:
            return cls(tag, text=" ".join(words[1:]))
        try:
            pid = int(words[1])
            rest = words[2:]
            match tag:
                case Tag.ACCEPTED | Tag.PAUSED:
                    return cls(tag, pid, args=tuple(int(w) for w in rest))
                case Tag.STAT:
                    return cls(tag, pid, counts=_counts(rest))
                case Tag.FAILED:
                    return cls(tag, pid, text=" ".join(rest))
                case _:
                    return cls(tag, pid)
        except ValueError:
            return None


def _counts(words: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for word in words:
        key, _, value = word.partition("=")
        with suppress(ValueError):
            out[key] = int(value)
    return out


def say(line: Line) -> None:
    """Write one line to stdout, unbuffered and in one piece."""
    data = (line.encode() + "\n").encode()
    while data:
        n = os.write(1, data)
        data = data[n:]


def stat_line(pid: int, s: NodeStatistics) -> Line:
    counts = {
        "submitted": s.submitted,
        "acked": s.acked,
        "processed": s.processed,
        "frames_sent": s.frames_sent,
        "frames_received": s.frames_received,
        "commits": s.durable_commits,
        "writes": s.durable_writes,
        "rejected": s.frames_rejected,
        "truncated": s.truncated,
        "oversized": s.oversized,
        "unknown": s.unknown,
        "malformed": s.malformed,
        "out_of_range": s.out_of_range,
    }
    return Line(Tag.STAT, pid, counts=counts)


async def stat_loop(pid: int, statistics: Callable[[], NodeStatistics], interval: float) -> None:
    """Say a ``STAT`` line every ``interval`` seconds until cancelled (or killed)."""
    while True:
        say(stat_line(pid, statistics()))
        await trio.sleep(interval)


def report(node: str, s: NodeStatistics) -> str:
    """One human line: what a node did, including every frame it refused and why."""
    work = f"processed {s.processed}" if node == "receiver" else f"submitted {s.submitted}"
    return (
        f"{node} {os.getpid()}: {work}, received {s.frames_received} frames, "
        f"sent {s.frames_sent}, rejected {s.frames_rejected} "
        f"(truncated {s.truncated}, oversized {s.oversized}, unknown {s.unknown}, "
        f"malformed {s.malformed}, out-of-range id {s.out_of_range})"
    )


def die_with_parent() -> None:
    """Linux: SIGKILL this process when its parent dies (so nothing outlives a killed demo)."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def parse_options(parts: list[str]) -> Options:
    return dict(p.partition("=")[::2] for p in parts if "=" in p)


def serve_forks(run_node: Callable[[bool, Options], None]) -> int:
    """The fork server loop: one node process per START/RESTART line; children are reaped by the
    kernel (SIGCHLD ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    # Not die_with_parent() here: trio starts this process from a worker thread, and the death
    # signal fires when that *thread* exits (idle worker threads do, after seconds). The fork
    # server notices its parent's death by the end of its stdin instead; its own children use
    # the death signal, which is safe as the fork server is single-threaded.
    with suppress(BrokenPipeError):  # the parent stopped reading: it is shutting us down
        _fork_loop(run_node)
    return 0


def _fork_loop(run_node: Callable[[bool, Options], None]) -> None:
    for line in sys.stdin:
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "SYNC":
            say(Line(Tag.SYNCED, text=" ".join(parts[1:])))
            continue
        if parts[0] not in ("START", "RESTART"):
            continue
        restarted = parts[0] == "RESTART"
        options = parse_options(parts[1:])
        pid = os.fork()
        if pid == 0:  # the node process: opens its store and socket itself, after the fork
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            die_with_parent()
            code = 1
            try:
                run_node(restarted, options)
                code = 0
            except BaseException as exc:  # report it; the parent decides what it means
                say(Line(Tag.FAILED, os.getpid(), text=f"{type(exc).__name__}: {exc}"))
            finally:
                os._exit(code)
        say(Line(Tag.PID, pid))
