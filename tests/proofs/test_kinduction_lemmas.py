"""k-induction strengthened with Spacer's lemmas (proofs/kengine.py).

What used to happen: ``kinduction(..., assume=...)`` existed but nothing passed Spacer's
lemmas to it, so ``--engine kinduction`` stopped at "holds up to depth 12; not
12-inductive along simple paths" on the clean session's in-order (found in
``benchmarks/unbounded.py``'s sweep), and ``auto``'s symbolic route settled for BMC's
bounded answer whenever its second Spacer run stopped.  The lemmas are assumed only
through Houdini: the tests below also hand both new paths a wrong lemma and require the
truth.  Verdicts are pinned, never times (the time limits are generous)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from environment_cases import system as environment_system

from ackproof.proofs import check, engines, kengine
from ackproof.proofs.budget import Clock
from ackproof.proofs.kengine import spacer_lemmas, with_lemmas
from ackproof.proofs.kinduction import kinduction
from ackproof.proofs.pdr import spacer
from ackproof.proofs.strengthen import infer
from ackproof.proofs.symbolic import make_result
from ackproof.spec import Expr, System
from ackproof.spec.expr import TRUE
from ackproof.spec.interp import Compiled, compile_system
from ackproof.spec.protocols import BUILTIN

#: The sweep's depth (``benchmarks/unbounded.py``, the agreement tests' BMC cap).
DEPTH = 12


def _clean_session() -> System:
    return environment_system("clean-session")


def test_clean_session_in_order_needs_spacers_lemmas_to_be_k_inductive() -> None:
    s = _clean_session()
    alone = kinduction(s, "in-order", max_k=DEPTH, timeout=120)
    assert alone.status == "bounded", alone.detail  # the cheap invariants are not enough
    lemmas = spacer_lemmas(s, "in-order", Clock(120), cap=120)
    assert lemmas, spacer(s, "in-order", timeout=120)  # what Spacer said, if it says no lemma
    out = kinduction(s, "in-order", max_k=DEPTH, timeout=120, assume=lemmas)
    assert out.status == "proved", out.detail
    assert out.certificate is not None


def test_the_kinduction_engine_proves_it_with_spacers_lemmas_and_agrees_with_explicit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(kengine, "LEMMA_PDR_SECONDS", 120.0)  # a loaded machine is slow
    s = _clean_session()
    want = check(s, "in-order", engine="explicit")
    got = check(s, "in-order", engine="kinduction", depth=DEPTH, timeout=120)
    assert want.verdict == got.verdict == "proved", got.detail
    assert "with Spacer's lemmas" in got.detail
    assert got.certificate is not None
    assert got.witness is not None


def test_a_wrong_lemma_on_the_spacer_path_cannot_make_a_false_proof() -> None:
    """``with_lemmas`` is how both engines hand k-induction Spacer's lemmas: assuming
    no-duplicate itself would close the step case at k = 1, so Houdini must drop it, keep
    the true ones, and the base case still find the 4-step duplicate."""
    s = BUILTIN["at-least-once"].system(2)
    bogus = s.properties["no-duplicate"].invariant
    true = infer(s, timeout=120).clauses
    assert true
    comp = compile_system(s)
    got = with_lemmas(s, "no-duplicate", 8, Clock(120), comp, [bogus, *true], "kinduction")
    assert got is not None
    assert got.verdict == "violated"
    assert got.counterexample is not None
    assert len(got.counterexample) == 4
    # alone, the wrong lemma is dropped and nothing is left to assume: no second run
    assert with_lemmas(s, "no-duplicate", 8, Clock(120), comp, [bogus], "kinduction") is None


Attempt = Callable[..., engines.Attempt]


def _stalled(lemmas: tuple[Expr, ...]) -> Attempt:
    """A stand-in for ``auto``'s Spacer runs: they stop without a proof, with ``lemmas``."""

    def attempt(
        system: System, prop: str, depth: int, clock: Clock, comp: Compiled, **_: object
    ) -> engines.Attempt:
        r = make_result(system, prop, "inconclusive", "pdr", clock, "Spacer: stopped")
        return engines.Attempt(r, lemmas)

    return attempt


def _spacer_stalls(monkeypatch: pytest.MonkeyPatch, lemmas: tuple[Expr, ...]) -> None:
    """``auto``'s quick Spacer run stops with nothing, its second one with ``lemmas``."""
    monkeypatch.setattr(engines, "run_pdr", lambda *a, **k: _stalled(())(*a, **k).result)
    monkeypatch.setattr(engines, "pdr_attempt", _stalled(lemmas))


def test_auto_tries_k_induction_with_spacers_lemmas_before_a_bounded_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = _clean_session()
    lemmas = spacer_lemmas(s, "in-order", Clock(120), cap=120)
    _spacer_stalls(monkeypatch, lemmas)
    got = engines.run_auto_z3(s, "in-order", DEPTH, Clock(120), compile_system(s))
    assert got.verdict == "proved", got.detail
    assert got.engine == "auto(kinduction)"


def test_a_wrong_lemma_on_autos_route_leaves_the_bounded_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The duplicate takes 4 steps: at depth 3 BMC finds none (nor the witness: vacuous),
    and the wrong lemma (the property itself) handed over as Spacer's must not turn that
    into a proof."""
    s = BUILTIN["at-least-once"].system(2)
    bogus = (s.properties["no-duplicate"].invariant,)
    _spacer_stalls(monkeypatch, bogus)
    got = engines.run_auto_z3(s, "no-duplicate", 3, Clock(120), compile_system(s))
    assert got.verdict == "vacuous", got.detail
    assert got.engine == "auto(bmc)"


def test_a_proof_the_spec_cannot_spell_whole_still_hands_over_its_clauses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the spec cannot spell Spacer's invariant as a whole, the certificate is z3's
    text (invariant ``true``); the clauses it can spell still reach k-induction (they used
    to be dropped: no lemma at all)."""
    from ackproof.proofs import pdr
    from ackproof.proofs import z3seam as z
    from ackproof.proofs.certificate import Untranslatable, to_expr

    def whole_fails(system: System, t: z.Term, xs: object) -> Expr:
        kind, kids, _ = z.decompose(t)
        if kind == "and" and len(kids) > 1:
            raise Untranslatable("the whole invariant, for this test")
        return to_expr(system, t, xs)  # type: ignore[arg-type]

    monkeypatch.setattr(pdr, "to_expr", whole_fails)
    s = BUILTIN["at-least-once"].system(2)
    out = spacer(s, "no-loss", timeout=60)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert out.certificate.invariant is TRUE
    assert out.lemmas
    assert spacer_lemmas(s, "no-loss", Clock(60))  # a run of its own: its clauses may differ
