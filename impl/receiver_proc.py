"""A receiver node in its own process, so a demo can SIGKILL it for real.

    python -m ackproof.impl.receiver_proc --guarantee G --db FILE --port P --peer-port S
                                          [--trace FILE] [--restarted] [--zygote]
                                          [--kill-mid-commit P] [--kill-after-commit P]

It opens (or recovers) its SQLite store, binds UDP on 127.0.0.1:P, talks to 127.0.0.1:S, prints
``READY pid`` once it is receiving, then ``STAT pid key=value ...`` lines (its own counts since
this start, including every frame it refused and why: ``rejected``, ``truncated``,
``oversized``, ``unknown``, ``malformed``, ``out_of_range``) every ``--stat-interval`` seconds,
and runs until it is killed. Stopped with SIGTERM or Ctrl-C, it prints a last ``STAT`` line and
a one-line report on stderr, and exits 0. Nothing it prints is needed for correctness: what it
processed is in the store's ``processed`` table.

With ``--zygote`` it is a fork server (:mod:`ackproof.impl.nodeproc`): each ``START`` /
``RESTART`` line on stdin forks one receiver process, which the demo kills with SIGKILL.
``--kill-mid-commit`` / ``--kill-after-commit`` make the process SIGKILL itself at those points
with the given probability per commit (:mod:`ackproof.impl.killpoints`; the crash soak).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.killpoints import KillPointStore
from ackproof.impl.nodeproc import (
    Line,
    Options,
    Tag,
    report,
    say,
    serve_forks,
    stat_line,
    stat_loop,
)
from ackproof.impl.nodes import open_receiver
from ackproof.impl.shell import NULL_TRACER, NodeTracer
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.store import Store
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
    p.add_argument("--kill-mid-commit", type=float, default=0.0, metavar="P")
    p.add_argument("--kill-after-commit", type=float, default=0.0, metavar="P")
    p.add_argument("--seed", default="0", help="seed of the kill points")
    p.add_argument(
        "--zygote",
        action="store_true",
        help="fork server: fork a receiver for each START/RESTART line on stdin, print its pid",
    )
    return p.parse_args(argv)


async def open_store(args: argparse.Namespace, incarnation: str) -> Store:
    sqlite = await SQLiteStore.open(args.db, synchronous=args.synchronous)
    if not (args.kill_mid_commit or args.kill_after_commit):
        return sqlite
    return KillPointStore(
        sqlite,
        seed=f"{args.seed}/{incarnation}",
        mid_commit=args.kill_mid_commit,
        after_commit=args.kill_after_commit,
    )


async def serve(args: argparse.Namespace, options: Options | None = None) -> None:
    guarantee = Guarantee(args.guarantee)
    standalone = options is None
    store = await open_store(args, (options or {}).get("incarnation", "0"))
    tracer: NodeTracer = NULL_TRACER
    if args.trace is not None:
        tracer = Tracer.open(args.trace, node="receiver", guarantee=guarantee)
    transport = await UDPTransport.bind(port=args.port, peer_port=args.peer_port)
    pid = os.getpid()
    async with open_receiver(
        guarantee, transport, store=store, max_buffer=0, tracer=tracer, restarted=args.restarted
    ) as node:
        await node.deliveries.aclose()  # the processed table is the application's record
        say(Line(Tag.READY, pid))
        if not standalone:
            await stat_loop(pid, node.statistics, args.stat_interval)  # until SIGKILLed
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(stat_loop, pid, node.statistics, args.stat_interval)
                async for _ in signals:
                    break
                nursery.cancel_scope.cancel()
        final = node.statistics()
    say(stat_line(pid, final))
    print(report("receiver", final), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.zygote:

        def run_node(restarted: bool, options: Options) -> None:
            args.restarted = restarted
            trio.run(serve, args, options)

        return serve_forks(run_node)
    trio.run(serve, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
