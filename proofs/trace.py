"""Counterexamples people can read: a text table, a Mermaid sequence chart, JSON.

Theory of operation
-------------------
Every engine hands back a :class:`~ackproof.spec.explore.Path` (the initial state, then
the action taken and the state after it, per step), whether it came from breadth-first
search or from a z3 model.  :func:`decode` turns a path into a :class:`Counterexample`
whose steps say, in the spec's own words, which action ran, on which node or channel,
which frames it put on the network, what it processed or acked, and which state fields
changed.  The renderers below only read that decoded form.

Before decoding, the path is replayed on the concrete interpreter
(:func:`ackproof.proofs.result.replay`): a path that does not replay step by step is an
engine bug (:class:`~ackproof.proofs.result.EngineError`), refused, never rendered.
"""

from __future__ import annotations

import builtins
import json
from dataclasses import dataclass
from typing import Any, Literal

from ackproof.events import TraceEvent
from ackproof.spec.explore import Path
from ackproof.spec.expr import evaluate
from ackproof.spec.interp import compile_system
from ackproof.spec.system import Action, FrameValue, State, System

from .result import replay


@dataclass(frozen=True, slots=True)
class Done:
    """One effect a step performed: ``send`` (``frame`` on ``channel``), ``process`` or
    ``ack`` (``msg``), or ``crash`` (the node crashed here and restarted)."""

    kind: Literal["send", "process", "ack", "crash"]
    msg: int | None = None
    channel: str | None = None
    frame: FrameValue | None = None

    def __str__(self) -> str:
        if self.kind == "send":
            return f"send {self.frame}"
        if self.kind == "crash":
            return "CRASH + restart"
        return f"{self.kind} m={self.msg}"


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a counterexample, decoded: its effects in the order the handler
    performed them (a crash where it fell, the restart handler's effects after it)."""

    number: int
    label: str
    kind: str
    node: str | None
    channel: str | None
    frame: FrameValue | None
    #: For a handler cut short by a crash: how many of its effects ran before it.
    crash_after: int | None
    done: tuple[Done, ...]
    submitted: tuple[int, ...]
    changes: tuple[tuple[str, str, str], ...]  # (field, before, after)
    #: The handler that ran (a timer's name, ``submit``, a frame kind) and its arguments.
    handler: str | None = None
    params: tuple[tuple[str, str], ...] = ()

    @builtins.property
    def sent(self) -> tuple[tuple[str, FrameValue], ...]:
        """(channel, frame) per frame sent, in order."""
        return tuple((d.channel or "", d.frame) for d in self.done if d.frame is not None)

    @builtins.property
    def processed(self) -> tuple[int, ...]:
        return tuple(d.msg for d in self.done if d.kind == "process" and d.msg is not None)

    @builtins.property
    def acked(self) -> tuple[int, ...]:
        return tuple(d.msg for d in self.done if d.kind == "ack" and d.msg is not None)

    def effects(self) -> list[str]:
        return [str(d) for d in self.done]


@dataclass(frozen=True, slots=True)
class Counterexample:
    protocol: str
    faults: str
    property: str
    statement: str
    steps: tuple[Step, ...]
    nodes: tuple[str, ...]
    final: str
    #: For a liveness violation (a lasso): faults stop after this many steps; then the
    #: steps from ``loop`` on repeat forever, or (``stuck``) nothing more can happen.
    calm: int | None = None
    loop: int | None = None
    stuck: bool = False

    @builtins.property
    def length(self) -> int:
        return len(self.steps)

    def notes(self) -> list[str]:
        """How a lasso goes on: where faults stop and what repeats."""
        if self.calm is None:
            return []
        out = [f"no fault after step {self.calm}"]
        if self.stuck:
            out.append(f"after step {self.length} nothing can happen without a fault")
        elif self.loop is not None:
            out.append(f"steps {self.loop + 1}-{self.length} repeat forever")
        return out


def _frames(system: System) -> dict[tuple[str, str, tuple[int, ...]], FrameValue]:
    """(channel, kind, field values) -> the ground frame, for every channel."""
    return {
        (ch.name, f.kind, tuple(int(v) for _, v in f.fields)): f
        for ch in system.channels
        for f in ch.frames
    }


def _submitted(system: System, before: State, after: State) -> list[int]:
    slots = system.history.submitted
    return [m for m, i in enumerate(slots) if not before[i] and after[i]]


def decode_step(system: System, number: int, action: Action, before: State, after: State) -> Step:
    """What ``action`` did, taking ``before`` to ``after``, in the spec's own words: the
    effects its handler recorded, those whose ``when`` conditions held, in order."""
    frames = _frames(system)
    done: list[Done] = []
    ran = 0  # effects of the handler's own program that ran (before any crash)
    crashed = False
    for e in action.effects:
        if not evaluate(e.cond, before):
            continue
        if e.kind == "crash":
            crashed = True
            done.append(Done("crash"))
            continue
        ran += not crashed
        if e.kind == "send":
            assert e.channel is not None
            assert e.frame is not None
            values = tuple(int(evaluate(v, before)) for _, v in e.fields)
            done.append(Done("send", channel=e.channel, frame=frames[e.channel, e.frame, values]))
        elif e.kind in ("process", "ack"):
            assert e.msg is not None
            done.append(Done(e.kind, msg=int(evaluate(e.msg, before))))
    changes = []
    for sl in system.slots:
        if (sl.owner in system.nodes or sl.owner == "shared") and before[sl.index] != after[
            sl.index
        ]:
            changes.append((sl.name, sl.show(before[sl.index]), sl.show(after[sl.index])))
    frame = action.frame
    if frame is None and action.position is not None and action.channel is not None:
        ch = next(c for c in system.channels if c.name == action.channel)
        inflight = ch.contents(before)
        if action.position < len(inflight):
            frame = inflight[action.position]
    label, crash_after = action.label, None
    if action.crash_of is not None:
        crash_after = ran
        label = f"{action.crash_of}, crash after {ran} effect{'s' if ran != 1 else ''}"
    return Step(
        number=number,
        label=label,
        kind=action.kind,
        node=action.node,
        channel=action.channel,
        frame=frame,
        crash_after=crash_after,
        done=tuple(done),
        submitted=tuple(_submitted(system, before, after)),
        changes=tuple(changes),
        handler=action.handler,
        params=action.params,
    )


def decode(system: System, prop: str, path: Path, *, check: bool = True) -> Counterexample:
    """Decode ``path`` (replayed first unless ``check`` is false) into readable steps."""
    if check:
        replay(compile_system(system), path)
    steps = []
    before = path.initial
    for i, (a, after) in enumerate(path.steps, 1):
        steps.append(decode_step(system, i, system.actions[a], before, after))
        before = after
    final = _final(system, prop, before) if path.calm is None else _final_live(system, prop, path)
    return Counterexample(
        protocol=system.protocol,
        faults=system.faults.name,
        property=prop,
        statement=system.properties[prop].statement,
        steps=tuple(steps),
        nodes=system.nodes,
        final=final,
        calm=path.calm,
        loop=path.loop,
        stuck=path.stuck,
    )


def _final_live(system: System, prop: str, path: Path) -> str:
    """What a lasso shows, in words: the obligation it breaks, and whose claim."""
    assert path.calm is not None
    at = path.steps[path.calm - 1][1] if path.calm else path.initial
    after = [s for _, s in path.steps[path.calm :]]
    for ob in system.properties[prop].eventually:
        if evaluate(ob.trigger, at) and not any(evaluate(ob.goal, s) for s in [at, *after]):
            claim = next((who for who, c in ob.claims if evaluate(c, at)), None)
            forever = "never" if path.loop is not None or path.stuck else "not"
            if claim is not None:
                return (
                    f"{claim} claims a copy of message {ob.msg} (holds), but once faults stop "
                    f"it {forever} sends one or processes it: the claim is not backed"
                )
            return f"message {ob.msg} was submitted but is {forever} processed once faults stop"
    return f"{prop} is violated"


def _final(system: System, prop: str, state: State) -> str:
    """What is wrong in the last state, in words, naming a message that really breaks the
    property there (for no-loss: submitted, never processed, and no copy of it left)."""
    p = system.properties[prop]
    culprits = [m for m, c in enumerate(p.culprits) if evaluate(c, state)]
    what = f"message {culprits[0]}" if culprits else "a message"
    if prop == "no-duplicate":
        return f"{what} processed twice"
    if prop == "no-loss":
        return f"{what} was submitted, never processed, and no copy of it is left"
    if prop == "no-phantom":
        return f"{what} was processed but never submitted"
    if prop == "in-order":
        return "a message was first processed after a later one"
    return f"{prop} is violated"


# -- renderers ------------------------------------------------------------------------------
def to_json(cx: Counterexample) -> dict[str, Any]:
    return {
        "protocol": cx.protocol,
        "faults": cx.faults,
        "property": cx.property,
        "length": cx.length,
        "violation": cx.final,
        "calm": cx.calm,
        "loop": cx.loop,
        "stuck": cx.stuck,
        "steps": [
            {
                "step": s.number,
                "action": s.label,
                "kind": s.kind,
                "node": s.node,
                "channel": s.channel,
                "frame": str(s.frame) if s.frame is not None else None,
                "crash_after": s.crash_after,
                "effects": s.effects(),
                "sent": [{"channel": c, "frame": str(f)} for c, f in s.sent],
                "processed": list(s.processed),
                "acked": list(s.acked),
                "changes": {k: [b, a] for k, b, a in s.changes},
            }
            for s in cx.steps
        ],
    }


def table(cx: Counterexample) -> str:
    """A plain-text table, one row per step."""
    rows = [("#", "action", "effects", "state changes")]
    for s in cx.steps:
        changes = ", ".join(f"{k}: {b}->{a}" for k, b, a in s.changes)
        rows.append((str(s.number), s.label, "; ".join(s.effects()), changes))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for k, r in enumerate(rows):
        cells = [r[i].ljust(widths[i]) for i in range(3)] + [r[3]]
        lines.append("  ".join(cells).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 13)
    lines += [f"   ({note})" for note in cx.notes()]
    lines.append(f"=> {cx.property} violated: {cx.final}")
    return "\n".join(lines)


def _lane(name: str) -> str:
    return name.replace("-", "_")


def mermaid(cx: Counterexample) -> str:
    """A Mermaid ``sequenceDiagram``: node lanes with the network between them."""
    nodes = list(cx.nodes)
    lanes = [nodes[0], "Network", *nodes[1:]] if len(nodes) > 1 else [*nodes, "Network"]
    out = ["sequenceDiagram"]
    for lane in lanes:
        out.append(f"    participant {_lane(lane)}")
    if cx.calm == 0:
        out.append("    Note over Network: no more faults from here")
    for s in cx.steps:
        node = _lane(s.node) if s.node else None
        if cx.loop is not None and s.number == cx.loop + 1:
            out.append("    Note over Network: the steps from here repeat forever")
        if s.kind == "submit" and node:
            out.append(f"    Note over {node}: {s.number}. {s.label}")
        elif s.kind == "deliver" and node and s.frame:
            out.append(f"    Network->>{node}: {s.number}. {s.frame}")
        elif s.kind == "timer" and node:
            args = ", ".join(v for _, v in s.params)
            out.append(f"    Note over {node}: {s.number}. timeout ({s.handler}({args}))")
        elif s.kind == "lose":
            out.append(f"    Note over Network: {s.number}. LOST {s.frame or ''}".rstrip())
        elif s.kind == "duplicate":
            out.append(f"    Note over Network: {s.number}. DUPLICATED {s.frame or ''}".rstrip())
        elif s.kind == "crash" and node:
            out.append(f"    Note over {node}: {s.number}. CRASH, restart")
        lane = node or "Network"
        for d in s.done:
            if d.kind == "process":
                out.append(f"    Note over {lane}: process m={d.msg}")
            elif d.kind == "send":
                out.append(f"    {lane}->>Network: {d.frame}")
            elif d.kind == "ack":
                out.append(f"    Note over {lane}: ack m={d.msg} (delivered)")
            elif s.crash_after is not None:
                out.append(f"    Note over {lane}: CRASH after {s.crash_after} effect(s), restart")
        if cx.calm is not None and s.number == cx.calm:
            out.append("    Note over Network: no more faults from here")
    last = _lane(nodes[-1]) if nodes else "Network"
    if cx.stuck:
        out.append("    Note over Network: nothing more can happen without a fault")
    out.append(f"    Note over {last}: VIOLATED {cx.property}: {cx.final}")
    return "\n".join(out)


def markdown(cx: Counterexample) -> str:
    return "\n".join(
        [
            f"**{cx.protocol}** under `{cx.faults}`: **{cx.property}** violated "
            f"in {cx.length} steps ({cx.final}).",
            "",
            "```mermaid",
            mermaid(cx),
            "```",
        ]
    )


def _frame_json(f: FrameValue) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": f.kind}
    out.update(dict(f.fields))
    return out


def to_trace_lines(cx: Counterexample) -> list[str]:
    """The counterexample as a JSONL trace (the format ``ackproof validate`` reads)."""
    lines: list[dict[str, Any]] = []
    current = 0

    def emit(node: str | None, event: TraceEvent, **extra: Any) -> None:
        rec: dict[str, Any] = {"node": node or "network", "event": event}
        rec.update(extra)
        rec["seq"] = len(lines)
        rec["step"] = current
        lines.append(rec)

    for s in cx.steps:
        current = s.number
        if s.kind in ("lose", "duplicate") and s.frame is not None:
            lost = s.kind == "lose"
            emit(
                None, TraceEvent.DROP if lost else TraceEvent.DUPLICATE, frame=_frame_json(s.frame)
            )
        for node, event, what in observations(s):
            if isinstance(what, FrameValue):
                emit(node, event, frame=_frame_json(what), **_msg_of(what))
            elif what is not None:
                emit(node, event, msg=what)
            else:
                emit(node, event)
    return [json.dumps(r, sort_keys=True) for r in lines]


Observation = tuple[str, TraceEvent, int | FrameValue | None]  # (node, event, msg or frame)


def observations(step: Step) -> list[Observation]:
    """What an observer of the step's node records, input first (``submit`` or
    ``receive``), then the step's effects in program order, ``crash``/``restart`` where
    the crash fell.  Network
    losses and duplications are invisible to the nodes: empty."""
    if step.kind in ("lose", "duplicate"):
        return []
    node = step.node or "network"
    out: list[Observation] = [(node, TraceEvent.SUBMIT, m) for m in step.submitted]
    if step.kind == "deliver" and step.frame is not None:
        out.append((node, TraceEvent.RECEIVE, step.frame))
    for d in step.done:
        if d.kind == "crash":
            out += [(node, TraceEvent.CRASH, None), (node, TraceEvent.RESTART, None)]
        elif d.kind == "send":
            out.append((node, TraceEvent.SEND, d.frame))
        else:
            out.append((node, TraceEvent(d.kind), d.msg))
    return out


def _msg_of(f: FrameValue) -> dict[str, Any]:
    d = dict(f.fields)
    return {"msg": d["msg"]} if "msg" in d else {}
