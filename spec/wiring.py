"""Wiring: the links between nodes, their fault budgets, and the environment's own steps.

Theory of operation
-------------------
Every (source, destination) pair that some frame kind travels on gets a
:class:`~ackproof.spec.network.Channel`.  Its shape comes from the fault model
(:class:`~ackproof.spec.faults.Faults`) and, where the model names it, from its link
(:mod:`ackproof.spec.links`): a datagram link may narrow the model's faults and have its
own budgets; a connection's two directions are FIFO, never lose or duplicate on their
own, and share an *up* slot.  The environment's steps lowered here:

* per datagram channel: lose one frame, duplicate one frame (each if the link allows it,
  spending the model's budget and the link's);
* per connection: *drop* (if the model has ``loss``: both directions emptied, down, both
  ends' ``on_disconnect`` run) and *reconnect* (when down: up, both ends' ``on_connect``
  run) — reconnecting is not a fault: once faults stop, a fair run reconnects;
* a node's crash drops its connections (its peers' ``on_disconnect`` run).

Budgets are slots ``budget.<kind>`` (the model's), ``budget.<kind>@<link>`` (a link's) and
``budget.crashes@<node>`` (a node's); a fault spends every budget that applies to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .env import Env
from .errors import SpecError
from .expr import FALSE, TRUE, Expr, and_, lt, min_, not_
from .links import Connection, Link, link_key
from .network import Channel, FrameKind, Move
from .system import ActionKind, Effect

if TYPE_CHECKING:
    from .lowering import Lowering


@dataclass
class Conn:
    """A connection: its name, its two ends, its up slot and its directions."""

    name: str
    a: str
    b: str
    up: int
    channels: list[Channel]


class Wiring:
    def __init__(self, low: Lowering) -> None:
        self.low = low
        self.faults = low.faults
        self.channels: dict[tuple[str, str], Channel] = {}
        self.connections: dict[str, Conn] = {}
        self.budgets: dict[str, int] = {}

    # -- allocation ---------------------------------------------------------------------------
    def allocate(self, kinds: list[FrameKind]) -> None:
        low, faults = self.low, self.faults
        pairs: dict[tuple[str, str], list[FrameKind]] = {}
        for k in kinds:
            for src in k.srcs:
                for dst in k.dsts:
                    if src == dst:
                        raise SpecError(
                            f"frame {k.name} goes from {src} to itself", protocol=low.pdef.name
                        )
                    pairs.setdefault((src, dst), []).append(k)
        conns: dict[frozenset[str], tuple[str, str, str, Connection]] = {}
        for name, spec in dict(faults.links).items():
            a, b, _ = link_key(name)
            for n in (a, b):
                if n not in low.builder.nodes:
                    raise SpecError(
                        f"links[{name!r}] names unknown node {n!r}", protocol=low.pdef.name
                    )
            if isinstance(spec, Connection):
                conns[frozenset((a, b))] = (name, a, b, spec)
            elif (a, b) not in pairs:
                raise SpecError(
                    f"links[{name!r}]: no frame kind goes from {a} to {b}", protocol=low.pdef.name
                )
        for (src, dst), group in pairs.items():
            conn = conns.get(frozenset((src, dst)))
            if conn is not None:
                ordered, capacity = True, conn[3].capacity or faults.capacity
                within = conn[3].within or faults.within
            else:
                link = self.link(src, dst)
                ordered = not (faults.reorder and link.reorder is not False)
                capacity = link.capacity or faults.capacity
                within = link.within or faults.within
            self.channels[(src, dst)] = Channel(
                src,
                dst,
                group,
                ordered=ordered,
                capacity=capacity,
                layout=low.layout,
                within=within,
            )
        for name, a, b, spec in conns.values():
            up = low.layout.add(
                f"{name}.up", sort="bool", lo=0, hi=1, init=True, owner=f"net:{name}"
            )
            chans = [c for c in (self.channels.get((a, b)), self.channels.get((b, a))) if c]
            for c in chans:
                c.up = up
            self.connections[name] = Conn(name, a, b, up, chans)
            if spec.max_drops is not None:
                self._budget(f"drops@{name}", spec.max_drops)
        for key, cap in (
            ("losses", faults.max_losses),
            ("duplicates", faults.max_duplicates),
            ("crashes", faults.max_crashes),
        ):
            if cap is not None:
                self._budget(key, cap)
        for ch in self.channels.values():
            if ch.up is None:
                link = self.link(ch.src, ch.dst)
                if link.max_losses is not None:
                    self._budget(f"losses@{ch.name}", link.max_losses)
                if link.max_duplicates is not None:
                    self._budget(f"duplicates@{ch.name}", link.max_duplicates)
        for node, cap in dict(faults.crash_budgets).items():
            if node not in low.builder.nodes:
                raise SpecError(
                    f"crash_budgets names unknown node {node!r}", protocol=low.pdef.name
                )
            self._budget(f"crashes@{node}", cap)

    def link(self, src: str, dst: str) -> Link:
        spec = self.faults.link(f"{src}->{dst}")
        return spec if isinstance(spec, Link) else Link()

    def _budget(self, key: str, cap: int) -> None:
        self.budgets[key] = self.low.layout.add(
            f"budget.{key}", sort="int", lo=0, hi=cap, init=0, owner="budget"
        )

    def spend(self, env: Env, *keys: str) -> None:
        """A fault happens: every budget among ``keys`` must have one left, and spends it."""
        for key in keys:
            slot = self.budgets.get(key)
            if slot is None:
                continue
            used = env.read(slot)
            env.require(lt(used, self.low.layout.slots[slot].hi))
            env.write(slot, used + 1, what=f"budget.{key}", trusted=True)

    # -- the environment's steps -------------------------------------------------------------
    def lower(self) -> None:
        for ch in self.channels.values():
            if ch.up is None:
                self._lower_datagram(ch)
        for conn in self.connections.values():
            self._lower_connection(conn)
        self._lower_clock()

    def _lower_clock(self) -> None:
        """One tick of the logical clock, if the protocol has one (an ``Age`` field or a
        channel with a delivery bound): every age and every frame in flight grows one
        older.  Time passing is not a fault: once faults stop, ticks go on."""
        layout = self.low.layout
        ages = [s for s in layout.slots if s.ticks]
        timed = [ch for ch in self.channels.values() if ch.within is not None]
        if not ages and not timed:
            return
        env = self.low.fresh()
        for ch in timed:
            ch.tick(env)
        for s in ages:
            env.write(s.index, min_(env.read(s.index) + 1, s.hi), what=s.name, trusted=True)
        self.low.emit(env, "tick", "a tick of the clock")

    def _lower_datagram(self, ch: Channel) -> None:
        f, link = self.faults, self.link(ch.src, ch.dst)
        moves: list[tuple[bool, ActionKind, str, str, list[Move]]] = [
            (f.loss and link.loss is not False, "lose", "losses", "loses", ch.losses()),
            (
                f.duplicate and link.duplicate is not False,
                "duplicate",
                "duplicates",
                "duplicates",
                ch.duplications(),
            ),
        ]
        for enabled, kind, budget, verb, options in moves:
            if not enabled:
                continue
            for g, pos, age, apply in options:
                env = self.low.fresh()
                self.spend(env, budget, f"{budget}@{ch.name}")
                apply(env)
                what = str(g) if g is not None else f"frame #{pos}"
                if age is not None:
                    what += f" (sent {age} tick{'s' if age != 1 else ''} ago)"
                label = f"network {verb} {what} on {ch.name}"
                self.low.emit(env, kind, label, channel=ch.name, frame=g, position=pos)

    def _lower_connection(self, conn: Conn) -> None:
        low = self.low
        if self.faults.loss:
            env = low.fresh()
            env.require(env.read(conn.up))
            self.spend(env, "losses", f"drops@{conn.name}")
            effects = self.drop(env, conn, crashed=None)
            low.emit(
                env, "drop", f"connection {conn.name} drops", channel=conn.name, effects=effects
            )
        env = low.fresh()
        env.require(not_(env.read(conn.up)))
        env.write(conn.up, TRUE, what=f"{conn.name}.up", trusted=True)
        effects = ()
        for node, peer in ((conn.a, conn.b), (conn.b, conn.a)):
            fn = low.builder.nodes[node].connect
            if fn is not None:
                effects += low.handler_effects(node, fn, (peer,), env, f"{node} connected")
        low.emit(
            env, "connect", f"connection {conn.name} up again", channel=conn.name, effects=effects
        )

    def drop(self, env: Env, conn: Conn, *, crashed: str | None) -> tuple[Effect, ...]:
        """``conn`` drops (``crashed``: because that end crashed): every frame in flight
        on it is lost, it is down, and the ends that are still running are told."""
        low = self.low
        up = env.read(conn.up)
        for ch in conn.channels:
            with env.under(up):
                ch.clear(env)
        effects: tuple[Effect, ...] = ()
        with env.under(up):
            env.write(conn.up, FALSE, what=f"{conn.name}.up", trusted=True)
            for node, peer in ((conn.a, conn.b), (conn.b, conn.a)):
                fn = low.builder.nodes[node].disconnect
                if fn is not None and node != crashed:
                    effects += low.handler_effects(node, fn, (peer,), env, f"{node} disconnected")
        return effects

    def crash_drops(self, env: Env, node: str) -> tuple[Effect, ...]:
        """``node`` crashed: its connections drop."""
        effects: tuple[Effect, ...] = ()
        for conn in self.connections.values():
            if node in (conn.a, conn.b):
                effects += self.drop(env, conn, crashed=node)
        return effects

    def quiet(self, env: Env, node: str) -> Expr:
        """No frame in flight to or from ``node``."""
        return and_(*(ch.empty(env) for ch in self.channels.values() if node in (ch.src, ch.dst)))
