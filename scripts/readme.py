"""Regenerate the README's quick-start blocks from what the commands really print.

    .venv/bin/python scripts/readme.py          # rewrite README.md in place
    .venv/bin/python scripts/readme.py --check  # exit 1 if README.md is stale

tests/cli/test_readme.py runs the check, so the README can never drift from the tool.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _run(args: list[str]) -> str:
    from ackproof.cli import main

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        main(args)
    return buf.getvalue()


def normalise(text: str) -> str:
    """Drop what changes run to run (wall-clock seconds)."""
    return re.sub(r"in \d+\.\d s", "in N.N s", text)


def blocks() -> dict[str, str]:
    prove = normalise(_run(["prove", "--quiet"])).rstrip()
    explain = _run(["explain", "mark-before-process"]).rstrip()
    text, _, chart = explain.partition("\nsequenceDiagram")
    variant = (ROOT / "examples" / "my_exactly_once.py").read_text().rstrip()
    return {
        "prove": f"```text\n$ ackproof prove\n{prove}\n```",
        "explain": (
            f"```text\n$ ackproof explain mark-before-process\n{text.rstrip()}\n```\n\n"
            f"```mermaid\nsequenceDiagram{chart}\n```"
        ),
        "variant": f"```python\n{variant}\n```",
    }


def _replacement(body: str) -> Callable[[re.Match[str]], str]:
    return lambda m: m.group(1) + body + "\n" + m.group(2)


def render(readme: str, new: dict[str, str]) -> str:
    for name, body in new.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n)(?:.*?\n)?(<!-- {name}:end -->)", re.S)
        if not pattern.search(readme):
            raise SystemExit(f"README.md has no <!-- {name}:start --> ... end block")
        readme = pattern.sub(_replacement(body), readme)
    return readme


def main() -> int:
    current = README.read_text(encoding="utf-8")
    fresh = render(current, blocks())
    if "--check" in sys.argv:
        if normalise(fresh) != normalise(current):
            print("README.md is stale: run .venv/bin/python scripts/readme.py")
            return 1
        return 0
    README.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
