"""``auto`` is never worse than the best single engine at deciding.

Measured before the race existed: ``auto`` capped its explicit search at 100,000 states and
handed over to Spacer, so selective repeat (window 2 of 4 sequence numbers, capacity 4) and a
5-message selective repeat with window 3 were inconclusive after 120 s under ``auto`` while
``--engine explicit`` decided both.  Here every case is decided by ``auto`` whenever the explicit
engine decides it within the same budget, with the same verdict (and, for a violation, the
same shortest length).  The time ratio against the best single engine is a benchmark
(``benchmarks/engines.py --versus-spin`` prints auto / best per library protocol), not a test.
"""

from __future__ import annotations

import pytest

from ackproof.proofs import check_many
from ackproof.spec import Faults, ProtocolDef
from ackproof.spec.examples import sliding_window
from ackproof.spec.library import LIBRARY, Entry

BUDGET = 300.0
DECISIVE = ("proved", "holds", "violated", "vacuous")


def assert_auto_decides_like_explicit(pdef: ProtocolDef, n: int, faults: Faults | None) -> None:
    system = pdef.system(n, faults)
    props = list(pdef.claims)
    explicit = check_many(system, props, engine="explicit", timeout=BUDGET)
    auto = check_many(system, props, engine="auto", timeout=BUDGET)
    for prop in props:
        e, a = explicit[prop], auto[prop]
        if e.verdict not in DECISIVE:
            continue
        assert a.verdict in DECISIVE, (prop, a.detail)
        assert (a.verdict == "violated") == (e.verdict == "violated"), (prop, a, e)
        if e.verdict == "violated":
            assert a.depth == e.depth, prop


@pytest.mark.parametrize("entry", LIBRARY[:: max(1, len(LIBRARY) // 8)], ids=lambda e: e.name)
def test_auto_decides_library_protocols_like_the_explicit_engine(entry: Entry) -> None:
    assert_auto_decides_like_explicit(entry.protocol, entry.bound, None)


@pytest.mark.parametrize(
    ("window", "modulus", "n", "capacity"),
    [
        pytest.param(2, 4, 3, 4, id="sr-w2-m4-cap4"),
        pytest.param(3, 4, 5, 2, id="sr-w3-m4-n5", marks=pytest.mark.slow),
    ],
)
def test_auto_decides_selective_repeat_where_it_used_to_give_up(
    window: int, modulus: int, n: int, capacity: int
) -> None:
    pdef = sliding_window(window, modulus)
    faults = Faults(
        loss=pdef.faults.loss,
        duplicate=pdef.faults.duplicate,
        reorder=pdef.faults.reorder,
        crash=pdef.faults.crash,
        capacity=capacity,
    )
    assert_auto_decides_like_explicit(pdef, n, faults)
