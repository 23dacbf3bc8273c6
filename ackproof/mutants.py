"""Mutants of the shipped protocols: small, mechanical edits of their Python source.

Each mutant is one edit of one protocol module's syntax tree, made inside a function (the
``@protocol`` build functions and the helpers they call); the mutated module is executed
in a fresh module object and its :class:`~ackproof.spec.ProtocolDef` s are taken from it.
The differential suite (``tests/mutation``, ``benchmarks/mutation.py``) checks every
engine on every mutant against the explicit engine's exhaustive answer
(:mod:`ackproof.agreement`), and counts the mutants whose verdicts changed (killed).

Operators (:data:`OPERATORS`):

* ``drop-atomic`` — ``with ctx.atomic():`` loses its ``atomic()`` (a crash may now fall
  inside);
* ``swap-effects`` — two adjacent statements of a handler that have effects (a send, a
  process, an ack, a state write, or a ``when``/``atomic`` block) change places;
* ``volatile`` — ``durable=True`` becomes ``durable=False`` (a call's keyword or a
  parameter's default);
* ``drop-require`` — a ``ctx.require(...)`` statement is deleted;
* ``flip-comparison`` — ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=`` becomes its negation;
* ``drop-negation`` — ``~x`` becomes ``x`` (a guard flipped);
* ``widen-holds`` — a ``holds`` claim returns true for every message.

A module that imports a mutated helper module (``spec/protocols/_parts.py``) is executed
again against the mutant, so its protocols carry the edit too.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ackproof.spec import ProtocolDef
from ackproof.spec.expr import TRUE

OPERATORS = (
    "drop-atomic",
    "swap-effects",
    "volatile",
    "drop-require",
    "flip-comparison",
    "drop-negation",
    "widen-holds",
)

#: The name a widened ``holds`` returns (bound to ``TRUE`` in the mutant's namespace).
_TRUE_NAME = "__mutant_true__"

_FLIP: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.LtE: ast.Gt,
    ast.Gt: ast.LtE,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
}

_EFFECTS = frozenset({"send", "process", "ack"})
_BLOCKS = frozenset({"when", "atomic"})

_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Source:
    """A protocol module: its file, its import name, and the helper modules it imports
    (whose mutants it must be rebuilt against)."""

    path: Path
    module: str
    uses: tuple[str, ...] = ()

    @property
    def package(self) -> str:
        return self.module.rpartition(".")[0]


def shipped_sources() -> list[Source]:
    """Every shipped protocol module: the built-ins (and their shared parts), the examples,
    the library (when present) and ``examples/my_exactly_once.py``."""
    spec = Path(importlib.import_module("ackproof.spec").__file__ or "").resolve().parent
    parts = "ackproof.spec.protocols._parts"
    out: list[Source] = []
    for pkg, uses_parts in (("protocols", True), ("examples", False), ("library", False)):
        folder = spec / pkg
        if not folder.is_dir():
            continue
        for f in sorted(folder.glob("*.py")):
            if f.name == "__init__.py":
                continue
            module = f"ackproof.spec.{pkg}.{f.stem}"
            uses = (parts,) if uses_parts and module != parts else ()
            out.append(Source(f, module, uses))
    mine = _ROOT / "examples" / "my_exactly_once.py"
    if mine.is_file():
        out.append(Source(mine, "my_exactly_once"))
    return out


@dataclass(frozen=True)
class Site:
    """One place an operator applies: its number in the module (the traversal order),
    the operator, the line, and what the edit does."""

    index: int
    operator: str
    line: int
    what: str


def _ctx_call(node: ast.AST, names: frozenset[str]) -> str | None:
    """``ctx.<name>(...)`` (any receiver) with ``name`` in ``names``: the name, else None."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in names
    ):
        return node.func.attr
    return None


def _has_effect(stmt: ast.stmt) -> bool:
    """A handler statement that does something observable: a send, process or ack, a
    write to node state (``ctx.x = ...``, ``ctx.x[i] = ...``), or a when/atomic block."""
    if isinstance(stmt, ast.Expr):
        return _ctx_call(stmt.value, _EFFECTS) is not None
    if isinstance(stmt, ast.Assign):
        return any(_on_ctx(t) for t in stmt.targets)
    if isinstance(stmt, ast.With):
        return any(_ctx_call(i.context_expr, _BLOCKS) for i in stmt.items)
    return False


def _on_ctx(target: ast.expr) -> bool:
    while isinstance(target, ast.Subscript | ast.Attribute):
        target = target.value
    return isinstance(target, ast.Name) and target.id == "ctx"


def _holds_decorator(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Attribute) and d.attr == "holds" for d in fn.decorator_list)


class _Mutator(ast.NodeTransformer):
    """Walks a module in a fixed order, numbering the sites; with ``apply=k`` it makes
    the edit of site ``k`` (and only that one)."""

    def __init__(self, apply: int | None = None) -> None:
        self.apply = apply
        self.sites: list[Site] = []
        self.depth = 0  # inside a function

    def _site(self, operator: str, node: ast.AST, what: str) -> bool:
        k = len(self.sites)
        self.sites.append(Site(k, operator, getattr(node, "lineno", 0), what))
        return k == self.apply

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        args = node.args
        positional = args.args[len(args.args) - len(args.defaults) :]
        for arg, default in [
            *zip(positional, args.defaults, strict=True),
            *zip(args.kwonlyargs, args.kw_defaults, strict=True),
        ]:
            if (
                arg.arg == "durable"
                and isinstance(default, ast.Constant)
                and default.value is True
                and self._site("volatile", default, f"{node.name}(durable=False) by default")
            ):
                default.value = False
        if _holds_decorator(node) and self._site(
            "widen-holds", node, f"holds claim {node.name} returns true"
        ):
            node.body = [ast.Return(ast.Name(_TRUE_NAME, ast.Load()))]
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1
        node.body = self._swaps(node.body)
        return node

    def _swaps(self, body: list[ast.stmt]) -> list[ast.stmt]:
        for i in range(len(body) - 1):
            a, b = body[i], body[i + 1]
            if _has_effect(a) and _has_effect(b):
                what = f"swap lines {a.lineno} and {b.lineno}"
                if self._site("swap-effects", a, what):
                    body = [*body[:i], b, a, *body[i + 2 :]]
        return body

    def visit_With(self, node: ast.With) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        if self.depth > 0:
            node.body = self._swaps(node.body)
        for item in list(node.items):
            if _ctx_call(item.context_expr, frozenset({"atomic"})) and self._site(
                "drop-atomic", node, "drop atomic()"
            ):
                node.items = [i for i in node.items if i is not item]
                if not node.items:
                    return node.body
        return node

    def visit_For(self, node: ast.For) -> ast.AST:
        self.generic_visit(node)
        if self.depth > 0:
            node.body = self._swaps(node.body)
        return node

    def visit_If(self, node: ast.If) -> ast.AST:
        self.generic_visit(node)
        if self.depth > 0:
            node.body = self._swaps(node.body)
            node.orelse = self._swaps(node.orelse)
        return node

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        self.generic_visit(node)
        if (
            self.depth > 0
            and _ctx_call(node.value, frozenset({"require"}))
            and self._site("drop-require", node, "delete require()")
        ):
            return ast.Pass()
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        for kw in node.keywords:
            if (
                kw.arg == "durable"
                and isinstance(kw.value, ast.Constant)
                and kw.value.value is True
                and self._site("volatile", node, "durable=True -> durable=False")
            ):
                kw.value = ast.Constant(False)
        if (
            isinstance(node.func, ast.Attribute)
            and node.func.attr == "holds"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Lambda)
            and self._site("widen-holds", node, "holds claim returns true")
        ):
            node.args[0].body = ast.Name(_TRUE_NAME, ast.Load())
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if self.depth > 0 and len(node.ops) == 1 and type(node.ops[0]) in _FLIP:
            old = node.ops[0]
            new = _FLIP[type(old)]()
            what = f"{_OP_TEXT[type(old)]} -> {_OP_TEXT[type(new)]}"
            if self._site("flip-comparison", node, what):
                node.ops = [new]
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if (
            self.depth > 0
            and isinstance(node.op, ast.Invert)
            and self._site("drop-negation", node, "~x -> x")
        ):
            return node.operand
        return node


_OP_TEXT: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.GtE: ">=",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.Eq: "==",
    ast.NotEq: "!=",
}


def _tree(source: Source) -> ast.Module:
    return ast.parse(source.path.read_text(encoding="utf-8"), str(source.path))


def sites(source: Source) -> list[Site]:
    """Every mutation site of ``source``, numbered in traversal order."""
    m = _Mutator()
    m.visit(_tree(source))
    return m.sites


def _exec(source: Source, tree: ast.Module) -> types.ModuleType:
    ast.fix_missing_locations(tree)
    mod = types.ModuleType(source.module)
    mod.__file__ = str(source.path)
    mod.__package__ = source.package
    mod.__dict__[_TRUE_NAME] = TRUE
    code = compile(tree, str(source.path), "exec")
    exec(code, mod.__dict__)
    return mod


@contextlib.contextmanager
def _installed(name: str, module: types.ModuleType) -> Iterator[None]:
    """``module`` stands in for ``name`` in ``sys.modules`` (for the importers re-run)."""
    old = sys.modules.get(name)
    sys.modules[name] = module
    try:
        yield
    finally:
        if old is None:
            del sys.modules[name]
        else:
            sys.modules[name] = old


def protocols_of(module: types.ModuleType) -> dict[str, ProtocolDef]:
    """The protocol definitions ``module`` defines (by protocol name; not those it
    imports)."""
    found: dict[str, ProtocolDef] = {}
    for value in vars(module).values():
        if isinstance(value, ProtocolDef) and value.build.__module__ == module.__name__:
            found[value.name] = value
    return found


@dataclass(frozen=True)
class Mutant:
    """One edit of one module: the protocols it yields (every module built from it), or
    the error that defining them raised (a stillborn mutant)."""

    source: Source
    site: Site
    protocols: dict[str, ProtocolDef]
    error: str = ""

    @property
    def id(self) -> str:
        return f"{self.source.path.stem}:{self.site.index}"

    def __str__(self) -> str:
        return f"{self.id} {self.site.operator} (line {self.site.line}: {self.site.what})"


def original(source: Source) -> dict[str, ProtocolDef]:
    """The protocols ``source`` defines, unmutated (for a helper module: those of the
    modules that use it)."""
    mod = _exec(source, _tree(source))
    return _with_users(source, mod)


def _with_users(source: Source, mod: types.ModuleType) -> dict[str, ProtocolDef]:
    found = protocols_of(mod)
    users = [s for s in shipped_sources() if source.module in s.uses]
    if users:
        with _installed(source.module, mod):
            for user in users:
                found.update(protocols_of(_exec(user, _tree(user))))
    return found


def mutant(source: Source, site: int) -> Mutant:
    """The mutant of ``source`` at site number ``site``."""
    tree = _tree(source)
    m = _Mutator(apply=site)
    tree = m.visit(copy.deepcopy(tree))
    where = m.sites[site]
    try:
        mod = _exec(source, tree)
        return Mutant(source, where, _with_users(source, mod))
    except Exception as e:  # a mutant that cannot even be defined is reported, not run
        return Mutant(source, where, {}, f"{type(e).__name__}: {e}")


def mutants(source: Source) -> Iterator[Mutant]:
    """Every mutant of ``source``, one per site."""
    for s in sites(source):
        yield mutant(source, s.index)


def all_originals() -> dict[str, ProtocolDef]:
    """Every shipped protocol, unmutated, by name."""
    found: dict[str, ProtocolDef] = {}
    for s in shipped_sources():
        found.update(original(s))
    return found
