"""Shared helpers for the CLI tests: run ``ackproof`` in this process, read its one-line errors."""

from __future__ import annotations

import pytest

from ackproof.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``ackproof ARGS`` in this process: exit code, stdout, stderr."""
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    """The one line a bad input prints on stderr (no traceback)."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]
