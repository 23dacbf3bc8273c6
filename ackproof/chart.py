"""A counterexample as a standalone SVG (or HTML) sequence chart: no tools needed to view it.

Lanes: each node, with the network between the first node and the rest.  Each step is a
row: deliveries are arrows from the network, sends arrows to it, and losses, duplicates,
crashes, processing and acks are labelled boxes on their lane.
"""

from __future__ import annotations

from html import escape

from ackproof.proofs.trace import Counterexample, table

_ROW = 30
_LANE = 230
_TOP = 70


def _lanes(cx: Counterexample) -> list[str]:
    nodes = list(cx.nodes)
    return [nodes[0], "network", *nodes[1:]] if len(nodes) > 1 else [*nodes, "network"]


def svg(cx: Counterexample) -> str:
    lanes = _lanes(cx)
    x = {name: 120 + i * _LANE for i, name in enumerate(lanes)}
    rows: list[str] = []
    y = _TOP

    def box(lane: str, text: str, fill: str) -> None:
        nonlocal y
        w = max(60, 7 * len(text) + 16)
        rows.append(
            f'<rect x="{x[lane] - w / 2}" y="{y - 15}" width="{w}" height="22" rx="4" '
            f'fill="{fill}" stroke="#555"/>'
            f'<text x="{x[lane]}" y="{y}" text-anchor="middle">{escape(text)}</text>'
        )
        y += _ROW

    def arrow(src: str, dst: str, text: str) -> None:
        nonlocal y
        x1, x2 = x[src], x[dst]
        rows.append(
            f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" stroke="#222" '
            f'marker-end="url(#head)"/>'
            f'<text x="{(x1 + x2) / 2}" y="{y - 5}" text-anchor="middle">{escape(text)}</text>'
        )
        y += _ROW

    for s in cx.steps:
        node = s.node
        if s.kind == "submit" and node:
            box(node, f"{s.number}. submit", "#e8f0fe")
        elif s.kind == "deliver" and node and s.frame:
            arrow("network", node, f"{s.number}. {s.frame}")
        elif s.kind == "timer" and node:
            box(node, f"{s.number}. timeout", "#fff4d6")
        elif s.kind == "lose":
            box("network", f"{s.number}. LOST {s.frame or ''}", "#fde0e0")
        elif s.kind == "duplicate":
            box("network", f"{s.number}. DUPLICATED {s.frame or ''}", "#fde0e0")
        elif s.kind == "crash" and node:
            box(node, f"{s.number}. CRASH, restart", "#f8c0c0")
        lane = node or "network"
        for d in s.done:
            if d.kind == "process":
                box(lane, f"process m={d.msg}", "#e0f5e0")
            elif d.kind == "send":
                arrow(lane, "network", str(d.frame))
            elif d.kind == "ack":
                box(lane, f"ack m={d.msg}", "#e0f5e0")
            elif s.crash_after is not None:
                box(lane, f"CRASH after {s.crash_after} effect(s)", "#f8c0c0")
    box(lanes[-1], f"VIOLATED {cx.property}", "#ff8080")
    width = 120 + len(lanes) * _LANE
    height = y + 20
    heads = "".join(
        f'<text x="{x[n]}" y="30" text-anchor="middle" font-weight="bold">{escape(n)}</text>'
        f'<line x1="{x[n]}" y1="40" x2="{x[n]}" y2="{height - 10}" stroke="#bbb" '
        'stroke-dasharray="4 4"/>'
        for n in lanes
    )
    title = escape(f"{cx.protocol} under {cx.faults}: {cx.property} violated ({cx.final})")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
        f"<title>{title}</title>"
        '<defs><marker id="head" markerWidth="10" markerHeight="7" refX="10" refY="3.5" '
        'orient="auto"><polygon points="0 0, 10 3.5, 0 7" fill="#222"/></marker></defs>'
        f'<rect width="100%" height="100%" fill="white"/>{heads}{"".join(rows)}</svg>'
    )


def html(cx: Counterexample) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>ackproof: {escape(cx.protocol)} {escape(cx.property)}</title></head><body>"
        f"<h1>{escape(cx.protocol)}: {escape(cx.property)} violated</h1>"
        f"<p>Fault model: <code>{escape(cx.faults)}</code>. {escape(cx.final)}.</p>"
        f"{svg(cx)}<pre>{escape(table(cx))}</pre></body></html>"
    )
