"""The one time budget of a check, and the one way a search asks whether to stop.

Theory of operation
-------------------
A :class:`Clock` is made once per check from ``--timeout`` (``None``: no limit) and passed
down; every engine asks it, never a deadline of its own:

* :meth:`Clock.left` — the seconds left, optionally capped (an engine's share);
  :meth:`Clock.share` — a sub-budget ending at that cap or the check's end, whichever
  comes first (a phase with a fixed allowance, e.g. re-checking a lost message);
* :meth:`Clock.expired` — nothing left;
* :meth:`Clock.spent` — why a run stopped on time, as the one text every engine shows
  ("timeout after 5 s", or "timeout: no time left in the budget" when the budget was gone
  before the run began);
* :meth:`Clock.stop` — the breadth-first searches' stop hook (:class:`Stop`), the same for
  ``--engine explicit`` and ``auto``'s race: the deadline and the process's address-space
  limit (``RLIMIT_AS``, which the CLI sets) at every call (every 1024 states), the
  machine's free memory every :data:`MEMORY_EVERY` calls; ``auto`` adds its rival's
  answers.  Why it stopped is one typed reason (:class:`Stopped`), rendered in one place.

Rules every engine keeps: a search (an exploration, an unrolling, a Spacer query) never
starts a step once the budget is spent, and running out is ``inconclusive`` (exit 3) with
:meth:`Clock.spent`'s text in its detail; re-checking evidence already found (an inductive
invariant) may run past the end by at most :data:`GRACE` seconds
(:meth:`Clock.left_for_recheck`), so that a proof found in time is not thrown away for
want of a second to re-check it.  z3 counts in milliseconds: :func:`z3seam.milliseconds`.
"""

from __future__ import annotations

import enum
import resource
import time
from collections.abc import Callable

#: Re-checking evidence already found may overrun the budget by this much (seconds).
GRACE = 1.0
#: Stop a search once this share of the address-space limit is used (the rest is for
#: turning what was found into a verdict).
ADDRESS_SHARE = 0.8
#: Stop a search when the machine has less than this share of its memory left (or half of
#: what it had when the search began, if that is less).
MEMORY_FLOOR = 0.15
#: The machine's free memory is read every this many calls of a :class:`Stop` (with a
#: call every 1024 states: every 65,536 states).
MEMORY_EVERY = 64


class Clock:
    """A time budget: what is left of it, and how much has passed (module docstring)."""

    def __init__(self, timeout: float | None) -> None:
        self.start = time.monotonic()
        self.timeout = timeout
        self.deadline = None if timeout is None else self.start + timeout

    def left(self, cap: float | None = None) -> float | None:
        """Seconds left (``None``: no limit; may be negative once spent), at most ``cap``."""
        rem = None if self.deadline is None else self.deadline - time.monotonic()
        if cap is None:
            return rem
        return cap if rem is None else min(cap, rem)

    def left_for_recheck(self) -> float | None:
        """What a re-check of evidence already found may take: what is left, at least
        :data:`GRACE` seconds."""
        rem = self.left()
        return None if rem is None else max(GRACE, rem)

    def share(self, cap: float | None) -> Clock:
        """A budget of at most ``cap`` seconds from now, ending no later than this one."""
        return Clock(self.left(cap))

    def expired(self) -> bool:
        rem = self.left()
        return rem is not None and rem <= 0

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def spent(self) -> str:
        """Why a run stopped on time: its budget, or none left when it was asked to start."""
        return spent(self.timeout)

    def stop(self, rival: Callable[[int], bool] | None = None) -> Stop:
        """The stop hook of a breadth-first search under this budget (:class:`Stop`)."""
        return Stop(self, rival)


def spent(timeout: float | None) -> str:
    """:meth:`Clock.spent` for a budget given in seconds."""
    if timeout is None or timeout > 0:
        return f"timeout after {timeout:g} s" if timeout is not None else "timeout"
    return "timeout: no time left in the budget"


class Stopped(enum.Enum):
    """Why a search stopped early; the value is how a verdict's detail says it."""

    TIME = "time limit"
    MEMORY = "memory limit"
    ANSWERED = "the symbolic engines answered first"


class Stop:
    """``stop(states) -> bool``, asked by a search every 1024 states (and by the liveness
    graph as it works): ``rival`` first (``auto``: has the other route answered
    everything?), then the deadline, the address-space limit, and every
    :data:`MEMORY_EVERY` calls the machine's free memory.  ``why`` says which stopped it."""

    def __init__(self, clock: Clock, rival: Callable[[int], bool] | None = None) -> None:
        self.clock = clock
        self.rival = rival
        self.why: Stopped | None = None
        self.calls = 0
        self.floor = min(MEMORY_FLOOR, memory_left() / 2)

    def __call__(self, states: int) -> bool:
        self.why = self._reason(states)
        return self.why is not None

    def _reason(self, states: int) -> Stopped | None:
        self.calls += 1
        if self.rival is not None and self.rival(states):
            return Stopped.ANSWERED
        if self.clock.expired():
            return Stopped.TIME
        if near_address_limit():
            return Stopped.MEMORY
        if self.calls % MEMORY_EVERY == 0 and memory_left() < self.floor:
            return Stopped.MEMORY
        return None

    @property
    def reason(self) -> str:
        """Why it stopped, for a verdict's detail ("" if it has not)."""
        return "" if self.why is None else self.why.value


def near_address_limit() -> bool:
    """More than :data:`ADDRESS_SHARE` of the address-space limit is in use."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return False
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    return pages * resource.getpagesize() > ADDRESS_SHARE * soft


def memory_left() -> float:
    """The share of the machine's memory still available (1.0 where unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = dict(line.split(":", 1) for line in f)
        total = int(info["MemTotal"].split()[0])
        avail = int(info["MemAvailable"].split()[0])
    except (OSError, KeyError, ValueError):
        return 1.0
    return avail / total if total else 1.0
