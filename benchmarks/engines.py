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
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ackproof.proofs.bmc import reach
from ackproof.proofs.encode import Encoding, Shape
from ackproof.proofs.kinduction import kinduction
from ackproof.proofs.pdr import spacer
from ackproof.proofs.promela import run_spin, spin_available
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


def spin(s: System, prop: str, timeout: float) -> str:
    if not spin_available():
        return "spin not installed"
    r = run_spin(s, prop, timeout=timeout, invariant_only=True)  # as the columns above
    verdict = f"cex{r.length}" if r.violated else ("ok" if r.complete else "incomplete")
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="N = 2, 3 and depths 10, 20 only")
    ap.add_argument("--timeout", type=float, default=60.0, help="per engine run, seconds")
    ap.add_argument("--max-states", type=int, default=300_000)
    ap.add_argument("--pdr", action="store_true", help="Spacer only, N = 1..8")
    args = ap.parse_args(argv)
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
