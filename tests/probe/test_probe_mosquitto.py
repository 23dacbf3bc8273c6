"""mosquitto end to end: QoS 1 and 2 with persistent sessions, under SIGKILLs.

What mosquitto promises is asserted only where it promises it: with no faults, and across
a consumer kill at QoS 1 (the broker keeps the persistent session and redelivers what the
consumer did not PUBACK), nothing is lost. A broker SIGKILL is outside its promise with the
default ``autosave_interval`` (the database is written every 30 minutes and at a clean
shutdown), so there the run must only judge consistently.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from probe_brokers import mosquitto_fixture  # noqa: F401 (the fixture)
from probe_testing import assert_consistent, probe

from ackproof.cli import main


def test_qos1_without_faults_loses_nothing(
    mosquitto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, mosquitto, "qos1", "none")
    assert_consistent(r, capsys)
    assert (r.submitted, r.lost, r.phantom) == (12, 0, 0)


def test_qos1_consumer_kill_loses_nothing(
    mosquitto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, mosquitto, "qos1", "kill-consumer")
    assert_consistent(r, capsys)
    assert r.kills["consumer"] == 1
    assert (r.lost, r.phantom) == (0, 0)
    assert "no-loss" not in r.violated


def test_qos2_broker_kill_is_judged_consistently(
    mosquitto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, mosquitto, "qos2", "kill-broker")
    assert_consistent(r, capsys)
    assert r.kills["broker"] == 1
    assert r.phantom == 0


def test_cli_json_and_kept_traces_agree_with_validate(
    mosquitto: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["probe", "--broker", mosquitto, "--setting", "qos1", "--fault", "none"]
    code = main([*argv, "--messages", "6", "--json", "--trace-dir", str(tmp_path / "traces")])
    doc = json.loads(capsys.readouterr().out)
    (run,) = doc["runs"]
    assert code == {"kept": 0, "broken": 1, "unfinished": 3}[doc["verdict"]]
    assert run["verdict"] == doc["verdict"]
    kept = sorted(Path(t).name for t in run["traces"])
    assert kept == ["broker.jsonl", "receiver.jsonl", "sender.jsonl"]
    assert all(Path(t).parent == tmp_path / "traces" / "mosquitto-qos1-none" for t in run["traces"])
    assert main(["validate", *run["traces"], "--guarantee", "at-least-once", "--json"]) in (0, 1)
    judged = json.loads(capsys.readouterr().out)
    assert (judged["submitted"], judged["processed"]) == (run["submitted"], run["processed"])
    assert len(judged["lost"]) == run["lost"]
    assert judged["violated"] == run["violated"]
