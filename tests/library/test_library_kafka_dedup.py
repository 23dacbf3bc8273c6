"""The Kafka and dedup-window library entries: each verdict computed and pinned.

For every entry of ``spec/library/kafka.py``, ``kafka_txn.py`` and ``dedup.py``: the explicit
engine explores the whole state space at the entry's bound and must give exactly the
expected verdict for each property — a holding property with its reachability witness
(every message processed), a violated one with exactly the pinned shortest length.  BMC
must agree on the verdict and the shortest length; the modules load through the CLI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ackproof.cli import main
from ackproof.proofs import check
from ackproof.spec import ProtocolDef, explore
from ackproof.spec.library import LIBRARY, Entry, dedup, kafka, kafka_txn

KAFKA: list[Entry] = [*kafka.ENTRIES, *kafka_txn.ENTRIES]
ENTRIES: list[Entry] = [*KAFKA, *dedup.ENTRIES]
BY_NAME = {e.name: e for e in ENTRIES}
LIBRARY_DIR = Path(__file__).resolve().parents[2] / "spec" / "library"


def test_the_entries_are_in_the_library_under_their_systems() -> None:
    names = {e.name for e in LIBRARY}
    assert set(BY_NAME) <= names
    assert {e.system for e in KAFKA} == {"Kafka"}
    assert {e.system for e in dedup.ENTRIES} == {"Dedup windows"}
    assert len(ENTRIES) == 15


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_explicit_gives_each_expected_verdict_witness_and_shortest_length(name: str) -> None:
    entry = BY_NAME[name]
    props = sorted(entry.expected)
    r = explore(entry.protocol.system(entry.bound), props)
    assert r.complete, f"{name}: the state space must be explored in full"
    got = {p: "violated" if p in r.violations else "holds" for p in props}
    assert got == entry.expected
    for p, verdict in entry.expected.items():
        if verdict == "holds":
            assert p in r.witnesses, f"{name}: {p} holds vacuously"
    assert {p: len(path) for p, path in r.violations.items()} == entry.shortest


SLOW = os.environ.get("ACKPROOF_SLOW") == "1"
#: Entries BMC re-checks in the default run (each in a few seconds); the rest need
#: ``ACKPROOF_SLOW=1`` (the transactions' 19-step duplicates and 15-step witnesses take BMC
#: one to two minutes each on a loaded 2-core machine; the slow set takes ~10 min there).
BMC_FAST = [
    "kafka-producer-retries-inflight2",
    "kafka-epoch-bump-restamp",
    "pulsar-hwm-volatile-seq",
    "pulsar-hwm-durable-seq",
    "sqs-fifo-window-5m",
    "nats-msg-id-window-2m",
]
BMC_SLOW = [n for n in sorted(BY_NAME) if n not in BMC_FAST]


@pytest.mark.parametrize(
    "name",
    [
        *BMC_FAST,
        *(
            pytest.param(n, marks=pytest.mark.skipif(not SLOW, reason="ACKPROOF_SLOW=1"))
            for n in BMC_SLOW
        ),
    ],
)
def test_bmc_agrees_on_verdict_and_shortest_length(name: str) -> None:
    """Each violated property at exactly its pinned length; each holding one with no
    violation up to the depth where the explicit engine reached its witness, and the
    witness reached there too (BMC says "vacuous" otherwise)."""
    entry = BY_NAME[name]
    system = entry.protocol.system(entry.bound)
    witnesses = explore(system, list(entry.expected)).witnesses
    for prop, verdict in sorted(entry.expected.items()):
        depth = entry.shortest[prop] if verdict == "violated" else len(witnesses[prop])
        got = check(system, prop, engine="bmc", depth=depth, timeout=120)
        if verdict == "violated":
            assert got.verdict == "violated", (prop, got.detail)
            assert got.counterexample is not None
            assert len(got.counterexample) == entry.shortest[prop], prop
        else:
            assert got.verdict in ("holds", "proved"), (prop, got.detail)


def test_the_restamped_batch_is_appended_twice() -> None:
    """KAFKA-14034's trace: the retried batch comes back with a new epoch and sequence 0."""
    system = kafka.kafka_epoch_bump_restamp.system(2)
    r = explore(system, ["no-duplicate"], stop_when_decided=True)
    labels = r.labels("no-duplicate")
    assert "broker <- PRODUCE(epoch=0, seq=0, msg=0)" in labels
    assert "producer timer delivery_timeout(1)" in labels
    assert labels[-1] == "broker <- PRODUCE(epoch=1, seq=0, msg=0)"


def test_a_drop_alone_reverses_two_batches_in_flight() -> None:
    """Without idempotence the retries of two failed in-flight batches go out newest
    first (addFirst, oldest failed first): reordered with no broker error at all."""
    r = explore(kafka.kafka_producer_retries.system(2), ["in-order"], stop_when_decided=True)
    labels = r.labels("in-order")
    assert "connection producer<->broker drops" in labels
    assert not any("NOT_ENOUGH_REPLICAS" in x or "follower" in x for x in labels)
    assert labels[-2:] == ["broker <- PRODUCE(msg=1)", "broker <- PRODUCE(msg=0)"]


@pytest.mark.parametrize(
    "pdef", [kafka.kafka_epoch_bump_restamp, kafka.kafka_epoch_bump_wait], ids=lambda p: p.name
)
def test_no_request_of_an_old_epoch_ever_reaches_the_leader(pdef: ProtocolDef) -> None:
    """The models bump the epoch only when nothing is in flight, so the leader's answer
    to an old epoch (INVALID_PRODUCER_EPOCH, not modelled) is never needed."""
    system = pdef.system(2)
    r = explore(system, ["no-duplicate"], keep=True)
    assert r.complete
    assert r.visited is not None
    epoch = system.slot("broker.epoch").index
    to_broker = [ch for ch in system.channels if ch.dst == "broker"]
    stale = [
        f
        for s in r.visited
        for ch in to_broker
        for f in ch.contents(s)
        if int(dict(f.fields)["epoch"]) < int(s[epoch])
    ]
    assert len(r.visited) > 100
    assert stale == []


def test_the_volatile_sequence_loses_a_message_as_a_duplicate() -> None:
    r = explore(dedup.pulsar_hwm_volatile.system(2), ["no-loss"], stop_when_decided=True)
    labels = r.labels("no-loss")
    assert labels[-2] == "broker <- SEND(seq=0, msg=1)"  # dropped: seq 0 seen already
    assert labels[-1] == "producer <- SEND_RECEIPT(seq=0)"  # and message 1 is complete


@pytest.mark.parametrize(
    ("path", "protocol", "code"),
    [
        ("kafka.py", "kafka-idempotent-producer", 0),
        ("dedup.py", "pulsar-hwm-volatile-seq", 1),
    ],
)
def test_the_modules_load_through_the_cli(
    path: str, protocol: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", str(LIBRARY_DIR / path), "--protocol", protocol]
    got = main([*argv, "--json", "--quiet", "--engine", "explicit"])
    doc = json.loads(capsys.readouterr().out)
    assert got == code
    verdicts = {r["property"]: r["verdict"] for r in doc["results"]}
    assert ("violated" in verdicts.values()) == (code == 1)


@pytest.mark.parametrize(("window", "duplicate"), [(3, True), (4, False)])
def test_a_window_must_outlast_the_retries_plus_the_delay(window: int, duplicate: bool) -> None:
    """Retries for 3 ticks, delivery within 1: a 3-tick window duplicates, 4 does not."""
    pdef = dedup.time_window(f"window-{window}", window, 3, 1, source="test")
    r = explore(pdef.system(2), ["no-duplicate"])
    assert r.complete
    assert ("no-duplicate" in r.violations) == duplicate
    assert "no-duplicate" in r.witnesses


@pytest.mark.parametrize(
    ("failure", "violated"),
    [(None, {}), ("restamp", {"no-loss": 4, "no-duplicate": 10}), ("wait", {"no-loss": 4})],
    ids=["kip98", "restamp", "wait"],
)
def test_the_idempotent_verdicts_stay_with_three_batches_in_flight(
    failure: str | None, violated: dict[str, int]
) -> None:
    """Three messages and three requests in flight (still within KIP-98's 5): the same
    verdicts and shortest lengths as the pinned two."""
    pdef = kafka.idempotent_producer("three", failure, max_in_flight=3, description="3")
    props = ["no-loss", "no-duplicate", "no-phantom", "in-order"]
    r = explore(pdef.system(3), props)
    assert r.complete
    assert {p: len(path) for p, path in r.violations.items()} == violated
    assert set(r.witnesses) == set(props)


def test_idempotence_refuses_more_than_five_in_flight() -> None:
    with pytest.raises(ValueError, match="<= 5"):
        kafka.idempotent_producer("six", None, max_in_flight=6, description="6")
