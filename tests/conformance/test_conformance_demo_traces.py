"""``ackproof validate`` on the traces the demo records (real UDP, real SIGKILLs of receivers).

The demo is run small (300 messages per guarantee, two kills each); for each guarantee its
sender and receiver traces are validated merged.  Each guarantee's trace keeps its own promise,
and the stricter verdicts agree with the demo's own durable counts: at-least-once shows
duplicates exactly when the receiver's processed table has some, at-most-once shows losses
exactly when messages were lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ackproof.cli import main as cli_main
from ackproof.validate import events, judge

FLAGS = "--messages 300 --loss 0.2 --dup 0.1 --reorder 0.2 --crash-every 120 --seed 4"


def _run_demo(trace_dir: Path) -> dict[str, dict[str, object]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ackproof.impl.demo",
            "--json",
            "--trace-dir",
            str(trace_dir),
            *FLAGS.split(),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    return {str(row["guarantee"]): row for row in report["guarantees"]}


def _validate(files: list[str], guarantee: str) -> int:
    with contextlib.redirect_stdout(None):
        return cli_main(["validate", *files, "--guarantee", guarantee])


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, object]]]:
    trace_dir = tmp_path_factory.mktemp("demo-traces")
    return trace_dir, _run_demo(trace_dir)


def _files(trace_dir: Path, guarantee: str) -> list[str]:
    return [str(trace_dir / f"{guarantee}-{node}.jsonl") for node in ("sender", "receiver")]


@pytest.mark.parametrize(
    "guarantee",
    ["at-most-once", "at-least-once", "exactly-once"],
)
def test_validate_gives_the_right_verdicts_on_demo_traces(
    guarantee: str, demo: tuple[Path, dict[str, dict[str, object]]]
) -> None:
    trace_dir, rows = demo
    row = rows[guarantee]
    files = _files(trace_dir, guarantee)
    report = judge(events(files))
    assert _validate(files, guarantee) == 0  # each guarantee keeps its own promise
    strict = _validate(files, "exactly-once")
    match guarantee:
        case "exactly-once":
            assert strict == 0
            assert report.processed == 300
        case "at-least-once":
            assert not report.lost
            assert bool(report.duplicated) == (row["duplicated"] != 0)
            assert strict == (1 if report.duplicated else 0)
        case "at-most-once":
            assert len(report.lost) == row["lost"]  # trace and durable log agree on losses
            assert _validate(files, "at-least-once") == (1 if row["lost"] else 0)


@pytest.mark.parametrize("guarantee", ["at-most-once", "at-least-once", "exactly-once"])
def test_demo_traces_never_show_a_duplicate_or_phantom_the_guarantee_forbids(
    guarantee: str, demo: tuple[Path, dict[str, dict[str, object]]]
) -> None:
    """What holds despite the trace gap: lost trace lines can only hide processing."""
    trace_dir, rows = demo
    row = rows[guarantee]
    assert row["kills"] == 2
    assert row["kept_promise"] is True  # the demo's own verdict, from the durable records
    report = judge(events(_files(trace_dir, guarantee)))
    assert report.crashes == 2  # the kills are in the receiver's trace
    assert report.submitted == row["submitted"] == 300
    assert not report.phantom
    if guarantee != "at-least-once":
        assert not report.duplicated
    if guarantee == "exactly-once":
        # Every message the trace calls lost was acked by the receiver: processed, its
        # 'process' line gone with the killed process.  Nothing was really lost.
        assert row["lost"] == 0
        assert all(ack is not None for _, _, ack in report.lost), report.lost
    if guarantee == "at-least-once":
        assert not report.lost
    if guarantee == "at-most-once":
        assert len(report.lost) >= int(str(row["lost"]))  # hidden lines only add losses
