"""``ackproof prove --library``: the table, the exit codes, the reports, ``--only``, and
``ackproof list``'s library section."""

from __future__ import annotations

import dataclasses
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ackproof import library_cmd
from ackproof.cli import main
from ackproof.spec.library import LIBRARY

#: A quick subset: every entry of two systems.
SUBSET = "MQTT,Consumer patterns"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_prove_library_prints_every_pinned_verdict_and_exits_0(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(["prove", "--library", "--only", SUBSET, "--engine", "explicit"], capsys)
    chosen = [e for e in LIBRARY if e.system in ("MQTT", "Consumer patterns")]
    assert chosen
    assert code == 0, out
    for e in chosen:
        assert f"  {e.name} " in out
    checks = sum(len(e.expected) for e in chosen)
    assert f"{checks}/{checks} as pinned" in out
    qos0 = next(line for line in out.splitlines() if line.startswith("  mqtt-qos0 "))
    assert "violated (2)" in qos0
    assert "!!" not in out
    for e in chosen:
        if e.note:
            assert f"  {e.name}: {e.note}" in out


def test_prove_library_exits_1_when_a_pinned_length_is_wrong(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry = next(e for e in LIBRARY if e.name == "mqtt-qos0")
    wrong = dataclasses.replace(entry, shortest={"no-loss": entry.shortest["no-loss"] + 1})
    monkeypatch.setattr(library_cmd, "LIBRARY", (wrong,))
    code, out, _ = run(["prove", "--library", "--engine", "explicit"], capsys)
    assert code == 1
    assert "!! mqtt-qos0 / no-loss: pinned violated (3), got violated (2)" in out


def test_prove_library_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    junit, md = tmp_path / "lib.xml", tmp_path / "lib.md"
    args = ["prove", "--library", "--only", "mqtt-qos0,consumer-inbox", "--engine", "explicit"]
    code, out, _ = run([*args, "--json", "--junit", str(junit), "--markdown", str(md)], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["command"] == "prove --library"
    got = {(r["protocol"], r["property"]): (r["verdict"], r["as_expected"]) for r in doc["results"]}
    assert got[("mqtt-qos0", "no-loss")] == ("violated", True)
    assert got[("consumer-inbox", "no-duplicate")] == ("proved", True)
    assert len(got) == 8
    suite = ET.fromstring(junit.read_text())
    assert suite.get("tests") == "8"
    assert suite.get("failures") == "0"
    assert "| mqtt-qos0 |" in md.read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["prove", "--library", "--only", "no-such-protocol"], "no library protocol or system"),
        (["prove", "--only", "MQTT"], "use it with --library"),
    ],
)
def test_prove_library_bad_selection_is_a_clear_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(args, capsys)
    assert code == 2
    assert message in err


def test_list_groups_the_library_by_system(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["list"], capsys)
    assert code == 0
    section = out.split("library (")[1].split("\n\n")[0]
    for system in dict.fromkeys(e.system for e in LIBRARY):
        assert f"\n  {system}:\n" in section
    for e in LIBRARY:
        assert f"    {e.name} " in section


def test_explain_finds_a_library_protocol_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["explain", "mqtt-qos0", "--property", "no-loss", "--engine", "explicit"], capsys
    )
    assert code == 1
    assert "no-loss violated in 2 steps" in out
