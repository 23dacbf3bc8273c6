"""Engine benchmark: wall time per obligation for every engine, in one run.

For each built-in protocol, each property it claims, and N = 2..6 messages, prints
the explicit engine's state count and time, BMC's time to depths 10..40 (no violation
expected: the cost of showing absence), Spacer's time to a re-checked certificate, and
k-induction's, and SPIN's on the Promela generated from the same System (where ``spin``
is installed: ``apt-get install spin``); then every shortest counterexample of the broken
variants and examples with the ``auto`` portfolio (and SPIN); then the encoding choices
(bit-vector vs Int, selector vs disjunctive transition) on the same obligations, so the
figures are comparable.

    python benchmarks/engines.py            # full run (minutes)
    python benchmarks/engines.py --quick    # smoke run (N = 2, 3; depths 10, 20)
    python benchmarks/engines.py --pdr      # Spacer only: every property, N = 1..8
    python benchmarks/engines.py --versus-spin  # ackproof check (auto) vs SPIN, side by side
    python benchmarks/engines.py --versus-spin --n 6 --no-library --spin-timeout 300

``--versus-spin`` runs ``ackproof check`` as a user would after an install (its modules'
bytecode cached: ``compileall`` first, ``PYTHONDONTWRITEBYTECODE`` unset for the runs),
takes the median of ``--repeat`` runs (3) and runs them all before SPIN's: on a 2-core
VM a sub-second run varied by a third from minute to minute, and more just after SPIN
freed its gigabytes.  Compare ratios from one run, never figures from two.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ackproof.proofs.bmc import reach
from ackproof.proofs.encode import Encoding, Shape
from ackproof.proofs.kinduction import kinduction
from ackproof.proofs.pdr import spacer
from ackproof.proofs.promela import SpinResult, run_spin, spin_available
from ackproof.proofs.z3seam import IntMode
from ackproof.spec import System, explore
from ackproof.spec.expr import not_
from ackproof.spec.protocols import BUILTIN


def timed(fn: Callable[..., str], *args: object) -> str:
    start = time.monotonic()
    try:
        tag = fn(*args)
    except Exception as e:  # a benchmark reports, it does not stop
        tag = f"error:{type(e).__name__}"
    return f"{time.monotonic() - start:6.2f}s {tag}"


def bmc(s: System, prop: str, depth: int, mode: IntMode, shape: Shape, timeout: float) -> str:
    r = reach(
        s,
        {"bad": not_(s.properties[prop].invariant)},
        depth=depth,
        timeout=timeout,
        enc=Encoding(s, mode=mode, shape=shape),
    )
    if "bad" in r.found:
        return f"cex{len(r.found['bad'])}"
    return "ok" if r.status == "complete" else r.status


def pdr(s: System, prop: str, timeout: float) -> str:
    out = spacer(s, prop, timeout=timeout)
    return "proved" if out.status == "proved" else out.status


def kind(s: System, prop: str, timeout: float) -> str:
    out = kinduction(s, prop, max_k=15, timeout=timeout)
    return f"{out.status}@{out.k}"


def _spin_verdict(r: SpinResult) -> str:
    """``cexN``, ``ok``, or ``incomplete`` (SPIN stopped at a bound before the end)."""
    return f"cex{r.length}" if r.violated else ("ok" if r.complete else "incomplete")


def spin(s: System, prop: str, timeout: float) -> str:
    if not spin_available():
        return "spin not installed"
    r = run_spin(s, prop, timeout=timeout, invariant_only=True)  # as the columns above
    verdict = _spin_verdict(r)
    return f"{r.seconds:6.2f}s {verdict} {r.states} (+{r.compile_seconds:.1f}s compile)"


def auto_counterexamples(ns: list[int], timeout: float) -> None:
    """Every shortest counterexample of the broken variants and examples with ``auto``."""
    from ackproof.proofs import check
    from ackproof.spec.examples import EXAMPLES
    from ackproof.spec.protocols import BROKEN

    print()
    print("# shortest counterexamples with --engine auto (broken variants, broken examples)")
    print(" | ".join(["N", "protocol", "property", "auto", "spin"]))
    cases = [(p, prop) for p, prop in BROKEN.values()]
    for pdef in EXAMPLES.values():
        cases += [(pdef, prop) for prop in pdef.claims]
    for n in ns:
        for pdef, prop in cases:
            s = pdef.system(n)
            ex = explore(s, [prop], max_states=300_000, stop_when_decided=True)
            if prop not in ex.violations:
                continue  # holds at this N: only counterexamples are timed here
            start = time.monotonic()
            r = check(s, prop, engine="auto", depth=30, timeout=timeout)
            secs = time.monotonic() - start
            if r.verdict != "violated":
                continue
            assert r.counterexample is not None
            cell = f"{secs:6.2f}s cex{len(r.counterexample)} ({r.engine})"
            print(" | ".join([str(n), pdef.name, prop, cell, spin(s, prop, timeout)]), flush=True)


def pdr_only(ns: list[int], timeout: float) -> None:
    """Spacer alone (certificate re-checked) on every built-in obligation."""
    print("# pdr: Spacer per conjunct, lemmas reused across messages after checking,")
    print("# certificate re-checked in bit-vectors")
    print(" | ".join(["N", "protocol", "property", "pdr"]))
    for n in ns:
        for name, pdef in BUILTIN.items():
            s = pdef.system(n)
            for prop in s.properties:
                print(" | ".join([str(n), name, prop, timed(pdr, s, prop, timeout)]), flush=True)


def _user_env() -> dict[str, str]:
    """The environment of a user's run: Python's bytecode cache on (some sandboxes and CI
    images set ``PYTHONDONTWRITEBYTECODE``; every start then compiles every module again,
    0.05-0.08 s, where an installed package has its ``.pyc`` files)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _compile_modules() -> None:
    """What ``pip install`` does: the package's modules compiled to ``.pyc`` once."""
    root = Path(__file__).resolve().parent.parent
    # compileall does not follow links: ackproof's spec, proofs and impl are links
    packages = [str(root / d) for d in ("ackproof", "spec", "proofs", "impl")]
    cmd = [sys.executable, "-m", "compileall", "-q", *packages]
    subprocess.run(cmd, check=True, env=_user_env(), capture_output=True)


def _ackproof_cli(name: str, n: int, prop: str, timeout: float) -> tuple[float, str]:
    """``ackproof check`` as a user runs it (process start-up and the z3 import included,
    the modules' bytecode cached as after an install: :func:`_compile_modules`)."""
    cmd = [sys.executable, "-m", "ackproof.cli", "check", name, "--messages", str(n)]
    cmd += ["--property", prop, "--json", "--timeout", str(timeout)]
    start = time.monotonic()
    try:
        run = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout + 30, env=_user_env()
        )
    except subprocess.TimeoutExpired:
        return time.monotonic() - start, "timeout"
    secs = time.monotonic() - start
    try:
        doc = json.loads(run.stdout)
        row = doc["results"][0]
        verdict = str(row["verdict"])
        if verdict == "violated":
            verdict = f"cex{row['depth']}"
    except (ValueError, KeyError, IndexError, TypeError):
        verdict = f"exit{run.returncode}"
    return secs, verdict


def _spin_total(
    s: System, prop: str, holds: bool, timeout: float, memory_mb: int
) -> tuple[float | None, str, bool]:
    """SPIN's generate + compile + run, or ``None`` with why it has no figure; and whether
    the figure is only a lower bound (SPIN stopped at its time or memory limit).

    A holding property gets SPIN's fastest exhaustive search (depth-first, compressed
    states); a violated one its breadth-first search, for the shortest counterexample."""
    if not spin_available():
        return None, "spin not installed", False
    start = time.monotonic()
    try:  # the invariant alone: SPIN checks no fairness (ackproof also checks holds() claims)
        r = run_spin(
            s,
            prop,
            timeout=timeout,
            invariant_only=True,
            search="dfs" if holds else "bfs",
            memory_mb=memory_mb,
        )
    except (subprocess.CalledProcessError, OSError) as e:
        return None, f"error: {type(e).__name__}", False
    secs = time.monotonic() - start
    mode = "dfs" if holds else "bfs"
    if r.stopped is not None:
        limit = f"{timeout:g} s" if r.stopped == "time" else f"{memory_mb} MB"
        why = f"{mode}, stopped at its {r.stopped} limit ({limit})"
        return secs, f"incomplete: {r.states:,} states, {r.memory_mb:,.0f} MB, {why}", True
    return secs, f"{_spin_verdict(r)} {r.states:,} states ({mode})", False


def versus_spin(
    ns: list[int], timeout: float, spin_timeout: float, spin_memory: int, repeat: int = 3
) -> None:
    """One table: ``ackproof check`` (auto) vs SPIN on the same systems, with ratios;
    ackproof's figure is the median of ``repeat`` runs (a sub-second run after SPIN's
    minutes-long one varied by a third; SPIN's own runs take seconds to minutes)."""
    from ackproof.spec.protocols import BROKEN

    broken_name, (broken_def, broken_prop) = next(iter(BROKEN.items()))
    _compile_modules()
    cases: list[tuple[str, str, bool]] = [
        ("at-least-once", "no-loss", True),
        ("exactly-once", "no-loss", True),
        ("exactly-once", "no-duplicate", True),
        (broken_name, broken_prop, False),
    ]
    print("# ackproof check (auto, a fresh process, start-up included) vs SPIN 6 (generate +")
    print("# compile + run; depth-first with compression for a property that holds, breadth-")
    print(f"# first for a counterexample; stopped at {spin_timeout:g} s or {spin_memory} MB: then")
    print("# the ratio is a lower bound, marked >=); ackproof's modules have their bytecode")
    print(f"# cached, as after an install; its time is the median of {repeat} runs [range],")
    print("# all taken before SPIN's)")
    print(" | ".join(["N", "protocol", "property", "ackproof", "spin", "spin / ackproof"]))
    # every ackproof run first: a sub-second run just after SPIN's gigabytes were freed
    # took up to a third longer (the kernel reclaiming them)
    ours: dict[tuple[int, str, str], tuple[float, float, float, str]] = {}
    for n in ns:
        for name, prop, _ in cases:
            runs = [_ackproof_cli(name, n, prop, timeout) for _ in range(repeat)]
            times = sorted(t for t, _ in runs)
            verdicts = sorted({v for _, v in runs})
            ours[n, name, prop] = (times[len(times) // 2], times[0], times[-1], "/".join(verdicts))
    for n in ns:
        for name, prop, holds in cases:
            pdef = broken_def if name == broken_name else BUILTIN[name]
            median, low, high, verdict = ours[n, name, prop]
            theirs, spin_verdict, bound = _spin_total(
                pdef.system(n), prop, holds, spin_timeout, spin_memory
            )
            ratio = "-" if theirs is None else f"{'>= ' if bound else ''}{theirs / median:.1f}x"
            spin_cell = f"{theirs:.2f}s {spin_verdict}" if theirs is not None else spin_verdict
            spread = f" [{low:.2f}-{high:.2f}]" if repeat > 1 else ""
            cells = [str(n), name, prop, f"{median:.2f}s{spread} {verdict}", spin_cell, ratio]
            print(" | ".join(cells), flush=True)


def slowest_library(timeout: float, top: int = 10) -> None:
    """The library under ``auto`` against the best single engine (explicit, Spacer), in
    this process: the slowest entries, and every entry where auto is over 2x the best."""
    from ackproof.proofs import EngineName, check_many
    from ackproof.spec.library import LIBRARY

    rows = []
    for entry in LIBRARY:
        s = entry.protocol.system(entry.bound)
        props = list(entry.expected)
        times: dict[str, float] = {}
        verdicts: dict[str, str] = {}
        engines: tuple[EngineName, ...] = ("auto", "explicit", "pdr")
        for engine in engines:
            start = time.monotonic()
            out = check_many(s, props, engine=engine, timeout=timeout)
            times[engine] = time.monotonic() - start
            verdicts[engine] = ",".join(sorted({r.verdict for r in out.values()}))
        decisive = [e for e in engines[1:] if "inconclusive" not in verdicts[e]]
        best = min((times[e] for e in decisive), default=float("inf"))
        rows.append((times["auto"], entry.name, times, verdicts, best))
    rows.sort(key=lambda r: r[0], reverse=True)
    total = sum(r[0] for r in rows)
    print()
    print(f"# library: {len(rows)} protocols, auto {total:.1f} s in all")
    print(" | ".join(["protocol", "auto", "explicit", "pdr", "auto / best"]))
    for auto_s, name, times, verdicts, best in rows:
        ratio = auto_s / best if best != float("inf") else float("nan")
        slow = ratio > 2 and auto_s > 0.5  # sub-second cells are start-up noise
        if rows.index((auto_s, name, times, verdicts, best)) >= top and not slow:
            continue
        cells = [name] + [f"{times[e]:.2f}s {verdicts[e]}" for e in ("auto", "explicit", "pdr")]
        cells.append(f"{ratio:.1f}x" + (" (over 2x)" if slow else ""))
        print(" | ".join(cells), flush=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="N = 2, 3 and depths 10, 20 only")
    ap.add_argument("--timeout", type=float, default=60.0, help="per engine run, seconds")
    ap.add_argument("--max-states", type=int, default=300_000)
    ap.add_argument("--pdr", action="store_true", help="Spacer only, N = 1..8")
    ap.add_argument("--versus-spin", action="store_true", help="auto vs SPIN, N = 3, 6, 8, 16")
    ap.add_argument("--spin-timeout", type=float, default=120.0, help="SPIN's run, seconds")
    ap.add_argument("--spin-memory", type=int, default=8192, help="SPIN's bound, MB")
    ap.add_argument("--n", type=int, action="append", help="versus-spin: these N only")
    ap.add_argument("--repeat", type=int, default=3, help="versus-spin: ackproof's runs (median)")
    ap.add_argument("--no-library", action="store_true", help="versus-spin: the table only")
    args = ap.parse_args(argv)
    if args.versus_spin:
        ns = args.n or ([3, 6] if args.quick else [3, 6, 8, 16])
        versus_spin(ns, args.timeout, args.spin_timeout, args.spin_memory, args.repeat)
        if not args.no_library:
            slowest_library(args.timeout)
        return
    if args.pdr:
        pdr_only([1, 2, 3, 4, 5, 6, 7, 8], args.timeout)
        return
    ns = [2, 3] if args.quick else [2, 3, 4, 5, 6]
    depths = [10, 20] if args.quick else [10, 20, 30, 40]
    tmo = args.timeout

    print("# engines per obligation (bmc: bv/selector; pdr: Spacer, Int/disjunctive, split")
    print("# conjuncts, certificate re-checked in bit-vectors)")
    head = ["N", "protocol", "property", "explicit", *(f"bmc@{d}" for d in depths), "pdr", "kind"]
    head.append("spin")
    print(" | ".join(head))
    for n in ns:
        for name, pdef in BUILTIN.items():
            s = pdef.system(n)
            for prop in s.claims:
                start = time.monotonic()
                ex = explore(s, [prop], max_states=args.max_states)
                secs = time.monotonic() - start
                full = "complete" if ex.complete else "capped"
                cells = [str(n), name, prop, f"{secs:6.2f}s {ex.states} {full}"]
                cells += [timed(bmc, s, prop, d, "bv", "selector", tmo) for d in depths]
                cells.append(timed(pdr, s, prop, tmo))
                cells.append(timed(kind, s, prop, tmo))
                cells.append(spin(s, prop, tmo))
                print(" | ".join(cells), flush=True)

    auto_counterexamples([2, 3] if args.quick else [2, 3, 4, 5], tmo)

    print()
    print("# encoding choices: BMC to the deepest depth")
    enc_n = [3]
    shapes: list[tuple[IntMode, Shape]] = [
        ("bv", "selector"),
        ("bv", "disjunctive"),
        ("int", "selector"),
        ("int", "disjunctive"),
    ]
    print(" | ".join(["N", "protocol", "property", *(f"bmc {m}/{sh}" for m, sh in shapes)]))
    for n in enc_n:
        for name, pdef in BUILTIN.items():
            s = pdef.system(n)
            for prop in s.claims:
                cells = [str(n), name, prop]
                cells += [timed(bmc, s, prop, depths[-1], m, sh, tmo) for m, sh in shapes]
                print(" | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
