"""The cases of the engine-agreement and Promela tests: one or more per environment construct
(the shared shapes of ``tests/protocols_testing.py``, at a bound, and entries of the library).

Each case names the constructs it exercises, so a test failure says which construct the
engines disagree on, and :data:`CONSTRUCTS` lists what must be covered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from protocols_testing import SESSION, outbox, retrying, timed_session, two_producers, window

from ackproof.spec import Faults, ProtocolDef, System
from ackproof.spec.library import LIBRARY
from ackproof.spec.links import Link

#: Every construct of the environment the agreement tests must cover.
CONSTRUCTS = (
    "link",  # Faults(links={"a->b": Link(...)}): a link's own faults and budgets
    "connection",  # Faults(links={"a<->b": Connection(...)}): drop / reconnect
    "on_connect",
    "on_disconnect",
    "crash-closes",  # a crash drops the node's connections
    "crash-budget",  # Faults(crash_budgets=...)
    "patient-timer",  # timer(early=False)
    "age",  # Age(limit) fields
    "within",  # timed channels
    "tick",  # the clock's step
    "producers",  # on_submit(ids=...)
    "several-senders",  # p.frame(..., [a, b], ...), ctx.send(..., to=f.source)
    "shared",  # p.shared(...)
)


def detected(s: System) -> set[str]:
    """The constructs a lowered system visibly uses (a patient timer is only a guard: it
    cannot be told from the system, so cases declare it)."""
    kinds = {type(spec).__name__ for spec in dict(s.faults.links).values()}
    found = {"link"} if "Link" in kinds else set()
    if "Connection" in kinds:
        found.add("connection")
        if any(a.kind == "crash" for a in s.actions):
            found.add("crash-closes")

    def handled(kind: str) -> bool:  # a node's handler ran: it sent, or changed its state
        steps = [a for a in s.actions if a.kind == kind]
        return any(a.effects for a in steps) or any(
            s.slots[i].owner in s.nodes for a in steps for i, _ in a.updates
        )

    if handled("connect"):
        found.add("on_connect")
    if handled("drop"):
        found.add("on_disconnect")
    if s.faults.crash_budgets:
        found.add("crash-budget")
    if any(slot.ticks for slot in s.slots):
        found.add("age")
    if any(ch.ages > 1 for ch in s.channels):
        found.add("within")
    if any(a.kind == "tick" for a in s.actions):
        found.add("tick")
    if any(slot.owner == "shared" for slot in s.slots):
        found.add("shared")
    if len({a.node for a in s.actions if a.kind == "submit"}) > 1:
        found.add("producers")
    if any(a.kind == "deliver" and " from " in a.label for a in s.actions):
        found.add("several-senders")
    return found


@dataclass(frozen=True)
class Case:
    """A protocol at a bound, and the environment constructs it exercises."""

    make: Callable[[], ProtocolDef]
    messages: int
    constructs: tuple[str, ...]
    #: Part of the default (fast) run; the others run under ``-m slow``.
    fast: bool = True

    @property
    def protocol(self) -> ProtocolDef:
        return _protocol(self.make)


@cache
def _protocol(make: Callable[[], ProtocolDef]) -> ProtocolDef:
    return make()


def _library(name: str) -> Callable[[], ProtocolDef]:
    def make() -> ProtocolDef:
        return next(e.protocol for e in LIBRARY if e.name == name)

    make.__name__ = name
    return make


def _bound(name: str) -> int:
    return next(e.bound for e in LIBRARY if e.name == name)


CONNECTION = ("connection", "on_connect", "crash-closes")
CASES: dict[str, Case] = {
    "one-ack-loss": Case(
        lambda: retrying(
            "one-ack-loss",
            Faults(
                loss=True,
                duplicate=True,
                links={"receiver->sender": Link(max_losses=1, duplicate=False)},
            ),
        ),
        2,
        ("link",),
    ),
    "session": Case(lambda: retrying("session", SESSION), 2, CONNECTION),
    "volatile-session": Case(
        lambda: retrying("volatile-session", SESSION, durable=False), 2, CONNECTION
    ),
    "clean-session": Case(
        lambda: retrying("clean-session", SESSION, forget=True), 2, (*CONNECTION, "on_disconnect")
    ),
    "crash-budget": Case(
        lambda: retrying(
            "crash-budget", Faults(loss=True, crash_budgets={"sender": 1}), durable=False
        ),
        2,
        ("crash-budget",),
    ),
    "patient": Case(
        lambda: retrying("patient", Faults(loss=True, reorder=True), early=False),
        2,
        ("patient-timer",),
    ),
    "window-w2": Case(lambda: window(2, 2, 1), 1, ("age", "within", "tick")),
    "window-w3": Case(lambda: window(3, 2, 1), 1, ("age", "within", "tick")),
    "timed-session": Case(timed_session, 2, ("connection", "within", "tick")),
    "two-producers": Case(
        lambda: two_producers(True), 2, ("producers", "several-senders", "crash-budget")
    ),
    "two-producers-no-dedup": Case(
        lambda: two_producers(False), 2, ("producers", "several-senders", "crash-budget")
    ),
    "outbox-relay": Case(lambda: outbox(True), 2, ("shared",)),
    "outbox-relay-volatile": Case(lambda: outbox(False), 2, ("shared",), fast=False),
}

#: The library entries in the default (fast) run; every other entry that uses a
#: construct runs under ``-m slow``.
LIBRARY_FAST = (
    "mqtt-qos1",
    "mqtt-qos1-clean-session",
    "amqp-settle-second",
    "consumer-processed-key-ttl",
    "outbox-relay-mark-before-publish",
)
#: What cannot be detected in a lowered system: the entries with a patient timer.
LIBRARY_PATIENT = ("consumer-processed-key-ttl", "consumer-processed-key-ttl-longer")
for _entry in LIBRARY:
    _system = _entry.protocol.system(_entry.bound)
    _extra = ("patient-timer",) if _entry.name in LIBRARY_PATIENT else ()
    CASES[f"library:{_entry.name}"] = Case(
        _library(_entry.name),
        _bound(_entry.name),
        (*sorted(detected(_system)), *_extra),
        fast=_entry.name in LIBRARY_FAST,
    )


@cache
def system(name: str) -> System:
    case = CASES[name]
    return case.protocol.system(case.messages)
