"""The one time budget (``proofs/budget.py``): every engine stops on it the same way, and
``auto``'s race stops its explicit search on the same checks as ``--engine explicit``.

Before it (issue 13 item 7) each engine kept its own timer: BMC said "out of time at depth
k" and decided from z3's reason text whether an ``unknown`` was a timeout; ``auto``'s race
replaced the explicit search's stop hook with its own and never checked the address-space
limit, so under ``ACKPROOF_MAX_MEMORY`` its explicit search ran on until ``MemoryError``
(the subprocess test below died with a traceback) instead of stopping with what it reached.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ackproof.engine_names import ENGINES, EngineName
from ackproof.proofs import check_many, z3seam
from ackproof.proofs.budget import GRACE, Clock, Stopped, spent
from ackproof.spec.protocols import BUILTIN

ROOT = Path(__file__).resolve().parents[2]


def test_a_clock_answers_left_expired_and_spent() -> None:
    clock = Clock(60.0)
    left = clock.left()
    assert left is not None
    assert 50.0 < left <= 60.0
    assert clock.left(5.0) == 5.0
    assert not clock.expired()
    assert clock.spent() == "timeout after 60 s"
    share = clock.share(2.0)
    assert share.timeout is not None
    assert share.timeout <= 2.0
    gone = Clock(0.0)
    assert gone.expired()
    assert gone.spent() == "timeout: no time left in the budget"
    assert gone.left_for_recheck() == GRACE  # a re-check gets its grace, even when spent
    assert gone.share(30.0).expired()  # a share never outlives the check's budget
    unlimited = Clock(None)
    assert unlimited.left() is None
    assert unlimited.left(3.0) == 3.0
    assert not unlimited.expired()
    assert unlimited.left_for_recheck() is None
    assert spent(None) == "timeout"


def test_the_stop_hook_says_why_it_stopped() -> None:
    stop = Clock(0.0).stop()
    assert stop(1024)
    assert stop.why is Stopped.TIME
    assert stop.reason == "time limit"
    rival = Clock(0.0).stop(rival=lambda states: states >= 2048)
    assert rival(2048)
    assert rival.why is Stopped.ANSWERED
    calm = Clock(None).stop()
    assert not calm(1024)
    assert calm.why is None
    assert calm.reason == ""


def test_z3_milliseconds_never_end_before_the_budget() -> None:
    assert z3seam.milliseconds(0.0104) == 11  # rounded up: z3 gives up after the budget
    assert z3seam.milliseconds(2.0) == 2000
    assert z3seam.milliseconds(0.0) == 1  # 0 would mean "no limit" to z3


@pytest.mark.parametrize("engine", ENGINES)
def test_an_expired_budget_is_inconclusive_and_names_the_time(engine: EngineName) -> None:
    """Every engine, given no time at all, answers ``inconclusive`` saying it was the time
    limit (the explicit search stops at its first check, after 1024 states)."""
    system = BUILTIN["exactly-once"].system(3)
    (r,) = check_many(system, ["no-duplicate"], engine=engine, timeout=1e-9).values()
    assert r.verdict == "inconclusive", r
    assert "time limit" in r.detail or "timeout" in r.detail, r.detail


#: Run one check in a process whose address space is capped at 250 MB (as the CLI does for
#: ``ACKPROOF_MAX_MEMORY``); in ``auto`` the symbolic route is replaced by one that answers
#: nothing, so what is reported is the explicit search's own stop.
MEMORY_SCRIPT = """
import json, resource, sys
from ackproof.proofs import auto, check_many
from ackproof.spec.protocols import BUILTIN

def silent(*args):
    args[-1].close()  # the symbolic route's pipe: no answer at all

auto._symbolic = silent
system = BUILTIN["exactly-once"].system(12)
_, hard = resource.getrlimit(resource.RLIMIT_AS)
resource.setrlimit(resource.RLIMIT_AS, (250 * 2**20, hard))
(r,) = check_many(system, ["no-duplicate"], engine=sys.argv[1], timeout=240).values()
print(json.dumps({"verdict": r.verdict, "detail": r.detail, "states": r.states}))
"""


@pytest.mark.parametrize("engine", ["explicit", "auto"])
def test_the_address_space_limit_stops_auto_as_it_stops_explicit(
    engine: str, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(MEMORY_SCRIPT), engine],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    r = json.loads(proc.stdout)
    assert r["verdict"] == "inconclusive"
    assert "memory limit after" in r["detail"], r["detail"]
    assert r["states"] > 1000
