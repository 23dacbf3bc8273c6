"""The ``ackproof`` command: prove, check, explain, list, demo, probe, validate.

Exit codes (stable; CI depends on them):

* 0 — everything as expected (``prove``) / every checked property holds (``check``);
* 1 — a property is violated (``check``) or a verdict differs from the expected one
  (``prove``);
* 2 — bad input: a file, a flag, a variant; one line on stderr says what and where;
* 3 — inconclusive: a timeout or a solver ``unknown``, and nothing worse;
* 4 — an internal error (a bug in ackproof; ``--debug`` shows the traceback).

Where things are: :mod:`ackproof.arguments` (the grammar), one module per command
(:mod:`~ackproof.prove_cmd`, :mod:`~ackproof.library_cmd`, :mod:`~ackproof.check_cmd`,
:mod:`~ackproof.explain_cmd`, :mod:`~ackproof.list_cmd`, :mod:`~ackproof.validate_cmd`),
:mod:`ackproof.output` (progress, report files, the status-to-exit-code mapping) and
:mod:`ackproof.report` (the tables and documents).  This module runs a command and turns
every error into its exit code and one line on stderr.

Start-up: the command modules import :mod:`ackproof.proofs` (and with it z3), and the
modules that need it, inside the function that runs a check, so that a command that
checks nothing (``--help``, ``validate`` without ``--protocol``) does not pay for it.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

from ackproof.arguments import ArgError, build_parser
from ackproof.interrupts import (
    MEMORY_ENV,
    Terminated,
    TimeLimit,
    announce,
    guarded,
    memory_limit,
)
from ackproof.loader import InputError
from ackproof.output import EXIT_INCONCLUSIVE, EXIT_INPUT, EXIT_INTERNAL, check_outputs
from ackproof.spec import SpecError, StepError


def main(argv: Sequence[str] | None = None) -> int:
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
    except ArgError as e:
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


def run() -> NoReturn:
    """The console script (and ``python -m ackproof.cli``): :func:`main`, then the process
    ends at once with its exit code.

    The interpreter's own exit tears every module and object down one by one (z3's
    terms release their references through ctypes, the search's tables are freed): 0.03 s
    of a 0.5 s ``check``, for memory the kernel frees anyway.  Everything a command
    writes is written and closed before :func:`main` returns (files in ``with``
    blocks, child processes stopped in ``finally``); here the standard streams are
    flushed and the ``atexit`` handlers run (multiprocessing's, ``weakref.finalize``),
    then ``os._exit``.  A stream that cannot be flushed leaves the exit to the
    interpreter, which reports it as it always did."""
    code = main()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        sys.exit(code)
    atexit._run_exitfuncs()
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
