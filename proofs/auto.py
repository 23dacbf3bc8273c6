"""``auto``: the explicit search and the symbolic engines race; the first decisive answer
for each property wins.

Theory of operation
-------------------
The machine has cores to spare, and neither route dominates: the explicit search decides
small and medium systems exhaustively (every property at once, liveness included) and
finds shortest counterexamples; the symbolic route (:func:`~.engines.run_z3`: Spacer,
BMC, then Spacer again, and the liveness-to-safety system for response obligations)
proves large systems it could never enumerate and finds deep bugs.  So:

* a **child process** (forked: it inherits the system) runs the symbolic route property
  by property and sends each result as it comes.  It starts once the explicit search
  has :data:`HEAD_START` states (at once with ``certify``), or when the search stops
  short of deciding: what the explicit search decides alone within that head start is
  decided by it alone, with the states ``--engine explicit`` explores and no second
  process sharing the CPU (a test pins it).  It is forked earlier, at :data:`PREPARE`
  states (before the search, for a state of :data:`WIDE` bits or more), and imports z3
  (0.05-0.1 s) while the head start runs, then waits for the word to go: a search that
  decides within the head start ends it unused;
* **this process** runs one explicit exploration for every property, with no fixed state
  cap: it goes on while the budget allows (:meth:`.budget.Clock.stop`: time, the
  address-space limit and the machine's memory, checked as ``--engine explicit`` checks
  them), and asks, every 1024 states, whether the child already answered everything
  (then it stops);
* a property is decided by the first *decisive* answer — violated, proved, vacuous, or the
  explicit search's "undecided at this channel capacity", which no engine can improve on;
  a complete explicit search decides every property and the child is stopped at once;
* a certificate never delays a verdict: with ``certify=True`` the proof of a property
  waits (within the time budget) for the child's Spacer certificate and carries it.

A bounded or inconclusive answer is what is left when time runs out: the better of the
two routes' partial answers is reported, never a stronger verdict than either earned.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ackproof.spec import System
from ackproof.spec.interp import Compiled

from . import explicit
from .budget import Clock
from .result import Result

#: The explicit search's state cap in ``auto`` (a bound on a run away from the memory guard).
AUTO_MAX_STATES = 50_000_000
#: The explicit search runs alone until it has this many states (asked every 1024): a
#: system it decides within them never pays for forking the symbolic route and sharing
#: the CPU with it (under load, ``auto`` took 2-5x ``--engine explicit`` on the library's
#: small systems); a larger one starts the race a fraction of a second late.
HEAD_START = 10_000
#: The child is forked at this many states and imports z3 while the head start runs (z3's
#: import was on the symbolic route's path: 0.07 s of 0.8 at exactly-once N = 6); a system
#: with fewer states never forks it.
PREPARE = 1_000

#: A state of this many bits or more (10^12 values) has the child forked before the
#: search starts, not at :data:`PREPARE` states: its z3 import (0.05 s) then ends by the
#: head start's end (at exactly-once N = 6 it had ended 0.013-0.041 s after, on the
#: route's path).  A narrower system forks at :data:`PREPARE` (``prove``'s systems, 15-28
#: bits, decided within hundreds of states: forking each at once took ``prove`` from
#: 0.32 to 0.37 s); of the library's systems those of 39 bits and more are Kafka's,
#: NATS's, SQS's and the sliding windows'.
WIDE = 40

_DECISIVE = ("proved", "violated", "vacuous")
_RANK = {"violated": 5, "proved": 4, "vacuous": 4, "holds": 2, "inconclusive": 1}


def decisive(r: Result) -> bool:
    return r.verdict in _DECISIVE


@dataclass
class _Race:
    props: Sequence[str]
    certify: bool
    decided: dict[str, Result] = field(default_factory=dict)
    symbolic: dict[str, Result] = field(default_factory=dict)
    error: BaseException | None = None

    def take(self, prop: str, r: Result) -> None:
        self.symbolic[prop] = r
        if prop not in self.decided and decisive(r):
            self.decided[prop] = r

    def done(self) -> bool:
        return self.error is not None or all(p in self.decided for p in self.props)


class _Child:
    """The symbolic route's process: forked and importing z3 at :data:`PREPARE` states,
    started (told to go) at :data:`HEAD_START`."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        self.args = args
        self.process: multiprocessing.process.BaseProcess | None = None
        self.recv: multiprocessing.connection.Connection | None = None
        self.go: multiprocessing.connection.Connection | None = None
        self.started = False

    def prepare(self) -> None:
        if self.process is not None:
            return
        ctx = multiprocessing.get_context("fork")
        recv, send = ctx.Pipe(duplex=False)
        wait, go = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_symbolic, args=(*self.args, wait, send), daemon=True)
        self.process.start()
        send.close()
        wait.close()
        self.recv, self.go = recv, go

    def start(self) -> None:
        if self.started:
            return
        self.prepare()
        assert self.go is not None
        # it may have ended already (an error it reported, or killed): take() says so
        with contextlib.suppress(OSError):
            self.go.send(True)
        self.started = True
        # this process imports z3 meanwhile, on the other core, so that a later race in it
        # (prove, the library) forks with z3
        from . import engines  # noqa: F401

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def poll(self, timeout: float | None = 0.0) -> bool:
        return self.recv is not None and self.recv.poll(timeout)

    def take(self) -> tuple[Any, ...] | None:
        """The next message, or ``None`` when the child has closed its end."""
        assert self.recv is not None
        try:
            msg: tuple[Any, ...] = self.recv.recv()
        except EOFError:
            return None
        return msg

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        assert self.recv is not None
        assert self.go is not None
        self.recv.close()
        self.go.close()


def check_auto(
    system: System,
    props: Sequence[str],
    depth: int,
    clock: Clock,
    comp: Compiled,
    *,
    certify: bool = False,
) -> dict[str, Result]:
    """Every property of ``props`` on ``system`` by the race (see the module docstring)."""
    child = _Child((system, list(props), depth, clock, comp))
    if certify:  # a proof waits for the child's certificate: no head start
        child.start()
    elif comp.packed().layout.bits >= WIDE:  # forked with the packed code, which it uses
        child.prepare()
    race = _Race(props, certify)

    def absorb() -> None:
        while not race.done() and child.poll():
            msg = child.take()
            if msg is None:
                return
            _absorb(race, msg)

    def answered(states: int) -> bool:
        """The race's part of the stop hook: has the symbolic route answered everything?"""
        if states >= HEAD_START:
            child.start()
        elif states >= PREPARE:
            child.prepare()
        absorb()
        return race.done()

    stop = clock.stop(rival=answered)  # time and memory: as --engine explicit checks them

    try:
        found, ex = explicit.run_all(
            system, props, max_states=AUTO_MAX_STATES, compiled=comp, stop=stop
        )
        if race.error is not None:
            raise race.error
        final = ex.complete and not ex.timed_out
        for p, r in found.items():
            if p in race.decided:
                continue
            if final or decisive(r):
                race.decided[p] = _tagged(r, clock)
        waiting = [p for p in props if p not in race.decided or _wants_certificate(race, p)]
        if waiting and not clock.expired():
            child.start()  # the explicit search stopped short of deciding
        while waiting and child.alive() and not clock.expired():
            if child.poll(clock.left()):
                msg = child.take()
                if msg is None:
                    break
                _absorb(race, msg)
                if race.error is not None:
                    raise race.error
            waiting = [p for p in props if p not in race.decided or _wants_certificate(race, p)]
        out: dict[str, Result] = {}
        for p in props:
            out[p] = _settle(race, p, found[p], clock)
        return out
    finally:
        child.stop()


def _absorb(race: _Race, msg: tuple[Any, ...]) -> None:
    if msg[0] == "error":
        race.error = msg[1]
        return
    _, prop, result = msg
    first = race.decided.get(prop)
    if (
        race.certify
        and first is not None
        and result.certificate is not None
        and first.verdict == result.verdict == "proved"
    ):
        race.decided[prop] = replace(
            first,
            certificate=result.certificate,
            engine=f"{first.engine}+pdr",
            detail=f"{first.detail}; inductive invariant re-checked",
        )
        return
    race.take(prop, result)


def _wants_certificate(race: _Race, prop: str) -> bool:
    r = race.decided.get(prop)
    return (
        race.certify
        and r is not None
        and r.verdict == "proved"
        and r.certificate is None
        and prop not in race.symbolic
    )


def _settle(race: _Race, prop: str, explicit_result: Result, clock: Clock) -> Result:
    if prop in race.decided:
        return replace(race.decided[prop], seconds=clock.elapsed)
    options = [_tagged(explicit_result, clock)]
    if prop in race.symbolic:
        options.append(race.symbolic[prop])
    best = max(options, key=lambda r: _RANK[r.verdict])
    return replace(best, seconds=clock.elapsed)


def _tagged(r: Result, clock: Clock) -> Result:
    return replace(r, engine="auto(explicit)", seconds=clock.elapsed)


def _symbolic(
    system: System,
    props: list[str],
    depth: int,
    clock: Clock,
    comp: Compiled,
    wait: multiprocessing.connection.Connection,
    send: multiprocessing.connection.Connection,
) -> None:
    """The child: z3 imported (here: a check the explicit search decides alone never
    loads it in the parent), then, once told to go, the symbolic route, property by
    property."""
    try:
        from .engines import run_z3

        try:
            wait.recv()
        except EOFError:  # ended unused: the head start decided
            return
        for p in props:
            send.send(("result", p, run_z3(system, p, "auto", depth, clock, comp)))
    except BaseException as e:  # report it, whatever it is: the parent decides
        try:
            send.send(("error", e))
        except Exception:
            send.send(("error", RuntimeError(f"{type(e).__name__}: {e}")))
    finally:
        send.close()
