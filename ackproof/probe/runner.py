"""One probe run: broker, proxy, consumer and producer processes, kills, settle, judge.

Theory of operation
-------------------
1. Start the broker (:mod:`.brokers`) and the proxy (:mod:`.proxy`; faults only for the
   ``proxy`` fault, a plain relay otherwise). Clients always connect through the proxy.
2. Start the consumer and wait until it has subscribed, then the producer.
3. Kills, for the ``kill-*`` faults: ``kills`` thresholds spread evenly over the run, on the
   count of the victim's own progress read from the traces (submitted ids for the producer,
   processed ids for the consumer, confirmed ids for the broker). At a threshold the victim
   is SIGKILLed, the harness appends its ``crash`` line (a killed process cannot) and a
   ``restart`` line, and starts it again with the same state folder.
4. The run is *finished* when the producer exits 0 (every id confirmed by the broker) and
   every kill happened (a victim whose threshold is not reached when the producer is done
   is killed then; a producer that is done is not killed any more; kills are ``KILL_GAP``
   s apart at least); then the consumer gets ``settle`` seconds without news (or until
   every submitted id is processed) before it is stopped: *lost* means not processed by
   then. The default ``settle`` (10 s) is longer than a consumer's way back from a
   blackholed connection: the proxy's hold (1.5 s), keepalive detection (MQTT: 1.5 x 2 s)
   and paho's reconnect delay (1-2 s). A run that does not finish
   within ``timeout`` is *unfinished*: ids still unprocessed are in flight, not lost.
5. Judge: the producer's, consumer's and broker's traces are merged by ``t`` and judged by
   :func:`ackproof.validate.judge` — exactly what ``ackproof validate --guarantee`` runs,
   which calls the one judge (:func:`ackproof.spec.judge.judge`) — told whether the run
   finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ackproof.events import TraceEvent
from ackproof.probe.brokers import Broker
from ackproof.probe.journal import append_line
from ackproof.probe.proxy import FaultyProxy, ProxyFaults
from ackproof.probe.settings import KILLS, Setting
from ackproof.spec.history import resolve
from ackproof.spec.judge import Verdict
from ackproof.validate import events, judge

KILL_GAP = 0.5
PROXY_FAULTS = ProxyFaults(delay_rate=0.1, delay=0.05, blackhole_rate=0.005, reset_rate=0.01)


@dataclass(frozen=True)
class RunConfig:
    setting: Setting
    fault: str  # one of settings.FAULTS
    workdir: Path
    messages: int = 50
    kills: int = 2
    seed: int = 0
    timeout: float = 120.0
    settle: float = 10.0
    rate: float = 100.0
    proxy_faults: ProxyFaults = PROXY_FAULTS


@dataclass(kw_only=True)
class RunResult:
    broker: str
    setting: str
    claim: str
    fault: str
    finished: bool
    submitted: int
    processed: int
    lost: int
    in_flight: int  # submitted, not processed when an unfinished run stopped
    duplicated: int
    extra_deliveries: int
    out_of_order: int
    phantom: int
    kills: dict[str, int]
    proxy: dict[str, int]
    violated: list[str]
    elapsed: float
    traces: list[str] = field(default_factory=list)
    note: str = ""
    #: The judge's verdict on the claim: broken, else unfinished, else kept.
    verdict: Verdict


def _count(path: Path, event: TraceEvent) -> int:
    """Distinct ids with an ``event`` line in ``path`` (0 if it does not exist yet)."""
    if not path.exists():
        return 0
    ids = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            obj = json.loads(raw)
            if obj.get("event") == event:
                ids.add(obj.get("msg"))
    return len(ids)


class _Client:
    """A producer or consumer process the harness can kill and start again."""

    def __init__(self, role: str, cfg: RunConfig, port: int, run_dir: Path) -> None:
        self.role = role
        self.node = "sender" if role == "producer" else "receiver"
        self.trace = run_dir / f"{self.node}.jsonl"
        self.state = run_dir / f"{role}-state"
        self.log = run_dir / f"{role}.log"
        self.argv = [
            sys.executable,
            "-m",
            "ackproof.probe.node",
            role,
            cfg.setting.broker,
            "--setting",
            cfg.setting.name,
            "--port",
            str(port),
            "--messages",
            str(cfg.messages),
            "--state",
            str(self.state),
            "--trace",
            str(self.trace),
            "--guarantee",
            cfg.setting.claim,
            "--rate",
            str(cfg.rate),
            *(["--inbox"] if cfg.setting.inbox else []),
        ]
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, then the lines a killed process cannot write itself."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        self.kills += 1
        append_line(self.trace, {"node": self.node, "event": TraceEvent.CRASH})

    def restart(self) -> None:
        append_line(self.trace, {"node": self.node, "event": TraceEvent.RESTART})
        self.start()

    def stop(self) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=3)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _wait_for(path: Path, deadline: float, client: _Client) -> None:
    while not path.exists():
        if not client.running():
            raise RuntimeError(f"the {client.role} exited at start: {_tail(client.log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {client.role} did not get ready: {_tail(client.log)}")
        time.sleep(0.05)


def _tail(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(lines[-3:]) or "(empty log)"


def run(cfg: RunConfig) -> RunResult:
    """Run one (broker, setting, fault) and judge it; raises BrokerUnavailable, RuntimeError."""
    s = cfg.setting
    run_dir = cfg.workdir / f"{s.broker}-{s.name}-{cfg.fault}"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    broker_trace = run_dir / "broker.jsonl"
    broker_trace.touch()
    started = time.monotonic()
    deadline = started + cfg.timeout
    broker = Broker(s.broker, run_dir / "broker", config=s.broker_config)
    broker.start()
    faults = cfg.proxy_faults if cfg.fault == "proxy" else ProxyFaults()
    proxy = FaultyProxy(broker.port, faults, seed=cfg.seed).__enter__()
    consumer = _Client("consumer", cfg, proxy.port, run_dir)
    producer = _Client("producer", cfg, proxy.port, run_dir)
    rng = random.Random(cfg.seed)
    kills = cfg.kills if cfg.fault in KILLS else 0
    step = cfg.messages / (kills + 1)
    thresholds = [
        max(1, round(step * (k + 1) + rng.uniform(-step / 4, step / 4))) for k in range(kills)
    ]
    finished = False
    note = ""
    next_kill = 0.0  # kills at least KILL_GAP s apart: the victim gets back on its feet
    try:
        consumer.start()
        _wait_for(consumer.state / "ready", min(deadline, time.monotonic() + 60), consumer)
        producer.start()
        while time.monotonic() < deadline:
            now = time.monotonic()
            done = producer.process is not None and producer.process.poll() == 0
            if done and cfg.fault == "kill-producer":
                thresholds.clear()  # nothing left to kill it in
            if (
                thresholds
                and now >= next_kill
                and (done or _progress(cfg.fault, producer, consumer) >= thresholds[0])
            ):
                thresholds.pop(0)
                _kill(cfg.fault, producer, consumer, broker, broker_trace)
                next_kill = time.monotonic() + KILL_GAP
            if producer.process is not None and producer.process.poll() not in (None, 0):
                note = f"producer exited with {producer.process.returncode}: {_tail(producer.log)}"
                break
            if not producer.running() and not thresholds:
                finished = True
                break
            time.sleep(0.02)
        if finished:
            _settle(cfg, producer, consumer, min(deadline + cfg.settle, time.monotonic() + 60))
    finally:
        producer.stop()
        consumer.stop()
        proxy.close()
        broker.stop()
    traces = [producer.trace, consumer.trace, broker_trace]
    report = judge(events([str(t) for t in traces]), finished=finished)
    judged, props = report.judgement, resolve([s.claim])
    counts = judged.counts
    return RunResult(
        broker=s.broker,
        setting=s.name,
        claim=s.claim,
        fault=cfg.fault,
        finished=finished,
        submitted=counts.submitted,
        processed=counts.processed,
        lost=counts.lost,
        in_flight=counts.in_flight,
        duplicated=counts.duplicated,
        extra_deliveries=counts.extra_deliveries,
        out_of_order=len(judged.out_of_order),
        phantom=counts.phantom,
        kills={"broker": broker.kills, "consumer": consumer.kills, "producer": producer.kills},
        proxy=proxy.statistics().as_dict(),
        violated=list(judged.violations(props)),
        elapsed=time.monotonic() - started,
        traces=[str(t) for t in traces],
        note=note or ("" if finished else f"not finished within {cfg.timeout:.0f} s"),
        verdict=judged.verdict(props),
    )


def _progress(fault: str, producer: _Client, consumer: _Client) -> int:
    if fault == "kill-producer":
        return _count(producer.trace, TraceEvent.SUBMIT)
    if fault == "kill-consumer":
        return _count(consumer.trace, TraceEvent.PROCESS)
    return _count(producer.trace, TraceEvent.ACK)


def _kill(
    fault: str, producer: _Client, consumer: _Client, broker: Broker, broker_trace: Path
) -> None:
    if fault == "kill-producer":
        if producer.running():
            producer.kill()
            producer.restart()
    elif fault == "kill-consumer":
        consumer.kill()
        time.sleep(0.2)
        consumer.restart()
    elif fault == "kill-broker":
        broker.kill()
        append_line(broker_trace, {"node": "broker", "event": TraceEvent.CRASH})
        time.sleep(0.2)
        broker.restart()
        append_line(broker_trace, {"node": "broker", "event": TraceEvent.RESTART})


def _settle(cfg: RunConfig, producer: _Client, consumer: _Client, deadline: float) -> None:
    """Let the consumer drain: until every submitted id is processed, or ``settle`` quiet s."""
    last_size = -1
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        submitted = _count(producer.trace, TraceEvent.SUBMIT)
        if _count(consumer.trace, TraceEvent.PROCESS) >= submitted:
            time.sleep(min(0.5, cfg.settle))  # late duplicates still count
            return
        size = os.path.getsize(consumer.trace) if consumer.trace.exists() else 0
        if size != last_size:
            last_size, quiet_since = size, time.monotonic()
        elif time.monotonic() - quiet_since > cfg.settle:
            return
        if not consumer.running():
            return
        time.sleep(0.05)
