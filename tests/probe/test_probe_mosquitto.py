"""mosquitto end to end: QoS 1 and 2 with persistent sessions, under SIGKILLs.

What mosquitto promises is asserted only where it promises it: with no faults, and across
a consumer kill at QoS 1 (the broker keeps the persistent session and redelivers what the
consumer did not PUBACK), nothing is lost. A broker SIGKILL is outside its promise with the
default ``autosave_interval`` (the database is written every 30 minutes and at a clean
shutdown), so there the run must only judge consistently.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from probe_brokers import mosquitto_fixture  # noqa: F401 (the fixture)
from probe_testing import assert_consistent, probe

from ackproof.cli import main
from ackproof.probe.brokers import Broker

#: The broker tests share one pytest-xdist worker (./scripts/test): one broker at a time,
#: and on a fresh machine one ``apt-get install`` at a time (``probe_brokers.require``).
pytestmark = pytest.mark.xdist_group("brokers")


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


def test_the_broker_really_persists(mosquitto: str, tmp_path: Path) -> None:
    """Run as root, mosquitto drops to the user 'mosquitto' unless told otherwise, and then
    cannot write its persistence folder: every 'persistence true' figure would be void."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    broker = Broker(mosquitto, tmp_path, config=("autosave_on_changes true", "autosave_interval 1"))
    broker.start()
    try:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="p", clean_session=False)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        client.subscribe("t", qos=1)  # a change the broker must save
        deadline = time.monotonic() + 10
        while not (tmp_path / "data" / "mosquitto.db").exists():
            assert time.monotonic() < deadline, (tmp_path / "mosquitto.log").read_text()
            time.sleep(0.05)
        client.loop_stop()
    finally:
        broker.stop()
