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
from collections import Counter
from dataclasses import dataclass
from typing import Any

from ackproof.spec.explore import Path
from ackproof.spec.interp import compile_system
from ackproof.spec.system import Action, FrameValue, State, System

from .result import replay


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a counterexample, decoded."""

    number: int
    label: str
    kind: str
    node: str | None
    channel: str | None
    frame: FrameValue | None
    crash_after: int | None
    sent: tuple[tuple[str, FrameValue], ...]  # (channel, frame)
    submitted: tuple[int, ...]
    processed: tuple[int, ...]  # one entry per processing
    acked: tuple[int, ...]
    changes: tuple[tuple[str, str, str], ...]  # (field, before, after)

    def effects(self) -> list[str]:
        out = [f"send {f}" for _, f in self.sent]
        out += [f"process m={m}" for m in self.processed]
        out += [f"ack m={m}" for m in self.acked]
        if self.crash_after is not None or self.kind == "crash":
            out.append("CRASH + restart")
        return out


@dataclass(frozen=True, slots=True)
class Counterexample:
    protocol: str
    faults: str
    property: str
    statement: str
    steps: tuple[Step, ...]
    nodes: tuple[str, ...]
    final: str

    @builtins.property
    def length(self) -> int:
        return len(self.steps)


def _history_delta(system: System, name: str, before: State, after: State) -> list[int]:
    """The messages whose history field ``name`` grew in this step, once per increment."""
    out = []
    for m in range(system.messages):
        i = system.slot(f"{name}[{m}]").index
        out.extend([m] * max(0, int(after[i]) - int(before[i])))
    return out


def decode_step(system: System, number: int, action: Action, before: State, after: State) -> Step:
    """What ``action`` did, taking ``before`` to ``after``, in the spec's own words."""
    sent: list[tuple[str, FrameValue]] = []
    for ch in system.channels:
        pre = Counter(ch.contents(before))
        post = Counter(ch.contents(after))
        if action.kind == "deliver" and action.channel == ch.name and action.frame is not None:
            pre[action.frame] -= 1
        if action.kind in ("lose", "duplicate") and action.channel == ch.name:
            continue
        for f, k in (post - pre).items():
            sent.extend([(ch.name, f)] * k)
    changes = []
    for sl in system.slots:
        if sl.owner in system.nodes and before[sl.index] != after[sl.index]:
            changes.append((sl.name, sl.show(before[sl.index]), sl.show(after[sl.index])))
    frame = action.frame
    if frame is None and action.position is not None and action.channel is not None:
        ch = next(c for c in system.channels if c.name == action.channel)
        inflight = ch.contents(before)
        if action.position < len(inflight):
            frame = inflight[action.position]
    return Step(
        number=number,
        label=action.label,
        kind=action.kind,
        node=action.node,
        channel=action.channel,
        frame=frame,
        crash_after=action.crash_after,
        sent=tuple(sent),
        submitted=tuple(_history_delta(system, "submitted", before, after)),
        processed=tuple(_history_delta(system, "processed", before, after)),
        acked=tuple(_history_delta(system, "acked", before, after)),
        changes=tuple(changes),
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
    return Counterexample(
        protocol=system.protocol,
        faults=system.faults.name,
        property=prop,
        statement=system.properties[prop].statement,
        steps=tuple(steps),
        nodes=system.nodes,
        final=_final(system, prop, before),
    )


def _final(system: System, prop: str, state: State) -> str:
    """What is wrong in the last state, in words."""
    m_range = range(system.messages)

    def val(name: str) -> Any:
        return state[system.slot(name).index]

    if prop == "no-duplicate":
        ms = [m for m in m_range if val(f"processed[{m}]") >= 2]
        return f"message {ms[0]} processed twice" if ms else "a message processed twice"
    if prop == "no-loss":
        ms = [m for m in m_range if val(f"submitted[{m}]") and val(f"processed[{m}]") == 0]
        what = f"message {ms[0]}" if ms else "a message"
        return f"{what} was submitted, never processed, and no copy of it is left"
    if prop == "no-phantom":
        return "a message was processed that was never submitted"
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
        "steps": [
            {
                "step": s.number,
                "action": s.label,
                "kind": s.kind,
                "node": s.node,
                "channel": s.channel,
                "frame": str(s.frame) if s.frame is not None else None,
                "crash_after": s.crash_after,
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
    for s in cx.steps:
        node = _lane(s.node) if s.node else None
        if s.kind == "submit" and node:
            out.append(f"    Note over {node}: {s.number}. {s.label}")
        elif s.kind == "deliver" and node and s.frame:
            out.append(f"    Network->>{node}: {s.number}. {s.frame}")
        elif s.kind == "timer" and node:
            out.append(
                f"    Note over {node}: {s.number}. timeout ({s.label.split(' timer ')[-1]})"
            )
        elif s.kind == "lose":
            out.append(f"    Note over Network: {s.number}. LOST {s.frame or ''}".rstrip())
        elif s.kind == "duplicate":
            out.append(f"    Note over Network: {s.number}. DUPLICATED {s.frame or ''}".rstrip())
        elif s.kind == "crash" and node:
            out.append(f"    Note over {node}: {s.number}. CRASH, restart")
        for m in s.processed:
            out.append(f"    Note over {node or 'Network'}: process m={m}")
        for _, f in s.sent:
            out.append(f"    {node or 'Network'}->>Network: {f}")
        for m in s.acked:
            out.append(f"    Note over {node or 'Network'}: ack m={m} (delivered)")
        if s.crash_after is not None and node:
            out.append(f"    Note over {node}: CRASH after {s.crash_after} effect(s), restart")
    last = _lane(nodes[-1]) if nodes else "Network"
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

    def emit(node: str | None, event: str, **extra: Any) -> None:
        rec: dict[str, Any] = {"node": node or "network", "event": event}
        rec.update(extra)
        rec["seq"] = len(lines)
        rec["step"] = current
        lines.append(rec)

    for s in cx.steps:
        current = s.number
        if s.kind in ("lose", "duplicate") and s.frame is not None:
            emit(None, "drop" if s.kind == "lose" else "duplicate", frame=_frame_json(s.frame))
        for node, event, what in observations(s):
            if isinstance(what, FrameValue):
                emit(node, event, frame=_frame_json(what), **_msg_of(what))
            elif what is not None:
                emit(node, event, msg=what)
            else:
                emit(node, event)
    return [json.dumps(r, sort_keys=True) for r in lines]


Observation = tuple[str, str, int | FrameValue | None]  # (node, event, msg or frame)


def observations(step: Step) -> list[Observation]:
    """What an observer of the step's node records, input first: ``submit`` or ``receive``,
    then ``process``, ``send``, ``ack``, and ``crash``/``restart`` if it crashed.  Network
    losses and duplications are invisible to the nodes: empty."""
    if step.kind in ("lose", "duplicate"):
        return []
    node = step.node or "network"
    out: list[Observation] = [(node, "submit", m) for m in step.submitted]
    if step.kind == "deliver" and step.frame is not None:
        out.append((node, "receive", step.frame))
    out += [(node, "process", m) for m in step.processed]
    out += [(node, "send", f) for _, f in step.sent]
    out += [(node, "ack", m) for m in step.acked]
    if step.crash_after is not None or step.kind == "crash":
        out += [(node, "crash", None), (node, "restart", None)]
    return out


def _msg_of(f: FrameValue) -> dict[str, Any]:
    d = dict(f.fields)
    return {"msg": d["msg"]} if "msg" in d else {}
