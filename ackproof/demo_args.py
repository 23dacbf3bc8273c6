"""The arguments of ``ackproof demo``, apart from the demo itself (:mod:`ackproof.impl.demo`):
the command-line grammar reads them at every start, and the demo's modules load trio and the
implementation, which only the demo needs."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--messages", type=int, default=1000, help="messages per guarantee")
    parser.add_argument("--loss", type=float, default=0.2, help="frame loss rate, 0..1")
    parser.add_argument("--dup", type=float, default=0.1, help="frame duplication rate, 0..1")
    parser.add_argument("--reorder", type=float, default=0.1, help="frame delay/reorder rate, 0..1")
    parser.add_argument(
        "--crash-every",
        type=int,
        default=0,
        metavar="N",
        help="SIGKILL and restart the chosen nodes after every N submitted messages (0: never)",
    )
    parser.add_argument(
        "--kill",
        choices=["receiver", "sender", "both"],
        default="both",
        help="which nodes --crash-every kills (default: both)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault plans")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--trace-dir", metavar="DIR", help="write JSONL traces into DIR")
    parser.add_argument(
        "--rto", type=float, default=0.05, help="initial retransmission timeout, seconds"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="give up on a guarantee after this long"
    )
