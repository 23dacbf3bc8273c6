"""mosquitto end to end: QoS 1 and 2 with persistent sessions, under SIGKILLs.

What mosquitto promises is asserted only where it promises it: with no faults, and across
a consumer kill at QoS 1 (the broker keeps the persistent session and redelivers what the
consumer did not PUBACK), nothing is lost. A broker SIGKILL is outside its promise with the
default ``autosave_interval`` (the database is written every 30 minutes and at a clean
shutdown), so there the run must only judge consistently.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from probe_brokers import mosquitto_fixture  # noqa: F401 (the fixture)
from probe_testing import assert_consistent, probe


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
