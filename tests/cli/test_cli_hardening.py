"""Hardening of the checker's CLI (issue 12, "The checker and the CLI"): every phase within
the time limit, sizes the kernel cannot build refused up front, memory bounded, Ctrl-C and
SIGTERM stop any command promptly with one line, and bad files and flags named."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testing import one_line_error, run

from ackproof.spec.kernel import MAX_MESSAGES

ROOT = Path(__file__).resolve().parents[2]


#: Every process a test spawned, reaped after the test whatever happened (see _reap).
_SPAWNED: list[subprocess.Popen[str]] = []


def _signals_as_a_terminal_leaves_them() -> None:
    """In the child: Ctrl-C and SIGTERM at their defaults, even when pytest runs from a
    background shell, which ignores SIGINT (the ignore is inherited, and the test would
    wait for a child that can never hear it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def spawn(args: list[str], tmp: Path, **env: str) -> subprocess.Popen[str]:
    """``ackproof ARGS`` in its own process group, temporary files confined to ``tmp``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ackproof.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp), **env},
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=_signals_as_a_terminal_leaves_them,
    )
    _SPAWNED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def _reap() -> Iterator[None]:
    """A child a test did not see out (a failed assertion, a signal it never got) is
    killed with its process group after the test: two such children of an endless
    protocol once ran on for half an hour, slowing every later measurement."""
    yield
    while _SPAWNED:
        proc = _SPAWNED.pop()
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()


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


@pytest.mark.parametrize("value", ["lots", "0", "-5", "nan"])
def test_a_bad_memory_limit_is_named(
    value: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACKPROOF_MAX_MEMORY", value)
    code, out, err = run(["list"], capsys)
    assert code == 2
    assert out == ""
    assert "ACKPROOF_MAX_MEMORY" in one_line_error(err)


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
    a query stuck in C is stopped by the watcher: one line, temp directory removed.

    The child gets a terminal's signal dispositions as ``spawn``'s do: run from a background
    shell, it inherited SIGINT ignored, never heard it and ran its minutes-long query on
    past the 60 s wait (a failure seen in a backgrounded ``pytest -n 2``); it is reaped
    after the test whatever happens."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(Z3_STUCK)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
        preexec_fn=_signals_as_a_terminal_leaves_them,
    )
    _SPAWNED.append(proc)
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


# -- files and flags -----------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--junit", "--markdown", "--trace-out"])
def test_a_bad_output_path_is_refused_before_the_run(
    flag: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "no-such-dir" / "report.out"
    started = time.monotonic()
    code, out, err = run(["check", "exactly-once", "--messages", "6", flag, str(bad)], capsys)
    assert time.monotonic() - started < 2  # nothing was checked
    assert code == 2
    assert out == ""
    line = one_line_error(err)
    assert flag in line
    assert "no such directory" in line
    code, _, err = run(["check", "exactly-once", flag, str(tmp_path)], capsys)
    assert code == 2
    assert "is a directory" in one_line_error(err)


@pytest.mark.parametrize("command", ["check", "explain"])
def test_trace_out_removes_a_stale_counterexample(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "cx.jsonl"
    code, _, _ = run(
        [command, "at-most-once", "--property", "no-loss", "--trace-out", str(out)], capsys
    )
    assert code == 1
    assert out.read_text().strip()
    args = [command, "at-most-once", "--property", "no-duplicate", "--trace-out", str(out)]
    code, _, _ = run(args, capsys)
    assert code == 0
    assert not out.exists()


def test_a_folder_named_like_a_shipped_protocol_does_not_hide_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exactly-once").mkdir()
    code, out, err = run(["check", "exactly-once", "--property", "no-phantom", "--quiet"], capsys)
    assert code == 0, err
    assert out.startswith("exactly-once: ")


def test_protocol_flag_with_a_shipped_name_is_not_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(["check", "exactly-once", "--protocol", "at-most-once"], capsys)
    assert code == 2
    assert "--protocol at-most-once" in one_line_error(err)
    code, _, _ = run(["check", "exactly-once", "--protocol", "exactly-once", "--quiet"], capsys)
    assert code == 0


def test_debug_is_accepted_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["check", "exactly-once", "--debug", "--property", "no-phantom"], capsys)
    assert code == 0, err
    code, _, _ = run(["--debug", "check", "exactly-once", "--property", "no-phantom"], capsys)
    assert code == 0


def test_stdout_on_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "ackproof.cli", "list"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            timeout=60,
        )
    assert proc.returncode == 2
    assert proc.stderr.strip() == "ackproof: cannot write the output: No space left on device"


# -- traces ----------------------------------------------------------------------------------
SUBMIT = '{"node": "sender", "event": "submit", "msg": 0, "t": 1}\n'
PROCESS = '{"node": "receiver", "event": "process", "msg": 0, "t": 2}\n'


def validate(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    return run(["validate", *args], capsys)


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_a_trace_can_be_piped_in(name: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ackproof.cli", "validate", name, "--json"],
        input=SUBMIT + PROCESS,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert (doc["submitted"], doc["processed"]) == (1, 1)


def test_a_byte_order_mark_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "bom.jsonl"
    f.write_bytes(b"\xef\xbb\xbf" + (SUBMIT + PROCESS).encode())
    code, out, err = validate([str(f)], capsys)
    assert code == 0, err
    assert "1 submitted, 1 processed" in out


def test_a_byte_that_is_not_utf8_names_its_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad = tmp_path / "sender.jsonl", tmp_path / "receiver.jsonl"
    good.write_text(SUBMIT)
    bad.write_bytes(PROCESS.encode() + b'{"node": "receiver\xff"}\n')
    code, _, err = validate([str(good), str(bad)], capsys)
    assert code == 2
    assert f"{bad}:2: not UTF-8 text" in one_line_error(err)


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
        (
            '{"node": "s", "event": "submit", "frame": ' + '{"a": ' * 50_000 + "1" + "}" * 50_001,
            "nested too deeply",
        ),
        ('{"node": "sender", "event": "submit", "msg": ' + "9" * 5000 + "}", "too many digits"),
        ('{"node": "sender", "event": "submit", "msg": 0, "t": NaN}', "NaN"),
        ('{"node": "sender", "event": "submit", "msg": 0, "t": Infinity}', "Infinity"),
        ('{"node": "sender", "event": "submit", "msg": 0, "t": 1e400}', "finite"),
        ('{"node": 1, "event": "submit", "msg": 0}', "field 'node' must be a non-empty string"),
        ('{"node": "sender", "event": 7, "msg": 0}', "field 'event' must be a string"),
        ('{"node": "sender", "event": "submit", "msg": -1}', "field 'msg' must be an id"),
        ('{"node": "sender", "event": "submit", "msg": 18446744073709551616}', "must be an id"),
    ],
)
def test_every_hostile_trace_line_is_an_error_naming_file_and_line(
    line: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "hostile.jsonl"
    f.write_text(SUBMIT + line + "\n")
    for extra in ([], ["--protocol", "exactly-once"]):
        code, _, err = validate([str(f), *extra], capsys)
        assert code == 2
        msg = one_line_error(err)
        assert f"{f}:2: " in msg
        assert needle in msg


TWO_PROTOCOLS = (ROOT / "tests/cli/test_cli_input.py").read_text().split('TWO = """')[1]
TWO_PROTOCOLS = TWO_PROTOCOLS.split('"""')[0]


def test_validate_picks_one_protocol_of_a_file_with_a_flag_it_takes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "two.py"
    spec.write_text(TWO_PROTOCOLS)
    trace = tmp_path / "t.jsonl"
    trace.write_text(SUBMIT + PROCESS)
    code, _, err = validate([str(trace), "--protocol", str(spec)], capsys)
    assert code == 2
    assert "choose one with --protocol-name NAME" in one_line_error(err)
    args = [str(trace), "--protocol", str(spec), "--protocol-name", "second", "--json"]
    code, out, err = validate(args, capsys)
    assert code in (0, 1), err
    assert json.loads(out)["spec"]["protocol"] == "second"


# -- spec errors -----------------------------------------------------------------------------
VARIANT = """
from ackproof.spec import Bool, Builder, Ctx, Expr, Faults, FrameView, protocol


@protocol({name!r}, claims={claims}, faults=Faults(loss=True, crash={crash}))
def build(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    p.sender.var("busy", Bool, durable=True)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.busy = True
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)

    @p.sender.on_restart
    def come_back(ctx: Ctx) -> None:
        {restart}
"""


def write_variant(tmp_path: Path, **kw: str) -> tuple[Path, int]:
    """The variant with ``kw`` filled in, and the line of its restart handler's body."""
    fields = {"name": "v", "claims": "['no-loss']", "crash": "('sender',)", "restart": "pass"}
    fields.update(kw)
    text = VARIANT.format(**fields)
    f = tmp_path / "variant.py"
    f.write_text(text)
    body = text.splitlines().index(f"        {fields['restart']}") + 1
    return f, body


def test_python_control_flow_on_a_field_names_the_field_and_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f, line = write_variant(tmp_path, restart="if ctx.busy: ctx.busy = False")
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    msg = one_line_error(err)
    assert msg.startswith(f"ackproof: {f.name}:{line}: ") or f"{f}:{line}: " in msg
    assert "field 'sender.busy'" in msg
    assert "Python control flow" in msg


def test_an_error_in_the_restart_handler_blames_the_restart_handler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The restart handler runs inside every crash action; the error used to be blamed on
    the action it crashed (``submit(m=0), crash after 1 effect``) with no line."""
    f, line = write_variant(tmp_path, restart="ctx.send(data(msg=ctx.busy + 7))")
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    msg = one_line_error(err)
    assert f":{line}: " in msg
    assert "handler come_back" in msg


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"claims": "'no-loss'"}, "claims takes a list of names"),
        ({"crash": "'sender'"}, "Faults(crash=...) takes a list of names"),
        ({"name": ""}, "a protocol needs a name"),
        ({"name": "   "}, "a protocol needs a name"),
    ],
)
def test_declaration_mistakes_are_named(
    kw: dict[str, str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f, _ = write_variant(tmp_path, **kw)
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    msg = one_line_error(err)
    assert needle in msg
    assert f"{f}:5: " in msg  # the @protocol line
