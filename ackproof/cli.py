"""The ``ackproof`` command: prove, check, explain, list, demo, validate.

Exit codes (stable; CI depends on them):

* 0 — everything as expected (``prove``) / every checked property holds (``check``);
* 1 — a property is violated (``check``) or a verdict differs from the expected one
  (``prove``);
* 2 — bad input: a file, a flag, a variant; one line on stderr says what and where;
* 3 — inconclusive: a timeout or a solver ``unknown``, and nothing worse;
* 4 — an internal error (a bug in ackproof; ``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NoReturn

from ackproof import __version__
from ackproof.interrupts import MEMORY_ENV, Terminated
from ackproof.loader import InputError, resolve, shipped
from ackproof.output import (
    EXIT_INCONCLUSIVE,
    EXIT_INPUT,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_VIOLATED,
    Progress,
    check_outputs,
    exit_code,
    remove_stale,
    write_reports,
    write_text,
)
from ackproof.spec import (
    Faults,
    ProtocolDef,
    SpecError,
    StepError,
    System,
    apply_fault_list,
    parse_faults,
)
from ackproof.spec.kernel import MAX_MESSAGES

if TYPE_CHECKING:
    from ackproof.proofs import Result
    from ackproof.report import Row

ENGINES = ("auto", "bmc", "pdr", "kinduction", "explicit")


class _ArgError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _ArgError(f"{self.prog}: {message}")


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
        help="auto (portfolio), bmc, pdr, kinduction or explicit (default: auto)",
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
    from ackproof.impl.demo import add_arguments as demo_arguments

    demo_arguments(p)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("probe", help="real brokers under real faults, judged like a trace")
    from ackproof.probe import command as probe

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


# -- commands -----------------------------------------------------------------------------------
def _resolve(target: str, protocol: str | None, timeout: float | None) -> ProtocolDef:
    """:func:`resolve` within the time limit (an endless loop at import is stopped)."""
    from ackproof.interrupts import time_limit

    with time_limit(timeout, f"loading {target}"):
        return resolve(target, protocol)


def _system_for(
    pdef: ProtocolDef, messages: int | None, faults: str | None, timeout: float | None = None
) -> System:
    """The protocol's system, lowered within the time limit; ``faults`` (a ``--faults``
    list) replaces which faults happen and keeps the declared budgets and capacity unless
    it sets them."""
    from ackproof.interrupts import time_limit

    n = pdef.messages if messages is None else messages
    try:
        model = pdef.faults if faults is None else apply_fault_list(pdef.faults, faults)
        with time_limit(timeout, f"lowering {pdef.name} with {n} messages"):
            return pdef.system(messages, model)
    except SpecError as e:
        raise InputError(str(e)) from None


def _faults_header(pdef: ProtocolDef, system: System, given: str | None) -> str:
    """What fault model was checked, and what ``--faults`` replaced, if anything."""
    text = f"faults {system.faults.describe()}"
    if given is not None and system.faults != pdef.faults:
        text += f" (--faults {given} replaced the declared {pdef.faults.describe()})"
    return text


def _claimed(pdef: ProtocolDef, asked: Sequence[str] | None) -> tuple[str, ...]:
    """The properties to check: the asked ones, else the claimed ones; none is exit 2."""
    from ackproof.spec.history import resolve as resolve_props

    try:
        props = tuple(resolve_props(list(asked))) if asked else tuple(pdef.claims)
    except KeyError as e:
        raise InputError(str(e.args[0])) from None
    if not props:
        why = "no property given" if asked else f"{pdef.name} claims nothing (claims=[])"
        raise InputError(f"{why}: nothing to check; name one with --property P")
    return props


def cmd_prove(args: argparse.Namespace) -> int:
    if args.library or args.only is not None:
        if not args.library:
            raise InputError("--only selects library protocols: use it with --library")
        from ackproof.library_cmd import run as run_library

        return run_library(args)
    from ackproof.obligations import Obligation, as_expected, builtin_obligations
    from ackproof.report import Row, matrix

    from .run import run_many

    progress = Progress(args.quiet or args.json)
    rows: list[Row] = []
    obligations = builtin_obligations(broken=not args.no_broken)
    started = time.monotonic()
    # One exploration serves every cell that shares a system (protocol and fault model).
    groups: dict[tuple[str, str], list[Obligation]] = {}
    for ob in obligations:
        groups.setdefault((ob.protocol.name, ob.faults_id), []).append(ob)
    done: dict[tuple[str, str, str], Row] = {}
    for k, group in enumerate(groups.values(), 1):
        first = group[0]
        progress.show(f"[{k}/{len(groups)}] {first.protocol.name} / {first.faults_id}")
        system = _lowered(first.protocol, args.messages, first.faults, args.timeout)
        checked = run_many(
            system,
            [ob.property for ob in group],
            engine=args.engine,
            depth=args.depth,
            timeout=args.timeout,
            certify=args.certify,
        )
        for ob in group:
            result, cx = checked[ob.property]
            result = dataclasses.replace(result, faults=ob.faults_id)
            ok = as_expected(ob.expected, result.verdict)
            row = Row(result, ob.expected, ok, ob.section, cx, system.faults)
            done[ob.protocol.name, ob.faults_id, ob.property] = row
    rows.extend(done[ob.protocol.name, ob.faults_id, ob.property] for ob in obligations)
    progress.done()
    elapsed = time.monotonic() - started
    write_reports(args, "prove", rows, title="ackproof prove")
    if args.json:
        from ackproof.report import to_json_document

        print(to_json_document("prove", rows))
    else:
        print(f"ackproof {__version__}: guarantee matrix, N = {args.messages} messages")
        print(_prove_models(rows))
        print()
        print(matrix(rows))
        broken = [r for r in rows if r.section == "broken"]
        if broken:
            print()
            print("broken variants (each must be caught):")
            for r in broken:
                mark = "caught" if r.ok else "NOT CAUGHT"
                print(f"  {r.result.protocol:32} {r.result.property:13} {_cell(r.result)}  {mark}")
        violated = [r for r in rows if r.section == "guarantees" and r.result.verdict == "violated"]
        if violated:
            print()
            print("counterexamples of the violated cells:")
            for r in violated:
                res = r.result
                where = f"--faults {res.faults} --property {res.property}"
                print(f"  ackproof explain {res.protocol} {where}")
        bad = [r for r in rows if not r.ok]
        print()
        print(
            f"{len(rows) - len(bad)}/{len(rows)} as expected in {elapsed:.1f} s"
            + (f"; {len(bad)} NOT as expected" if bad else "")
        )
        for r in bad:
            print(
                f"  !! {r.result.protocol} / {r.result.faults} / {r.result.property}: "
                f"expected {r.expected}, got {_cell(r.result)} ({r.result.detail})"
            )
    return exit_code(rows, prove=True)


def _lowered(pdef: ProtocolDef, n: int, faults: Faults, timeout: float | None) -> System:
    from ackproof.interrupts import time_limit

    with time_limit(timeout, f"lowering {pdef.name} with {n} messages"):
        return pdef.system(n, faults)


def _prove_models(rows: Sequence[Row]) -> str:
    """The matrix's fault models with their budgets and capacity: one line when they
    differ only in which faults happen."""
    models = {r.result.faults: r.fault_model for r in rows if r.section == "guarantees"}
    rests = {m.describe()[len(m.name) + 2 :] for m in models.values() if m is not None}
    if len(rests) == 1:
        return f"every fault model below: {rests.pop()}"
    return "\n".join(f"faults {f}: {m.describe()}" for f, m in models.items() if m is not None)


def _cell(result: Result) -> str:
    from ackproof.report import cell

    return cell(result)


def cmd_check(args: argparse.Namespace) -> int:
    pdef = _resolve(args.file, args.protocol, args.timeout)
    props = _claimed(pdef, args.property)
    system = _system_for(pdef, args.messages, args.faults, args.timeout)

    from ackproof.proofs.trace import mermaid, table
    from ackproof.report import Row, cell, to_json_document

    from .run import run_many

    progress = Progress(args.quiet or args.json)
    rows = []
    progress.show(f"{pdef.name}: {', '.join(props)}")
    checked = run_many(
        system,
        props,
        engine=args.engine,
        depth=args.depth,
        timeout=args.timeout,
        certify=args.certify,
    )
    for prop in props:
        result, cx = checked[prop]
        ok = result.verdict in ("proved", "holds")
        rows.append(Row(result, "holds", ok, "guarantees", cx, system.faults))
    progress.done()
    write_reports(args, "check", rows, title=f"ackproof check {pdef.name}")
    if args.trace_out:
        first = next((r.counterexample for r in rows if r.counterexample is not None), None)
        if first is not None:
            from ackproof.proofs.trace import to_trace_lines

            write_text(args.trace_out, "\n".join(to_trace_lines(first)))
        else:
            remove_stale(args.trace_out)
    if args.json:
        print(to_json_document("check", rows))
        return exit_code(rows, prove=False)
    print(
        f"{pdef.name}: N = {system.messages} messages, {_faults_header(pdef, system, args.faults)}"
    )
    for r in rows:
        res = r.result
        print(f"  {res.property:13} {cell(res):16} {res.engine}, {res.seconds:.2f} s: {res.detail}")
    for r in rows:
        if r.counterexample is not None:
            print()
            print(f"counterexample for {r.result.property} ({r.counterexample.length} steps):")
            print(table(r.counterexample))
            print()
            print(mermaid(r.counterexample))
    return exit_code(rows, prove=False)


def cmd_explain(args: argparse.Namespace) -> int:
    from ackproof.spec.history import PROPERTIES

    if args.property is not None and args.property not in PROPERTIES:
        raise InputError(f"unknown property {args.property!r} (known: {', '.join(PROPERTIES)})")
    pdef = _resolve(args.target, args.protocol, args.timeout)
    candidates = _claimed(pdef, [args.property] if args.property else None)
    system = _system_for(pdef, args.messages, args.faults, args.timeout)

    from ackproof.chart import html, svg
    from ackproof.proofs.trace import mermaid, table, to_json
    from ackproof.report import Row, cell, to_json_document

    from .run import run_one

    rows: list[Row] = []
    for prop in candidates:
        result, cx = run_one(
            system, prop, engine=args.engine, depth=args.depth, timeout=args.timeout
        )
        rows.append(
            Row(result, "holds", result.verdict == "proved", "guarantees", cx, system.faults)
        )
        if cx is None:
            continue
        if args.svg:
            write_text(args.svg, svg(cx))
        if args.html:
            write_text(args.html, html(cx))
        if args.trace_out:
            from ackproof.proofs.trace import to_trace_lines

            write_text(args.trace_out, "\n".join(to_trace_lines(cx)))
        if args.json:
            print(json.dumps({**to_json(cx), "fault_model": system.faults.to_json()}, indent=2))
        else:
            print(f"{cx.protocol} under {cx.faults}: {cx.property} violated in {cx.length} steps")
            print(_faults_header(pdef, system, args.faults))
            print(f"promise: {cx.statement}")
            print()
            print(table(cx))
            print()
            print(mermaid(cx))
        return EXIT_VIOLATED
    # No counterexample: say exactly what was found, with check's exit code.
    if args.trace_out:
        remove_stale(args.trace_out)
    code = exit_code(rows, prove=False)
    if args.json:
        print(to_json_document("explain", rows))
        return code
    print(
        f"{pdef.name}: N = {system.messages} messages, {_faults_header(pdef, system, args.faults)}"
    )
    for r in rows:
        res = r.result
        print(f"  {res.property:13} {cell(res):16} {res.engine}, {res.seconds:.2f} s: {res.detail}")
    if all(r.result.verdict == "proved" for r in rows):
        print("no counterexample: every property proved, nothing to explain")
    elif code == EXIT_OK:
        print(
            f"no counterexample up to depth {args.depth} (a bounded check, not a proof; "
            "try --engine auto or a larger --depth)"
        )
    else:
        print("no counterexample, but no proof either (see the verdicts above)")
    return code


def cmd_list(args: argparse.Namespace) -> int:
    from ackproof.obligations import FAULT_MEANINGS
    from ackproof.spec.history import GUARANTEE_STATEMENTS, GUARANTEES, PROPERTIES
    from ackproof.spec.protocols import BROKEN, BUILTIN

    del args
    print("built-in protocols:")
    for name, p in BUILTIN.items():
        print(f"  {name:30} {p.description}")
    print("\nbroken variants (the checker must catch each):")
    for name, (p, prop) in BROKEN.items():
        print(f"  {name:30} breaks {prop}: {p.description}")
    examples = {k: v for k, v in shipped().items() if k not in BUILTIN and k not in BROKEN}
    if examples:
        print("\nexample variants:")
        for name, p in examples.items():
            print(f"  {name:30} {p.description}")
    from ackproof.library_cmd import listing

    print("\n" + listing())
    print("\nfault models (prove's columns; check --faults takes loss,dup,reorder,crash):")
    for name, meaning in FAULT_MEANINGS.items():
        print(f"  {name:30} {meaning}")
    print("\nproperties:")
    for name, sentence in PROPERTIES.items():
        print(f"  {name:30} {sentence}")
    print("\nguarantees:")
    for name, props in GUARANTEES.items():
        print(f"  {name:30} {' + '.join(props)}: {GUARANTEE_STATEMENTS[name]}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        from ackproof.impl.demo import run
    except ImportError as e:  # pragma: no cover
        raise InputError(f"the demo is not available: {e}") from None
    return int(run(args))


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        from ackproof.validate import run as validate_run
    except ImportError:
        raise InputError("validate is not available in this version") from None
    return int(validate_run(args))


def main(argv: Sequence[str] | None = None) -> int:
    from ackproof.interrupts import TimeLimit, announce, guarded, memory_limit

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ACKPROOF_DEBUG") == "1"
    cap: int | None = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return EXIT_INPUT
        check_outputs(args)
        if args.command == "demo":  # the demo stops its own processes (impl/demo.py)
            code = int(args.func(args))
        else:
            cap = memory_limit()
            with guarded():
                code = int(args.func(args))
        if sys.stdout is not None:  # None: output redirected away (contextlib)
            sys.stdout.flush()  # a closed pipe shows here, not after main returned
        return code
    except _ArgError as e:
        print(str(e), file=sys.stderr)
        return EXIT_INPUT
    except (InputError, SpecError) as e:
        if debug:
            raise
        print(f"ackproof: {e}", file=sys.stderr)
        return EXIT_INPUT
    except StepError as e:  # the variant computes a value outside a declared range
        if debug:
            raise
        print(f"ackproof: malformed variant: {e}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        return announce(signal.SIGINT)
    except Terminated:
        return announce(signal.SIGTERM)
    except TimeLimit as e:
        print(f"ackproof: inconclusive: {e}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    except MemoryError:
        limit = f" (limit {cap / 2**30:.1f} GB, {MEMORY_ENV} sets it in MB)" if cap else ""
        print(f"ackproof: inconclusive: out of memory{limit}", file=sys.stderr)
        return EXIT_INCONCLUSIVE
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as e:
        if isinstance(e, OSError) and e.filename is None and e.errno in OUTPUT_ERRORS:
            print(f"ackproof: cannot write the output: {e.strerror or e}", file=sys.stderr)
            _silence_stdout()
            return EXIT_INPUT
        if debug:
            raise
        print(
            f"ackproof: internal error: {type(e).__name__}: {e} (run with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


#: Errors of writing the output (stdout on a full disk, a dead terminal): exit 2, named.
OUTPUT_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO})


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the interpreter's last flush must not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _broken_pipe() -> int:
    """stdout was closed (``ackproof check X | head -1``): the conventional SIGPIPE exit
    code, never 0 — a violation must not turn green because its report was cut short."""
    _silence_stdout()
    return 128 + 13


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
