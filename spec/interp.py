"""The concrete meaning of a system: actions compiled to plain Python functions.

Theory of operation
-------------------
Each :class:`~ackproof.spec.system.Action` becomes one generated function
``step(s) -> new_state | None`` (``None``: not enabled).  Expressions are DAGs with
shared nodes; the generator names every shared node once (common-subexpression
elimination), evaluates the guard first and the updates only when it holds, and raises
:class:`~ackproof.spec.errors.StepError` when a well-formedness check fails (a value
outside its field's range, an index out of bounds).

:func:`step_reference` evaluates the same action with the slow tree-walking evaluator of
:mod:`ackproof.spec.expr`; a test pins the two to agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from types import CodeType
from typing import TYPE_CHECKING, assert_never

from .errors import SpecError, StepError
from .expr import Expr, Value, evaluate, walk
from .ops import PYTHON, Leaf, Op
from .system import Action, State, System

if TYPE_CHECKING:
    from .packed import Packed

StepFn = Callable[[State], State | None]
PredFn = Callable[[State], bool]


class _Gen:
    """Python source for a set of expressions sharing one namespace of temporaries."""

    def __init__(self, roots: Sequence[Expr]) -> None:
        self.refs: dict[int, int] = {}
        for e in walk(roots):
            for a in e.args:
                self.refs[id(a)] = self.refs.get(id(a), 0) + 1
        self.names: dict[int, str] = {}
        self.lines: list[str] = []

    def need(self, roots: Sequence[Expr], indent: str) -> None:
        """Emit temporaries for the shared nodes under ``roots`` not yet named."""
        for e in walk(roots):
            if id(e) in self.names or isinstance(e.op, Leaf):
                continue
            if self.refs.get(id(e), 0) > 1:
                src = self.src(e)
                name = f"t{len(self.names)}"
                self.lines.append(f"{indent}{name} = {src}")
                self.names[id(e)] = name

    def src(self, e: Expr) -> str:
        match e.op:
            case Leaf.CONST:
                return repr(bool(e.value)) if e.sort == "bool" else repr(e.value)
            case Leaf.SLOT:
                return f"s[{e.value}]"
            case Leaf.ARRAY:
                raise SpecError("an array is not a value")
            case Op() as op:
                return PYTHON[op]([self.names.get(id(x)) or self.src(x) for x in e.args])
            case _:
                assert_never(e.op)


def _action_source(fname: str, action: Action, width: int) -> str:
    roots = [action.guard, *(v for _, v in action.updates), *(c.cond for c in action.checks)]
    g = _Gen(roots)
    g.lines.append(f"def {fname}(s):")
    g.need([action.guard], "    ")
    g.lines.append(f"    if not {g.src(action.guard)}:")
    g.lines.append("        return None")
    for k, check in enumerate(action.checks):
        g.need([check.cond], "    ")
        g.lines.append(f"    if not {g.src(check.cond)}:")
        g.lines.append(f"        _fail({action.index}, {k}, s)")
    g.need([v for _, v in action.updates], "    ")
    upd = {i: g.src(v) for i, v in action.updates}
    g.lines.append(f"    return {_new_state(upd, width)}")
    return "\n".join(g.lines)


def _new_state(updates: dict[int, str], width: int) -> str:
    """The new state's tuple: the slots an action updates by their expressions, the runs
    between them as slices of ``s`` (``s[:2] + (True,) + s[3:]``).  Listing every slot
    (``(s[0], s[1], True, s[3], ...)``) made Python's compiler the largest part of
    compiling a system: 0.017 s of 0.021 at exactly-once N = 6 (43 slots, 80 actions)."""
    if not updates:
        return "s"
    parts: list[str] = []
    for updated, run in groupby(range(width), key=updates.__contains__):
        slots = list(run)
        if updated:
            parts.append(f"({', '.join(updates[i] for i in slots)},)")
        else:
            lo, hi = slots[0], slots[-1] + 1
            parts.append(f"s[{lo or ''}:{hi if hi < width else ''}]")
    return " + ".join(parts)


def _pred_source(fname: str, e: Expr) -> str:
    g = _Gen([e])
    g.lines.append(f"def {fname}(s):")
    g.need([e], "    ")
    g.lines.append(f"    return {g.src(e)}")
    return "\n".join(g.lines)


@dataclass
class Compiled:
    """A system's actions and predicates as Python functions."""

    system: System
    steps: list[StepFn]
    _packed: Packed | None = field(default=None, repr=False, compare=False)

    def packed(self) -> Packed:
        """The packed form (:mod:`.packed`), compiled on first use and kept."""
        if self._packed is None:
            from .packed import compile_packed

            self._packed = compile_packed(self.system)
        return self._packed

    def derived(self, system: System) -> Compiled:
        """The compilation of ``system``: this one's steps, shared, where it differs from
        this one's system only in its properties (the very same slots and actions: a
        property's backing or deadlock system), else compiled anew."""
        if system.slots is self.system.slots and system.actions is self.system.actions:
            return Compiled(system, self.steps)
        return compile_system(system)

    def successors(self, state: State) -> list[tuple[int, State]]:
        out = []
        for i, f in enumerate(self.steps):
            t = f(state)
            if t is not None:
                out.append((i, t))
        return out

    def step(self, state: State, action: int) -> State | None:
        return self.steps[action](state)

    def predicate(self, e: Expr) -> PredFn:
        ns: dict[str, object] = {}
        exec(_compile(_pred_source("pred", e), "<ackproof predicate>", self.system.protocol), ns)
        fn = ns["pred"]
        assert callable(fn)
        return fn


def _compile(src: str, name: str, protocol: str) -> CodeType:
    """Compile generated code; an instance too big for Python's compiler (expressions
    nested too deeply) is a :class:`SpecError` that says what to make smaller."""
    try:
        return compile(src, name, "exec")
    except (SyntaxError, RecursionError) as e:
        why = e.msg if isinstance(e, SyntaxError) else "expressions nested too deeply"
        raise SpecError(
            f"this instance is too large to compile ({why}); check it with fewer messages "
            "(--messages) or smaller types",
            protocol=protocol,
        ) from None


def compile_system(system: System) -> Compiled:
    """Compile every action of ``system`` into a Python function."""
    width = len(system.slots)
    actions = system.actions

    def fail(ai: int, k: int, s: State) -> None:
        a = actions[ai]
        raise StepError(
            f"protocol {system.protocol!r}, action {a.label!r}: {a.checks[k].failure(s)} "
            f"(in state {system.show_state(s)})"
        )

    src = "\n\n".join(_action_source(f"a{a.index}", a, width) for a in actions)
    ns: dict[str, object] = {"_fail": fail}
    exec(_compile(src, f"<ackproof {system.protocol}>", system.protocol), ns)
    steps: list[StepFn] = []
    for a in actions:
        fn = ns[f"a{a.index}"]
        assert callable(fn)
        steps.append(fn)
    return Compiled(system, steps)


def step_reference(system: System, action: Action, state: State) -> State | None:
    """The same step by the reference evaluator (slow; for tests)."""
    if not evaluate(action.guard, state):
        return None
    for check in action.checks:
        if not evaluate(check.cond, state):
            raise StepError(
                f"protocol {system.protocol!r}, action {action.label!r}: {check.failure(state)}"
            )
    out: list[Value] = list(state)
    for i, e in action.updates:
        v = evaluate(e, state)
        out[i] = bool(v) if system.slots[i].sort == "bool" else int(v)
    return tuple(out)


def holds(system: System, e: Expr, state: State) -> bool:
    return bool(evaluate(e, state))
