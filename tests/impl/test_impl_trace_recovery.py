"""A SIGKILL between a commit and the trace flush: the trace catches up to the durable log."""

from __future__ import annotations

import json
from pathlib import Path

from ackproof.impl.trace import TraceEvent, Tracer, reconcile_processed


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_missing_process_lines_are_recovered_once(tmp_path: Path) -> None:
    trace = tmp_path / "receiver.jsonl"
    t = Tracer.open(trace, node="receiver")
    t.emit(TraceEvent.PROCESS, 1)
    t.close()
    # the durable log says 1 was processed once, 2 twice (at-least-once), 3 once
    assert reconcile_processed(trace, [1, 2, 3, 2], node="receiver") == 3
    got = [(x["msg"], x.get("recovered", False)) for x in lines(trace)]
    assert got == [(1, False), (2, True), (3, True), (2, True)]
    # reconciling again adds nothing: the trace now matches the log
    assert reconcile_processed(trace, [1, 2, 3, 2], node="receiver") == 0
    seqs = [int(str(x["seq"])) for x in lines(trace)]
    assert seqs == sorted(seqs)


def test_a_torn_last_line_is_cut_before_appending(tmp_path: Path) -> None:
    trace = tmp_path / "receiver.jsonl"
    trace.write_text('{"node":"receiver","event":"process","msg":0}\n{"node":"recei')
    assert reconcile_processed(trace, [0, 5], node="receiver") == 1
    got = lines(trace)  # every line parses
    assert [x["msg"] for x in got] == [0, 5]
