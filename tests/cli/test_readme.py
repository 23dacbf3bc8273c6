"""The README shows what the commands really print, and the variant file verbatim."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def load_readme_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("readme_script", ROOT / "scripts" / "readme.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_quick_start_is_what_prove_and_explain_print() -> None:
    script = load_readme_script()
    current = (ROOT / "README.md").read_text(encoding="utf-8")
    fresh = script.render(current, script.blocks())
    assert script.normalise(fresh) == script.normalise(current), (
        "README.md is stale: run .venv/bin/python scripts/readme.py"
    )
    assert "exactly-once           proved        proved        proved" in current
