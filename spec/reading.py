"""Reading expressions: walking the DAG, printing it for people, evaluating it.

Theory of operation
-------------------
What every reader of an :class:`~ackproof.spec.expr.Expr` shares: :func:`walk` (each node
once, children first: the order every back end compiles in), :func:`render` (the handler
API's own spelling, :data:`~ackproof.spec.ops.SPELLING`, for error messages, counterexample
tables and certificates) and :func:`evaluate`, the reference meaning
(:data:`~ackproof.spec.ops.CONCRETE`) the compiled back ends are tested against.  The
names are re-exported by :mod:`ackproof.spec.expr`, where they are imported from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, assert_never

from .errors import SpecError
from .ops import CONCRETE, SPELLING, Leaf, Op

if TYPE_CHECKING:
    from .expr import Expr, Value


@dataclass(frozen=True, slots=True)
class Names:
    """How to print slot leaves (the kernel supplies the state's field names)."""

    slots: Sequence[str] = ()
    enums: dict[str, tuple[str, ...]] | None = None


def render(e: Expr, names: Names | None = None, *, depth: int = 12) -> str:
    """A readable rendering of ``e`` (used in error messages and certificates)."""
    if depth <= 0:
        return "…"
    match e.op:
        case Leaf.CONST:
            if e.sort == "bool":
                return "true" if e.value else "false"
            if names is not None and names.enums and e.enum in names.enums:
                members = names.enums[e.enum]
                if 0 <= e.value < len(members):
                    return members[e.value]
            return str(e.value)
        case Leaf.SLOT:
            if names is not None and e.value < len(names.slots):
                return names.slots[e.value]
            return f"s[{e.value}]"
        case Leaf.ARRAY:
            return "<array>"
        case Op() as op:
            sub_ = [render(a, names, depth=depth - 1) for a in e.args]
            spelling = SPELLING[op]
            match spelling.form:
                case "prefix":
                    return f"{spelling.text}{_paren(e.args[0], sub_[0])}"
                case "infix":
                    sep = f" {spelling.text} "
                    return sep.join(_paren(a, s) for a, s in zip(e.args, sub_, strict=True))
                case "call":
                    return f"{spelling.text}({', '.join(sub_)})"
                case _:
                    assert_never(spelling.form)
        case _:
            assert_never(e.op)


def _paren(e: Expr, s: str) -> str:
    """``s``, the rendering of ``e`` as an operand: in parentheses if ``e`` is infix."""
    infix = isinstance(e.op, Op) and SPELLING[e.op].form == "infix"
    return f"({s})" if infix else s


def walk(roots: Iterable[Expr]) -> list[Expr]:
    """Every node reachable from ``roots``, each once, children before parents."""
    seen: set[int] = set()
    order: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(r, False) for r in roots]
    while stack:
        e, done = stack.pop()
        if done:
            order.append(e)
            continue
        if id(e) in seen:
            continue
        seen.add(id(e))
        stack.append((e, True))
        stack.extend((a, False) for a in e.args if id(a) not in seen)
    return order


def evaluate(e: Expr, state: Sequence[Value]) -> Value:
    """Reference evaluator: the concrete meaning of ``e`` in ``state`` (slow, simple)."""
    cache: dict[int, Value] = {}
    for node in walk([e]):
        v: Value
        match node.op:
            case Leaf.CONST:
                v = node.const_value()
            case Leaf.SLOT:
                v = state[node.value]
            case Leaf.ARRAY:
                raise SpecError("an array is not a value")
            case Op() as op:
                v = CONCRETE[op](*(cache[id(x)] for x in node.args))
            case _:
                assert_never(node.op)
        cache[id(node)] = v
    return cache[id(e)]
