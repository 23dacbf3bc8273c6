"""``ackproof demo``: the three guarantees side by side over loopback, with faults and real crashes.

Entry points for the CLI: :func:`add_arguments` and :func:`run`. Exit codes, as the CLI's: 0 every
guarantee kept its promise; 1 one broke it; 2 bad input; 3 inconclusive (a run did not finish
before ``--timeout``: messages still in flight are not counted as lost); 4 a node process could not
be started; 130 / 143 interrupted by SIGINT / SIGTERM (one line on stderr, every node process
killed, no temporary folder left). ``python -m ackproof.impl.demo`` runs it alone.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

import trio

from ackproof.demo_args import add_arguments as add_arguments
from ackproof.impl.errors import UsageError
from ackproof.impl.events import Guarantee
from ackproof.impl.faults import FaultRates
from ackproof.impl.harness import GuaranteeResult, RunConfig, run_guarantee
from ackproof.impl.procs import NodeProcessError
from ackproof.impl.sender import RetryPolicy
from ackproof.spec.judge import overall

PROMISES = {
    Guarantee.AT_MOST_ONCE: "never twice",
    Guarantee.AT_LEAST_ONCE: "never lost",
    Guarantee.EXACTLY_ONCE: "neither",
}


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse what cannot make a run (UsageError, exit 2), before anything is started."""
    if args.messages < 1:
        raise UsageError(f"--messages must be >= 1, got {args.messages}")
    if args.crash_every < 0:
        raise UsageError(f"--crash-every must be >= 0, got {args.crash_every}")
    for name in ("loss", "dup", "reorder"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:  # also refuses nan
            raise UsageError(f"--{name} must be between 0 and 1, got {value}")
    if args.loss >= 1.0:
        raise UsageError("--loss 1 loses every frame; nothing could ever be delivered")
    if not 0 < args.rto <= 10:
        raise UsageError(f"--rto must be in (0, 10] seconds, got {args.rto}")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")


def _config(args: argparse.Namespace, workdir: Path) -> RunConfig:
    check_arguments(args)
    trace_dir = None
    if args.trace_dir is not None:
        trace_dir = Path(args.trace_dir)
        try:
            trace_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create --trace-dir {trace_dir}: {exc.strerror}") from None
        for g in Guarantee:  # traces are appended to: start this run's files afresh
            for node in ("sender", "receiver"):
                (trace_dir / f"{g}-{node}.jsonl").unlink(missing_ok=True)
    return RunConfig(
        messages=args.messages,
        rates=FaultRates(loss=args.loss, dup=args.dup, reorder=args.reorder, max_delay=0.02),
        crash_every=args.crash_every,
        kill=args.kill,
        seed=args.seed,
        policy=RetryPolicy(initial=args.rto, maximum=max(0.5, args.rto), minimum=args.rto),
        workdir=workdir,
        trace_dir=trace_dir,
        timeout=args.timeout,
    )


async def run_all(cfg: RunConfig, *, show_progress: bool) -> list[GuaranteeResult]:
    done = dict.fromkeys(Guarantee, 0)
    results: dict[Guarantee, GuaranteeResult] = {}

    async def one(g: Guarantee, index: int) -> None:
        def progress(n: int) -> None:
            done[g] = n

        results[g] = await run_guarantee(g, index, cfg, progress)

    async with trio.open_nursery() as nursery:
        for index, g in enumerate(Guarantee):
            nursery.start_soon(one, g, index)
        if show_progress:
            nursery.start_soon(_progress_bar, done, cfg.messages, results)
    return [results[g] for g in Guarantee]


async def _progress_bar(
    done: dict[Guarantee, int], total: int, results: dict[Guarantee, GuaranteeResult]
) -> None:
    while len(results) < len(done):
        n = sum(done.values())
        width = 30
        filled = width * n // (total * len(done))
        parts = "  ".join(f"{g}: {done[g]}/{total}" for g in done)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {parts}")
        sys.stderr.flush()
        await trio.sleep(0.1)
    sys.stderr.write("\r\x1b[K")
    sys.stderr.flush()


def _promise(r: GuaranteeResult) -> str:
    match r.verdict:
        case "kept":
            return "kept: " + PROMISES[r.guarantee]
        case "broken":
            return "BROKEN: " + PROMISES[r.guarantee]
        case "unfinished" if r.in_flight:
            return f"unfinished: {r.in_flight} still in flight (inconclusive)"
        case "unfinished":
            return "unfinished: cut short by --timeout (inconclusive)"


def render_table(results: list[GuaranteeResult]) -> str:
    head = (
        "guarantee",
        "submitted",
        "processed",
        "lost",
        "in flight",
        "duplicated",
        "extra deliveries",
        "kills (r+s)",
        "frames sent",
        "rejected",
        "commits",
        "elapsed",
        "promise",
    )
    rows = [head]
    for r in results:
        rows.append(
            (
                str(r.guarantee),
                str(r.submitted),
                str(r.processed),
                str(r.lost),
                str(r.in_flight),
                str(r.duplicated),
                str(r.extra_deliveries),
                f"{r.receiver_kills}+{r.sender_kills}",
                str(r.frames_sent),
                str(r.frames_rejected),
                str(r.durable_commits),
                f"{r.elapsed:.2f}s",
                _promise(r),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    table = "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )
    return table + "\n" + LEGEND


LEGEND = (
    "counted per message id: processed = ids processed at least once; duplicated = ids "
    "processed more than once;\nextra deliveries = processings beyond each id's first; in "
    "flight = submitted, not processed yet, still in the sender's outbox."
)


def to_json(results: list[GuaranteeResult]) -> str:
    out = []
    for r in results:
        d = asdict(r)
        d["guarantee"] = str(r.guarantee)
        d["kept_promise"] = r.kept_promise
        out.append(d)
    return json.dumps(
        {
            "ok": all(r.kept_promise for r in results),
            "verdict": overall(r.verdict for r in results),
            "guarantees": out,
        },
        indent=2,
    )


EXIT = {"kept": 0, "broken": 1, "unfinished": 3}  # the CLI's codes: 3 is inconclusive


class _Terminated(BaseException):
    """SIGTERM outside the trio run (where trio's signal receiver is not installed)."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise _Terminated


async def _main(cfg: RunConfig, *, show_progress: bool) -> tuple[list[GuaranteeResult], int]:
    """Run every guarantee; a SIGINT or SIGTERM cancels the run and is returned (0: none)."""
    got: list[int] = []
    results: list[GuaranteeResult] = []
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for signum in signals:
                    got.append(signum)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch)
            results = await run_all(cfg, show_progress=show_progress)
            nursery.cancel_scope.cancel()
    return results, got[0] if got else 0


def _interrupted(signum: int) -> int:
    print(f"ackproof demo: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
    return 128 + signum


def run(args: argparse.Namespace) -> int:
    try:
        check_arguments(args)
    except UsageError as exc:
        print(f"ackproof demo: error: {exc}", file=sys.stderr)
        return 2
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        with tempfile.TemporaryDirectory(prefix="ackproof-demo-") as tmp:
            cfg = _config(args, Path(tmp))
            show = sys.stderr.isatty() and not args.json
            results, signum = trio.run(lambda: _main(cfg, show_progress=show))
    except UsageError as exc:
        print(f"ackproof demo: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return _interrupted(signal.SIGINT)
    except _Terminated:
        return _interrupted(signal.SIGTERM)
    except BaseExceptionGroup as group:
        failed, rest = group.split(NodeProcessError)
        if failed is None or rest is not None:
            raise
        print(f"ackproof demo: error: {_first(failed)}", file=sys.stderr)
        return 4
    except NodeProcessError as exc:
        print(f"ackproof demo: error: {exc}", file=sys.stderr)
        return 4
    finally:
        signal.signal(signal.SIGTERM, previous)
    if signum:
        return _interrupted(signum)
    print(to_json(results) if args.json else render_table(results))
    return EXIT[overall(r.verdict for r in results)]


def _first(group: BaseExceptionGroup[NodeProcessError]) -> BaseException:
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _OneLineParser(prog="ackproof demo", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
