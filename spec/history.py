"""Guarantees as predicates over the observable history.

The history is what an observer outside the protocol sees, per message id ``m``:

* ``submitted[m]`` — the producer handed ``m`` to the sender: set by the submit
  handler's first effect, even if a crash then cuts the call short (see
  :meth:`ackproof.spec.kernel.Node.on_submit` for what the producer does then);
* ``processed[m]`` — how many times the application's side effect ran for ``m``
  (saturating at 2: "twice" is all a duplicate check needs);
* ``acked[m]`` — the sender told its producer that ``m`` was delivered.

Properties (each a one-sentence promise; ``PROPERTIES`` holds the sentences):

* **no-loss**, bounded safety form: no reachable state has a submitted message that was
  never processed while no copy of it remains anywhere — not in flight on any channel and
  not held by any node that will still (re)send or process it.  Once that happens the
  message can never be processed, however long the run goes on, so a finite check is
  exact.  (What a node "holds" is declared by the protocol with ``p.holds``; frames name
  the field that carries a message with ``carries=``.)
* **no-duplicate**: no message id is processed twice.
* **no-phantom**: nothing is processed that was not submitted.
* **in-order** (optional): messages are first processed in the order they were submitted.

Guarantees are combinations: at-most-once = no-duplicate + no-phantom; at-least-once =
no-loss + no-phantom; exactly-once = all three.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from .env import Env, Layout
from .expr import TRUE, Expr, all_, and_, any_, const, eq, lt, min_, not_, or_
from .system import Eventually, HistorySlots, Property

NO_LOSS = "no-loss"
NO_DUPLICATE = "no-duplicate"
NO_PHANTOM = "no-phantom"
IN_ORDER = "in-order"
EVENTUAL_DELIVERY = "eventual-delivery"

#: Property id -> its promise in one sentence.
PROPERTIES: dict[str, str] = {
    NO_LOSS: (
        "Every submitted message is processed at least once: no run reaches a state where a "
        "submitted message was never processed and no copy of it is left to deliver."
    ),
    NO_DUPLICATE: "No message is processed more than once.",
    NO_PHANTOM: "Nothing is processed that was not submitted.",
    IN_ORDER: "Messages are first processed in the order they were submitted.",
    EVENTUAL_DELIVERY: (
        "Every submitted message is eventually processed: once faults stop, every fair run "
        "processes it."
    ),
}

#: Guarantee id -> the properties it combines.
GUARANTEES: dict[str, tuple[str, ...]] = {
    "at-most-once": (NO_DUPLICATE, NO_PHANTOM),
    "at-least-once": (NO_LOSS, NO_PHANTOM),
    "exactly-once": (NO_LOSS, NO_DUPLICATE, NO_PHANTOM),
}

#: Guarantee id -> its promise in one sentence.
GUARANTEE_STATEMENTS: dict[str, str] = {
    "at-most-once": (
        "Each message is processed zero or one times: loss is possible, duplicates are not."
    ),
    "at-least-once": (
        "Each message is processed one or more times: duplicates are possible, loss is not."
    ),
    "exactly-once": "Each message is processed exactly once: neither loss nor duplicates.",
}

WITNESS = "every message is submitted and processed at least once"


def resolve(names: Iterable[str]) -> tuple[str, ...]:
    """Expand guarantee names into property ids, keeping order and dropping repeats."""
    out: list[str] = []
    for n in names:
        for p in GUARANTEES.get(n, (n,)):
            if p not in PROPERTIES:
                known = ", ".join([*PROPERTIES, *GUARANTEES])
                raise KeyError(f"unknown property or guarantee {p!r} (known: {known})")
            if p not in out:
                out.append(p)
    return tuple(out)


@dataclass
class History:
    """The history slots of a system, and the effects that update them."""

    messages: int
    submitted: list[int]
    processed: list[int]
    acked: list[int]
    order_broken: int
    #: Per message, a submit call cut short by a crash that the producer will retry
    #: (allocated only when the protocol's producer retries, ``on_submit(retry=True)``).
    interrupted: list[int]
    #: Per message, the id its producer submits just before it (``None``: its first).
    prev: list[int | None]

    @classmethod
    def allocate(
        cls,
        layout: Layout,
        messages: int,
        *,
        retry: bool = False,
        prev: Sequence[int | None] | None = None,
    ) -> History:
        """The history slots; ``prev[m]``: the id its producer submits just before ``m``
        (default: ``m - 1``, one producer)."""

        def row(name: str, sort: str, hi: int) -> list[int]:
            init: bool | int = False if sort == "bool" else 0
            return [
                layout.add(
                    f"{name}[{m}]",
                    sort=sort,
                    lo=0,
                    hi=hi,
                    init=init,
                    owner="history",
                    msgs=(m,),
                    family=f"{name}[*]",
                )
                for m in range(messages)
            ]

        submitted = row("submitted", "bool", 1)
        processed = row("processed", "int", 2)
        acked = row("acked", "bool", 1)
        order = layout.add("order_broken", sort="bool", lo=0, hi=1, init=False, owner="history")
        interrupted = row("interrupted", "bool", 1) if retry else []
        order_of = (
            list(prev) if prev is not None else [m - 1 if m else None for m in range(messages)]
        )
        return cls(messages, submitted, processed, acked, order, interrupted, order_of)

    def slots(self) -> HistorySlots:
        return HistorySlots(
            tuple(self.submitted),
            tuple(self.processed),
            tuple(self.acked),
            self.order_broken,
            tuple(self.interrupted),
        )

    def can_submit(self, env: Env, m: int) -> Expr:
        """Submission happens in id order, each id once; a producer that retries finishes
        (retries) the previous call before it submits the next message."""
        k = self.prev[m]
        before = TRUE if k is None else env.read(self.submitted[k])
        if self.interrupted and k is not None:
            before = and_(before, not_(env.read(self.interrupted[k])))
        return and_(not_(env.read(self.submitted[m])), before)

    def can_retry(self, env: Env, m: int) -> Expr:
        """The producer calls submit again for ``m``: its previous call was cut short."""
        return env.read(self.interrupted[m])

    def submit(self, env: Env, m: int, *, cut_short: bool = False) -> None:
        """Message ``m`` is submitted; ``cut_short``: a crash ends this call (a producer
        that retries will call again)."""
        env.write(self.submitted[m], TRUE, what="submitted", trusted=True)
        if self.interrupted:
            env.write(self.interrupted[m], const(cut_short), what="interrupted", trusted=True)

    def process(self, env: Env, m: Expr) -> None:
        first = eq(env.select(self.processed, 0, m, what="process(msg)"), 0)
        later = any_(
            and_(lt(m, k), lt(0, env.read(self.processed[k]))) for k in range(self.messages)
        )
        order = env.read(self.order_broken)
        env.write(self.order_broken, or_(order, and_(first, later)), what="order", trusted=True)
        cur = env.select(self.processed, 0, m, what="process(msg)")
        env.store(self.processed, 0, m, min_(cur + 1, 2), what="process(msg)", trusted=True)

    def ack(self, env: Env, m: Expr) -> None:
        env.store(self.acked, 0, m, TRUE, what="ack(msg)", trusted=True)

    def everything_processed(self, env: Env) -> Expr:
        return all_(lt(0, env.read(p)) for p in self.processed)

    def properties(
        self,
        env: Env,
        inflight: Callable[[int], Expr],
        claims: Callable[[int], Sequence[tuple[str, Expr]]],
    ) -> Mapping[str, Property]:
        """The properties over ``env`` (a fresh pre-state env): ``inflight(m)`` says a copy
        of ``m`` is on the network, ``claims(m)`` which nodes claim to hold one."""
        n = range(self.messages)
        sub = [env.read(s) for s in self.submitted]
        proc = [env.read(s) for s in self.processed]
        pending = [and_(sub[m], eq(proc[m], 0)) for m in n]
        done = [lt(0, proc[m]) for m in n]
        claimed = [tuple(claims(m)) for m in n]
        copies = [any_([inflight(m), *(c for _, c in claimed[m])]) for m in n]
        culprits = {
            NO_LOSS: tuple(and_(pending[m], not_(copies[m])) for m in n),
            NO_DUPLICATE: tuple(lt(1, proc[m]) for m in n),
            NO_PHANTOM: tuple(and_(done[m], not_(sub[m])) for m in n),
        }
        invariants = {pid: all_(not_(c) for c in cs) for pid, cs in culprits.items()}
        invariants[IN_ORDER] = not_(env.read(self.order_broken))
        invariants[EVENTUAL_DELIVERY] = TRUE
        eventually = {
            # a claimed copy must lead to a copy in flight or to the processing itself
            NO_LOSS: tuple(
                Eventually(
                    m,
                    and_(pending[m], not_(inflight(m)), any_(c for _, c in claimed[m])),
                    or_(inflight(m), done[m]),
                    claimed[m],
                )
                for m in n
                if claimed[m]
            ),
            EVENTUAL_DELIVERY: tuple(Eventually(m, pending[m], done[m]) for m in n),
        }
        witness = self.everything_processed(env)
        return {
            pid: Property(
                pid,
                PROPERTIES[pid],
                inv,
                witness,
                WITNESS,
                culprits.get(pid, ()),
                eventually.get(pid, ()),
            )
            for pid, inv in invariants.items()
        }
