"""How a recorded run is counted: one definition, per message id, for every reader of a run.

``ackproof validate`` (reading JSONL traces) and ``ackproof demo`` (reading the receiver's
durable processed log) both reduce a run to two observations and call :func:`tally` on them:

* the ids that were **submitted**;
* for each id, how many **times** it was processed.

From those, per message id (this module is the definition; everything else only displays it):

* ``processed`` — ids processed at least once (submitted or not);
* ``lost`` — submitted ids never processed;
* ``duplicated`` — ids processed more than once;
* ``extra_deliveries`` — processings beyond the first, summed over all ids (an id processed
  three times is one duplicated id and two extra deliveries);
* ``phantom`` — ids processed that were never submitted, or (where the reader knows the order,
  as a trace does) first processed before they were submitted.

They are the observable side of the properties in :mod:`ackproof.spec.history`: no-loss is
``lost == 0`` for a finished run, no-duplicate is ``duplicated == 0``, no-phantom is
``phantom == 0``. Pure Python: no z3, no trio, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Tally:
    """A run counted per message id (see the module docstring for each field)."""

    submitted: int
    processed: int
    lost: int
    duplicated: int
    extra_deliveries: int
    phantom: int

    def as_dict(self) -> dict[str, int]:
        return {
            "submitted": self.submitted,
            "processed": self.processed,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "extra_deliveries": self.extra_deliveries,
            "phantom": self.phantom,
        }


def tally(
    submitted: Iterable[int], times: Mapping[int, int], *, early: Iterable[int] = ()
) -> Tally:
    """Count a run: ``submitted`` ids, and ``times[m]`` = how often id ``m`` was processed.

    Ids with ``times[m] <= 0`` count as never processed. ``early``: ids the reader saw
    processed before their submission (phantoms even though they were submitted later).
    """
    sub = set(submitted)
    done = {m for m, n in times.items() if n > 0}
    return Tally(
        submitted=len(sub),
        processed=len(done),
        lost=len(sub - done),
        duplicated=sum(1 for m in done if times[m] > 1),
        extra_deliveries=sum(times[m] - 1 for m in done),
        phantom=len((done - sub) | (set(early) & done)),
    )
