"""Checks every probe run must pass, whatever the broker did: the run judges consistently."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ackproof.cli import main
from ackproof.probe.report import render_table
from ackproof.probe.runner import RunConfig, RunResult, run
from ackproof.probe.settings import find
from ackproof.spec.history import resolve

SLOW = os.environ.get("ACKPROOF_SLOW") == "1"  # the project's switch for long tests


def probe(
    tmp_path: Path, broker: str, setting: str, fault: str, *, messages: int = 12, kills: int = 1
) -> RunResult:
    cfg = RunConfig(
        find(broker, setting),
        fault,
        tmp_path,
        messages=messages,
        kills=kills,
        timeout=90.0,
        settle=4.0,
    )
    return run(cfg)


def assert_consistent(
    result: RunResult, capsys: pytest.CaptureFixture[str], *, messages: int = 12
) -> None:
    """The counts add up, ``ackproof validate`` says the same of the traces, the row shows it."""
    assert result.finished, f"the run did not finish: {result.note}"
    assert result.submitted == messages  # a finished producer submitted (and saw acked) all
    # every submitted id is processed or lost; processed ids beyond the submitted are phantoms
    assert result.processed - result.phantom + result.lost == result.submitted
    assert 0 <= result.duplicated <= result.processed
    assert result.extra_deliveries >= result.duplicated
    kills = result.kills
    expected_victim = {
        "kill-broker": "broker",
        "kill-consumer": "consumer",
        "kill-producer": "producer",
    }.get(result.fault)
    for victim, n in kills.items():
        if victim != expected_victim:
            assert n == 0, f"{victim} killed in a {result.fault} run"
    # the judge of `ackproof validate --guarantee` on the very traces agrees with the result
    code = main(["validate", *result.traces, "--guarantee", result.claim, "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert doc["submitted"] == result.submitted
    assert doc["processed"] == result.processed
    assert len(doc["lost"]) == result.lost
    assert len(doc["duplicated"]) == result.duplicated
    assert doc["extra_deliveries"] == result.extra_deliveries
    assert len(doc["out_of_order"]) == result.out_of_order
    assert doc["violated"] == result.violated
    assert set(result.violated) <= set(resolve([result.claim]))
    assert code == (1 if result.violated else 0)
    assert result.verdict == ("broken" if result.violated else "kept")
    # the table's row shows the judged numbers
    row = render_table([result]).splitlines()[1].split()
    assert row[:9] == [
        result.broker,
        result.setting,
        result.fault,
        str(result.submitted),
        str(result.processed),
        str(result.lost),
        str(result.duplicated),
        str(result.extra_deliveries),
        str(result.out_of_order),
    ]
    assert ("BROKEN:" in row) == bool(result.violated)
