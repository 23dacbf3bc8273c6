"""The engines agree on the environment's constructs: links and their budgets,
connections (drop, reconnect, ``on_connect`` / ``on_disconnect``, a crash closing them),
per-node crash budgets, patient timers, the clock (``Age``, timed channels, ticks),
several producers and senders, shared state.

* explicit vs BMC: for every case (``environment_cases.py``: small protocols and the
  library entries that use a construct), the same violated properties with the same
  shortest counterexample lengths, and the same witness lengths, up to the explicit
  search's diameter (capped);
* PDR and k-induction: a decisive verdict (``proved`` / ``violated``) agrees with the
  explicit engine's, with the same shortest length; ``inconclusive`` within the time
  budget, and k-induction's bounded ``holds``, are allowed (they decide nothing);
* eventual delivery (fair runs: reconnects and ticks are calm steps) agrees between the
  explicit engine and BMC.

A fast subset runs by default; ``pytest -m slow`` runs every case and property.
"""

from __future__ import annotations

import pytest
from environment_cases import CASES, CONSTRUCTS, detected, system
from proofs_testing import assert_bmc_agrees_with_explicit

from ackproof.proofs import check
from ackproof.proofs.result import EngineName, Result

#: BMC's depth: the explicit search's diameter, capped (both must find nothing shorter).
BMC_CAP = 12
SLOW_BMC_CAP = 14
#: Seconds each z3 engine has per property.
TIMEOUT = 30.0

slow = pytest.mark.slow

#: The cases with at least one construct (textbook library entries use none).
COVERED = sorted(n for n, c in CASES.items() if c.constructs)


def _param(name: str) -> object:
    return pytest.param(name, id=name, marks=() if CASES[name].fast else (slow,))


def test_every_construct_is_covered_by_a_fast_case() -> None:
    fast = {c for n in COVERED if CASES[n].fast for c in CASES[n].constructs}
    assert set(CONSTRUCTS) <= fast, sorted(set(CONSTRUCTS) - fast)


@pytest.mark.parametrize("name", COVERED)
def test_a_case_uses_the_constructs_it_names(name: str) -> None:
    named = set(CASES[name].constructs) - {"patient-timer"}
    assert named <= detected(system(name)), sorted(named - detected(system(name)))


def _bmc_agrees_with_explicit(name: str, cap: int) -> None:
    assert_bmc_agrees_with_explicit(system(name), cap, witness_required=False)


@pytest.mark.parametrize("name", [_param(n) for n in COVERED])
def test_bmc_and_explicit_agree_on_every_invariant(name: str) -> None:
    _bmc_agrees_with_explicit(name, BMC_CAP)


@slow
@pytest.mark.parametrize("name", COVERED)
def test_bmc_and_explicit_agree_on_every_invariant_deeper(name: str) -> None:
    _bmc_agrees_with_explicit(name, SLOW_BMC_CAP)


def _agrees(want: Result, got: Result) -> None:
    """``got`` (a z3 engine) does not contradict ``want`` (the explicit engine's)."""
    assert want.verdict in ("proved", "violated"), want.detail
    if got.verdict == "violated":
        assert want.verdict == "violated", got.detail
        assert got.counterexample is not None
        assert want.counterexample is not None
        mine, theirs = want.counterexample, got.counterexample
        # an invariant's counterexample, or a lasso that gets stuck, is a shortest one
        # in both (a fair loop may be drawn differently: only the verdict must agree)
        if (mine.calm is None and theirs.calm is None) or (mine.stuck and theirs.stuck):
            assert len(theirs) == len(mine), got.engine
    elif got.verdict == "proved":
        assert want.verdict == "proved", got.detail
    else:  # decides nothing: no violation within its depth, or out of time
        assert got.verdict in ("holds", "inconclusive"), got.detail
        cex = want.counterexample
        if got.verdict == "holds" and cex is not None and cex.calm is None:
            assert got.depth is not None
            assert len(cex) > got.depth, got.detail


#: One proof and one violation per construct, cheap enough for the default run.
FAST_SYMBOLIC = [
    ("one-ack-loss", "no-phantom"),  # link
    ("one-ack-loss", "no-duplicate"),
    ("session", "no-phantom"),  # connection, on_connect, crash closes it
    ("volatile-session", "no-loss"),
    ("clean-session", "no-loss"),  # on_disconnect
    ("crash-budget", "no-loss"),  # a node's crash budget
    ("patient", "no-phantom"),  # timer(early=False)
    ("patient", "no-duplicate"),
    ("window-w3", "in-order"),  # Age, within, tick
    ("window-w2", "no-duplicate"),
    ("two-producers", "no-duplicate"),  # on_submit(ids=), to=f.source
    ("two-producers-no-dedup", "no-duplicate"),
    ("outbox-relay", "no-duplicate"),  # p.shared
    ("outbox-relay", "in-order"),
]
SYMBOLIC: tuple[EngineName, ...] = ("pdr", "kinduction")


@pytest.mark.parametrize(
    ("name", "prop"), FAST_SYMBOLIC, ids=[f"{n}:{p}" for n, p in FAST_SYMBOLIC]
)
@pytest.mark.parametrize("engine", SYMBOLIC)
def test_pdr_and_kinduction_agree_where_they_decide(
    name: str, prop: str, engine: EngineName
) -> None:
    s = system(name)
    want = check(s, prop, engine="explicit")
    _agrees(want, check(s, prop, engine=engine, depth=BMC_CAP, timeout=TIMEOUT))


ALL_SYMBOLIC = [
    (n, p)
    for n in COVERED
    for p in system(n).properties
    if p != "eventual-delivery" and (n, p) not in FAST_SYMBOLIC
]


@slow
@pytest.mark.parametrize(("name", "prop"), ALL_SYMBOLIC, ids=[f"{n}:{p}" for n, p in ALL_SYMBOLIC])
@pytest.mark.parametrize("engine", ["bmc", *SYMBOLIC])
def test_every_engine_agrees_where_it_decides(name: str, prop: str, engine: EngineName) -> None:
    s = system(name)
    want = check(s, prop, engine="explicit")
    _agrees(want, check(s, prop, engine=engine, depth=BMC_CAP, timeout=TIMEOUT))


#: Eventual delivery where a construct decides it: a reconnect (or a patient timer, or
#: time passing) must be taken in a fair run.
FAST_LIVENESS = ["volatile-session", "patient", "timed-session"]


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=() if n in FAST_LIVENESS else (slow,)) for n in COVERED],
)
def test_eventual_delivery_agrees_between_explicit_and_bmc(name: str) -> None:
    s = system(name)
    want = check(s, "eventual-delivery", engine="explicit")
    got = check(s, "eventual-delivery", engine="bmc", depth=BMC_CAP, timeout=TIMEOUT)
    if want.verdict == "inconclusive":  # a bounded-buffer deadlock: undecided by both
        assert got.verdict == "inconclusive", got.detail
        return
    _agrees(want, got)


@pytest.mark.parametrize("name", ["volatile-session", "clean-session", "crash-budget"])
def test_the_explicit_engines_stuck_lasso_is_as_short_as_bmcs(name: str) -> None:
    """Regression: the explicit engine took the first trigger state (breadth-first) that
    can go wrong, then the way to a stuck state — 6 steps where BMC's lasso has 4 (submit
    both, crash, reconnect: stuck).  It now takes the trigger state that makes the two
    together shortest."""
    s = system(name)
    want = check(s, "eventual-delivery", engine="explicit")
    got = check(s, "eventual-delivery", engine="bmc", depth=BMC_CAP, timeout=TIMEOUT)
    assert want.verdict == got.verdict == "violated"
    assert want.counterexample is not None
    assert got.counterexample is not None
    assert want.counterexample.stuck
    assert got.counterexample.stuck
    assert len(want.counterexample) == len(got.counterexample)
