"""A producer or consumer process: ``python -m ackproof.probe.node ROLE BROKER ...``.

The harness starts it, may SIGKILL it at any moment and starts it again with the same
arguments; everything it must remember lives in ``--state`` (the producer's outbox) and in
its trace. The producer exits 0 once every one of ``--messages`` ids is confirmed by the
broker; the consumer runs until it is stopped. Exit 2: bad arguments or a client library
that is not installed (one line on stderr).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path

from ackproof.probe.journal import Outbox, Trace, recover_submits


@dataclass
class NodeArgs:
    role: str
    broker: str
    setting: str
    port: int
    messages: int
    state: Path
    trace: Path
    guarantee: str
    rate: float
    inbox: bool


def parse(argv: list[str] | None = None) -> NodeArgs:
    p = argparse.ArgumentParser(prog="python -m ackproof.probe.node")
    p.add_argument("role", choices=["producer", "consumer"])
    p.add_argument("broker", choices=["mosquitto", "nats", "rabbitmq"])
    p.add_argument("--setting", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--messages", type=int, default=10)
    p.add_argument("--state", type=Path, required=True)
    p.add_argument("--trace", type=Path, required=True)
    p.add_argument("--guarantee", required=True)
    p.add_argument("--rate", type=float, default=200.0, help="submits per second at most")
    p.add_argument("--inbox", action="store_true", help="consumer: skip ids already processed")
    a = p.parse_args(argv)
    return NodeArgs(**vars(a))


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.state.mkdir(parents=True, exist_ok=True)
    module = {"mosquitto": "mqtt_client", "nats": "nats_client", "rabbitmq": "amqp_client"}
    try:
        client = importlib.import_module(f"ackproof.probe.{module[args.broker]}")
    except ImportError as e:
        print(
            f"probe node: client library missing ({e}): pip install 'ackproof[probe]'",
            file=sys.stderr,
        )
        return 2
    if args.role == "producer":
        trace = Trace(args.trace, node="sender", guarantee=args.guarantee)
        outbox = Outbox.open(args.state / "outbox.jsonl")
        recover_submits(outbox, trace)
        return int(client.produce(args, outbox, trace))
    trace = Trace(args.trace, node="receiver", guarantee=args.guarantee)
    return int(client.consume(args, trace))


if __name__ == "__main__":
    raise SystemExit(main())
