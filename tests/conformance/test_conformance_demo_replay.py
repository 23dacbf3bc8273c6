"""``validate --protocol``: the demo's own traces are behaviours of their specs, frame by frame.

The demo is run short (5 messages per guarantee, sender and receiver SIGKILLed every 2
submissions) for several seeds; each guarantee's merged trace must replay against the spec of
the same name.  Those traces have what hand-written ones lack: batches (``receive, receive,
..., effects``), ids that jump by a block after a sender restart, more frames in flight than
the spec's default channel holds, torn batches with ``recovered`` lines before a ``crash``.
A run doctored to process a message twice must still be refused, at the doctored line.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conformance_support import run_demo

from ackproof.events import Event
from ackproof.replay import _in_flight, replay_trace
from ackproof.validate import events

#: One worker under pytest-xdist (./scripts/test): the module's ``runs`` happen once.
pytestmark = pytest.mark.xdist_group("demo-replay")

GUARANTEES = ["at-most-once", "at-least-once", "exactly-once"]
SEEDS = [1, 2, 4]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    out = {}
    for seed in SEEDS:
        d = tmp_path_factory.mktemp(f"demo-{seed}")
        run_demo(d, f"--messages 5 --crash-every 2 --seed {seed}")
        out[seed] = d
    return out


def _trace(d: Path, g: str) -> list[Event]:
    return list(events([str(d / f"{g}-sender.jsonl"), str(d / f"{g}-receiver.jsonl")]))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("guarantee", GUARANTEES)
def test_every_demo_trace_is_a_behaviour_of_its_spec(
    runs: dict[int, Path], seed: int, guarantee: str
) -> None:
    trace = _trace(runs[seed], guarantee)
    assert {e.node for e in trace if e.event == "crash"} == {"sender", "receiver"}
    replay = replay_trace(trace, guarantee)
    assert replay.allowed, replay.describe()
    assert replay.consumed == replay.total == len(trace)


def test_the_demo_traces_have_what_hand_written_ones_lack(runs: dict[int, Path]) -> None:
    """Not vacuous: across the runs there are batches, id blocks and more than two frames in
    flight, which the replay used to refuse."""
    traces = [_trace(d, g) for d in runs.values() for g in GUARANTEES]
    batched = any(
        a.event == b.event == "receive" and a.node == b.node
        for t in traces
        for a, b in itertools.pairwise(t)
    )
    assert batched
    assert max(e.msg for t in traces for e in t if e.msg is not None) >= 1024
    assert max(_in_flight(t) for t in traces) > 2


def test_a_demo_trace_doctored_to_process_twice_is_refused_at_that_line(
    runs: dict[int, Path], tmp_path: Path
) -> None:
    src = runs[SEEDS[0]]
    lines = (src / "exactly-once-receiver.jsonl").read_text().splitlines()
    first = next(i for i, raw in enumerate(lines) if json.loads(raw)["event"] == "process")
    lines.insert(first + 1, lines[first])  # the same message processed again, at once
    bad = tmp_path / "receiver.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    trace = list(events([str(src / "exactly-once-sender.jsonl"), str(bad)]))
    replay = replay_trace(trace, "exactly-once")
    assert not replay.allowed
    assert not replay.inconclusive
    assert replay.first_bad is not None
    assert replay.first_bad.where == f"{bad}:{first + 2}"
    # the at-least-once spec processes every copy, but only of a frame it received
    assert not replay_trace(trace, "at-least-once").allowed
