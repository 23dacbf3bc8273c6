"""Lowering: every handler, run once per ground action, becomes a guarded parallel update.

See :mod:`ackproof.spec.kernel` for the protocol API.  :class:`Lowering` allocates the
slots (history, node fields, channels, fault budgets), runs each handler with a symbolic
:class:`~ackproof.spec.env.Env` per ground action (each parameter and received frame field
a constant) through a :class:`~ackproof.spec.recorder.Recorder` (the handler sees it as
``ctx``), adds a crash variant per snapshot the recorder took, and adds the environment's
own actions (crash and restart, loss, duplication).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import cache, partial
from typing import TYPE_CHECKING, Any

from .context import Ctx, FrameView
from .env import Env, Layout
from .errors import SpecError, user_line
from .expr import TRUE, Expr, Names, and_, any_, const, lift, not_, render, walk
from .faults import Faults
from .fields import allocate_fields
from .history import History
from .kernel import Builder, Handler, HoldsFn, Node
from .network import Channel
from .ops import Leaf
from .recorder import Recorder
from .system import Action, ActionKind, Effect, System
from .wiring import Wiring

if TYPE_CHECKING:
    from .protocol import ProtocolDef


class Lowering:
    def __init__(self, pdef: ProtocolDef, messages: int, faults: Faults) -> None:
        self.pdef = pdef
        self.faults = faults
        self.builder = Builder(pdef.name, messages, faults)
        self.layout = Layout()
        self.actions: list[Action] = []
        self.wiring = Wiring(self)
        self.channels: dict[tuple[str, str], Channel] = {}

    def err(
        self,
        e: Exception,
        action: str | None = None,
        handler: Handler | None = None,
        reads: dict[int, str] | None = None,
        *,
        nested: bool = False,
    ) -> SpecError:
        """``e`` located: the protocol, the action, the handler, ``file:line`` of the
        protocol's source that raised it and, for Python control flow on a symbolic value,
        the field it reads."""
        where = user_line(e, handler)
        if nested and handler is not None and action is not None:  # restart, connect, ...
            name = getattr(handler, "__name__", "handler")
            if name not in action:
                action = f"{action} (handler {name})"
        if not isinstance(e, SpecError):
            return SpecError(
                f"{type(e).__name__}: {e}", protocol=self.pdef.name, action=action, where=where
            )
        field = None
        if isinstance(e.expr, Expr):
            names = Names(slots=[s.name for s in self.layout.slots])
            shown = render(e.expr, names)
            slots = [names.slots[x.value] for x in walk([e.expr]) if x.op is Leaf.SLOT]
            field = slots[0] if len(slots) == 1 and shown == slots[0] else None
            if field is None and reads is not None:
                field = reads.get(id(e.expr))
            if field is None:
                e = SpecError(f"{e.message} (the value: {shown})", where=e.where)
        return e.located(protocol=self.pdef.name, action=action, field=field, where=where)

    def channel(self, src: str, dst: str) -> Channel:
        return self.channels[(src, dst)]

    # -- allocation ---------------------------------------------------------------------------
    def run(self) -> System:
        try:
            self.pdef.build(self.builder)
        except Exception as e:
            raise self.err(e, "build", self.pdef.build) from None
        b = self.builder
        if not b.nodes:
            raise SpecError("declares no nodes", protocol=b.name)
        for c in self.faults.crash:
            if c != "*" and c not in b.nodes:
                raise SpecError(f"fault model crashes unknown node {c!r}", protocol=b.name)
        self.producers = self._producers()
        prev: list[int | None] = []
        for m, node in enumerate(self.producers):
            earlier = [k for k in range(m) if self.producers[k] is node]
            prev.append(earlier[-1] if earlier else None)
        retry = any(n.submit_retry for n in self.producers)
        self.history = History.allocate(self.layout, b.messages, retry=retry, prev=prev)
        for node in b.nodes.values():
            allocate_fields(self.layout, node)
        self.wiring.allocate(list(b.kinds.values()))
        self.channels = self.wiring.channels
        self.leaves = self.layout.leaves()
        for node in dict.fromkeys(self.producers):
            self._lower_submit(node)
        for node in b.nodes.values():
            self._lower_frames(node)
            self._lower_timers(node)
        for node in b.nodes.values():
            if self.faults.crashes(node.name):
                self._lower_crash(node)
        self.wiring.lower()
        env = Env.fresh(self.layout, self.leaves)
        props = self.history.properties(env, self._inflight(env), self._claims(env))
        enums: dict[str, tuple[str, ...]] = {}
        for s in self.layout.slots:
            if s.enum is not None:
                enums[s.enum] = s.members
        for k in b.kinds.values():
            for _, t in k.fields:
                if t.enum is not None:
                    enums[t.enum] = t.members
        return System(
            protocol=b.name,
            messages=b.messages,
            faults=self.faults,
            slots=tuple(self.layout.slots),
            actions=tuple(self.actions),
            properties=dict(props),
            channels=tuple(c.info() for c in self.channels.values()),
            nodes=tuple(b.nodes),
            history=self.history.slots(),
            claims=self.pdef.claims,
            carriers={k.name: k.carries for k in b.kinds.values() if k.carries is not None},
            enums=enums,
            description=self.pdef.description,
            # lowered once per N: the seed of every proof of this system asks for the same
            instance=cache(partial(self.pdef.system, faults=self.faults)),
        )

    def _producers(self) -> list[Node]:
        """The node that submits each message id."""
        b = self.builder
        submitters = [n for n in b.nodes.values() if n.submit is not None]
        if not submitters:
            raise SpecError("no node handles submit (@node.on_submit)", protocol=b.name)
        if len(submitters) == 1 and submitters[0].submit_ids is None:
            return [submitters[0]] * b.messages
        out: list[Node] = []
        for m in range(b.messages):
            owners = [n for n in submitters if n.submit_ids is not None and n.submit_ids(m)]
            unsaid = [n.name for n in submitters if n.submit_ids is None]
            if unsaid:
                raise SpecError(
                    f"several nodes handle submit: each says which ids it submits with "
                    f"on_submit(ids=...); {', '.join(unsaid)} does not",
                    protocol=b.name,
                )
            if len(owners) != 1:
                who = " and ".join(n.name for n in owners) or "no producer"
                raise SpecError(
                    f"message {m} is submitted by {who}; it needs exactly one", protocol=b.name
                )
            out.append(owners[0])
        return out

    # -- running handlers ---------------------------------------------------------------------
    def _run(
        self,
        node: Node,
        fn: Handler,
        args: Sequence[Any],
        env: Env,
        *,
        label: str,
        crash_points: bool,
        nested: bool = False,
    ) -> Recorder:
        rec = Recorder(self, node, env, crash_points=crash_points)
        try:
            fn(Ctx(rec), *args)
        except Exception as e:
            raise self.err(e, label, fn, rec.reads, nested=nested) from None
        return rec

    def fresh(self) -> Env:
        """The environment of a new ground action: every slot its pre-state value."""
        return Env.fresh(self.layout, self.leaves)

    def handler_effects(
        self, node: str, fn: Handler, args: Sequence[Any], env: Env, label: str
    ) -> tuple[Effect, ...]:
        """Run ``node``'s handler ``fn`` into ``env`` as part of an environment step (no
        crash points); its effects, in order."""
        rec = self._run(
            self.builder.nodes[node], fn, args, env, label=label, crash_points=False, nested=True
        )
        return tuple(rec.effects)

    def emit(
        self,
        env: Env,
        kind: ActionKind,
        label: str,
        **meta: Any,
    ) -> None:
        """Record the action ``env`` describes, unless its guard is plainly false."""
        updates = tuple(
            (i, v)
            for i, (v, leaf) in enumerate(zip(env.cur, self.leaves, strict=True))
            if v is not leaf
        )
        guard = and_(*env.guard)
        if guard.is_const and not guard.value:
            return
        starved = None
        if env.room:
            room = {id(c) for c in env.room}
            rest = and_(*(g for g in env.guard if id(g) not in room))
            starved = and_(rest, not_(and_(*env.room)))
        self.actions.append(
            Action(
                index=len(self.actions),
                kind=kind,
                label=label,
                guard=guard,
                updates=updates,
                checks=tuple(env.checks),
                starved=starved,
                **meta,
            )
        )

    def _handler_actions(
        self,
        node: Node,
        fn: Handler,
        args: Sequence[Any],
        env: Env,
        *,
        kind: ActionKind,
        label: str,
        skip_first_crash: bool,
        cut_short: Callable[[Env], None] | None = None,
        **meta: Any,
    ) -> None:
        """The handler's action, and one crash variant per point a crash may fall on
        (``cut_short`` first records, in a crash variant, that the call was cut short)."""
        crash_here = self.faults.crashes(node.name)
        rec = self._run(node, fn, args, env, label=label, crash_points=crash_here)
        done = tuple(rec.effects)
        self.emit(rec.env, kind, label, node=node.name, effects=done, **meta)
        for snap in rec.snapshots:
            if skip_first_crash and snap.effects == 0:
                continue
            cenv = snap.env(self.layout)
            if cut_short is not None:
                cut_short(cenv)
            clabel = f"{label}, crash after {snap.effects} effect{'s' if snap.effects != 1 else ''}"
            after = self._crash_into(node, cenv, clabel)
            self.emit(
                cenv,
                kind,
                clabel,
                node=node.name,
                crash_after=snap.effects,
                crash_of=label,
                effects=done[: snap.effects] + after,
                **meta,
            )

    def _crash_into(self, node: Node, env: Env, label: str) -> tuple[Effect, ...]:
        """The node crashes: volatile state resets, then its restart handler runs.
        Returns the crash and the restart handler's effects, in order."""
        self.wiring.spend(env, "crashes", f"crashes@{node.name}")
        for decl in node.vars.values():
            if decl.durable:
                continue
            for s in [*decl.slots, *([decl.length_slot] if decl.length_slot is not None else [])]:
                sl = self.layout.slots[s]
                env.write(s, const(sl.init, enum=sl.enum), what=sl.name, trusted=True)
        crash: tuple[Effect, ...] = (Effect("crash", TRUE, node=node.name),)
        crash += self.wiring.crash_drops(env, node.name)
        if node.restart is None:
            return crash
        return crash + self.handler_effects(node.name, node.restart, (), env, label)

    def _lower_submit(self, node: Node) -> None:
        """One action per message (and per retry, if the producer retries a call cut
        short).  A crash before the handler's first effect is a crash before the call,
        already covered by the node's own crash action, so it is not repeated here."""
        assert node.submit is not None
        history = self.history
        calls: list[tuple[str, Callable[[Env, int], Expr]]] = [("submit", history.can_submit)]
        if node.submit_retry:
            calls.append(("producer retries submit", history.can_retry))

        def cut_short(m: int) -> Callable[[Env], None]:
            return lambda env: history.submit(env, m, cut_short=node.submit_retry)

        mine = [m for m in range(self.builder.messages) if self.producers[m] is node]
        for m in mine:
            for what, enabled in calls:
                env = Env.fresh(self.layout, self.leaves)
                env.require(enabled(env, m))
                history.submit(env, m)
                self._handler_actions(
                    node,
                    node.submit,
                    (const(m),),
                    env,
                    kind="submit",
                    label=f"{what}(m={m})",
                    skip_first_crash=True,
                    cut_short=cut_short(m),
                    handler="submit",
                    params=(("m", str(m)),),
                    arg_values=(m,),
                )

    def _lower_frames(self, node: Node) -> None:
        for (src, dst), ch in self.channels.items():
            if dst != node.name:
                continue
            for g, age, take in ch.takes():
                fn = node.frame_handlers.get(g.kind)
                if fn is None:
                    raise SpecError(
                        f"node {node.name} receives {g.kind} frames but has no "
                        f"@{node.name}.on({g.kind}) handler",
                        protocol=self.builder.name,
                    )
                env = Env.fresh(self.layout, self.leaves)
                take(env)
                kind = self.builder.kinds[g.kind]
                view = FrameView(kind, g, src)
                label = f"{node.name} <- {g}" + (f" from {src}" if len(kind.srcs) > 1 else "")
                if age is not None:
                    label += f" (sent {age} tick{'s' if age != 1 else ''} ago)"
                self._handler_actions(
                    node,
                    fn,
                    (view,),
                    env,
                    kind="deliver",
                    label=label,
                    skip_first_crash=False,
                    channel=ch.name,
                    handler=g.kind,
                    frame=g,
                )

    def _lower_timers(self, node: Node) -> None:
        for t in node.timers:
            for combo in itertools.product(*(p.values() for p in t.params)):
                args = [
                    p.lit(v) if p.enum is None else const(int(v), enum=p.enum)
                    for p, v in zip(t.params, combo, strict=True)
                ]
                shown = ", ".join(p.show(v) for p, v in zip(t.params, combo, strict=True))
                label = f"{node.name} timer {t.name}({shown})"
                env = Env.fresh(self.layout, self.leaves)
                if not t.early:  # a timeout longer than any round trip
                    env.require(self.wiring.quiet(env, node.name))
                self._handler_actions(
                    node,
                    t.fn,
                    args,
                    env,
                    kind="timer",
                    label=label,
                    skip_first_crash=True,
                    handler=t.name,
                    params=tuple(
                        (f"p{i}", p.show(v))
                        for i, (p, v) in enumerate(zip(t.params, combo, strict=True))
                    ),
                    arg_values=tuple(combo),
                )

    def _lower_crash(self, node: Node) -> None:
        env = Env.fresh(self.layout, self.leaves)
        label = f"crash {node.name} (restart)"
        effects = self._crash_into(node, env, label)
        self.emit(env, "crash", label, node=node.name, effects=effects)

    def _inflight(self, env: Env) -> Callable[[int], Expr]:
        return lambda m: any_(ch.copies(env, m) for ch in self.channels.values())

    def _claims(self, env: Env) -> Callable[[int], list[tuple[str, Expr]]]:
        """Per message, who claims to hold a copy: each node's ``holds()``, and a producer
        that will retry a call cut short."""
        holders: list[tuple[Node, HoldsFn]] = [
            (n, n.holds_fn) for n in self.builder.nodes.values() if n.holds_fn is not None
        ]

        def claims(m: int) -> list[tuple[str, Expr]]:
            parts: list[tuple[str, Expr]] = []
            if self.history.interrupted:  # the producer still has it: it will call again
                parts.append(("producer", env.read(self.history.interrupted[m])))
            for node, fn in holders:
                ctx = Ctx(Recorder(self, node, env, crash_points=False, read_only=True))
                try:
                    h = lift(fn(ctx, const(m)))
                except Exception as e:
                    raise self.err(e, f"{node.name}.holds") from None
                if h.sort != "bool":
                    raise SpecError(
                        f"holds() must return a bool, got {render(h)}",
                        protocol=self.builder.name,
                        action=f"{node.name}.holds",
                    )
                if not (h.is_const and not h.value):
                    parts.append((node.name, h))
            return parts

        return claims
