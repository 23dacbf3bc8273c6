"""Where the time of a check goes, phase by phase: the profile behind issue 11's targets.

For each built-in protocol and N, in this process (the import is timed in a fresh one):

* **start-up**: ``import ackproof.cli`` and ``ackproof.proofs`` (z3) in a fresh interpreter;
* **explicit**: lowering (``ProtocolDef.system``), the tuple interpreter and the packed
  code generation, the breadth-first search (up to ``--max-states``, states per second),
  and, when the search completes, the liveness graph and its obligations;
* **symbolic** (what ``auto``'s child runs, property by property): the wall time of
  :func:`~ackproof.proofs.engines.run_z3`, and under ``cProfile`` the share of it spent
  building z3 terms (``Encoding._build_trans``, and the seam's ``and_`` inside it),
  in z3's queries (Spacer's Horn queries and plain ones), re-checking certificates, and on
  the liveness-to-safety systems of the response obligations.

    python benchmarks/phases.py                       # at-least-once, exactly-once; N = 6, 16
    python benchmarks/phases.py --n 3 --n 6 --protocol exactly-once
    python benchmarks/phases.py --no-symbolic         # the explicit part only

The profiled shares are of a profiled run (``cProfile`` slows Python-heavy phases most),
so read them as where the time goes, and the un-profiled wall time as how long it takes.

Found with it (2026-12-05, a loaded 2-core machine, so shares rather than seconds): at
N = 6 and N = 16 the explicit search does not finish first (exactly-once N = 6 has
4,563,668 states, SPIN's count less its own initial one; at-least-once N = 6 over 12.7M:
SPIN had not finished after 150 s) and ``auto`` is decided by the symbolic route. There,
exactly-once at N = 16 (no-loss, no-duplicate, no-phantom in turn): building ``T`` in z3
about half of the time (ten builds: Int for Spacer and bit-vectors for the certificate
re-check, per property and per liveness-to-safety system), two thirds of that inside
z3's Python ``And`` (argument coercion; building it through ``Z3_mk_and`` cut the whole
route by 29% in an experiment), z3's own queries about 15%, the certificate re-check
13%, the liveness-to-safety systems of no-loss 40%. Lowering, code generation and
start-up (0.4-0.8 s: z3's import) are small beside them. Then (same day, still loaded)
``T`` was built once per system and shared (six builds instead of ten: the main system's
two flavours, and two per liveness-to-safety system), its hot constructors through z3's
C API: the symbolic route's CPU time at N = 16 fell by 35-45%, at N = 6 (no-loss) by
20-30%.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ackproof.proofs import encode, explicit
from ackproof.proofs.budget import Clock
from ackproof.proofs.engines import run_z3
from ackproof.spec.interp import compile_system
from ackproof.spec.protocols import BUILTIN

#: (label, file suffix, function name): cumulative time of these in the profiled run.
SYMBOLIC_PARTS = [
    ("encode T", "proofs/encode.py", "_build_trans"),
    ("  and_", "proofs/z3seam.py", "and_"),
    ("spacer", "proofs/pdr.py", "spacer"),
    ("  z3 queries", "proofs/z3seam.py", "check"),
    ("recheck", "proofs/certificate.py", "recheck"),
    ("liveness", "proofs/l2s.py", "with_obligations"),
]


def startup() -> str:
    cells = []
    for mod in ("ackproof.cli", "ackproof.proofs"):
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", f"import {mod}"], check=True)
        cells.append(f"import {mod} {time.monotonic() - start:.2f}s")
    return ", ".join(cells)


def explicit_phases(name: str, n: int, cap: int) -> str:
    t0 = time.perf_counter()
    s = BUILTIN[name].system(n)
    t1 = time.perf_counter()
    comp = compile_system(s)
    t2 = time.perf_counter()
    comp.packed()
    t3 = time.perf_counter()
    results, ex = explicit.run_all(s, list(s.claims), compiled=comp, max_states=cap)
    t4 = time.perf_counter()
    rate = ex.states / (t4 - t3) if t4 > t3 else 0.0
    verdicts = ",".join(sorted({r.verdict for r in results.values()}))
    full = "complete" if ex.complete else f"capped at depth {ex.depth}"
    return (
        f"lower {t1 - t0:.2f}s, interp {t2 - t1:.2f}s, packed codegen {t3 - t2:.2f}s, "
        f"search+liveness {t4 - t3:.2f}s ({ex.states} states, {rate:,.0f}/s, {full}; {verdicts})"
    )


def symbolic_phases(name: str, n: int) -> list[str]:
    s = BUILTIN[name].system(n)
    comp = compile_system(s)
    rows = []
    for prop in s.claims:
        # the profiled run starts from the templates the timed one found (those of the
        # properties before it), as in a check: T is built once per system and shared
        templates = dict(encode._TEMPLATES)
        start = time.monotonic()
        r = run_z3(s, prop, "auto", 30, Clock(None), comp)
        wall = time.monotonic() - start
        encode._TEMPLATES.clear()
        encode._TEMPLATES.update(templates)
        prof = cProfile.Profile()
        prof.enable()
        run_z3(s, prop, "auto", 30, Clock(None), comp)
        prof.disable()
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        total = max(v[3] for v in stats.values())
        parts = []
        for label, suffix, fn in SYMBOLIC_PARTS:
            cum = sum(v[3] for (f, _, fun), v in stats.items() if f.endswith(suffix) and fun == fn)
            parts.append(f"{label.strip()} {100 * cum / total:.0f}%")
        rows.append(f"{prop}: {r.verdict} ({r.engine}) {wall:.2f}s; profiled: {', '.join(parts)}")
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--protocol", action="append", help="default: at-least-once, exactly-once")
    ap.add_argument("--n", type=int, action="append", help="default: 6 and 16")
    ap.add_argument("--max-states", type=int, default=300_000)
    ap.add_argument("--no-symbolic", action="store_true")
    args = ap.parse_args(argv)
    print(f"# start-up: {startup()}")
    for name in args.protocol or ["at-least-once", "exactly-once"]:
        for n in args.n or [6, 16]:
            print(f"{name} N={n}")
            print(f"  explicit: {explicit_phases(name, n, args.max_states)}", flush=True)
            if not args.no_symbolic:
                for row in symbolic_phases(name, n):
                    print(f"  symbolic {row}", flush=True)


if __name__ == "__main__":
    main()
