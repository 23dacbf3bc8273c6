"""Unbounded proofs: Spacer's certificates re-check, wrong ones are rejected, broken
variants are never proved, and vacuous checks say so."""

from __future__ import annotations

import dataclasses
import os

import pytest
from proofs_testing import system

from ackproof.proofs import check
from ackproof.proofs.bmc import reach
from ackproof.proofs.certificate import recheck
from ackproof.proofs.encode import Encoding
from ackproof.proofs.pdr import spacer
from ackproof.spec import Faults, System
from ackproof.spec.expr import FALSE, TRUE, Expr, evaluate, lt
from ackproof.spec.expr import slot as slot_expr
from ackproof.spec.interp import compile_system
from ackproof.spec.protocols import BROKEN, BUILTIN
from ackproof.spec.system import State

SLOW = os.environ.get("ACKPROOF_SLOW") == "1"
RECEIVER_CRASH = Faults(loss=True, duplicate=True, reorder=True, crash=("receiver",))
EVERYTHING = Faults(loss=True, duplicate=True, reorder=True, crash=("*",))


def reachable(s: System, cap: int = 50_000) -> set[State]:
    comp = compile_system(s)
    seen, frontier = {s.initial()}, [s.initial()]
    while frontier:
        nxt = []
        for st in frontier:
            for _, t in comp.successors(st):
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
        assert len(seen) < cap
    return seen


@pytest.mark.parametrize(
    "faults", [RECEIVER_CRASH, EVERYTHING], ids=["crash-receiver", "crash-all"]
)
@pytest.mark.parametrize("prop", ["no-loss", "no-duplicate"])
@pytest.mark.parametrize("n", [2, 3])
def test_exactly_once_is_proved_for_all_depths_with_a_certificate(
    n: int, prop: str, faults: Faults
) -> None:
    s = BUILTIN["exactly-once"].system(n, faults)
    out = spacer(s, prop, timeout=60)
    assert out.status == "proved", out.detail
    cert = out.certificate
    assert cert is not None
    # Re-checked by the engine already; again here, and independently: the invariant
    # holds in every reachable state (explicit search) and implies the property.
    assert recheck(s, cert.invariant, s.properties[prop].invariant).ok
    for st in reachable(s):
        assert evaluate(cert.invariant, st)
    # Printed in the spec's own names.
    assert "processed[0]" in cert.text


def test_check_reports_a_proof_with_certificate_and_witness() -> None:
    s = BUILTIN["exactly-once"].system(2, RECEIVER_CRASH)
    r = check(s, "no-duplicate", engine="pdr", timeout=60)
    assert r.verdict == "proved"
    assert r.certificate is not None
    assert "processed[" in r.certificate
    assert r.witness is not None
    assert r.faults == "loss+dup+reorder+crash(receiver)"


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_spacer_never_proves_a_broken_variant(name: str) -> None:
    pdef, prop = BROKEN[name]
    s = pdef.system(2)
    out = spacer(s, prop, timeout=60)
    assert out.status == "violated"
    assert out.certificate is None
    r = check(s, prop, engine="pdr", timeout=60)
    assert r.verdict == "violated"
    assert r.counterexample is not None
    assert r.certificate is None


def test_a_wrong_invariant_is_rejected_by_the_certificate_checker() -> None:
    s = BUILTIN["exactly-once"].system(2)
    p = s.properties["no-loss"].invariant
    # The property alone is not inductive (a lost frame and a volatile sender are fine,
    # but the property says nothing about what is in flight): consecution fails.
    assert recheck(s, p, p).failures == ["consecution"]
    # True is inductive but does not imply the property; False does not hold initially.
    assert recheck(s, TRUE, p).failures == ["safety"]
    assert recheck(s, FALSE, p).failures == ["initiation"]


def test_a_broken_variants_invariant_does_not_recheck() -> None:
    """Take exactly-once's certificate for no-duplicate and try it on volatile-dedup:
    the same slots, but a crash forgets the dedup set."""
    good = BUILTIN["exactly-once"].system(2)
    bad = BROKEN["volatile-dedup"][0].system(2)
    assert [sl.name for sl in good.slots] == [sl.name for sl in bad.slots]
    out = spacer(good, "no-duplicate", timeout=60)
    assert out.certificate is not None
    result = recheck(bad, out.certificate.invariant, bad.properties["no-duplicate"].invariant)
    assert not result.ok
    assert "consecution" in result.failures


def _with_witness(s: System, prop: str, witness: Expr) -> System:
    props = dict(s.properties)
    props[prop] = dataclasses.replace(props[prop], witness=witness)
    return dataclasses.replace(s, properties=props)


@pytest.mark.parametrize("engine", ["explicit", "bmc", "pdr", "kinduction", "auto"])
def test_an_unreachable_witness_makes_the_verdict_vacuous(engine: str) -> None:
    s = BUILTIN["exactly-once"].system(2)
    # exactly-once never processes an id twice: "processed[0] > 1" is unreachable.
    slot = next(sl for sl in s.slots if sl.name == "processed[0]")
    leaf = slot_expr(slot.index, "int", slot.lo, slot.hi, enum=None, ghost=False)
    vac = _with_witness(s, "no-phantom", lt(1, leaf))
    r = check(vac, "no-phantom", engine=engine, depth=8, timeout=60)  # type: ignore[arg-type]
    assert r.verdict == "vacuous", r.detail
    assert r.witness is None


def test_a_too_narrow_selector_is_caught_by_the_witness() -> None:
    """The prototype's bug: a selector one bit too narrow makes transitions infeasible and
    BMC says "safe" for everything.  Witnesses turn that into a failure."""
    s = system("exactly-once")
    enc = Encoding(s)
    enc.sel_width -= 1  # 26 actions no longer fit
    r = reach(s, {"w": s.properties["no-loss"].witness}, depth=6, enc=enc)
    healthy = reach(s, {"w": s.properties["no-loss"].witness}, depth=6)
    assert "w" in healthy.found
    assert "w" not in r.found


@pytest.mark.skipif(not SLOW, reason="set ACKPROOF_SLOW=1")
@pytest.mark.parametrize("name", sorted(BUILTIN))
@pytest.mark.parametrize("n", [4, 5, 6])
def test_builtins_are_proved_at_larger_bounds(name: str, n: int) -> None:
    s = BUILTIN[name].system(n)
    for prop in s.claims:
        r = check(s, prop, engine="pdr", timeout=300)
        assert r.verdict == "proved", (prop, r.detail)
        assert r.certificate is not None
