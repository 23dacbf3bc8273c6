"""``ackproof demo``: real UDP on loopback, real SIGKILLs of receiver processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ackproof.impl import demo

DEMO = [sys.executable, "-m", "ackproof.impl.demo"]


def _children_of(marker: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        node_proc = b"receiver_proc" in cmdline or b"sender_proc" in cmdline
        if node_proc and marker.encode() in cmdline:
            pids.append(int(entry.name))
    return pids


def run_demo(args: list[str], trace_dir: Path, timeout: float = 120) -> dict[str, object]:
    proc = subprocess.Popen(
        [*DEMO, "--json", "--trace-dir", str(trace_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert _children_of(str(trace_dir)) == [], "receiver processes leaked"
    assert err == b"", err  # no progress bar when stderr is not a terminal
    report = json.loads(out)
    assert isinstance(report, dict)
    report["returncode"] = proc.returncode
    return report


def _by_guarantee(report: dict[str, object]) -> dict[str, dict[str, int]]:
    rows = report["guarantees"]
    assert isinstance(rows, list)
    return {row["guarantee"]: row for row in rows}


def _check_promises(report: dict[str, object], *, min_kills: int) -> dict[str, dict[str, int]]:
    rows = _by_guarantee(report)
    amo, alo, eo = rows["at-most-once"], rows["at-least-once"], rows["exactly-once"]
    assert report["returncode"] == 0
    assert report["ok"] is True
    for row in rows.values():
        assert row["kills"] >= min_kills
        assert row["phantom"] == 0
    assert amo["lost"] > 0  # at-most-once shows losses ...
    assert amo["duplicated"] == 0  # ... and never a duplicate, despite dups and restarts
    assert alo["lost"] == 0  # at-least-once shows no losses ...
    assert alo["duplicated"] > 0  # ... and duplicates
    assert eo["lost"] == 0  # exactly-once shows neither
    assert eo["duplicated"] == 0
    assert eo["processed"] == eo["submitted"]
    return rows


def test_demo_of_record_10000_messages_with_ten_plus_sigkills(tmp_path: Path) -> None:
    """The test of record: 10,000 messages, 20% loss, 10% dup, reordering, 11 SIGKILLs each."""
    flags = "--messages 10000 --loss 0.2 --dup 0.1 --reorder 0.2 --crash-every 900 --seed 1"
    report = run_demo(
        flags.split(),
        tmp_path,
    )
    rows = _check_promises(report, min_kills=10)
    assert all(row["submitted"] == 10000 for row in rows.values())


@pytest.mark.parametrize("seed", [2, 3])
def test_demo_keeps_promises_for_other_seeds_and_writes_traces(seed: int, tmp_path: Path) -> None:
    flags = "--messages 1000 --loss 0.2 --dup 0.1 --reorder 0.2 --crash-every 250 --seed"
    report = run_demo(
        [*flags.split(), str(seed)],
        tmp_path,
    )
    _check_promises(report, min_kills=3)
    for g in ("at-most-once", "at-least-once", "exactly-once"):
        sender = [json.loads(x) for x in (tmp_path / f"{g}-sender.jsonl").read_text().splitlines()]
        receiver = [
            json.loads(x) for x in (tmp_path / f"{g}-receiver.jsonl").read_text().splitlines()
        ]
        events = [r["event"] for r in receiver]
        assert events.count("crash") == 3
        assert events.count("restart") == 3
        assert [r["seq"] for r in receiver] == list(range(len(receiver)))
        assert sum(1 for s in sender if s["event"] == "submit") == 1000
        assert all(r["guarantee"] == g for r in sender + receiver)
        processed = [r["msg"] for r in receiver if r["event"] == "process"]
        if g != "at-least-once":
            assert len(processed) == len(set(processed))  # the trace shows no duplicate either


@pytest.mark.parametrize(
    "argv",
    [
        ["--loss", "-0.1"],
        ["--dup", "1.5"],
        ["--reorder", "2"],
        ["--messages", "0"],
        ["--crash-every", "-1"],
        ["--loss", "abc"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_give_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = demo.main(argv)
    except SystemExit as exc:
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "error" in err
    assert "Traceback" not in err


def test_add_arguments_and_run_are_the_cli_entry_points() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    demo.add_arguments(parser)
    args = parser.parse_args(["--messages", "5", "--crash-every", "2", "--seed", "9"])
    assert (args.messages, args.crash_every, args.seed, args.json) == (5, 2, 9, False)
    assert callable(demo.run)
