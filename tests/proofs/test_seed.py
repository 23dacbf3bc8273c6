"""The first message's lemma from the protocol with one message (:mod:`ackproof.proofs.seed`):
used where it holds, filtered on the system itself like any candidate, never trusted."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ackproof.proofs import pdr
from ackproof.proofs import z3seam as z
from ackproof.proofs.budget import Clock
from ackproof.proofs.certificate import recheck
from ackproof.proofs.encode import Encoding, StateVars
from ackproof.proofs.pdr import spacer
from ackproof.proofs.seed import SEED_MESSAGES
from ackproof.spec import Expr, System
from ackproof.spec.protocols import BUILTIN


def _count_horn(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Spacer's queries, each recorded with the number of state variables it has."""
    sizes: list[int] = []
    real = z.Horn.__init__

    def init(self: z.Horn, sorts_of: list[z.Term], **kw: float | None) -> None:
        sizes.append(len(sorts_of))
        real(self, sorts_of, **kw)

    monkeypatch.setattr(z.Horn, "__init__", init)
    return sizes


def test_the_first_lemma_comes_from_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """Exactly-once no-loss at N = 6: Spacer's one query is on the one-message instance
    (its lemma, renamed to every message, proves the rest), and the certificate
    re-checks on the six-message system."""
    big = BUILTIN["exactly-once"].system(6)
    asked: list[int] = []
    assert big.instance is not None
    make = big.instance

    def instance(n: int) -> System:
        asked.append(n)
        return make(n)

    s = replace(big, instance=instance)
    sizes = _count_horn(monkeypatch)
    out = spacer(s, "no-loss", timeout=60)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert recheck(s, out.certificate.invariant, s.properties["no-loss"].invariant).ok
    assert asked == [SEED_MESSAGES]
    assert sizes == [len(make(SEED_MESSAGES).slots)]


def test_a_seed_that_does_not_hold_here_is_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    """A seed that is no invariant of this system (here: message 0 is never submitted)
    goes through the filter, is dropped, and Spacer runs on the system as before."""
    s = BUILTIN["exactly-once"].system(4)
    index = [sl.name for sl in s.slots].index("submitted[0]")

    def bogus(system: System, enc: Encoding, xs: StateVars, part: Expr, clock: Clock) -> z.Term:
        return z.not_(xs[index])

    monkeypatch.setattr(pdr, "seed_lemma", bogus)
    sizes = _count_horn(monkeypatch)
    out = spacer(s, "no-loss", timeout=60)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert recheck(s, out.certificate.invariant, s.properties["no-loss"].invariant).ok
    assert sizes
    assert set(sizes) == {len(s.slots)}  # every query on this system


def test_a_system_without_a_smaller_instance_is_proved_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s = replace(BUILTIN["at-least-once"].system(3), instance=None)
    sizes = _count_horn(monkeypatch)
    out = spacer(s, "no-loss", timeout=60)
    assert out.status == "proved", out.detail
    assert set(sizes) == {len(s.slots)}
