"""``prove``, ``check``, ``explain``: verdicts, exit codes, and every output format parsed."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cli_testing import run

from ackproof.cli import main
from ackproof.validate import events, judge

#: One worker under pytest-xdist (./scripts/test): the module's ``prove_outputs`` runs once.
pytestmark = pytest.mark.xdist_group("prove-outputs")

ROOT = Path(__file__).resolve().parents[2]
VARIANT = ROOT / "examples" / "my_exactly_once.py"


@pytest.fixture(scope="module")
def prove_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One run of ``ackproof prove`` with every report written."""
    d = tmp_path_factory.mktemp("prove")
    junit, md = d / "prove.xml", d / "prove.md"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["prove", "--json", "--junit", str(junit), "--markdown", str(md)])
    return {
        "code": str(code),
        "json": buf.getvalue(),
        "junit": junit.read_text(),
        "markdown": md.read_text(),
    }


def test_prove_json_document(prove_outputs: dict[str, str]) -> None:
    assert prove_outputs["code"] == "0"
    doc = json.loads(prove_outputs["json"])
    assert doc["ackproof"] == "0.1.0"
    results = doc["results"]
    assert len(results) == 27 + 5
    keys = {
        "protocol",
        "faults",
        "property",
        "verdict",
        "expected",
        "engine",
        "depth",
        "seconds",
        "counterexample",
    }
    for r in results:
        assert keys <= set(r)
        assert r["verdict"] in ("proved", "holds", "violated", "inconclusive", "vacuous")
        assert r["as_expected"] is True
        if r["verdict"] == "violated":
            cx = r["counterexample"]
            assert cx["length"] == len(cx["steps"]) > 0
        else:
            assert r["counterexample"] is None
    cells = {(r["protocol"], r["faults"], r["property"]): r for r in results}
    assert cells[("at-most-once", "loss", "no-loss")]["verdict"] == "violated"
    assert cells[("at-most-once", "loss", "no-loss")]["counterexample"]["length"] == 2
    assert cells[("at-least-once", "loss", "no-duplicate")]["counterexample"]["length"] == 4
    exactly = [r for r in results if r["protocol"] == "exactly-once"]
    assert len(exactly) == 9
    assert all(r["verdict"] == "proved" for r in exactly)


def test_prove_junit_validates(prove_outputs: dict[str, str]) -> None:
    suite = ET.fromstring(prove_outputs["junit"])
    assert suite.tag == "testsuite"
    assert suite.get("tests") == "32"
    assert suite.get("failures") == "0"
    cases = suite.findall("testcase")
    assert len(cases) == 32
    assert all(c.find("failure") is None for c in cases)
    names = {(c.get("classname"), c.get("name")) for c in cases}
    assert ("ackproof.exactly-once", "loss+dup+reorder+crash / no-loss") in names


def test_prove_markdown_has_matrix_and_charts(prove_outputs: dict[str, str]) -> None:
    md = prove_outputs["markdown"]
    assert "| protocol | faults | property | verdict | expected |" in md
    assert md.count("```mermaid") == 6 + 5  # six violated cells, five broken variants
    assert "sequenceDiagram" in md


def test_prove_text_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["prove", "--no-broken", "--quiet", "--messages", "1"], capsys)
    assert code == 0
    assert re.search(r"at-most-once\s+violated \(2\)\s+proved\s+proved", out)
    assert re.search(r"at-least-once\s+proved\s+violated \(4\)\s+proved", out)
    assert re.search(r"exactly-once\s+proved\s+proved\s+proved", out)
    assert "ackproof explain at-most-once --faults loss --property no-loss" in out
    assert "27/27 as expected" in out


def test_prove_bounded_engine_reports_holds_up_to_depth(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["prove", "--no-broken", "--engine", "bmc", "--depth", "6", "--json"], capsys
    )
    doc = json.loads(out)
    assert code == 0
    holding = [r for r in doc["results"] if r["expected"] == "holds"]
    assert {r["verdict"] for r in holding} == {"holds"}
    assert all(r["depth"] == 6 for r in holding)


def test_check_the_readme_variant(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["check", str(VARIANT)], capsys)
    assert code == 0, out
    for prop in ("no-loss", "no-duplicate", "no-phantom"):
        assert re.search(rf"{prop}\s+proved", out), out


def test_readme_shows_the_variant_verbatim_in_under_40_lines() -> None:
    source = VARIANT.read_text()
    assert source.count("\n") < 40
    assert source.strip() in (ROOT / "README.md").read_text()
    assert "import" in source
    imports = [line for line in source.splitlines() if line.startswith(("import", "from"))]
    assert imports == [imports[0]]
    assert imports[0].startswith("from ackproof.spec import")


def test_check_a_broken_variant_prints_table_and_chart(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    broken = tmp_path / "mine.py"
    source = VARIANT.read_text().replace(
        """        with ctx.when(~ctx.inbox[f.msg]), ctx.atomic():
            ctx.process(f.msg)
            ctx.inbox[f.msg] = True""",
        """        with ctx.when(~ctx.inbox[f.msg]):
            ctx.inbox[f.msg] = True
            ctx.process(f.msg)""",
    )
    assert source != VARIANT.read_text()
    broken.write_text(source)
    trace = tmp_path / "cx.jsonl"
    code, out, _ = run(["check", str(broken), "--trace-out", str(trace)], capsys)
    assert code == 1
    assert re.search(r"no-loss\s+violated \(5\)", out)
    assert "counterexample for no-loss (5 steps)" in out
    assert "crash after 1 effect" in out
    assert "sequenceDiagram" in out
    # the loop closes: the exported counterexample is a trace validate judges a loss
    report = judge(events([str(trace)]))
    assert report.violated("no-loss")
    assert not report.violated("no-duplicate")
    code, out, _ = run(["validate", str(trace), "--guarantee", "exactly-once"], capsys)
    assert code == 1
    assert "no-loss       VIOLATED" in out


def test_check_json_and_named_properties(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["check", "at-least-once", "--property", "no-duplicate", "--faults", "loss", "--json"],
        capsys,
    )
    assert code == 1
    doc = json.loads(out)
    (r,) = doc["results"]
    assert r["property"] == "no-duplicate"
    assert r["faults"] == "loss"
    assert r["counterexample"]["length"] == 4


def test_explain_writes_svg_html_and_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    svg, html = tmp_path / "cx.svg", tmp_path / "cx.html"
    code, out, _ = run(
        ["explain", "mark-before-process", "--svg", str(svg), "--html", str(html)], capsys
    )
    assert code == 1
    assert "mark-before-process under loss+dup+reorder+crash: no-loss violated in 5 steps" in out
    root = ET.fromstring(svg.read_text())
    assert root.tag.endswith("svg")
    assert "VIOLATED no-loss" in svg.read_text()
    assert html.read_text().startswith("<!doctype html>")
    code, out, _ = run(["explain", "fire-and-forget", "--json"], capsys)
    assert code == 1
    doc = json.loads(out)
    assert doc["property"] == "no-duplicate"
    assert [s["kind"] for s in doc["steps"]] == ["submit", "duplicate", "deliver", "deliver"]


def test_explain_a_holding_protocol_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "exactly-once"], capsys)
    assert code == 0
    assert "no counterexample" in out


def test_a_timeout_is_inconclusive_with_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "exactly-once", "--messages", "5", "--engine", "pdr", "--timeout", "0.05"]
    code, out, _ = run([*args, "--property", "no-loss", "--json"], capsys)
    assert code == 3
    (r,) = json.loads(out)["results"]
    assert r["verdict"] == "inconclusive"
    # The budget can be gone before the engine starts (compiling takes most of 0.05 s, all
    # of it on a loaded machine): every engine says "timeout" either way (budget.spent);
    # "no time left in the budget" alone made this fail about one run in two under load.
    assert "timeout" in r["detail"]


def test_beyond_the_explicit_cap_auto_proves_with_spacer_and_a_witness_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """At N = 10 breadth-first search stops at its state cap long before every message can be
    processed; that is not vacuity: auto goes on to a proof and finds a witness run."""
    args = ["check", "exactly-once", "--messages", "10", "--property", "no-duplicate", "--json"]
    code, out, _ = run(args, capsys)
    assert code == 0
    (r,) = json.loads(out)["results"]
    assert r["verdict"] == "proved"
    assert r["engine"] == "auto(pdr)"
    assert r["certificate"]
    assert r["witness_length"] >= 2 * 10  # each message: at least a submit and a delivery


def test_the_explicit_engine_honours_the_time_limit(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["check", "exactly-once", "--messages", "12", "--engine", "explicit"]
    code, out, _ = run([*args, "--timeout", "1", "--property", "no-loss", "--json"], capsys)
    assert code == 3
    (r,) = json.loads(out)["results"]
    assert r["verdict"] == "inconclusive"
    assert "time limit after" in r["detail"]
