"""Explicit-search benchmark: packed states against tuple states, side by side in one run.

For at-least-once and exactly-once at N = 3, 4, 5 and a few library protocols, runs the
breadth-first search of :func:`ackproof.spec.explore` twice on the same compiled system —
over tuple states (``packed=False``, the engine before packing) and over packed states
(the default) — checking every property, under the same state cap, and prints states per
second for both, the speed-up, and the memory the visited set held (estimated); then the
explicit engine end to end (search, liveness graph, verdicts) both ways.  The two
searches must agree on every count (the script stops if they do not).  Each search runs
``--repeat`` times; the best time counts (the machine is shared).

    python benchmarks/explicit.py                   # cap 300,000 states per search
    python benchmarks/explicit.py --max-states 1000000 --repeat 3
    python benchmarks/explicit.py --quick           # N = 3 and one library protocol
    python benchmarks/explicit.py --por             # partial-order reduction vs full

``--por`` compares instead the full packed search with the partial-order-reduced one
(:mod:`ackproof.spec.por`) on the invariant-only properties (no ``eventually``): the
built-ins at N = 3..6 and every library protocol, states and seconds side by side (a capped
search compares nothing: its row says so).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ackproof.proofs import explicit
from ackproof.spec import System, explore
from ackproof.spec.explore import Exploration
from ackproof.spec.interp import compile_system
from ackproof.spec.library import LIBRARY
from ackproof.spec.por import explore_por
from ackproof.spec.protocols import BUILTIN

LIBRARY_CASES = ("outbox-relay", "textbook-sr-w3-m4")


def _timed(s: System, packed: bool, cap: int, repeat: int) -> tuple[float, Exploration]:
    comp = compile_system(s)
    if packed:
        comp.packed()  # compiled once, before the clock starts, as ``auto`` does
    best, ex = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        ex = explore(s, compiled=comp, packed=packed, max_states=cap)
        best = min(best, time.perf_counter() - start)
    assert ex is not None
    return best, ex


def _compile_seconds(s: System) -> tuple[float, float]:
    start = time.perf_counter()
    comp = compile_system(s)
    mid = time.perf_counter()
    comp.packed()
    return mid - start, time.perf_counter() - mid


def row(label: str, s: System, cap: int, repeat: int) -> float:
    t_old, old = _timed(s, False, cap, repeat)
    t_new, new = _timed(s, True, cap, repeat)
    same = (old.states, old.transitions, old.depth, old.complete, old.violations) == (
        new.states,
        new.transitions,
        new.depth,
        new.complete,
        new.violations,
    )
    if not same:
        raise SystemExit(f"{label}: the packed search disagrees with the tuple search")
    c_old, c_new = _compile_seconds(s)
    ratio = t_old / t_new if t_new else float("inf")
    full = "complete" if new.complete else "capped"
    cells = [
        label,
        f"{new.states} {full}",
        f"{old.states / t_old:9.0f}/s {old.memory / 2**20:7.1f} MB",
        f"{new.states / t_new:9.0f}/s {new.memory / 2**20:7.1f} MB",
        f"{ratio:4.2f}x",
        f"{c_old * 1000:5.0f} + {c_new * 1000:4.0f} ms",
    ]
    print(" | ".join(cells), flush=True)
    return ratio


def engine_row(label: str, s: System, repeat: int) -> None:
    secs: dict[bool, float] = {}
    verdicts: dict[bool, dict[str, str]] = {}
    states = 0
    for packed in (False, True):
        best = float("inf")
        for _ in range(repeat):
            comp = compile_system(s)
            start = time.perf_counter()
            res, ex = explicit.run_all(s, list(s.claims), compiled=comp, packed=packed)
            best = min(best, time.perf_counter() - start)
        secs[packed], states = best, ex.states
        verdicts[packed] = {p: r.verdict for p, r in res.items()}
    if verdicts[False] != verdicts[True]:
        raise SystemExit(f"{label}: verdicts differ: {verdicts}")
    shown = ", ".join(f"{p} {v}" for p, v in verdicts[True].items())
    cells = [
        label,
        str(states),
        f"{secs[False]:6.2f}s",
        f"{secs[True]:6.2f}s",
        f"{secs[False] / secs[True]:4.2f}x",
        shown,
    ]
    print(" | ".join(cells), flush=True)


def por_row(label: str, s: System, cap: int) -> float | None:
    """Full and reduced search on ``s``'s invariant-only properties; the state ratio, or
    ``None`` when either search was capped."""
    props = [p for p in s.properties if not s.properties[p].eventually]
    comp = compile_system(s)
    comp.packed()
    start = time.perf_counter()
    full = explore(s, props, compiled=comp, max_states=cap)
    mid = time.perf_counter()
    red = explore_por(s, props, compiled=comp, max_states=cap)
    end = time.perf_counter()
    both = full.complete and red.complete
    if both and set(full.violations) != set(red.violations):
        raise SystemExit(f"{label}: the reduced search disagrees with the full one")
    ratio = full.states / red.states if both else None
    cells = [
        label,
        f"{full.states} {'complete' if full.complete else 'capped'} d{full.depth}",
        f"{red.states} {'complete' if red.complete else 'capped'} d{red.depth}",
        str(red.reduced),
        f"{ratio:4.2f}x" if ratio is not None else "n/a (capped)",
        f"{mid - start:6.2f}s",
        f"{end - mid:6.2f}s",
    ]
    print(" | ".join(cells), flush=True)
    return ratio


def por_main(cap: int, quick: bool) -> None:
    print("# partial-order reduction: full packed search vs reduced, invariant-only properties")
    print("# (states: visited, depth reached; ample: states expanded by a proper ample set)")
    print(" | ".join(["system", "full", "reduced", "ample", "states ratio", "full", "reduced"]))
    ratios = []
    for name in ("at-most-once", "at-least-once", "exactly-once"):
        for n in [3] if quick else [3, 4, 5, 6]:
            got = por_row(f"{name} N={n}", BUILTIN[name].system(n), cap)
            ratios += [got] if got is not None else []
    for e in LIBRARY[:3] if quick else LIBRARY:
        got = por_row(f"{e.name} N={e.bound}", e.protocol.system(e.bound), cap)
        ratios += [got] if got is not None else []
    print(f"# states ratio over complete searches: min {min(ratios):.2f}x, max {max(ratios):.2f}x")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--max-states", type=int, default=300_000, help="cap per search")
    ap.add_argument("--repeat", type=int, default=1, help="runs per search (best counts)")
    ap.add_argument("--quick", action="store_true", help="N = 3 and one library protocol")
    ap.add_argument("--por", action="store_true", help="partial-order reduction vs full")
    args = ap.parse_args(argv)
    if args.por:
        por_main(args.max_states, args.quick)
        return
    ns = [3] if args.quick else [3, 4, 5]
    lib = LIBRARY_CASES[:1] if args.quick else LIBRARY_CASES
    print("# explicit search, every property checked: tuple states vs packed states")
    print("# (states/s: best of --repeat; MB: the visited set, estimated; compile: tuple")
    print("# interpreter + packed successor function)")
    print(" | ".join(["system", "states", "tuple", "packed", "speed-up", "compile"]))
    ratios = []
    for name in ("at-least-once", "exactly-once"):
        for n in ns:
            ratios.append(
                row(f"{name} N={n}", BUILTIN[name].system(n), args.max_states, args.repeat)
            )
    entries = {e.name: e for e in LIBRARY}
    for name in lib:
        e = entries[name]
        s = e.protocol.system(e.bound)
        ratios.append(row(f"{name} N={e.bound}", s, args.max_states, args.repeat))
    print(f"# speed-up: min {min(ratios):.2f}x, max {max(ratios):.2f}x")
    print()
    print("# the explicit engine end to end (explicit.run_all on the protocol's claims:")
    print("# search, liveness graph and fair cycles, verdicts): tuple vs packed")
    print(" | ".join(["system", "states", "tuple", "packed", "speed-up", "verdicts"]))
    for name, n in [("at-least-once", 3), ("exactly-once", 3), ("exactly-once", 4)][
        : 1 if args.quick else 3
    ]:
        engine_row(f"{name} N={n}", BUILTIN[name].system(n), args.repeat)


if __name__ == "__main__":
    main()
