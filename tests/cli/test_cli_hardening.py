"""Hardening of the checker's CLI (issue 12, "The checker and the CLI"): every phase within
the time limit, sizes the kernel cannot build refused up front, memory bounded, Ctrl-C and
SIGTERM stop any command promptly with one line, and bad files and flags named."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ackproof.cli import main
from ackproof.spec.kernel import MAX_MESSAGES

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def spawn(args: list[str], tmp: Path, **env: str) -> subprocess.Popen[str]:
    """``ackproof ARGS`` in its own process group, temporary files confined to ``tmp``."""
    return subprocess.Popen(
        [sys.executable, "-m", "ackproof.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp), **env},
        cwd=ROOT,
        start_new_session=True,
    )


def wait_for(path: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)


LOOP = """
from pathlib import Path
Path({mark!r}).write_text("loading")
while True:
    pass
"""


def looping_variant(tmp_path: Path) -> tuple[Path, Path]:
    mark = tmp_path / "loading.mark"
    f = tmp_path / "loops.py"
    f.write_text(LOOP.format(mark=str(mark)))
    return f, mark


# -- resources -----------------------------------------------------------------------------
def test_an_endless_loop_at_import_is_stopped_by_the_time_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f, _ = looping_variant(tmp_path)
    started = time.monotonic()
    code, _, err = run(["check", str(f), "--timeout", "0.5"], capsys)
    assert time.monotonic() - started < 10
    assert code == 3
    line = one_line_error(err)
    assert "inconclusive" in line
    assert f"while loading {f}" in line


def test_lowering_and_compiling_honour_the_time_limit(capsys: pytest.CaptureFixture[str]) -> None:
    """The largest instance takes seconds to lower and compile; --timeout 0.5 stops it."""
    started = time.monotonic()
    args = ["check", "sliding-window-w3-m4", "--messages", str(MAX_MESSAGES), "--timeout", "0.5"]
    code, out, err = run([*args, "--json"], capsys)
    assert time.monotonic() - started < 15
    assert code == 3
    if out:  # stopped while checking: a JSON document of inconclusive results
        doc = json.loads(out)
        assert {r["verdict"] for r in doc["results"]} == {"inconclusive"}
        assert all("time limit (0.5 s)" in r["detail"] for r in doc["results"])
    else:  # stopped while lowering
        assert "time limit (0.5 s) ran out while lowering" in one_line_error(err)


@pytest.mark.parametrize("command", ["prove", "check", "explain"])
def test_more_messages_than_the_kernel_builds_is_refused_up_front(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = [] if command == "prove" else ["exactly-once"]
    started = time.monotonic()
    code, _, err = run([command, *target, "--messages", str(MAX_MESSAGES + 1)], capsys)
    assert time.monotonic() - started < 2
    assert code == 2
    line = one_line_error(err)
    assert "--messages" in line
    assert f"at most {MAX_MESSAGES}" in line


def test_a_variant_declaring_too_many_messages_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "big.py"
    f.write_text(
        (ROOT / "tests/cli/test_cli_input.py")
        .read_text()
        .split('TWO = """')[1]
        .split('"""')[0]
        .replace("faults=Faults(loss=True)", "faults=Faults(loss=True), messages=500")
        .replace('second = make("second")\n', "")
    )
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    assert f"500 messages is more than the {MAX_MESSAGES}" in one_line_error(err)


def test_memory_is_bounded_and_reported_with_what_was_reached(tmp_path: Path) -> None:
    args = ["check", "exactly-once", "--messages", "12", "--engine", "explicit", "--json"]
    proc = spawn([*args, "--property", "no-duplicate"], tmp_path, ACKPROOF_MAX_MEMORY="250")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 3, err
    assert "Traceback" not in err
    (r,) = json.loads(out)["results"]
    assert r["verdict"] == "inconclusive"
    assert "memory limit after" in r["detail"]
    assert r["states"] > 1000


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "soon"])
def test_a_time_limit_must_be_a_positive_finite_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["check", "exactly-once", "--timeout", value], capsys)
    assert code == 2
    assert "--timeout" in one_line_error(err)


# -- signals -------------------------------------------------------------------------------
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_loading_stops_at_once(sig: int, code: int, tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    f, mark = looping_variant(tmp_path)
    proc = spawn(["check", str(f)], temp)
    wait_for(mark)
    sent = time.monotonic()
    os.killpg(proc.pid, sig)  # as a terminal does: the whole process group
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - sent < 5
    assert proc.returncode == code
    assert len(err.splitlines()) == 1, err
    assert err.startswith("ackproof: ")
    assert list(temp.iterdir()) == []


Z3_STUCK = """
import sys
from ackproof.interrupts import announce, guarded, temporary_directory
from ackproof.loader import InputError
from ackproof.proofs import z3seam  # the checker's z3 settings
import signal, z3

n = 12  # the pigeonhole principle for n pigeons: minutes of work in C for z3
p = [[z3.Bool(f"p{i}_{j}") for j in range(n - 1)] for i in range(n)]
s = z3.Solver()
for i in range(n):
    s.add(z3.Or(p[i]))
for j in range(n - 1):
    for i in range(n):
        for k in range(i + 1, n):
            s.add(z3.Or(z3.Not(p[i][j]), z3.Not(p[k][j])))
try:
    with guarded(), temporary_directory("ackproof-test-") as d:
        print(d, flush=True)
        print(s.check(), s.reason_unknown(), file=sys.stderr)
except KeyboardInterrupt:
    sys.exit(announce(signal.SIGINT))
"""


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_long_z3_query_stops_promptly(
    sig: int, code: int, tmp_path: Path
) -> None:
    """z3 no longer swallows Ctrl-C (it used to answer ``unknown`` and the run went on);
    a query stuck in C is stopped by the watcher: one line, temp directory removed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(Z3_STUCK)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    temp = Path(proc.stdout.readline().strip())
    assert temp.is_dir()
    time.sleep(0.3)  # inside s.check()
    sent = time.monotonic()
    os.killpg(proc.pid, sig)
    _, err = proc.communicate(timeout=60)
    assert time.monotonic() - sent < 5
    assert proc.returncode == code, err
    assert err.splitlines() == [
        "ackproof: interrupted" if sig == signal.SIGINT else "ackproof: terminated (SIGTERM)"
    ]
    assert not temp.exists()
