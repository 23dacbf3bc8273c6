"""How many of the environment cases the unbounded engines decide, and whether they agree.

Every (case, property) of ``tests/proofs/environment_cases.py`` that names a construct
(eventual delivery aside: it has no invariant), as the agreement tests pose it: the
explicit engine's verdict, then ``pdr`` and ``kinduction`` with the same depth and a time
limit per property.  A row counts as *decided* when the engine says ``proved`` or
``violated``; a decided verdict that differs from the explicit engine's is a
*disagreement* (an engine bug: the tests must catch it).  ``kinduction`` is the engine
``--engine kinduction`` runs: k-induction, then, where it is only bounded, k-induction
assuming a short Spacer run's lemmas (``proofs/kengine.py``).

    python benchmarks/unbounded.py                  # every case, 10 s per property
    python benchmarks/unbounded.py --timeout 30 --engines pdr
    python benchmarks/unbounded.py --only session,patient
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "proofs"))

from environment_cases import CASES, system  # noqa: E402

from ackproof.proofs import check  # noqa: E402
from ackproof.proofs.result import EngineName  # noqa: E402

#: The agreement tests' BMC depth (``test_agreement_environment.BMC_CAP``).
DEPTH = 12


def rows(only: set[str] | None) -> list[tuple[str, str]]:
    names = sorted(n for n, c in CASES.items() if c.constructs)
    return [
        (n, p)
        for n in names
        if only is None or n in only
        for p in system(n).properties
        if p != "eventual-delivery"
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=10.0, help="seconds per property")
    ap.add_argument("--engines", default="pdr,kinduction")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    engines: list[EngineName] = []
    for e in args.engines.split(","):
        if e not in ("pdr", "kinduction"):
            sys.exit(f"unbounded.py: --engines takes pdr and kinduction, not {e!r}")
        engines.append("pdr" if e == "pdr" else "kinduction")
    only = set(args.only.split(",")) if args.only else None
    todo = rows(only)
    decided = dict.fromkeys(engines, 0)
    proved = dict.fromkeys(engines, 0)
    wrong = dict.fromkeys(engines, 0)
    print(" | ".join(["case", "property", "explicit", *engines]), flush=True)
    for name, prop in todo:
        s = system(name)
        want = check(s, prop, engine="explicit")
        cells = [name, prop, want.verdict]
        for e in engines:
            start = time.monotonic()
            got = check(s, prop, engine=e, depth=DEPTH, timeout=args.timeout)
            secs = time.monotonic() - start
            if got.verdict in ("proved", "violated"):
                decided[e] += 1
                proved[e] += got.verdict == "proved"
                if got.verdict != want.verdict:
                    wrong[e] += 1
            cells.append(f"{got.verdict} {secs:.1f}s")
        print(" | ".join(cells), flush=True)
    for e in engines:
        print(
            f"{e}: decides {decided[e]} of {len(todo)} ({proved[e]} proved), "
            f"disagrees on {wrong[e]}"
        )


if __name__ == "__main__":
    main()
