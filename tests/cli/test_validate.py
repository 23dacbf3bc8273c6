"""``ackproof validate`` on hand-written traces: loss, duplicate, phantom, malformed files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ackproof import replay
from ackproof.cli import main
from ackproof.output import exit_for
from ackproof.validate import Request, run


def write(tmp_path: Path, name: str, lines: list[dict[str, object] | str]) -> str:
    p = tmp_path / name
    p.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n",
        encoding="utf-8",
    )
    return str(p)


def sub(m: int, **kw: object) -> dict[str, object]:
    return {"node": "sender", "event": "submit", "msg": m, **kw}


def proc(m: int, **kw: object) -> dict[str, object]:
    return {"node": "receiver", "event": "process", "msg": m, **kw}


def ack(m: int, **kw: object) -> dict[str, object]:
    return {"node": "sender", "event": "ack", "msg": m, **kw}


CRASH: dict[str, object] = {"node": "receiver", "event": "crash"}
RESTART: dict[str, object] = {"node": "receiver", "event": "restart"}


def validate(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["validate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_exactly_once_trace_holds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(
        tmp_path, "ok.jsonl", [sub(1), proc(1), ack(1), sub(2), CRASH, RESTART, proc(2), ack(2)]
    )
    code, out, _ = validate([f], capsys)
    assert code == 0
    assert "2 submitted, 2 processed, 0 lost, 0 duplicated" in out


def test_loss_is_reported_with_its_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, "loss.jsonl", [sub(1), proc(1), ack(1), sub(2), CRASH, RESTART, ack(2)])
    code, out, _ = validate([f], capsys)
    assert code == 1
    assert "no-loss       VIOLATED" in out
    assert "message 2: submitted at " in out
    assert "loss.jsonl:4, acked at " in out
    assert "loss.jsonl:7 but never processed" in out


def test_duplicate_is_reported_with_both_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, "dup.jsonl", [sub(1), proc(1), CRASH, RESTART, proc(1), ack(1)])
    code, out, _ = validate([f, "--guarantee", "exactly-once"], capsys)
    assert code == 1
    assert "dup.jsonl:2 and again at" in out
    assert "dup.jsonl:5" in out
    # at-least-once tolerates the duplicate
    code, out, _ = validate([f, "--guarantee", "at-least-once"], capsys)
    assert code == 0


def test_phantom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "ghost.jsonl", [proc(9), sub(1), proc(1)])
    code, out, _ = validate([f, "--guarantee", "at-most-once"], capsys)
    assert code == 1
    assert "message 9: processed at" in out
    assert "ghost.jsonl:1" in out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = write(tmp_path, "j.jsonl", [sub(0), proc(0), proc(0)])
    code, out, _ = validate([f, "--json"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert doc["verdict"] == "violated"
    assert doc["violated"] == ["no-duplicate"]
    assert doc["duplicated"][0]["msg"] == 0


def test_per_node_files_are_merged_by_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = write(tmp_path, "s.jsonl", [sub(1, t=0.1), ack(1, t=0.5), sub(2, t=0.6)])
    r = write(tmp_path, "r.jsonl", [proc(1, t=0.2), proc(2, t=0.7)])
    code, out, _ = validate([s, r], capsys)
    assert code == 0, out


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (["{not json"], "bad.jsonl:1: not valid JSON"),
        ([sub(1), "[1, 2]"], "bad.jsonl:2: expected a JSON object"),
        ([{"node": "sender", "event": "teleport", "msg": 1}], "unknown event 'teleport'"),
        ([{"event": "submit", "msg": 1}], "bad.jsonl:1: missing field 'node'"),
        ([{"node": "sender", "event": "submit"}], "needs field 'msg'"),
        ([{"node": "sender", "event": "submit", "msg": "one"}], "'msg' must be an integer"),
        ([sub(1, t=2.0), sub(2, t=1.0)], "bad.jsonl:2: timestamp 1.0 goes back in time"),
    ],
)
def test_malformed_traces_name_the_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    lines: list[dict[str, object] | str],
    needle: str,
) -> None:
    f = write(tmp_path, "bad.jsonl", lines)
    code, _, err = validate([f], capsys)
    assert code == 2
    assert needle in err
    assert "Traceback" not in err


def test_missing_trace_and_unknown_guarantee(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = validate([str(tmp_path / "none.jsonl")], capsys)
    assert code == 2
    assert "no such file" in err
    f = write(tmp_path, "ok.jsonl", [sub(1), proc(1)])
    code, _, err = validate([f, "--guarantee", "twice"], capsys)
    assert code == 2
    assert "unknown guarantee 'twice'" in err


def test_a_long_trace_is_streamed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = tmp_path / "long.jsonl"
    with p.open("w") as fh:
        for m in range(20_000):
            fh.write(json.dumps(sub(m)) + "\n")
            fh.write(json.dumps(proc(m)) + "\n")
            fh.write(json.dumps(ack(m)) + "\n")
    code, out, _ = validate([str(p)], capsys)
    assert code == 0
    assert "60000 lines: 20000 submitted, 20000 processed" in out


def frame(kind: str, m: int) -> dict[str, object]:
    return {"kind": kind, "msg": m}


def happy_path(m: int = 0) -> list[dict[str, object] | str]:
    return [
        sub(m),
        {"node": "sender", "event": "send", "msg": m, "frame": frame("DATA", m)},
        {"node": "receiver", "event": "receive", "msg": m, "frame": frame("DATA", m)},
        proc(m),
        {"node": "receiver", "event": "send", "msg": m, "frame": frame("ACK", m)},
        {"node": "sender", "event": "receive", "msg": m, "frame": frame("ACK", m)},
        ack(m),
    ]


@pytest.mark.parametrize("protocol", ["at-least-once", "exactly-once"])
def test_a_hand_written_run_is_a_behaviour_of_the_spec(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], protocol: str
) -> None:
    f = write(tmp_path, "run.jsonl", happy_path())
    code, out, _ = validate([f, "--protocol", protocol], capsys)
    assert code == 0, out
    assert f"spec {protocol}: a behaviour the spec allows (7 events matched)" in out


def test_processing_without_receiving_is_not_a_behaviour(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = happy_path()
    lines.insert(1, proc(0))  # the receiver processes before any frame reached it
    lines.pop(4)  # ... and not again after receiving it
    f = write(tmp_path, "bad-run.jsonl", lines)
    code, out, _ = validate([f, "--protocol", "exactly-once"], capsys)
    assert code == 1
    assert "NOT a behaviour the spec allows: " in out
    assert "bad-run.jsonl:2 (receiver process msg=0)" in out


def test_an_exported_counterexample_replays_on_its_protocol_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "cx.jsonl"
    assert main(["explain", "mark-before-process", "--trace-out", str(trace)]) == 1
    capsys.readouterr()
    code, out, _ = validate(
        [str(trace), "--protocol", "mark-before-process", "--guarantee", "at-most-once"], capsys
    )
    assert code == 0, out
    assert "a behaviour the spec allows" in out
    code, out, _ = validate(
        [str(trace), "--protocol", "exactly-once", "--guarantee", "at-most-once", "--json"], capsys
    )
    assert code == 1
    spec = json.loads(out)["spec"]
    assert spec["allowed"] is False
    assert spec["first_bad"] == f"{trace}:7"


def test_frame_level_replay_refuses_big_traces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = write(tmp_path, "big.jsonl", [sub(m) for m in range(10)])
    code, _, err = validate([f, "--protocol", "exactly-once"], capsys)
    assert code == 2
    assert "validate it without --protocol" in err


def test_eventual_delivery_is_judged_not_an_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--guarantee eventual-delivery`` is a property ``resolve`` accepts; the report had no
    entry for it and validate died with ``internal error: KeyError``. On a recorded (finite)
    run the one judge reads it as no-loss."""
    lost = write(tmp_path, "lost.jsonl", [sub(0), proc(0), sub(1)])
    code, out, err = validate([lost, "--guarantee", "eventual-delivery"], capsys)
    assert (code, err) == (1, "")
    assert "eventual-delivery VIOLATED" in out
    fine = write(tmp_path, "fine.jsonl", [sub(0), proc(0)])
    assert validate([fine, "--guarantee", "eventual-delivery"], capsys)[0] == 0


def test_in_order_ranks_a_never_submitted_id_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """As the spec's in-order does (ids in submission order): message 0 first processed after
    phantom 7 is out of order (the phantom used to be left out of the order)."""
    f = write(tmp_path, "order.jsonl", [sub(0), proc(7), proc(0)])
    code, out, _ = validate([f, "--guarantee", "in-order", "--json"], capsys)
    doc = json.loads(out)
    assert code == 1
    assert [x["msg"] for x in doc["out_of_order"]] == [0]
    assert [x["msg"] for x in doc["phantom"]] == [7]


def test_a_replay_that_gives_up_is_inconclusive_with_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one status no other test reached: the judge finds nothing, the replay gives up."""
    monkeypatch.setattr(replay, "MAX_CONFIGURATIONS", 0)
    f = write(tmp_path, "run.jsonl", happy_path())
    code, out, _ = validate([f, "--protocol", "exactly-once"], capsys)
    assert code == 3
    assert "spec exactly-once: inconclusive: gave up after " in out
    code, out, _ = validate([f, "--protocol", "exactly-once", "--json"], capsys)
    assert code == 3
    doc = json.loads(out)
    assert (doc["verdict"], doc["violated"], doc["spec"]["inconclusive"]) == ("holds", [], True)


def test_validate_run_takes_a_request_and_returns_an_outcome(tmp_path: Path) -> None:
    """``validate.run`` is typed both ways: a request in, an outcome out (nothing printed);
    the command maps the outcome's status to the exit code (``output.exit_for``)."""
    f = write(tmp_path, "dup.jsonl", [sub(0), proc(0), proc(0), ack(0)])
    outcome = run(Request((f,), "exactly-once"))
    assert outcome.status == "violated"
    assert outcome.violated == ("no-duplicate",)
    assert outcome.properties == ("no-loss", "no-duplicate", "no-phantom")
    assert outcome.replay is None
    assert outcome.lines()[1:3] == ["  no-loss       holds", "  no-duplicate  VIOLATED"]
    assert exit_for(outcome.status) == 1
    assert run(Request((f,), "at-least-once")).status == "ok"
