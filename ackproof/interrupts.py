"""Stopping a command: Ctrl-C, SIGTERM, a time limit, a memory limit.

Theory of operation
-------------------
Python runs signal handlers only between bytecodes, so a long call into C (a z3 query)
would delay Ctrl-C until it returns — and z3, by default, catches Ctrl-C itself and answers
``unknown``, which the engines took as an ordinary inconclusive result.  While a command
runs, :func:`guarded`:

* turns SIGTERM into :class:`Terminated` (SIGINT stays ``KeyboardInterrupt``), so the
  command unwinds through its ``finally`` blocks (child processes killed, temporary
  directories removed) and the CLI prints one line and exits 130 / 143;
* sets a *wakeup fd*: the C-level handler writes the signal number to a socket at once,
  even while the main thread is inside C code.  A watcher thread reads it; if the command
  has not finished unwinding :data:`GRACE` seconds later, the watcher stops the process
  itself — kills the child processes, removes the directories made with
  :func:`temporary_directory`, prints the line and exits with ``128 + signal``;
* in a child forked meanwhile (the ``auto`` engine's symbolic route), ignores SIGINT (the
  terminal sends it to the whole process group; the parent stops the child) and forgets
  the wakeup fd.

:func:`time_limit` bounds a phase with no clock of its own (loading a variant, lowering,
compiling) with ``SIGALRM``; it raises :class:`TimeLimit`.  :func:`memory_limit` caps the
address space (``RLIMIT_AS``) so that running out of memory is a ``MemoryError`` the CLI
reports as inconclusive, not the kernel's OOM killer.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from types import FrameType

from ackproof.loader import InputError, Stop

#: Seconds the command gets to unwind by itself after Ctrl-C / SIGTERM.
GRACE = 1.0
#: Exit codes of a command stopped by a signal (the shell's convention: 128 + number).
EXIT_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}
#: Environment variable: the address-space limit in MB (default: 3/4 of physical memory).
MEMORY_ENV = "ACKPROOF_MAX_MEMORY"


class Terminated(Stop):
    """SIGTERM arrived."""


class TimeLimit(Stop):
    """A phase ran past its time limit (``str()`` says which phase and the limit)."""


_done = threading.Event()
_announce_lock = threading.Lock()
_announced = False
_temp_dirs: set[str] = set()
_active = False


def announce(signum: int) -> int:
    """Print the one line for ``signum`` (once per process) and return its exit code."""
    global _announced
    with _announce_lock:
        if not _announced:
            _announced = True
            what = "interrupted" if signum == signal.SIGINT else "terminated (SIGTERM)"
            with contextlib.suppress(OSError, ValueError):
                sys.stderr.write(f"ackproof: {what}\n")
                sys.stderr.flush()
    return EXIT_SIGNAL.get(signal.Signals(signum), 128 + signum)


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[str]:
    """A temporary directory that is removed even when a signal stops the process."""
    path = tempfile.mkdtemp(prefix=prefix)
    _temp_dirs.add(path)
    try:
        yield path
    finally:
        _temp_dirs.discard(path)
        shutil.rmtree(path, ignore_errors=True)


def _hard_stop(signum: int) -> None:
    """The command did not unwind in time (stuck in C code): stop it from this thread."""
    for child in multiprocessing.active_children():
        with contextlib.suppress(Exception):
            child.kill()
    for path in list(_temp_dirs):
        shutil.rmtree(path, ignore_errors=True)
    code = announce(signum)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    os._exit(code)


def _watch(sock: socket.socket) -> None:
    while True:
        try:
            data = sock.recv(64)
        except OSError:
            return
        if not data:
            return
        for signum in data:
            if signum in (signal.SIGINT, signal.SIGTERM):
                if not _done.wait(GRACE):
                    _hard_stop(signum)
                return


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    del frame
    raise Terminated(f"signal {signum}")


def _in_child() -> None:
    if not _active:
        return
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


os.register_at_fork(after_in_child=_in_child)


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop whatever runs inside, promptly (see the module docstring)."""
    global _active
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    previous_term = signal.signal(signal.SIGTERM, _on_sigterm)
    previous_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    _done.clear()
    _active = True
    watcher = threading.Thread(target=_watch, args=(reader,), daemon=True, name="ackproof-stop")
    watcher.start()
    try:
        yield
    finally:
        _active = False
        _done.set()
        signal.set_wakeup_fd(previous_fd)
        signal.signal(signal.SIGTERM, previous_term)
        writer.close()
        reader.close()


@contextlib.contextmanager
def time_limit(seconds: float | None, what: str) -> Iterator[None]:
    """Raise :class:`TimeLimit` if the block runs longer than ``seconds`` (``None``: no
    limit; only in the main thread, where ``SIGALRM`` is delivered)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        # Fire again soon: a raise that lands in a finaliser (a ``__del__`` run by the
        # garbage collector) is swallowed, and the block would run on unbounded.
        signal.setitimer(signal.ITIMER_REAL, 0.25)
        raise TimeLimit(f"the time limit ({seconds:g} s) ran out while {what}")

    previous = signal.signal(signal.SIGALRM, expire)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)


def memory_limit() -> int | None:
    """Cap this process's address space (children inherit it): ``ACKPROOF_MAX_MEMORY`` MB,
    by default three quarters of physical memory; never raises an existing lower cap.
    Returns the cap in bytes (``None``: none could be set)."""
    text = os.environ.get(MEMORY_ENV)
    mb = None
    if text:
        try:
            mb = float(text)
        except ValueError:
            mb = math.nan
        if not math.isfinite(mb) or mb <= 0:
            raise InputError(
                f"{MEMORY_ENV}={text!r}: give the memory limit in MB (a positive number)"
            )
    try:
        if mb is not None:
            cap = int(mb * 2**20)
        else:
            cap = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") * 3 // 4
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if soft != resource.RLIM_INFINITY and soft <= cap:
            return soft
        if hard != resource.RLIM_INFINITY:
            cap = min(cap, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
        return cap
    except (ValueError, OSError):
        return None
