"""Bad input to the ``ackproof`` command: one line naming what and where, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testing import one_line_error, run

from ackproof.engine_names import ENGINES

TWO = """
from ackproof.spec import Builder, Ctx, Expr, Faults, FrameView, protocol

def make(name: str):
    @protocol(name, claims=["at-most-once"], faults=Faults(loss=True))
    def build(p: Builder) -> None:
        data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)

        @p.sender.on_submit
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.send(data(msg=m))

        @p.receiver.on(data)
        def on_data(ctx: Ctx, f: FrameView) -> None:
            ctx.process(f.msg)

    return build

first = make("first")
second = make("second")
"""


def test_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(["check", str(tmp_path / "nope.py")], capsys)
    assert code == 2
    assert "nope.py: no such file" in one_line_error(err)


def test_syntax_error_names_the_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "broken.py"
    f.write_text("from ackproof.spec import protocol\n\ndef oops(:\n    pass\n")
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    assert "broken.py:3: syntax error" in one_line_error(err)


def test_file_with_no_protocol(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "empty.py"
    f.write_text("x = 1\n")
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    assert "no protocol found" in one_line_error(err)


def test_two_protocols_and_no_choice(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "two.py"
    f.write_text(TWO)
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "defines 2 protocols (first, second)" in line
    assert "--protocol" in line


def test_unknown_protocol_name_in_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "two.py"
    f.write_text(TWO)
    code, _, err = run(["check", str(f), "--protocol", "third"], capsys)
    assert code == 2
    assert "no protocol named 'third'" in one_line_error(err)


def test_error_while_loading_names_the_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "raises.py"
    f.write_text("import math\n\nmath.sqrt(-1)\n")
    code, _, err = run(["check", str(f)], capsys)
    assert code == 2
    assert "raises.py:3: error while loading: ValueError" in one_line_error(err)


def test_malformed_variant_names_protocol_action_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    f = tmp_path / "typo.py"
    f.write_text(TWO.replace("ctx.process(f.msg)", "ctx.procesed = 1"))
    code, _, err = run(["check", str(f), "--protocol", "first"], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "protocol 'first'" in line
    assert "action 'receiver <- DATA(msg=0)'" in line
    assert "field 'receiver.procesed'" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["prove", "--depth", "-1"], "depth must be at least 0"),
        (["prove", "--depth", "ten"], "depth must be an integer"),
        (["prove", "--engine", "magic"], "invalid choice: 'magic'"),
        (["prove", "--timeout", "0"], "timeout must be positive"),
        (["prove", "--messages", "0"], "messages must be at least 1"),
        (["check", "exactly-once", "--faults", "loss,fire"], "unknown fault 'fire'"),
        (["check", "exactly-once", "--property", "exactly-twice"], "exactly-twice"),
        (["explain", "exactly-once", "--property", "fast"], "unknown property 'fast'"),
        (["check", "no-such-protocol"], "neither a Python file nor a known protocol"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_flags(args: list[str], needle: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(args, capsys)
    assert code == 2
    assert needle in one_line_error(err)


def test_list_names_every_builtin_and_property(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list"], capsys)
    assert code == 0
    for word in (
        "at-most-once",
        "at-least-once",
        "exactly-once",
        "no-loss",
        "no-duplicate",
        "no-phantom",
        "volatile-dedup",
        "loss+dup+reorder+crash",
    ):
        assert word in out


OVERFLOW = """
from ackproof.spec import Builder, Ctx, Expr, Faults, FrameView, Int, protocol

@protocol("overflow", claims=["at-most-once"], faults=Faults(duplicate=True))
def overflow(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    p.receiver.var("count", Int(0, 1))

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.count = ctx.count + 1
        ctx.process(f.msg)
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_value_out_of_range_is_found_by_every_engine(
    engine: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """z3 engines must not read an out-of-range step as 'no transition' (and say 'holds')."""
    f = tmp_path / "overflow.py"
    f.write_text(OVERFLOW)
    code, _, err = run(["check", str(f), "--engine", engine], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "malformed variant: protocol 'overflow'" in line
    assert "receiver.count set outside 0..1" in line
