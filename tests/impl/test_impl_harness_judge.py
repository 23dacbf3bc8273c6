"""The demo's harness judges its durable records with the one judge (``spec/judge.py``).

``harness.judge`` used to count phantoms, corrupted payloads and ids in flight itself and to
decide its verdict with its own match per guarantee; these pin what it now hands over.
"""

from __future__ import annotations

import pytest

from ackproof.impl.events import Guarantee
from ackproof.impl.harness import GuaranteeResult, judge
from ackproof.impl.nodeproc import payload_for

RECORDS = {"frames_sent": 0, "frames_rejected": 0, "durable_writes": 0, "durable_commits": 0}


def harness(
    g: Guarantee,
    accepted: dict[int, int],
    log: list[tuple[int, bytes]],
    *,
    outbox: set[int] | None = None,
    finished: bool = True,
) -> GuaranteeResult:
    return judge(
        g,
        accepted,
        log,
        outbox=outbox or set(),
        receiver_kills=0,
        sender_kills=0,
        elapsed=0.0,
        finished=finished,
        **RECORDS,
    )


@pytest.mark.parametrize("g", list(Guarantee), ids=str)
def test_a_corrupted_payload_breaks_every_promise(g: Guarantee) -> None:
    accepted = {0: 0, 1: 1}  # workload key -> message id
    r = harness(g, accepted, [(0, payload_for(0)), (1, b"someone else's")])
    assert (r.corrupted, r.phantom, r.lost, r.processed) == (1, 0, 0, 2)
    assert r.verdict == "broken"
    assert not r.kept_promise


def test_the_outbox_is_in_flight_and_a_phantom_is_counted_per_id() -> None:
    accepted = {0: 10, 1: 11, 2: 12}
    log = [(10, payload_for(0)), (99, b"never accepted"), (99, b"never accepted")]
    r = harness(Guarantee.AT_LEAST_ONCE, accepted, log, outbox={11})
    assert (r.lost, r.in_flight, r.phantom, r.duplicated, r.extra_deliveries) == (1, 1, 1, 1, 1)
    assert r.verdict == "broken"
    clean = harness(Guarantee.AT_LEAST_ONCE, accepted, log[:1], outbox={11, 12})
    assert (clean.lost, clean.in_flight) == (0, 2)
    assert clean.verdict == "unfinished"  # finished driving, yet two are still in flight


def test_an_unfinished_at_most_once_run_is_unfinished_not_kept() -> None:
    """A run cut short by --timeout was called kept for at-most-once (which promises nothing
    of loss), unfinished for the others: every guarantee now waits for a whole run."""
    accepted = {0: 0, 1: 1}
    r = harness(Guarantee.AT_MOST_ONCE, accepted, [(0, payload_for(0))], finished=False)
    assert (r.verdict, r.lost) == ("unfinished", 1)  # held by no one, yet not a broken promise
    done = harness(Guarantee.AT_MOST_ONCE, accepted, [(0, payload_for(0))])
    assert (done.verdict, done.lost) == ("kept", 1)
