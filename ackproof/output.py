"""What every command writes besides its table: the progress line, the report files, the
exit code (the one mapping from a command's status to it).  Shared by the command
modules (``*_cmd.py``) and :mod:`ackproof.cli`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO, TypeAlias

from ackproof.loader import InputError

if TYPE_CHECKING:
    from ackproof.report import Row

#: Exit codes (stable; CI depends on them: see :mod:`ackproof.cli`).
EXIT_OK, EXIT_VIOLATED, EXIT_INPUT, EXIT_INCONCLUSIVE, EXIT_INTERNAL = 0, 1, 2, 3, 4


class Progress:
    """One status line on stderr, only when it is a terminal and not ``--quiet``."""

    def __init__(self, quiet: bool, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.on = not quiet and self.stream.isatty()
        self.width = 0

    def show(self, text: str) -> None:
        if self.on:
            line = text[:100]
            self.stream.write("\r" + line.ljust(self.width))
            self.stream.flush()
            self.width = len(line)

    def done(self) -> None:
        if self.on and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0


#: How a command ended, as far as its exit code goes (bad input and internal errors are
#: exceptions, mapped by :func:`ackproof.cli.main`).
Status: TypeAlias = Literal["ok", "violated", "inconclusive"]

_EXIT: dict[Status, int] = {
    "ok": EXIT_OK,
    "violated": EXIT_VIOLATED,
    "inconclusive": EXIT_INCONCLUSIVE,
}


def exit_for(status: Status) -> int:
    """The exit code of a command that ended with ``status``: the one mapping."""
    return _EXIT[status]


def status(rows: Sequence[Row], *, prove: bool) -> Status:
    """``prove``: a verdict other than the expected one is violated (an inconclusive one is
    inconclusive); otherwise (``check``, ``explain``) a violated or vacuous verdict is."""
    verdicts = [(r.result.verdict, r.ok) for r in rows]
    if prove:
        if any(not ok and v != "inconclusive" for v, ok in verdicts):
            return "violated"
    elif any(v in ("violated", "vacuous") for v, _ in verdicts):
        return "violated"
    if any(v == "inconclusive" for v, _ in verdicts):
        return "inconclusive"
    return "ok"


def exit_code(rows: Sequence[Row], *, prove: bool) -> int:
    return exit_for(status(rows, prove=prove))


def write_reports(
    args: argparse.Namespace, command: str, rows: Sequence[Row], *, title: str
) -> None:
    from ackproof.report import junit, markdown_report

    if getattr(args, "junit", None):
        write_text(args.junit, junit(rows, suite=f"ackproof {command}"))
    if getattr(args, "markdown", None):
        write_text(args.markdown, markdown_report(title, rows))


def write_text(path: str, text: str) -> None:
    try:
        Path(path).write_text(text + ("" if text.endswith("\n") else "\n"), encoding="utf-8")
    except OSError as e:
        raise InputError(f"{path}: cannot write: {e.strerror or e}") from None


def remove_stale(path: str) -> None:
    """``--trace-out`` with no counterexample: an old file there must not pass for one."""
    p = Path(path)
    if p.is_file() or p.is_symlink():
        try:
            p.unlink()
        except OSError as e:
            raise InputError(f"{path}: cannot remove the stale trace: {e.strerror or e}") from None


#: Output-file flags, checked before a run so that a typo does not cost the whole run.
OUTPUT_FLAGS = ("junit", "markdown", "trace_out", "svg", "html")


def check_outputs(args: argparse.Namespace) -> None:
    """Every output file flag names a file that can be written (nothing is created yet)."""
    for flag in OUTPUT_FLAGS:
        path = getattr(args, flag, None)
        if not path:
            continue
        name = "--" + flag.replace("_", "-")
        p = Path(path)
        parent = p.parent if str(p.parent) else Path(".")
        if p.is_dir():
            raise InputError(f"{name} {path}: is a directory")
        if not parent.is_dir():
            raise InputError(f"{name} {path}: no such directory {str(parent)!r}")
        if p.exists() and not os.access(p, os.W_OK):
            raise InputError(f"{name} {path}: not writable")
        if not p.exists() and not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"{name} {path}: cannot create a file in {str(parent)!r}")
