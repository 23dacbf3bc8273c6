"""Spacer reuses one message's lemma for another only after checking it: renamed
candidates that are not inductive are dropped, and proofs still carry re-checked
certificates."""

from __future__ import annotations

from typing import Any

import pytest

from ackproof.proofs import z3seam as z
from ackproof.proofs.certificate import recheck
from ackproof.proofs.encode import Encoding
from ackproof.proofs.pdr import _message_ids, _only_id, _reuse, spacer
from ackproof.spec.protocols import BUILTIN


def test_swap_exchanges_the_slots_of_two_messages() -> None:
    s = BUILTIN["exactly-once"].system(3)
    perm = s.id_swap(0, 2)
    assert perm is not None
    names = [sl.name for sl in s.slots]
    moved = {names[k]: names[perm[k]] for k in range(len(names)) if perm[k] != k}
    assert moved["submitted[0]"] == "submitted[2]"
    assert moved["sender->receiver#DATA(msg=2)"] == "sender->receiver#DATA(msg=0)"
    assert "submitted[1]" not in moved
    assert "order_broken" not in moved
    assert sorted(perm) == list(range(len(names)))


def test_conjuncts_are_attributed_to_their_message() -> None:
    s = BUILTIN["at-least-once"].system(3)
    ids = _message_ids(s)
    parts = s.properties["no-loss"].invariant.args
    assert [_only_id(p, ids) for p in parts] == [0, 1, 2]
    assert _only_id(s.properties["in-order"].invariant, ids) is None


def test_a_renamed_candidate_that_is_not_inductive_is_rejected() -> None:
    s = BUILTIN["exactly-once"].system(2)
    enc = Encoding(s, mode="int", shape="disjunctive")
    xs, ys, a = enc.state("x"), enc.state("y"), enc.selector("a")
    trans = enc.trans(xs, ys, a)
    names = [sl.name for sl in s.slots]
    # "message 0 is never submitted" holds initially but is not inductive: renamed to
    # message 1, Houdini must drop it, leaving nothing to prove the conjunct with.
    bogus = z.not_(xs[names.index("submitted[0]")])
    part = s.properties["no-loss"].invariant.args[1]
    ids = _message_ids(s)
    assert _reuse(enc, ids, {0: bogus}, 1, [], z.TRUE, trans, xs, ys, part, 10.0) is None


def test_the_later_messages_lemmas_come_from_one_filter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Spacer proves message 0's conjunct; message 1's lemma is renamed from it together
    with those of every later message, in one Houdini run (it was one per message): the
    later conjuncts are then implied, and the certificate re-checks."""
    from ackproof.proofs import pdr

    s = BUILTIN["exactly-once"].system(5)
    calls = {"horn": 0, "reuse": 0}
    horn_check, reuse = z.Horn.check, pdr._reuse

    def count_horn(self: z.Horn) -> z.Outcome:
        calls["horn"] += 1
        return horn_check(self)

    def count_reuse(*args: Any) -> z.Term | None:
        calls["reuse"] += 1
        return reuse(*args)

    monkeypatch.setattr(z.Horn, "check", count_horn)
    monkeypatch.setattr(pdr, "_reuse", count_reuse)
    out = spacer(s, "no-duplicate", timeout=60)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert recheck(s, out.certificate.invariant, s.properties["no-duplicate"].invariant).ok
    assert calls == {"horn": 1, "reuse": 1}


@pytest.mark.parametrize("name", ["at-least-once", "exactly-once"])
def test_no_loss_at_six_messages_is_proved_with_a_certificate(name: str) -> None:
    s = BUILTIN[name].system(6)
    out = spacer(s, "no-loss", timeout=60)
    assert out.status == "proved", out.detail
    assert out.certificate is not None
    assert recheck(s, out.certificate.invariant, s.properties["no-loss"].invariant).ok


def test_a_violation_in_a_later_conjunct_is_still_found() -> None:
    s = BUILTIN["at-most-once"].system(4)
    assert spacer(s, "no-loss", timeout=60).status == "violated"
