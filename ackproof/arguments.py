"""The command line's grammar: every command, its flags and their types (a bad value is
one line naming the flag, via :class:`ArgError`).  No command runs here; each command's
runner lives in its own module (``*_cmd.py``) and is set as the parser's ``func``."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import NoReturn

from ackproof import __version__
from ackproof.check_cmd import cmd_check
from ackproof.demo_args import add_arguments as demo_arguments
from ackproof.engine_names import ENGINES
from ackproof.explain_cmd import cmd_explain
from ackproof.list_cmd import cmd_list
from ackproof.probe import command as probe
from ackproof.prove_cmd import cmd_prove
from ackproof.spec import SpecError, parse_faults
from ackproof.spec.kernel import MAX_MESSAGES
from ackproof.validate_cmd import cmd_demo, cmd_validate


class ArgError(Exception):
    """A bad command line: the message is argparse's, prefixed with the command."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgError(f"{self.prog}: {message}")


def _nonneg_int(
    what: str, *, minimum: int = 0, maximum: int | None = None, why: str = ""
) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} must be an integer, got {text!r}") from None
        if v < minimum:
            raise argparse.ArgumentTypeError(f"{what} must be at least {minimum}, got {v}")
        if maximum is not None and v > maximum:
            raise argparse.ArgumentTypeError(f"{what} must be at most {maximum}{why}, got {v}")
        return v

    return parse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"timeout must be a number, got {text!r}") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(
            f"timeout must be positive and finite (seconds), got {text!r} (omit it for no limit)"
        )
    return v


#: ``--messages``: at most what the kernel builds (see :data:`MAX_MESSAGES`).
_messages = _nonneg_int(
    "messages", minimum=1, maximum=MAX_MESSAGES, why=" (the largest instance ackproof builds)"
)


def _faults(text: str) -> str:
    """A ``--faults`` list, checked now (every malformed item is an error naming it) and
    applied to the protocol's declared model later (:func:`apply_fault_list`)."""
    try:
        parse_faults(text)
    except SpecError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _engine_options(p: argparse.ArgumentParser, *, depth: int = 30) -> None:
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help=f"auto (portfolio), {', '.join(ENGINES[1:-1])} or {ENGINES[-1]} (default: auto)",
    )
    p.add_argument(
        "--depth",
        type=_nonneg_int("depth"),
        default=depth,
        metavar="K",
        help=f"bound for bounded engines (default: {depth})",
    )
    p.add_argument(
        "--timeout",
        type=_positive_float,
        default=None,
        metavar="S",
        help="time limit per obligation in seconds (a check of several properties gets "
        "this much per property, shared: one exploration serves them all)",
    )
    p.add_argument(
        "--certify",
        action="store_true",
        help="under auto, wait (within the time limit) for a re-checked inductive invariant "
        "before reporting an exhaustive proof",
    )


def _report_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (one test case per check)")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown report with charts")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ackproof",
        description="Prove message-delivery guarantees instead of claiming them.",
    )
    parser.add_argument("--version", action="version", version=f"ackproof {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("prove", help="prove the guarantee matrix of the built-in protocols")
    p.add_argument(
        "--messages",
        type=_messages,
        default=2,
        metavar="N",
        help="number of messages in each bounded instance (default: 2)",
    )
    p.add_argument(
        "--no-broken", action="store_true", help="skip the broken variants (must be caught)"
    )
    p.add_argument("--library", action="store_true", help="the library, against pinned verdicts")
    p.add_argument("--only", metavar="NAMES", help="--library: these protocols or systems")
    _engine_options(p)
    _report_options(p)
    p.set_defaults(func=cmd_prove)

    p = sub.add_parser("check", help="check a protocol variant written in a Python file")
    p.add_argument(
        "file", metavar="FILE.py", help="the variant's file (or a shipped protocol name)"
    )
    p.add_argument("--protocol", metavar="NAME", help="which protocol, if the file defines several")
    p.add_argument("--messages", type=_messages, metavar="N")
    p.add_argument(
        "--faults",
        type=_faults,
        metavar="LIST",
        help="e.g. loss,dup,reorder,crash (the declared budgets and capacity are kept; "
        "capacity=N, max_losses=N, ... override them)",
    )
    p.add_argument(
        "--property",
        action="append",
        metavar="P",
        help="property or guarantee to check (repeatable; default: what the protocol claims)",
    )
    p.add_argument("--trace-out", metavar="FILE", help="write the first counterexample as JSONL")
    _engine_options(p)
    _report_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("explain", help="show one counterexample in full")
    p.add_argument("target", metavar="PROTOCOL|FILE.py")
    p.add_argument("--protocol", metavar="NAME")
    p.add_argument("--messages", type=_messages, metavar="N")
    p.add_argument("--faults", type=_faults, metavar="LIST")
    p.add_argument("--property", metavar="P", help="default: the first claimed one violated")
    p.add_argument("--svg", metavar="FILE", help="write the sequence chart as SVG")
    p.add_argument("--html", metavar="FILE", help="write a standalone HTML page")
    p.add_argument("--json", action="store_true", help="print the counterexample as JSON")
    p.add_argument("--trace-out", metavar="FILE", help="write the counterexample as a JSONL trace")
    _engine_options(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("list", help="the built-in protocols, fault models and properties")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("demo", help="run the reference implementation under real faults")
    demo_arguments(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("probe", help="real brokers under real faults, judged like a trace")
    probe.add_arguments(p)
    p.set_defaults(func=probe.run)

    p = sub.add_parser("validate", help="check a JSONL trace of any implementation")
    p.add_argument("trace", metavar="TRACE.jsonl", nargs="+", help="trace files; - reads stdin")
    p.add_argument("--guarantee", default="exactly-once", metavar="G")
    p.add_argument("--protocol", metavar="NAME|FILE.py")
    p.add_argument(
        "--protocol-name", metavar="NAME", help="which protocol, if --protocol's file has several"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_validate)
    for command in sub.choices.values():  # --debug after the command too, as errors suggest
        command.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
        )
    return parser
