"""The standing robustness suite: hostile argument lists, trace lines and spec files.

Whatever a user types or feeds in, every command ends with one of the documented exit codes
(0 as expected, 1 violated, 2 bad input, 3 inconclusive) — never 4, the internal error —
prints no traceback, and a bad-input exit names what was wrong.  Wire frames have their own
suite (``tests/impl/test_impl_frames_robustness.py``).

Default: a few dozen examples per strategy (seconds).  ``HYPOTHESIS_PROFILE=nightly`` or
``ACKPROOF_SLOW=1``: many more.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ackproof.cli import main
from ackproof.engine_names import ENGINES

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "nightly" or os.environ.get("ACKPROOF_SLOW") == "1"
SETTINGS = settings(
    max_examples=1500 if LONG else 40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DOCUMENTED = {0, 1, 2, 3}
ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[int, str, str]:
    """``ackproof`` in this process: exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as e:  # argparse's --help and usage errors
            code = e.code if isinstance(e.code, int) else 2
    return code, out.getvalue(), err.getvalue()


def assert_well_behaved(argv: list[str], code: int, err: str) -> None:
    assert code in DOCUMENTED, (argv, code, err)
    assert "Traceback" not in err, (argv, err)
    if code == 2:
        assert err.strip(), f"exit 2 with nothing on stderr for {argv}"


# -- argument lists ------------------------------------------------------------------------
COMMANDS = ["check", "explain", "list", "prove", "validate", "frobnicate", ""]
TARGETS = ["exactly-once", "at-least-once", "at-most-once", "mark-before-process", "nope"]
FLAG_VALUES: dict[str, list[str]] = {
    "--messages": ["1", "2", "0", "-1", "65", "two", "1e3", ""],
    "--faults": ["loss", "loss,dup", "", "loss,crash:", "crash:receiver", "warp", "none,loss"],
    "--property": ["no-loss", "no-duplicate", "eventual-delivery", "exactly-once", "x", ""],
    "--engine": [*ENGINES, "magic"],
    "--depth": ["0", "3", "-2", "abc"],
    "--timeout": ["2", "0", "-1", "nan", "inf", "1e-9", "x"],
    "--protocol": ["exactly-once", "x"],
    "--guarantee": ["exactly-once", "at-most-once", "maybe-once", ""],
    "--junit": ["/nonexistent-dir/r.xml", "/"],
    "--trace-out": ["/nonexistent-dir/t.jsonl"],
}
BARE_FLAGS = ["--json", "--quiet", "--debug", "--no-broken", "--certify", "--help-me"]


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    argv = [draw(st.sampled_from(COMMANDS))]
    if argv[0] in ("check", "explain") or draw(st.booleans()):
        argv.append(draw(st.sampled_from(TARGETS)))
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            argv.append(draw(st.sampled_from(BARE_FLAGS)))
        else:
            flag = draw(st.sampled_from(sorted(FLAG_VALUES)))
            argv += [flag, draw(st.sampled_from(FLAG_VALUES[flag]))]
    if argv[0] in ("check", "explain", "prove"):
        argv += ["--timeout", "5"]  # the last one wins: the suite stays fast
    return argv


@SETTINGS
@given(argument_lists())
def test_any_argument_list_ends_with_a_documented_exit(argv: list[str]) -> None:
    argv = [a for a in argv if a != "--debug"]  # --debug shows tracebacks on purpose
    code, _, err = run(argv)
    assert_well_behaved(argv, code, err)


# -- trace lines ---------------------------------------------------------------------------
EVENTS = ["submit", "send", "receive", "process", "ack", "crash", "restart", "drop", "weird"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)


@st.composite
def trace_line(draw: st.DrawFn) -> str:
    how = draw(st.sampled_from(["event", "event", "event", "json", "nested", "text", "digits"]))
    if how == "event":
        obj: dict[str, object] = {
            "node": draw(st.sampled_from(["sender", "receiver", 1, None])),
            "event": draw(st.sampled_from(EVENTS)),
        }
        if draw(st.booleans()):
            obj["msg"] = draw(st.one_of(st.integers(-3, 5), SCALARS))
        if draw(st.booleans()):
            obj["t"] = draw(SCALARS)
        if draw(st.booleans()):
            obj["frame"] = draw(st.one_of(st.just({"kind": "DATA", "msg": 0}), SCALARS))
        return json.dumps(obj)
    if how == "json":
        return json.dumps(draw(st.one_of(SCALARS, st.lists(SCALARS, max_size=3))))
    if how == "nested":
        depth = draw(st.integers(1, 100_000))
        return "[" * depth + "]" * depth
    if how == "digits":
        return '{"node": "sender", "event": "submit", "msg": ' + "9" * 5000 + "}"
    return draw(st.text(max_size=40))


@SETTINGS
@given(
    lines=st.lists(trace_line(), max_size=12),
    prefix=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe"]),
    guarantee=st.sampled_from(["exactly-once", "at-least-once", "at-most-once"]),
    protocol=st.booleans(),
)
def test_any_trace_ends_with_a_documented_exit(
    lines: list[str], prefix: bytes, guarantee: str, protocol: bool
) -> None:
    with tempfile.TemporaryDirectory(prefix="ackproof-robust-") as d:
        path = Path(d) / "trace.jsonl"
        path.write_bytes(prefix + "\n".join(lines).encode("utf-8", "surrogatepass"))
        argv = ["validate", str(path), "--guarantee", guarantee]
        if protocol:
            argv += ["--protocol", guarantee]
        code, _, err = run(argv)
        assert_well_behaved(argv, code, err)
        if code == 2:
            assert "trace.jsonl" in err or "--" in err, err


# -- spec files ----------------------------------------------------------------------------
SOURCES = sorted(
    [*(ROOT / "spec" / "examples").glob("*.py"), ROOT / "examples" / "my_exactly_once.py"]
)
SOURCES = [p for p in SOURCES if p.name != "__init__.py"]


@st.composite
def mutated_source(draw: st.DrawFn) -> str:
    """An example file with a few lines deleted, duplicated or garbled."""
    lines = draw(st.sampled_from(SOURCES)).read_text(encoding="utf-8").splitlines()
    for _ in range(draw(st.integers(1, 3))):
        k = draw(st.integers(0, len(lines) - 1))
        how = draw(st.sampled_from(["delete", "duplicate", "truncate", "swap"]))
        if how == "delete":
            del lines[k]
        elif how == "duplicate":
            lines.insert(k, lines[k])
        elif how == "truncate":
            lines[k] = lines[k][: draw(st.integers(0, len(lines[k])))]
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[k], lines[j] = lines[j], lines[k]
    return "\n".join(lines) + "\n"


@settings(SETTINGS, max_examples=300 if LONG else 12)
@given(source=mutated_source(), engine=st.sampled_from(["explicit", "bmc", "auto"]))
def test_any_mangled_spec_file_ends_with_a_documented_exit(source: str, engine: str) -> None:
    with tempfile.TemporaryDirectory(prefix="ackproof-robust-") as d:
        path = Path(d) / "variant.py"
        path.write_text(source, encoding="utf-8")
        argv = ["check", str(path), "--messages", "1", "--engine", engine, "--depth", "8"]
        argv += ["--timeout", "5"]
        code, _, err = run(argv)
        if "several protocols" in err or "--protocol" in err:
            return  # a file with several protocols asks which one: a documented exit 2
        assert_well_behaved(argv, code, err)
