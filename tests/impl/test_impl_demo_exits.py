"""``ackproof demo``'s endings, with real subprocesses and signals: unfinished runs, Ctrl-C,
SIGTERM, bad numbers, and tiny crash intervals. Each ends in one line and the CLI's exit codes
(0 ok, 1 violated, 2 bad input, 3 inconclusive, 4 internal; 130 / 143 on SIGINT / SIGTERM),
never a traceback, and leaves no temporary folder and no process behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DEMO = [sys.executable, "-m", "ackproof.impl.demo"]


def _node_processes(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"_proc" in cmdline and marker.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def _start(args: list[str], tmp: Path) -> subprocess.Popen[bytes]:
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}  # the demo's temporary folders go here
    return subprocess.Popen(
        [*DEMO, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )


def _finish(proc: subprocess.Popen[bytes], timeout: float = 60) -> tuple[str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return out.decode(), err.decode()


def _wait_for_nodes(tmp: Path, n: int = 6, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while len(_node_processes(str(tmp))) < n:
        assert time.monotonic() < deadline, "the demo never started its node processes"
        time.sleep(0.05)
    time.sleep(0.3)  # let them work a little


@pytest.mark.parametrize(
    ("signum", "code", "name"),
    [(signal.SIGINT, 130, "SIGINT"), (signal.SIGTERM, 143, "SIGTERM")],
)
def test_a_signal_stops_the_demo_with_one_line_and_nothing_left_behind(
    signum: int, code: int, name: str, tmp_path: Path
) -> None:
    """Ctrl-C printed 7 tracebacks and exited 1; SIGTERM left the temporary folders behind."""
    proc = _start(["--messages", "200000", "--crash-every", "5000"], tmp_path)
    _wait_for_nodes(tmp_path)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)  # Ctrl-C reaches the whole foreground process group
    else:
        proc.send_signal(signum)
    out, err = _finish(proc, timeout=20)
    assert proc.returncode == code, err
    assert err.strip() == f"ackproof demo: interrupted ({name})"
    assert out == ""
    assert list(tmp_path.iterdir()) == []  # no ackproof-demo-* folder left
    time.sleep(0.2)
    assert _node_processes(str(tmp_path)) == []


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "-inf"])
def test_a_timeout_that_is_not_a_positive_number_is_bad_input(value: str, tmp_path: Path) -> None:
    """``--timeout nan`` was accepted, then failed inside the run: exit 4."""
    out, err = _finish(_start(["--messages", "5", f"--timeout={value}"], tmp_path))
    assert err.strip().splitlines() == [
        f"ackproof demo: error: --timeout must be a positive number of seconds, got {float(value)}"
    ]
    assert out == ""
    assert list(tmp_path.iterdir()) == []


def test_an_unfinished_run_is_inconclusive_not_lost(tmp_path: Path) -> None:
    """``--loss 0.99``: what is still in the sender's outbox when time runs out was reported
    lost ("BROKEN", exit 1). It is in flight: the table says unfinished, exit 3.

    The table run and the ``--json`` run wait out their 5 s side by side, not one after the
    other (each has its own temporary folder under ``tmp_path``)."""
    flags = ["--messages", "20", "--loss", "0.99", "--timeout", "5", "--seed", "1"]
    proc = _start(flags, tmp_path)
    json_proc = _start(["--json", *flags], tmp_path)
    try:
        out, err = _finish(proc)
        json_out, _ = _finish(json_proc)
    finally:
        if json_proc.poll() is None:  # the table run failed: leave nothing behind
            os.killpg(json_proc.pid, signal.SIGKILL)
            json_proc.wait()
    assert proc.returncode == 3, err
    assert err == ""
    rows = {line.split()[0]: line for line in out.splitlines()[1:4]}
    assert "BROKEN" not in out
    for g in ("at-least-once", "exactly-once"):
        assert "unfinished:" in rows[g]
        assert "(inconclusive)" in rows[g]
    assert "kept: never twice" in rows["at-most-once"]  # finished: it never retries
    assert json_proc.returncode == 3
    doc = json.loads(json_out)
    assert doc["verdict"] == "unfinished"
    for row in doc["guarantees"]:
        if row["guarantee"] != "at-most-once":
            assert row["finished"] is False
            assert row["verdict"] == "unfinished"
            assert row["lost"] == 0
            assert row["in_flight"] + row["processed"] == row["submitted"] > 0


def test_killing_after_every_message_ends_in_a_table(tmp_path: Path) -> None:
    """``--crash-every 1``: a restarted receiver's READY could arrive before its PID line and be
    dropped; the start then timed out and the demo died with an internal error, no table."""
    proc = _start(
        ["--json", "--messages", "40", "--crash-every", "1", "--kill", "receiver", "--seed", "3"],
        tmp_path,
    )
    out, err = _finish(proc, timeout=90)
    assert proc.returncode == 0, err
    doc = json.loads(out)
    for row in doc["guarantees"]:
        assert row["receiver_kills"] == 39
        assert row["sender_kills"] == 0
        assert row["duplicated"] == 0 or row["guarantee"] == "at-least-once"
    assert list(tmp_path.iterdir()) == []
