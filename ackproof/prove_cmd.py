"""``ackproof prove``: the guarantee matrix of the built-in protocols and the broken
variants, each against its expected verdict (``--library``: :mod:`ackproof.library_cmd`)."""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ackproof import __version__
from ackproof.check_cmd import lowered
from ackproof.loader import InputError
from ackproof.obligations import Obligation, as_expected, builtin_obligations
from ackproof.output import Progress, exit_code, write_reports

if TYPE_CHECKING:
    from ackproof.report import Row


def cmd_prove(args: argparse.Namespace) -> int:
    if args.library or args.only is not None:
        if not args.library:
            raise InputError("--only selects library protocols: use it with --library")
        from ackproof.library_cmd import run as run_library

        return run_library(args)
    from ackproof.report import Row, to_json_document
    from ackproof.run import run_many

    progress = Progress(args.quiet or args.json)
    obligations = builtin_obligations(broken=not args.no_broken)
    started = time.monotonic()
    # One exploration serves every cell that shares a system (protocol and fault model).
    groups: dict[tuple[str, str], list[Obligation]] = {}
    for ob in obligations:
        groups.setdefault((ob.protocol.name, ob.faults_id), []).append(ob)
    done: dict[tuple[str, str, str], Row] = {}
    for k, group in enumerate(groups.values(), 1):
        first = group[0]
        progress.show(f"[{k}/{len(groups)}] {first.protocol.name} / {first.faults_id}")
        system = lowered(first.protocol, args.messages, first.faults, args.timeout)
        checked = run_many(
            system,
            [ob.property for ob in group],
            engine=args.engine,
            depth=args.depth,
            timeout=args.timeout,
            certify=args.certify,
        )
        for ob in group:
            result, cx = checked[ob.property]
            result = dataclasses.replace(result, faults=ob.faults_id)
            ok = as_expected(ob.expected, result.verdict)
            row = Row(result, ob.expected, ok, ob.section, cx, system.faults)
            done[ob.protocol.name, ob.faults_id, ob.property] = row
    rows = [done[ob.protocol.name, ob.faults_id, ob.property] for ob in obligations]
    progress.done()
    elapsed = time.monotonic() - started
    write_reports(args, "prove", rows, title="ackproof prove")
    if args.json:
        print(to_json_document("prove", rows))
    else:
        print("\n".join(summary(rows, args.messages, elapsed)))
    return exit_code(rows, prove=True)


def summary(rows: Sequence[Row], messages: int, elapsed: float) -> list[str]:
    """``prove``'s text: the fault models, the matrix, the broken variants, the commands
    that show each violated cell, and what was not as expected."""
    from ackproof.report import cell, matrix

    out = [f"ackproof {__version__}: guarantee matrix, N = {messages} messages"]
    out += [_models(rows), "", matrix(rows)]
    broken = [r for r in rows if r.section == "broken"]
    if broken:
        out += ["", "broken variants (each must be caught):"]
        for r in broken:
            mark = "caught" if r.ok else "NOT CAUGHT"
            out.append(f"  {r.result.protocol:32} {r.result.property:13} {cell(r.result)}  {mark}")
    violated = [r for r in rows if r.section == "guarantees" and r.result.verdict == "violated"]
    if violated:
        out += ["", "counterexamples of the violated cells:"]
        for r in violated:
            res = r.result
            where = f"--faults {res.faults} --property {res.property}"
            out.append(f"  ackproof explain {res.protocol} {where}")
    bad = [r for r in rows if not r.ok]
    out += [
        "",
        f"{len(rows) - len(bad)}/{len(rows)} as expected in {elapsed:.1f} s"
        + (f"; {len(bad)} NOT as expected" if bad else ""),
    ]
    for r in bad:
        out.append(
            f"  !! {r.result.protocol} / {r.result.faults} / {r.result.property}: "
            f"expected {r.expected}, got {cell(r.result)} ({r.result.detail})"
        )
    return out


def _models(rows: Sequence[Row]) -> str:
    """The matrix's fault models with their budgets and capacity: one line when they
    differ only in which faults happen."""
    models = {r.result.faults: r.fault_model for r in rows if r.section == "guarantees"}
    settings = {", ".join(m.settings()) for m in models.values() if m is not None}
    if len(settings) == 1:
        return f"every fault model below: {settings.pop()}"
    return "\n".join(f"faults {f}: {m.describe()}" for f, m in models.items() if m is not None)
