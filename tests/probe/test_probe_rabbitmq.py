"""rabbitmq-server end to end: publisher confirms and manual acks under SIGKILLs.

RabbitMQ promises at-least-once for persistent messages on a durable queue with publisher
confirms and manual acks: a consumer killed before its ack gets the message again, and a
confirmed message survives a broker kill. The broker takes seconds to start, so the broker
kill runs only with ``ACKPROOF_SLOW=1``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from probe_brokers import rabbitmq_fixture  # noqa: F401 (the fixture)
from probe_testing import SLOW, assert_consistent, probe

#: The broker tests share one pytest-xdist worker (./scripts/test): one broker at a time,
#: and on a fresh machine one ``apt-get install`` at a time (``probe_brokers.require``).
pytestmark = pytest.mark.xdist_group("brokers")


def test_confirms_consumer_kill_loses_nothing(
    rabbitmq: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, rabbitmq, "confirms", "kill-consumer")
    assert_consistent(r, capsys)
    assert r.kills["consumer"] == 1
    assert (r.lost, r.phantom) == (0, 0)


@pytest.mark.skipif(not SLOW, reason="a broker restart takes seconds: set ACKPROOF_SLOW=1")
def test_confirms_broker_kill_loses_nothing(
    rabbitmq: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = probe(tmp_path, rabbitmq, "confirms", "kill-broker")
    assert_consistent(r, capsys)
    assert r.kills["broker"] == 1
    assert (r.lost, r.phantom) == (0, 0)
