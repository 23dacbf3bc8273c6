"""nats-server end to end: JetStream with Nats-Msg-Id dedup (and an inbox consumer), SIGKILLs.

JetStream promises that a PubAck'd message is stored, and the producer's outbox republishes
what was not PubAck'd: across producer kills nothing is lost. Duplicates are not asserted:
a redelivery after a late ack (``ack_wait`` on a loaded machine) is within its promise.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from probe_brokers import nats_server_fixture  # noqa: F401 (the fixture)
from probe_testing import assert_consistent, probe

#: The broker tests share one pytest-xdist worker (./scripts/test): one broker at a time,
#: and on a fresh machine one ``apt-get install`` at a time (``probe_brokers.require``).
pytestmark = pytest.mark.xdist_group("brokers")


def test_msgid_producer_kill_loses_nothing(
    nats_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, nats_server, "msgid", "kill-producer")
    assert_consistent(r, capsys)
    assert r.kills["producer"] == 1
    assert (r.lost, r.phantom) == (0, 0)


def test_msgid_broker_kill_is_judged_consistently(
    nats_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, nats_server, "msgid", "kill-broker")
    assert_consistent(r, capsys)
    assert r.kills["broker"] == 1


def test_msgid_with_an_inbox_consumer_is_exactly_once_across_a_broker_kill(
    nats_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The broker may redeliver what it confirmed as acked (seen in docs/probe.md); the
    inbox consumer turns every redelivery into a skip, and JetStream keeps what it PubAck'd."""
    r = probe(tmp_path, nats_server, "msgid-inbox", "kill-broker")
    assert_consistent(r, capsys)
    assert r.kills["broker"] == 1
    assert (r.lost, r.duplicated, r.phantom) == (0, 0, 0)
    assert r.verdict == "kept"
