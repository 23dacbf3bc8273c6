"""A receiver node in its own process, so a demo can SIGKILL it for real.

    python -m ackproof.impl.receiver_proc --guarantee G --db FILE --port P --peer-port S
                                          [--trace FILE] [--restarted] [--zygote]

It opens (or recovers) its SQLite store, binds UDP on 127.0.0.1:P, talks to 127.0.0.1:S, prints
``READY pid`` once it is receiving, then ``STAT pid processed frames_sent commits writes``
lines (its own counts since this start) every ``--stat-interval`` seconds, and runs until it is
killed. Nothing it prints is needed for correctness: what it processed is in the store's
``processed`` table.

With ``--zygote`` it is a fork server: it imports everything once, then for each ``START`` or
``RESTART`` line on stdin forks a receiver process and prints ``PID pid``. The demo kills those
with SIGKILL; each one opens the store and the socket itself, so a restart is a real process
restart that costs milliseconds rather than an interpreter start.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys
from contextlib import suppress

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.nodes import open_receiver
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
        "--zygote",
        action="store_true",
        help="fork server: fork a receiver for each START/RESTART line on stdin, print its pid",
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
        pid = os.getpid()
        _say(f"READY {pid}")
        while True:
            s = node.statistics()
            _say(f"STAT {pid} {s.processed} {s.frames_sent} {s.durable_commits} {s.durable_writes}")
            await trio.sleep(args.stat_interval)


def _die_with_parent() -> None:
    """Linux: SIGKILL this process if the fork server dies (so nothing outlives the demo)."""
    with suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


def zygote(args: argparse.Namespace) -> int:
    """Fork one receiver process per START/RESTART line; the children are reaped by the kernel."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    for line in sys.stdin:
        args.restarted = line.strip() == "RESTART"
        pid = os.fork()
        if pid == 0:  # the receiver process: opens its store and socket itself, after the fork
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with_parent()
            try:
                trio.run(serve, args)
            finally:
                os._exit(1)
        _say(f"PID {pid}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.zygote:
        return zygote(args)
    trio.run(serve, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
