"""``ackproof prove --library``: check every library protocol against its pinned verdicts.

Each :class:`~ackproof.spec.library.Entry` names the properties it pins, the verdict it
expects for each, and the length of each violated property's shortest counterexample.
The command checks them all (one :func:`~ackproof.proofs.check_many` call per entry, at
the entry's own bounds and fault model), prints a table grouped by system, and exits 0
only when every verdict — and every violated property's counterexample length: every
engine reports a shortest one — is the one pinned.  ``--json``, ``--junit`` and
``--markdown`` write the same reports as ``prove``.

``ackproof list`` shows the library grouped by system (:func:`listing`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence

from ackproof import __version__
from ackproof.loader import InputError
from ackproof.output import Progress, exit_code, write_reports
from ackproof.proofs import EngineName, Result
from ackproof.report import Row, cell, to_json_document
from ackproof.run import run_many
from ackproof.spec.library import LIBRARY, Entry


def select(only: str | None, library: Sequence[Entry] | None = None) -> list[Entry]:
    """The entries of ``library`` (default: :data:`LIBRARY`) that ``--only`` names
    (comma-separated protocol or system names; all when ``None``); an unknown name is an
    :class:`InputError` listing the known ones."""
    library = LIBRARY if library is None else library
    if only is None:
        return list(library)
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    if not wanted:
        raise InputError("--only needs protocol or system names, separated by commas")
    names = {e.name for e in library} | {e.system for e in library}
    unknown = [w for w in wanted if w not in names]
    if unknown:
        known = ", ".join(sorted(names))
        raise InputError(f"--only: no library protocol or system {unknown[0]!r} (known: {known})")
    return [e for e in library if e.name in wanted or e.system in wanted]


def as_pinned(entry: Entry, prop: str, result: Result) -> bool:
    """The verdict is the one pinned and, if violated, at the pinned length."""
    if entry.expected[prop] == "holds":
        return result.verdict in ("proved", "holds")
    if result.verdict != "violated" or result.counterexample is None:
        return False
    return len(result.counterexample) == entry.shortest[prop]


def check_entry(
    entry: Entry, *, engine: EngineName, depth: int, timeout: float | None
) -> list[Row]:
    """Check one entry's pinned properties (one exploration, as ``prove`` checks a system:
    :func:`ackproof.run.run_many`); its rows (section = the entry's system)."""
    system = entry.protocol.system(entry.bound)
    checked = run_many(system, list(entry.expected), engine=engine, depth=depth, timeout=timeout)
    rows = []
    for prop, expected in entry.expected.items():
        result, cx = checked[prop]
        result = dataclasses.replace(result, faults=system.faults.name)
        rows.append(Row(result, expected, as_pinned(entry, prop, result), entry.system, cx))
    return rows


def table(entries: Sequence[Entry], rows: Sequence[Row]) -> str:
    """A row per protocol, a column per property, a block per system; ``!!`` marks a
    verdict (or length) other than the pinned one, ``-`` a property not pinned."""
    props = list(dict.fromkeys(p for e in entries for p in e.expected))
    by = {(r.result.protocol, r.result.property): r for r in rows}
    lines: list[list[str]] = [["system / protocol", *props, "messages"]]
    for system in dict.fromkeys(e.system for e in entries):
        lines.append([f"{system}:", *([""] * len(props)), ""])
        for e in (e for e in entries if e.system == system):
            line = [f"  {e.name}"]
            for p in props:
                r = by.get((e.name, p))
                line.append("-" if r is None else cell(r.result) + ("" if r.ok else " !!"))
            line.append(str(e.bound))
            lines.append(line)
    widths = [max(len(x[i]) for x in lines) for i in range(len(lines[0]))]

    def fmt(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([fmt(lines[0]), "  ".join("-" * w for w in widths), *map(fmt, lines[1:])])


def run(args: argparse.Namespace) -> int:
    """``ackproof prove --library [--only NAMES]``: the exit code as ``prove``'s."""
    entries = select(getattr(args, "only", None))
    progress = Progress(args.quiet or args.json)
    rows: list[Row] = []
    started = time.monotonic()
    for k, entry in enumerate(entries, 1):
        progress.show(f"[{k}/{len(entries)}] {entry.name}")
        rows += check_entry(entry, engine=args.engine, depth=args.depth, timeout=args.timeout)
    progress.done()
    elapsed = time.monotonic() - started
    # The reports' sections are "guarantees" and "broken": every library row is a
    # guarantee checked against its pinned verdict.
    report_rows = [dataclasses.replace(r, section="guarantees") for r in rows]
    write_reports(args, "prove --library", report_rows, title="ackproof prove --library")
    if args.json:
        print(to_json_document("prove --library", report_rows))
        return exit_code(rows, prove=True)
    print(f"ackproof {__version__}: the library, {len(entries)} protocols at their own bounds")
    print()
    print(table(entries, rows))
    bad = [r for r in rows if not r.ok]
    print()
    print(
        f"{len(rows) - len(bad)}/{len(rows)} as pinned in {elapsed:.1f} s"
        + (f"; {len(bad)} NOT as pinned" if bad else "")
    )
    notes = [e for e in entries if e.note]
    if notes:
        print()
        print("findings:")
        for e in notes:
            print(f"  {e.name}: {e.note}")
    pinned = {e.name: e for e in entries}
    for r in bad:
        res, entry = r.result, pinned[r.result.protocol]
        want: str = entry.expected[res.property]
        if want == "violated":
            want = f"violated ({entry.shortest[res.property]})"
        print(
            f"  !! {res.protocol} / {res.property}: pinned {want}, got {cell(res)} ({res.detail})"
        )
    return exit_code(rows, prove=True)


def listing(library: Sequence[Entry] | None = None) -> str:
    """The library grouped by system, for ``ackproof list``."""
    library = LIBRARY if library is None else library
    out = ["library (ackproof prove --library; ackproof explain NAME):"]
    for system in dict.fromkeys(e.system for e in library):
        out.append(f"  {system}:")
        for e in (e for e in library if e.system == system):
            out.append(f"    {e.name:38} {e.protocol.description}")
    return "\n".join(out)
