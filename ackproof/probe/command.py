"""``ackproof probe``: real brokers under real faults, judged like any trace.

Entry points for the CLI: :func:`add_arguments` and :func:`run`. Exit codes, as
``ackproof demo``'s: 0 every run kept its broker's claim; 1 a claim was broken (a finding,
not a failure of ackproof); 2 bad input; 3 a run did not finish in ``--timeout``; 4 a broker
that was asked for by name cannot be run here (one line on stderr says why; with
``--broker all`` such a broker is skipped and named instead); 130 / 143 interrupted by
SIGINT / SIGTERM (every broker and client process of the run ended first).
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from ackproof.loader import InputError
from ackproof.probe.settings import BROKERS, FAULTS, Setting, find, settings_of

if TYPE_CHECKING:  # the runner (brokers, proxies, sockets) is imported when a probe runs
    from ackproof.probe.runner import RunResult

EXIT = {"kept": 0, "broken": 1, "unfinished": 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--broker",
        default="mosquitto",
        metavar="B",
        help=f"{', '.join(BROKERS)} or all (default: mosquitto)",
    )
    p.add_argument("--setting", metavar="S", help="one setting of the broker (default: all)")
    p.add_argument(
        "--fault",
        default=",".join(FAULTS),
        metavar="LIST",
        help=f"comma-separated, from {', '.join(FAULTS)} (default: all)",
    )
    p.add_argument("--messages", type=int, default=100, help="messages per run (default: 100)")
    p.add_argument("--kills", type=int, default=2, help="SIGKILLs per kill-* run (default: 2)")
    p.add_argument("--seed", type=int, default=0, help="seed of kill points and proxy faults")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per run (default 120)")
    p.add_argument("--settle", type=float, default=10.0, help="quiet seconds before judging")
    p.add_argument("--trace-dir", metavar="DIR", help="keep each run's JSONL traces in DIR")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def plan(args: argparse.Namespace) -> tuple[list[Setting], list[str]]:
    """The settings and faults asked for; InputError naming what is unknown."""
    brokers = list(BROKERS) if args.broker == "all" else [args.broker]
    if brokers[0] not in BROKERS:
        raise InputError(f"unknown broker {args.broker!r} (known: {', '.join(BROKERS)}, all)")
    faults = [f.strip() for f in args.fault.split(",") if f.strip()]
    for f in faults:
        if f not in FAULTS:
            raise InputError(f"unknown fault {f!r} (known: {', '.join(FAULTS)})")
    if not faults:
        raise InputError("--fault is empty")
    if args.messages < 1 or args.kills < 0 or args.timeout <= 0 or args.settle < 0:
        raise InputError("--messages must be >= 1, --kills >= 0, --timeout > 0, --settle >= 0")
    if args.setting is not None:
        if len(brokers) != 1:
            raise InputError("--setting needs one --broker")
        try:
            return [find(brokers[0], args.setting)], faults
        except KeyError as e:
            raise InputError(str(e.args[0])) from None
    return [s for b in brokers for s in settings_of(b)], faults


class _Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so every run's ``finally`` ends its broker and clients."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


def run(args: argparse.Namespace) -> int:
    settings, faults = plan(args)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _run(args, settings, faults)
    except _Terminated:
        print("ackproof probe: interrupted (SIGTERM)", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace, settings: list[Setting], faults: list[str]) -> int:
    from ackproof.probe.brokers import BrokerUnavailable, find_binary
    from ackproof.probe.report import overall, render_table, to_json
    from ackproof.probe.runner import RunConfig
    from ackproof.probe.runner import run as run_one

    skipped: dict[str, str] = {}
    if args.broker == "all":
        for b in BROKERS:
            if find_binary(b) is None:
                skipped[b] = f"{b} is not installed"
                print(f"ackproof probe: skipped {b}: not installed", file=sys.stderr)
        settings = [s for s in settings if s.broker not in skipped]
    results: list[RunResult] = []
    with tempfile.TemporaryDirectory(prefix="ackproof-probe-") as tmp:
        for s in settings:
            for f in faults:
                cfg = RunConfig(
                    setting=s,
                    fault=f,
                    workdir=Path(tmp),
                    messages=args.messages,
                    kills=args.kills,
                    seed=args.seed,
                    timeout=args.timeout,
                    settle=args.settle,
                )
                try:
                    result = run_one(cfg)
                except BrokerUnavailable as e:
                    print(f"ackproof probe: {e}", file=sys.stderr)
                    return 4
                except RuntimeError as e:
                    print(f"ackproof probe: {s.broker}/{s.name}/{f}: {e}", file=sys.stderr)
                    return 4
                results.append(result)
                # the run's folder goes with the temporary directory: name kept copies only
                result.traces = _keep(result, Path(args.trace_dir)) if args.trace_dir else []
                if sys.stderr.isatty() and not args.json:
                    print(f"  ran {s.broker}/{s.name}/{f}: {result.verdict}", file=sys.stderr)
    print(to_json(results, skipped) if args.json else render_table(results))
    return EXIT[overall(results)] if results else 0


def _keep(result: RunResult, trace_dir: Path) -> list[str]:
    """Copy a run's traces to ``trace_dir/<broker>-<setting>-<fault>/``; their new paths."""
    dest = trace_dir / f"{result.broker}-{result.setting}-{result.fault}"
    try:
        dest.mkdir(parents=True, exist_ok=True)
        return [str(shutil.copy(t, dest / Path(t).name)) for t in result.traces]
    except OSError as e:
        raise InputError(f"cannot write --trace-dir {trace_dir}: {e.strerror or e}") from None
