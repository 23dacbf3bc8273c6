"""Reports of a run: the guarantee matrix, JSON, JUnit XML, Markdown.

The JSON document is the stable contract (see README, "JSON output"):
``{"ackproof": VERSION, "command": ..., "results": [result, ...]}``, each result with
``protocol``, ``faults``, ``property``, ``verdict``, ``expected``, ``as_expected``,
``engine``, ``depth``, ``seconds``, ``states``, ``detail``, ``certificate``,
``witness_length``, ``fault_model`` (every setting of the fault model checked: budgets,
capacity, links; see :meth:`~ackproof.spec.Faults.to_json`) and ``counterexample``
(``null`` or ``{"length", "violation", "steps"}``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ackproof import __version__
from ackproof.proofs import Result
from ackproof.proofs.trace import Counterexample, markdown, table, to_json
from ackproof.spec import Faults


@dataclass(frozen=True, slots=True)
class Row:
    """One checked obligation: the result, what was expected, the decoded counterexample."""

    result: Result
    expected: str | None
    ok: bool
    section: str
    counterexample: Counterexample | None
    #: The fault model actually checked (budgets, capacity, links), when known.
    fault_model: Faults | None = None

    @property
    def faults_text(self) -> str:
        """The fault model as reports show it: every budget and the capacity."""
        fm = self.fault_model
        return self.result.faults if fm is None else fm.describe()


def cell(r: Result) -> str:
    if r.verdict == "proved":
        return "proved"
    if r.verdict == "holds":
        return f"holds <= {r.depth}"
    if r.verdict == "violated":
        n = len(r.counterexample) if r.counterexample is not None else "?"
        return f"violated ({n})"
    return r.verdict


def matrix(rows: Sequence[Row], *, section: str = "guarantees") -> str:
    """The guarantee matrix: a row per protocol, a column per property, a block per
    fault model (fault model x property, folded so it fits a terminal)."""
    chosen = [r for r in rows if r.section == section]
    if not chosen:
        return ""
    faults = list(dict.fromkeys(r.result.faults for r in chosen))
    props = list(dict.fromkeys(r.result.property for r in chosen))
    protocols = list(dict.fromkeys(r.result.protocol for r in chosen))
    by = {(r.result.protocol, r.result.faults, r.result.property): r for r in chosen}
    table: list[list[str]] = [["faults / protocol", *props]]
    for f in faults:
        table.append([f"{f}:", *([""] * len(props))])
        for proto in protocols:
            line = [f"  {proto}"]
            for p in props:
                found = by.get((proto, f, p))
                text = "" if found is None else cell(found.result)
                line.append(text + ("" if found is None or found.ok else " !!"))
            table.append(line)
    widths = [max(len(x[i]) for x in table) for i in range(len(props) + 1)]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [fmt(table[0]), "  ".join("-" * w for w in widths)]
    out.extend(fmt(line) for line in table[1:])
    return "\n".join(out)


def result_json(row: Row) -> dict[str, Any]:
    r = row.result
    cx: dict[str, Any] | None = None
    if row.counterexample is not None:
        full = to_json(row.counterexample)
        cx = {"length": full["length"], "violation": full["violation"], "steps": full["steps"]}
    return {
        "protocol": r.protocol,
        "faults": r.faults,
        "property": r.property,
        "verdict": r.verdict,
        "expected": row.expected,
        "as_expected": row.ok,
        "engine": r.engine,
        "depth": r.depth,
        "seconds": round(r.seconds, 4),
        "states": r.states,
        "detail": r.detail,
        "certificate": r.certificate,
        "witness_length": len(r.witness) if r.witness is not None else None,
        "fault_model": None if row.fault_model is None else row.fault_model.to_json(),
        "counterexample": cx,
    }


def to_json_document(command: str, rows: Sequence[Row]) -> str:
    doc = {
        "ackproof": __version__,
        "command": command,
        "results": [result_json(r) for r in rows],
    }
    return json.dumps(doc, indent=2)


def junit(rows: Sequence[Row], *, suite: str = "ackproof") -> str:
    failures = sum(1 for r in rows if not r.ok and r.result.verdict != "inconclusive")
    errors = sum(1 for r in rows if r.result.verdict == "inconclusive")
    total = sum(r.result.seconds for r in rows)
    ts = ET.Element(
        "testsuite",
        name=suite,
        tests=str(len(rows)),
        failures=str(failures),
        errors=str(errors),
        time=f"{total:.3f}",
    )
    for row in rows:
        r = row.result
        tc = ET.SubElement(
            ts,
            "testcase",
            classname=f"ackproof.{r.protocol}",
            name=f"{r.faults} / {r.property}",
            time=f"{r.seconds:.3f}",
        )
        props = ET.SubElement(tc, "properties")
        ET.SubElement(props, "property", name="faults", value=row.faults_text)
        text = f"faults: {row.faults_text}\nverdict: {cell(r)} (engine {r.engine}); {r.detail}"
        if row.counterexample is not None:
            text += "\n" + table(row.counterexample)
        if r.verdict == "inconclusive":
            ET.SubElement(tc, "error", message=f"inconclusive: {r.detail}").text = text
        elif not row.ok:
            msg = f"expected {row.expected}, got {cell(r)}"
            ET.SubElement(tc, "failure", message=msg).text = text
        else:
            ET.SubElement(tc, "system-out").text = text
    return ET.tostring(ts, encoding="unicode", xml_declaration=True)


def markdown_report(title: str, rows: Sequence[Row]) -> str:
    out = [f"## {title}", ""]
    for section, heading in (("guarantees", "Guarantee matrix"), ("broken", "Broken variants")):
        chosen = [r for r in rows if r.section == section]
        if not chosen:
            continue
        out += [f"### {heading}", "", "| protocol | faults | property | verdict | expected |"]
        out.append("|---|---|---|---|---|")
        for r in chosen:
            mark = "" if r.ok else " ❌"
            out.append(
                f"| {r.result.protocol} | {r.result.faults} | {r.result.property} | "
                f"{cell(r.result)}{mark} | {r.expected or ''} |"
            )
        out.append("")
        models = {r.result.faults: r.faults_text for r in chosen if r.fault_model is not None}
        if models:
            out += ["Fault models checked:", ""]
            out += [f"- `{name}`: {text}" for name, text in models.items()]
            out.append("")
    charts = [r for r in rows if r.counterexample is not None]
    if charts:
        out += ["### Counterexamples", ""]
        for r in charts:
            assert r.counterexample is not None
            out += [markdown(r.counterexample), ""]
    return "\n".join(out)
