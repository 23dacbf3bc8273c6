"""Verdicts that say no more than was checked (issue 9, "Verdicts that say more than was
checked"): ``explain`` exits like ``check``, a closed pipe never turns a violation into 0,
nothing to check is an error, and every report shows the fault model actually checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_testing import one_line_error, run

from ackproof.spec import Faults, Link, SpecError, apply_fault_list, parse_faults

#: One sender, one receiver, one loss at most, one frame in flight: a declared model whose
#: budget and capacity ``--faults`` must keep.
BUDGETED = """
from ackproof.spec import Builder, Ctx, Expr, Faults, FrameView, protocol

@protocol("budgeted", claims={claims}, faults=Faults(loss=True, max_losses=1, capacity=1))
def build(p: Builder) -> None:
    data = p.frame("DATA", p.sender, p.receiver, carries="msg", msg=p.msg)
    ack = p.frame("ACK", p.receiver, p.sender, msg=p.msg)

    @p.sender.on_submit
    def submit(ctx: Ctx, m: Expr) -> None:
        ctx.send(data(msg=m))

    @p.receiver.on(data)
    def on_data(ctx: Ctx, f: FrameView) -> None:
        ctx.process(f.msg)
        ctx.send(ack(msg=f.msg))

    @p.sender.on(ack)
    def on_ack(ctx: Ctx, f: FrameView) -> None:
        ctx.ack(f.msg)
"""


def variant(tmp_path: Path, claims: str = '["no-loss", "no-phantom"]') -> str:
    f = tmp_path / "budgeted.py"
    f.write_text(BUDGETED.replace("{claims}", claims))
    return str(f)


# -- explain exits like check --------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        ["mark-before-process", "--engine", "bmc", "--depth", "2"],  # vacuous within depth 2
        ["exactly-once", "--engine", "bmc", "--depth", "3"],  # bounded: holds <= 3
        ["exactly-once", "--messages", "5", "--engine", "pdr", "--timeout", "0.05"],  # timeout
    ],
)
def test_explain_exits_like_check_and_says_what_was_found(
    args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*args, "--property", "no-loss"]
    check_code, check_out, _ = run(["check", *args, "--json"], capsys)
    (r,) = json.loads(check_out)["results"]
    code, out, _ = run(["explain", *args], capsys)
    assert code == check_code
    assert "it holds: nothing to explain" not in out
    assert r["verdict"] != "proved"
    shown = {"vacuous": "vacuous", "holds": "not a proof", "inconclusive": "inconclusive"}
    assert shown[r["verdict"]] in out
    json_code, json_out, _ = run(["explain", *args, "--json"], capsys)
    assert json_code == check_code
    (j,) = json.loads(json_out)["results"]  # JSON even when there is nothing to explain
    assert j["verdict"] == r["verdict"]


def test_explain_exit_0_only_when_proved(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "exactly-once", "--json"], capsys)
    assert code == 0
    assert {r["verdict"] for r in json.loads(out)["results"]} == {"proved"}


# -- a closed pipe is never exit 0 ---------------------------------------------------------
CHECK_VIOLATED = ["check", "at-most-once", "--property", "no-loss"]


def test_a_closed_stdout_never_turns_a_violation_into_0() -> None:
    """``ackproof check BROKEN | head -1`` with the reader gone before anything is written:
    exit 1 (the verdict) or 141 (SIGPIPE), never 0, and no traceback."""
    r, w = os.pipe()
    os.close(r)  # the reader is gone: every write fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "ackproof.cli", *CHECK_VIOLATED],
            stdout=w,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(w)
    assert proc.returncode in (1, 141), proc.stderr
    assert "Traceback" not in proc.stderr
    assert "Exception ignored" not in proc.stderr


# -- nothing to check ------------------------------------------------------------------------
def test_a_variant_that_claims_nothing_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = variant(tmp_path, "[]")
    for cmd in ("check", "explain"):
        code, _, err = run([cmd, f], capsys)
        assert code == 2
        line = one_line_error(err)
        assert "claims nothing" in line
        assert "nothing to check" in line
    code, _, _ = run(["check", f, "--property", "no-loss", "--quiet"], capsys)
    assert code in (0, 1)  # naming a property makes it checkable


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("import sys\nsys.exit(0)\n", "sys.exit(0)"),
        ("raise SystemExit\n", "sys.exit(None)"),
        ("class Boom(BaseException):\n    pass\n\nraise Boom('bang')\n", "Boom: bang"),
    ],
)
def test_leaving_at_import_is_a_load_error(
    body: str, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "leaves.py"
    f.write_text(body)
    code, out, err = run(["check", str(f)], capsys)
    assert code == 2
    line = one_line_error(err)
    assert "leaves.py:" in line
    assert needle in line
    assert out == ""


# -- fault lists -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty fault list"),
        ("  ", "empty fault list"),
        ("loss,crash:", "'crash:'"),
        ("loss,,dup", "item 2 is empty"),
        ("loss,", "item 2 is empty"),
        ("crash()", "'crash()'"),
        ("crash:a|", "'crash:a|'"),
        ("loss,teleport", "'teleport'"),
        ("capacity=x", "'capacity=x'"),
        ("capacity=0", "capacity"),
        ("none,loss", "'none'"),
    ],
)
def test_every_malformed_fault_list_is_an_error_naming_the_item(
    text: str, needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SpecError, match=r"\S"):
        parse_faults(text)
    code, _, err = run(["check", "exactly-once", "--faults", text], capsys)
    assert code == 2
    line = one_line_error(err)
    assert needle in line
    assert "--faults" in line


def test_a_fault_list_keeps_the_declared_budgets_capacity_and_links() -> None:
    declared = Faults(
        loss=True,
        crash=("receiver",),
        max_losses=1,
        max_crashes=2,
        capacity=3,
        within=4,
        links={"sender->receiver": Link(duplicate=False)},
        crash_budgets={"receiver": 1, "sender": 1},
    )
    got = apply_fault_list(declared, "loss,dup,crash:receiver")
    assert (got.loss, got.duplicate, got.reorder, got.crash) == (True, True, False, ("receiver",))
    assert (got.max_losses, got.max_crashes, got.capacity, got.within) == (1, 2, 3, 4)
    assert got.links == declared.links
    assert dict(got.crash_budgets) == {"receiver": 1}  # the sender no longer crashes
    assert not got.crashes("sender")
    over = apply_fault_list(declared, "loss,capacity=1,max_losses=none")
    assert (over.capacity, over.max_losses, over.crash) == (1, None, ())
    for text in ("at most 1 loss", "at most 2 crashes", "capacity 3", "within 4 ticks"):
        assert text in declared.describe()
    assert "receiver crashes at most 1" in declared.describe()
    assert "sender->receiver: Link(duplicate=False)" in declared.describe()
    doc = declared.to_json()
    assert doc["max_losses"] == 1
    assert doc["capacity"] == 3
    assert doc["within"] == 4
    assert doc["crash_budgets"] == {"receiver": 1, "sender": 1}
    assert doc["links"] == {
        "sender->receiver": {
            "kind": "link",
            "loss": None,
            "duplicate": False,
            "reorder": None,
            "capacity": None,
            "max_losses": None,
            "max_duplicates": None,
            "within": None,
        }
    }
    json.dumps(doc)


def test_faults_flag_checks_the_declared_system_and_says_what_it_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same faults as declared: the same system (same state count), the budget and the
    capacity kept; other faults: the header says what was replaced."""
    f = variant(tmp_path)
    common = ["--engine", "explicit", "--property", "no-phantom", "--json", "--quiet"]
    _, declared_out, _ = run(["check", f, *common], capsys)
    _, same_out, _ = run(["check", f, "--faults", "loss", *common], capsys)
    (declared,) = json.loads(declared_out)["results"]
    (same,) = json.loads(same_out)["results"]
    assert declared["states"] == same["states"]
    assert same["fault_model"]["max_losses"] == 1
    assert same["fault_model"]["capacity"] == 1
    _code, out, _ = run(["check", f, "--faults", "loss,dup", "--property", "no-phantom"], capsys)
    header = out.splitlines()[0]
    assert "loss+dup, at most 1 loss, capacity 1" in header
    assert "--faults loss,dup replaced the declared loss, at most 1 loss, capacity 1" in header


def test_every_report_shows_the_budgets_and_capacity_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = variant(tmp_path)
    junit, md = tmp_path / "r.xml", tmp_path / "r.md"
    args = ["check", f, "--property", "no-phantom", "--junit", str(junit), "--markdown", str(md)]
    _, out, _ = run(args, capsys)
    want = "loss, at most 1 loss, capacity 1"
    assert want in out.splitlines()[0]
    assert want in md.read_text()
    (case,) = ET.fromstring(junit.read_text()).findall("testcase")
    prop = case.find("properties/property[@name='faults']")
    assert prop is not None
    assert prop.get("value") == want
    _, out, _ = run([*args, "--json"], capsys)
    (r,) = json.loads(out)["results"]
    assert r["fault_model"]["max_losses"] == 1
    assert r["fault_model"]["capacity"] == 1
    code, out, _ = run(["explain", f, "--property", "no-loss", "--json"], capsys)
    assert code == 1
    assert json.loads(out)["fault_model"]["max_losses"] == 1


@pytest.mark.parametrize(("protocol", "code"), [("exactly-once", 0), ("fire-and-forget", 1)])
def test_the_console_script_writes_everything_before_its_quick_exit(
    tmp_path: Path, protocol: str, code: int
) -> None:
    """The command ends with ``os._exit`` (:func:`ackproof.cli.run`): the exit code is the
    verdict's, stdout (a file: block-buffered) holds the whole JSON document, and every
    report file is whole."""
    junit, markdown = tmp_path / "r.xml", tmp_path / "r.md"
    out = tmp_path / "out.json"
    reports = ["--junit", str(junit), "--markdown", str(markdown)]
    with out.open("w") as stdout:
        proc = subprocess.run(
            [sys.executable, "-m", "ackproof.cli", "check", protocol, "--json", *reports],
            stdout=stdout,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert proc.returncode == code, proc.stderr
    doc = json.loads(out.read_text())
    assert {r["property"] for r in doc["results"]} >= {"no-duplicate"}
    assert junit.read_text().rstrip().endswith("</testsuite>")
    assert markdown.read_text().strip()
