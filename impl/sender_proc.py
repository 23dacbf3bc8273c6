"""A sender node and its producer in their own process, so a demo can SIGKILL the sender for real.

    python -m ackproof.impl.sender_proc --guarantee G --db FILE --port P --peer-port R
                                        --messages N [--trace FILE] [--zygote] [faults...]

The producer submits the workload items ``first_key .. N-1`` (payload
:func:`~ackproof.impl.nodeproc.payload_for`), in order, through a sender node whose durable
outbox is the SQLite file; the link to the receiver (UDP on loopback) goes through a seeded
fault-injecting wrapper (loss, duplication, delay/reorder, both directions). It prints
``ACCEPTED pid key msg`` the moment an item gets its message id -- after its outbox row is
committed (at-least-once, exactly-once), before its first frame leaves -- then ``DONE pid`` once
every item is accepted and acknowledged (at-most-once: sent), and ``STAT`` lines throughout
(:mod:`ackproof.impl.nodeproc` has the line protocol).

Recovery after a SIGKILL is the node's own: a restarted sender loads its outbox and retransmits
every unacknowledged message; the parent starts the new producer at the first item that was not
accepted (``first_key=``): what was accepted is exactly the ``ACCEPTED`` lines plus the items
found in the durable outbox, always a prefix of the workload, because items are submitted in
order and accepted in order.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections import deque

import trio

from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates, open_faulty_transport
from ackproof.impl.killpoints import KillPointStore
from ackproof.impl.nodeproc import (
    Line,
    Options,
    Tag,
    payload_for,
    say,
    serve_forks,
    stat_line,
    stat_loop,
)
from ackproof.impl.nodes import open_sender
from ackproof.impl.sender import RetryPolicy
from ackproof.impl.shell import NULL_TRACER, NodeTracer
from ackproof.impl.sqlite_store import SQLiteStore
from ackproof.impl.store import Store
from ackproof.impl.trace import Tracer
from ackproof.impl.udp import UDPTransport


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m ackproof.impl.sender_proc")
    p.add_argument("--guarantee", type=Guarantee, choices=list(Guarantee), required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--peer-port", type=int, required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--first-key", type=int, default=0)
    p.add_argument("--trace")
    p.add_argument("--restarted", action="store_true")
    p.add_argument("--synchronous", choices=["OFF", "NORMAL", "FULL"], default="FULL")
    p.add_argument("--stat-interval", type=float, default=0.05)
    p.add_argument("--loss", type=float, default=0.0)
    p.add_argument("--dup", type=float, default=0.0)
    p.add_argument("--reorder", type=float, default=0.0)
    p.add_argument("--max-delay", type=float, default=0.02)
    p.add_argument("--seed", default="0", help="seed of the fault plans and kill points")
    p.add_argument("--rto", type=float, default=0.05)
    p.add_argument("--max-in-flight", type=int, default=256)
    p.add_argument(
        "--pause-every",
        type=int,
        default=0,
        metavar="N",
        help="after every N accepted items print PAUSED and SIGSTOP this process (0: never)",
    )
    p.add_argument("--kill-mid-commit", type=float, default=0.0, metavar="P")
    p.add_argument("--kill-after-commit", type=float, default=0.0, metavar="P")
    p.add_argument("--zygote", action="store_true", help="fork server (see receiver_proc)")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace, options: Options) -> None:
    guarantee = Guarantee(args.guarantee)
    incarnation = options.get("incarnation", "0")
    first_key = int(options.get("first_key", args.first_key))
    seed = f"{args.seed}/{incarnation}"
    sqlite = await SQLiteStore.open(args.db, synchronous=args.synchronous)
    store: Store = sqlite
    if args.kill_mid_commit or args.kill_after_commit:
        store = KillPointStore(
            sqlite, seed=seed, mid_commit=args.kill_mid_commit, after_commit=args.kill_after_commit
        )
    tracer: NodeTracer = NULL_TRACER
    if args.trace is not None:
        tracer = Tracer.open(args.trace, node="sender", guarantee=guarantee)
    udp = await UDPTransport.bind(port=args.port, peer_port=args.peer_port)
    rates = FaultRates(loss=args.loss, dup=args.dup, reorder=args.reorder, max_delay=args.max_delay)
    policy = RetryPolicy(initial=args.rto, maximum=max(0.5, args.rto), minimum=args.rto)
    pid = os.getpid()
    keys: deque[int] = deque()
    all_accepted = trio.Event()

    def accepted(msg: int) -> None:
        nonlocal all_accepted
        say(Line(Tag.ACCEPTED, pid, (keys.popleft(), msg)))
        if not keys:
            all_accepted.set()
            all_accepted = trio.Event()

    async with (
        open_faulty_transport(udp, rates=rates, seed=seed) as link,
        open_sender(
            guarantee,
            link,
            store=store,
            policy=policy,
            max_in_flight=args.max_in_flight,
            tracer=tracer,
            restarted=args.restarted,
            on_accepted=accepted,
        ) as sender,
        trio.open_nursery() as nursery,
    ):
        say(Line(Tag.READY, pid))
        nursery.start_soon(stat_loop, pid, sender.statistics, args.stat_interval)
        for key in range(first_key, args.messages):
            keys.append(key)
            await sender.send(payload_for(key))
            if guarantee is Guarantee.AT_MOST_ONCE:
                # Nothing bounds an at-most-once sender's queue (there is no ack to wait for):
                # hand each message to the network before the next, as a fire-and-forget
                # producer writes to its socket, so a kill loses what was on the way, not a
                # whole backlog.
                await sender.wait_all_acked()
            if args.pause_every and (key + 1) % args.pause_every == 0 and key + 1 < args.messages:
                if keys:
                    await all_accepted.wait()
                say(stat_line(pid, sender.statistics()))
                say(Line(Tag.PAUSED, pid, (key,)))
                os.kill(pid, signal.SIGSTOP)  # the parent kills what it wants, then SIGCONT
        await sender.wait_all_acked()
        say(stat_line(pid, sender.statistics()))
        say(Line(Tag.DONE, pid))
        await trio.sleep_forever()  # until killed: late copies still get their frames


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.zygote:

        def run_node(restarted: bool, options: Options) -> None:
            args.restarted = restarted
            trio.run(serve, args, options)

        return serve_forks(run_node)
    trio.run(serve, args, {})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
