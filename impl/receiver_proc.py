"""A receiver node in its own process, so a demo can SIGKILL it for real.

    python -m ackproof.impl.receiver_proc --guarantee G --db FILE --port P --peer-port S
                                          [--trace FILE] [--restarted] [--standby]

It opens (or recovers) its SQLite store, binds UDP on 127.0.0.1:P, talks to 127.0.0.1:S, prints
``READY`` once it is receiving, then ``STAT processed frames_sent commits writes`` lines (its own
counts since this start) every ``--stat-interval`` seconds, and runs until it is killed. Nothing
it prints is needed for correctness: what it processed is in the store's ``processed`` table.

With ``--standby`` it imports everything, then waits for a line on stdin before it touches the
store or the socket: a warm standby the demo starts ahead of time, so a restart after SIGKILL
costs milliseconds rather than an interpreter start.
"""

from __future__ import annotations

import argparse
import sys

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.shell import open_receiver
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.trace import Tracer
from ackproof.impl.udp import UDPTransport


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ackproof.impl.receiver_proc")
    p.add_argument("--guarantee", type=Guarantee, choices=list(Guarantee), required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--peer-port", type=int, required=True)
    p.add_argument("--trace")
    p.add_argument("--restarted", action="store_true")
    p.add_argument("--synchronous", choices=["OFF", "NORMAL", "FULL"], default="FULL")
    p.add_argument("--stat-interval", type=float, default=0.05)
    p.add_argument(
        "--standby",
        action="store_true",
        help="import everything, then wait for a line on stdin before opening store and socket",
    )
    return p.parse_args(argv)


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def serve(args: argparse.Namespace) -> None:
    guarantee = Guarantee(args.guarantee)
    store = await SQLiteStore.open(args.db, synchronous=args.synchronous)
    tracer = (
        None
        if args.trace is None
        else Tracer.open(args.trace, node="receiver", guarantee=guarantee)
    )
    transport = await UDPTransport.bind(port=args.port, peer_port=args.peer_port)
    async with open_receiver(
        guarantee, transport, store=store, max_buffer=0, tracer=tracer, restarted=args.restarted
    ) as node:
        await node.deliveries.aclose()  # the processed table is the application's record
        _say("READY")
        while True:
            s = node.statistics()
            _say(f"STAT {s.processed} {s.frames_sent} {s.durable_commits} {s.durable_writes}")
            await trio.sleep(args.stat_interval)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.standby:
        _say("STANDBY")
        if not sys.stdin.readline():
            return 0  # the parent went away before needing this standby
    trio.run(serve, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
