"""``ackproof check FILE.py``: check a protocol variant's properties, and the steps
``explain`` shares with it: the target loaded and lowered within the time limit, the
properties to check, the header and the verdict lines."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ackproof.interrupts import time_limit
from ackproof.loader import InputError, resolve
from ackproof.output import Progress, exit_code, remove_stale, write_reports, write_text
from ackproof.spec import Faults, ProtocolDef, SpecError, System, apply_fault_list
from ackproof.spec.history import resolve as resolve_props

if TYPE_CHECKING:
    from ackproof.report import Row


def load_target(target: str, protocol: str | None, timeout: float | None) -> ProtocolDef:
    """:func:`resolve` within the time limit (an endless loop at import is stopped)."""
    with time_limit(timeout, f"loading {target}"):
        return resolve(target, protocol)


def lowered(pdef: ProtocolDef, n: int, faults: Faults, timeout: float | None) -> System:
    """``pdef``'s system with ``n`` messages under ``faults``, within the time limit."""
    with time_limit(timeout, f"lowering {pdef.name} with {n} messages"):
        return pdef.system(n, faults)


def system_for(
    pdef: ProtocolDef, messages: int | None, faults: str | None, timeout: float | None = None
) -> System:
    """The protocol's system, lowered within the time limit; ``faults`` (a ``--faults``
    list) replaces which faults happen and keeps the declared budgets and capacity unless
    it sets them."""
    n = pdef.messages if messages is None else messages
    try:
        model = pdef.faults if faults is None else apply_fault_list(pdef.faults, faults)
        return lowered(pdef, n, model, timeout)
    except SpecError as e:
        raise InputError(str(e)) from None


def faults_header(pdef: ProtocolDef, system: System, given: str | None) -> str:
    """What fault model was checked, and what ``--faults`` replaced, if anything."""
    text = f"faults {system.faults.describe()}"
    if given is not None and system.faults != pdef.faults:
        text += f" (--faults {given} replaced the declared {pdef.faults.describe()})"
    return text


def claimed(pdef: ProtocolDef, asked: Sequence[str] | None) -> tuple[str, ...]:
    """The properties to check: the asked ones, else the claimed ones; none is exit 2."""
    try:
        props = tuple(resolve_props(list(asked))) if asked else tuple(pdef.claims)
    except KeyError as e:
        raise InputError(str(e.args[0])) from None
    if not props:
        why = "no property given" if asked else f"{pdef.name} claims nothing (claims=[])"
        raise InputError(f"{why}: nothing to check; name one with --property P")
    return props


def verdict_lines(
    pdef: ProtocolDef, system: System, given: str | None, rows: Sequence[Row]
) -> list[str]:
    """The header (instance and fault model) and a line per checked property."""
    from ackproof.report import cell

    out = [f"{pdef.name}: N = {system.messages} messages, {faults_header(pdef, system, given)}"]
    for r in rows:
        res = r.result
        out.append(
            f"  {res.property:13} {cell(res):16} {res.engine}, {res.seconds:.2f} s: {res.detail}"
        )
    return out


def cmd_check(args: argparse.Namespace) -> int:
    pdef = load_target(args.file, args.protocol, args.timeout)
    props = claimed(pdef, args.property)
    system = system_for(pdef, args.messages, args.faults, args.timeout)

    from ackproof.proofs.trace import mermaid, table, to_trace_lines
    from ackproof.report import Row, to_json_document
    from ackproof.run import run_many

    progress = Progress(args.quiet or args.json)
    rows = []
    progress.show(f"{pdef.name}: {', '.join(props)}")
    checked = run_many(
        system,
        props,
        engine=args.engine,
        depth=args.depth,
        timeout=args.timeout,
        certify=args.certify,
    )
    for prop in props:
        result, cx = checked[prop]
        ok = result.verdict in ("proved", "holds")
        rows.append(Row(result, "holds", ok, "guarantees", cx, system.faults))
    progress.done()
    write_reports(args, "check", rows, title=f"ackproof check {pdef.name}")
    if args.trace_out:
        first = next((r.counterexample for r in rows if r.counterexample is not None), None)
        if first is not None:
            write_text(args.trace_out, "\n".join(to_trace_lines(first)))
        else:
            remove_stale(args.trace_out)
    if args.json:
        print(to_json_document("check", rows))
        return exit_code(rows, prove=False)
    print("\n".join(verdict_lines(pdef, system, args.faults, rows)))
    for r in rows:
        if r.counterexample is not None:
            print()
            print(f"counterexample for {r.result.property} ({r.counterexample.length} steps):")
            print(table(r.counterexample))
            print()
            print(mermaid(r.counterexample))
    return exit_code(rows, prove=False)
