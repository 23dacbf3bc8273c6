import ast
import os
import subprocess
import sys
from pathlib import Path


def test_spec_imports_neither_z3_nor_trio() -> None:
    code = (
        "import sys, ackproof.spec; "
        "bad = [m for m in ('z3', 'trio') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


# -- no import cycle anywhere in the package -----------------------------------------------
PACKAGE = Path(__file__).resolve().parents[1] / "ackproof"


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (``spec``, ``proofs`` and ``impl`` are
    symlinked folders: followed)."""
    out: dict[str, Path] = {}
    for folder, _, files in os.walk(PACKAGE, followlinks=True):
        for f in files:
            if f.endswith(".py"):
                path = Path(folder) / f
                parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
                if parts[-1] == "__init__":
                    parts.pop()
                out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports, at top level or inside a function (an import
    hidden in a function is still a cycle); ``if TYPE_CHECKING:`` blocks do not count."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for n in nodes:
            if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test):
                visit(n.orelse)
                continue
            if isinstance(n, ast.Import):
                found.update(a.name for a in n.names if a.name in modules)
            elif isinstance(n, ast.ImportFrom):
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                if n.level:
                    base = base[: len(base) - (n.level - 1)]
                    target = ".".join(base + ([n.module] if n.module else []))
                else:
                    target = n.module or ""
                subs = [f"{target}.{a.name}" for a in n.names if f"{target}.{a.name}" in modules]
                found.update(subs)
                if len(subs) < len(n.names) and target in modules:
                    found.add(target)
            for child in ast.iter_child_nodes(n):
                if isinstance(child, ast.stmt):
                    visit([child])
                elif isinstance(child, ast.ExceptHandler):
                    visit(child.body)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    found.discard(name)
    return found


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_package_has_no_import_cycle() -> None:
    modules = _modules()
    assert "ackproof.spec.kernel" in modules  # the symlinked folders were followed
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_command_line_grammar_loads_neither_trio_nor_z3() -> None:
    """Every command starts by building the grammar: the demo's arguments used to come
    from impl/demo.py, which loaded trio and the whole implementation at every start."""
    code = (
        "import sys, ackproof.cli, ackproof.arguments;"
        "print(sorted(m for m in ('trio', 'z3', 'ackproof.impl') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_a_check_the_explicit_search_decides_alone_never_loads_z3() -> None:
    """``auto`` forks its symbolic route (which imports z3) only past the explicit search's
    head start: ``prove`` and a small check finish without z3's import (about 0.1 s of
    every start)."""
    code = (
        "import sys\n"
        "from ackproof.cli import main\n"
        "for argv in (['check', 'exactly-once', '--messages', '2'], ['prove']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (argv, e.code)\n"
        "print('z3' in sys.modules, file=sys.stderr)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "32/32 as expected" in run.stdout
    assert run.stderr.strip() == "False"
