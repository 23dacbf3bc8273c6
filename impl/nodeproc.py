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

Lines are written with one ``os.write`` each (shorter than ``PIPE_BUF``, so never interleaved),
unbuffered: a line written before a SIGKILL is in the pipe. Node processes ignore SIGINT (the
parent handles Ctrl-C and kills them) and die with the fork server (``PR_SET_PDEATHSIG``), which
exits when its stdin ends, i.e. when the parent is gone.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from contextlib import suppress
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


def say(line: str) -> None:
    """Write one line to stdout, unbuffered and in one piece."""
    data = (line + "\n").encode()
    while data:
        n = os.write(1, data)
        data = data[n:]


def stat_line(pid: int, s: NodeStatistics) -> str:
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
    return f"STAT {pid} " + " ".join(f"{k}={v}" for k, v in counts.items())


async def stat_loop(pid: int, statistics: Callable[[], NodeStatistics], interval: float) -> None:
    """Say a ``STAT`` line every ``interval`` seconds until cancelled (or killed)."""
    while True:
        say(stat_line(pid, statistics()))
        await trio.sleep(interval)


def parse_stat(parts: list[bytes]) -> dict[str, int]:
    """The counts of a ``STAT`` line split on whitespace (``[b"STAT", pid, b"k=v", ...]``)."""
    out: dict[str, int] = {}
    for part in parts[2:]:
        key, _, value = part.decode().partition("=")
        with suppress(ValueError):
            out[key] = int(value)
    return out


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
            say(f"SYNCED {' '.join(parts[1:])}")
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
                say(f"FAILED {os.getpid()} {type(exc).__name__}: {exc}".replace("\n", " "))
            finally:
                os._exit(code)
        say(f"PID {pid}")
