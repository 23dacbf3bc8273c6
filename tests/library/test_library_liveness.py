"""Eventual delivery agrees with no-loss on every library entry.

*no-loss* is the safety form (no submitted message is left unprocessed with no copy
anywhere, each ``holds()`` claim checked on fair runs); *eventual-delivery* is the ground
truth: once faults stop, every fair run — reconnects, ticks and patient timers taken
fairly — processes every submitted message.  On every library entry the explicit engine
must decide both, the same way, and as the entry pins no-loss.
"""

from __future__ import annotations

import pytest

from ackproof.proofs import check_many
from ackproof.spec.library import LIBRARY, Entry

#: Entries whose fair-cycle search takes seconds: under ``-m slow``.
SLOW = {"textbook-sr-w3-m4"}


def _param(entry: Entry) -> object:
    marks = (pytest.mark.slow,) if entry.name in SLOW else ()
    return pytest.param(entry, id=entry.name, marks=marks)


@pytest.mark.parametrize("entry", [_param(e) for e in LIBRARY])
def test_eventual_delivery_agrees_with_no_loss(entry: Entry) -> None:
    system = entry.protocol.system(entry.bound)
    r = check_many(system, ["no-loss", "eventual-delivery"], engine="explicit")
    loss, delivery = r["no-loss"], r["eventual-delivery"]
    assert loss.verdict in ("proved", "violated"), loss.detail
    assert delivery.verdict in ("proved", "violated"), delivery.detail
    assert loss.verdict == delivery.verdict, delivery.detail
    if "no-loss" in entry.expected:
        want = "proved" if entry.expected["no-loss"] == "holds" else "violated"
        assert delivery.verdict == want, delivery.detail
    if delivery.verdict == "violated":
        assert delivery.counterexample is not None
        assert delivery.counterexample.calm is not None  # a fair run after the faults


def test_the_slow_entries_exist() -> None:
    assert {e.name for e in LIBRARY} >= SLOW
