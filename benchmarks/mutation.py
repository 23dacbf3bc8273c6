"""Mutation testing: the kill rate of every shipped protocol's mutants, and every engine
disagreement found on them.

Each mutant (:mod:`ackproof.mutants`) is checked by the explicit engine exhaustively (the
oracle, eventual delivery included) and compared with the original protocol's verdicts:
*killed* if some verdict changed, *survived* if none did, *equivalent* if it lowers to the
same transition system (not counted), *stillborn* if it cannot be defined (not counted).
Every other engine is then checked against the oracle (:mod:`ackproof.agreement`).

    python benchmarks/mutation.py                      # every engine, N = 1
    python benchmarks/mutation.py --engines bmc -n 2   # BMC only, two messages
    python benchmarks/mutation.py --engines none       # kill rate only (seconds)
    python benchmarks/mutation.py --only my_exactly_once

Exit status 1 if an engine disagreed with the oracle.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ackproof.agreement import ENGINES
from ackproof.mutant_judge import Judged, judge
from ackproof.mutants import OPERATORS, all_originals, mutants, shipped_sources
from ackproof.proofs import EngineName


def _engines(text: str) -> tuple[EngineName, ...]:
    if text == "none":
        return ()
    chosen = tuple(e.strip() for e in text.split(",") if e.strip())
    unknown = [e for e in chosen if e not in ENGINES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown engine {unknown[0]!r}; use {', '.join(ENGINES)}")
    return tuple(e for e in ENGINES if e in chosen)


def _row(label: str, c: Counter[str]) -> str:
    counted = c["killed"] + c["survived"]
    rate = f"{100 * c['killed'] / counted:5.1f}%" if counted else "    -"
    return (
        f"{label:24} {counted:6} {c['killed']:6} {c['survived']:8} {c['equivalent']:10} "
        f"{c['stillborn']:9} {rate:>7}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", "--messages", type=int, default=1, help="messages (default 1)")
    ap.add_argument(
        "--engines",
        type=_engines,
        default=ENGINES,
        help=f"comma-separated engines checked against the oracle, or none (default "
        f"{','.join(ENGINES)})",
    )
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per engine check")
    ap.add_argument("--depth", type=int, default=12, help="BMC depth cap (default 12)")
    ap.add_argument("--only", default="", help="only source files whose name contains this")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every mutant")
    args = ap.parse_args()

    originals = all_originals()
    by_source: dict[str, Counter[str]] = {}
    by_operator: dict[str, Counter[str]] = {op: Counter() for op in OPERATORS}
    found: list[tuple[Judged, str]] = []
    start = time.monotonic()
    for source in shipped_sources():
        if args.only not in source.path.stem:
            continue
        counts = by_source.setdefault(source.path.stem, Counter())
        for m in mutants(source):
            for j in judge(
                m,
                originals,
                messages=args.messages,
                engines=args.engines,
                depth_cap=args.depth,
                timeout=args.timeout,
            ):
                counts[j.status] += 1
                by_operator[m.site.operator][j.status] += 1
                if args.verbose:
                    print(j, flush=True)
                for dis in j.disagreements:
                    found.append((j, str(dis)))
                    print(f"DISAGREEMENT {m} [{j.protocol}]: {dis}", flush=True)

    head = (
        f"{'':24} {'counted':>6} {'killed':>6} {'survived':>8} {'equivalent':>10} "
        f"{'stillborn':>9} {'kill':>7}"
    )
    print(f"\nmutants of the shipped protocols, N = {args.messages}, per (mutant, protocol)")
    print(head)
    for name, c in by_source.items():
        print(_row(name, c))
    print()
    for op, c in by_operator.items():
        print(_row(op, c))
    total: Counter[str] = Counter()
    for c in by_source.values():
        total.update(c)
    print()
    print(_row("total", total))
    engines = ", ".join(args.engines) or "none"
    print(
        f"\nengines checked against the explicit oracle: {engines}; "
        f"{len(found)} disagreement(s); {time.monotonic() - start:.0f} s"
    )
    for j, d in found:
        print(f"  {j.mutant} [{j.protocol}]: {d}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
