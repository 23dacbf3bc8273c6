"""Every back end gives every expression operator the same meaning.

The operators are one enum (``ackproof.spec.ops.Op``) and each meaning is one table built
by an exhaustive ``match`` (a missing operator is a mypy error).  Here each table is pinned
to cover every operator, and each operator, applied on its own to small operands, is
evaluated in every state by every back end: the reference evaluator (``ops.CONCRETE``),
the compiled interpreter and the packed search (``ops.PYTHON``), z3 in both integer
flavours (``encode.Z3``), the certificate reader (z3 back to a spec expression) and SPIN's
own interpreter (``promela.PROMELA``).  A protocol only exercises the operators its
handlers happen to build; this test exercises all of them, on negative values too.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import assert_never

import pytest

from ackproof.proofs import z3seam as z
from ackproof.proofs.certificate import FROM_Z3, to_expr
from ackproof.proofs.encode import Z3, Encoding
from ackproof.proofs.promela import PROMELA, expression
from ackproof.spec import Faults
from ackproof.spec.expr import TRUE, Expr, Sort, evaluate, ite, max_, min_, slot
from ackproof.spec.interp import compile_system, step_reference
from ackproof.spec.ops import ALGEBRA, CONCRETE, PYTHON, SPELLING, Op
from ackproof.spec.packed import compile_packed
from ackproof.spec.system import Action, HistorySlots, Slot, State, System

#: The operands: two ints (of different ranges, both reaching below zero) and two bools.
OPERANDS: tuple[tuple[str, Sort, int, int], ...] = (
    ("x", "int", -3, 3),
    ("y", "int", -2, 4),
    ("b", "bool", 0, 1),
    ("c", "bool", 0, 1),
)
OPS = list(Op)


def example(op: Op, x: Expr, y: Expr, b: Expr, c: Expr) -> Expr:
    """``op`` applied to the operands (exhaustive: a new operator needs an example)."""
    match op:
        case Op.NOT:
            return ~b
        case Op.AND:
            return b & c
        case Op.OR:
            return b | c
        case Op.EQ:
            return x == y
        case Op.LT:
            return x < y
        case Op.LE:
            return x <= y
        case Op.ADD:
            return x + y
        case Op.SUB:
            return x - y
        case Op.MUL:
            return x * 3
        case Op.MOD:
            return x % 3
        case Op.ITE:
            return ite(b, x, y)
        case Op.MIN:
            return min_(x, y)
        case Op.MAX:
            return max_(x, y)
        case _:
            assert_never(op)


@cache
def operator_system() -> System:
    """Slots: the operands, then one result slot per operator; action ``j`` writes
    operator ``j``'s example into result slot ``j``."""
    slots = [
        Slot(i, name, sort, lo, hi, init=False if sort == "bool" else 0, owner="test")
        for i, (name, sort, lo, hi) in enumerate(OPERANDS)
    ]
    leaves = [slot(s.index, s.sort, s.lo, s.hi, enum=None, ghost=False) for s in slots]
    actions = []
    for j, op in enumerate(OPS):
        e = example(op, *leaves)
        assert e.op is op, f"the example of {op} was simplified to {e!r}"
        r = len(slots)
        init = False if e.sort == "bool" else e.lo
        slots.append(Slot(r, f"r_{op.value}", e.sort, e.lo, e.hi, init=init, owner="test"))
        actions.append(Action(j, "meta", f"r_{op.value} := {e!r}", TRUE, ((r, e),)))
    return System(
        protocol="operators",
        messages=0,
        faults=Faults(),
        slots=tuple(slots),
        actions=tuple(actions),
        properties={},
        channels=(),
        nodes=(),
        history=HistorySlots((), (), (), 0),
    )


def states() -> list[State]:
    """Every assignment of the operands (the result slots at their initial values)."""
    s = operator_system()
    ranges = [
        [False, True] if sort == "bool" else list(range(lo, hi + 1)) for _, sort, lo, hi in OPERANDS
    ]
    rest = s.initial()[len(OPERANDS) :]
    return [(*values, *rest) for values in itertools.product(*ranges)]


def reference(op: Op) -> list[bool | int]:
    """The reference evaluator's value of ``op``'s example in every state."""
    s = operator_system()
    j = OPS.index(op)
    return [evaluate(s.actions[j].updates[0][1], st) for st in states()]


def test_every_table_has_every_operator() -> None:
    for table in (CONCRETE, PYTHON, SPELLING, ALGEBRA, Z3, PROMELA):
        assert set(table) == set(Op)


def test_the_certificate_reader_reads_every_kind_z3seam_names() -> None:
    assert set(FROM_Z3) == set(z._KINDS.values())


def test_render_spells_every_operator_as_the_handler_api_does() -> None:
    s = operator_system()
    shown = {op: s.render(s.actions[j].updates[0][1]) for j, op in enumerate(OPS)}
    assert shown == {
        Op.NOT: "~b",
        Op.AND: "b & c",
        Op.OR: "b | c",
        Op.EQ: "x == y",
        Op.LT: "x < y",
        Op.LE: "x <= y",
        Op.ADD: "x + y",
        Op.SUB: "x - y",
        Op.MUL: "x * 3",
        Op.MOD: "x % 3",
        Op.ITE: "ite(b, x, y)",
        Op.MIN: "min(x, y)",
        Op.MAX: "max(x, y)",
    }
    x, y, b, c = (
        slot(i, sort, lo, hi, enum=None, ghost=False)
        for i, (_, sort, lo, hi) in enumerate(OPERANDS)
    )
    assert s.render((x + y) * 3) == "(x + y) * 3"  # an infix operand is parenthesized
    assert s.render(~(b & c) | (min_(x, y) < 0)) == "~(b & c) | (min(x, y) < 0)"


@pytest.mark.parametrize("op", OPS, ids=lambda op: op.value)
def test_interpreter_and_packed_search_agree_with_the_reference(op: Op) -> None:
    s = operator_system()
    j, r = OPS.index(op), len(OPERANDS) + OPS.index(op)
    comp, packed = compile_system(s), compile_packed(s)
    for st, want in zip(states(), reference(op), strict=True):
        assert comp.step(st, j) == step_reference(s, s.actions[j], st)
        got = comp.step(st, j)
        assert got is not None
        assert got[r] == want, (op, st)
        succ = dict(packed.succ(packed.layout.encode(st)))
        assert packed.layout.decode(succ[j]) == got, (op, st)


@pytest.mark.parametrize("mode", ["bv", "int"])
@pytest.mark.parametrize("op", OPS, ids=lambda op: op.value)
def test_z3_and_the_certificate_reader_agree_with_the_reference(op: Op, mode: z.IntMode) -> None:
    s = operator_system()
    e = s.actions[OPS.index(op)].updates[0][1]
    enc = Encoding(s, mode=mode)
    v = enc.state("v")
    back = to_expr(s, enc.expr(e, v), v)  # z3's term read back as a spec expression
    for st, want in zip(states(), reference(op), strict=True):
        kind, _, value = z.decompose(
            z.simplify(
                enc.expr(e, [enc.value(x, sl.sort) for x, sl in zip(st, s.slots, strict=True)])
            )
        )
        assert kind in ("bool", "int"), (op, st)
        assert value == want, (op, st, mode)
        assert evaluate(back, st) == want, (op, st, mode, back)


@pytest.mark.skipif(shutil.which("spin") is None, reason="spin is not installed")
def test_spin_evaluates_every_operator_as_the_reference_does(tmp_path: Path) -> None:
    """SPIN's simulator (no C compiler needed) prints every example in every state."""
    s = operator_system()
    lines = [f"{'bool' if sl.sort == 'bool' else 'int'} s{sl.index};" for sl in s.slots]
    lines.append("init {")
    for st in states():
        lines += [f"  s{i} = {str(v).lower()};" for i, v in enumerate(st[: len(OPERANDS)])]
        exprs = [expression(a.updates[0][1]) for a in s.actions]
        lines.append(f'  printf("V{" %d" * len(exprs)}\\n", {", ".join(exprs)});')
    lines.append("}")
    model = tmp_path / "operators.pml"
    model.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["spin", model.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    rows = [line.split()[1:] for line in out.stdout.splitlines() if line.strip().startswith("V")]
    assert len(rows) == len(states()), out.stdout[-2000:] + out.stderr[-2000:]
    for j, op in enumerate(OPS):
        assert [int(row[j]) for row in rows] == [int(v) for v in reference(op)], op
