"""``ackproof explain TARGET``: show one counterexample in full (table, chart, files), or
say exactly why there is none, with ``check``'s exit code."""

from __future__ import annotations

import argparse
import json

from ackproof.check_cmd import claimed, faults_header, load_target, system_for, verdict_lines
from ackproof.loader import InputError
from ackproof.output import EXIT_OK, EXIT_VIOLATED, exit_code, remove_stale, write_text
from ackproof.spec.history import PROPERTIES


def cmd_explain(args: argparse.Namespace) -> int:
    if args.property is not None and args.property not in PROPERTIES:
        raise InputError(f"unknown property {args.property!r} (known: {', '.join(PROPERTIES)})")
    pdef = load_target(args.target, args.protocol, args.timeout)
    candidates = claimed(pdef, [args.property] if args.property else None)
    system = system_for(pdef, args.messages, args.faults, args.timeout)

    from ackproof.chart import html, svg
    from ackproof.proofs.trace import mermaid, table, to_json, to_trace_lines
    from ackproof.report import Row, to_json_document
    from ackproof.run import run_one

    rows: list[Row] = []
    for prop in candidates:
        result, cx = run_one(
            system, prop, engine=args.engine, depth=args.depth, timeout=args.timeout
        )
        rows.append(
            Row(result, "holds", result.verdict == "proved", "guarantees", cx, system.faults)
        )
        if cx is None:
            continue
        if args.svg:
            write_text(args.svg, svg(cx))
        if args.html:
            write_text(args.html, html(cx))
        if args.trace_out:
            write_text(args.trace_out, "\n".join(to_trace_lines(cx)))
        if args.json:
            print(json.dumps({**to_json(cx), "fault_model": system.faults.to_json()}, indent=2))
        else:
            print(f"{cx.protocol} under {cx.faults}: {cx.property} violated in {cx.length} steps")
            print(faults_header(pdef, system, args.faults))
            print(f"promise: {cx.statement}")
            print()
            print(table(cx))
            print()
            print(mermaid(cx))
        return EXIT_VIOLATED
    # No counterexample: say exactly what was found, with check's exit code.
    if args.trace_out:
        remove_stale(args.trace_out)
    code = exit_code(rows, prove=False)
    if args.json:
        print(to_json_document("explain", rows))
        return code
    print("\n".join(verdict_lines(pdef, system, args.faults, rows)))
    if all(r.result.verdict == "proved" for r in rows):
        print("no counterexample: every property proved, nothing to explain")
    elif code == EXIT_OK:
        print(
            f"no counterexample up to depth {args.depth} (a bounded check, not a proof; "
            "try --engine auto or a larger --depth)"
        )
    else:
        print("no counterexample, but no proof either (see the verdicts above)")
    return code
