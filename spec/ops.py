"""The operators of the expression language, and one table per meaning of them.

Theory of operation
-------------------
An :class:`~ackproof.spec.expr.Expr` node is a *leaf* (:class:`Leaf`: a constant, a slot of
the pre-state, an array field seen from a handler) or an *operator* (:class:`Op`) applied
to its ``args``.  Every meaning an operator has is one table keyed by :class:`Op`:

==================  ==========================  =====================================
meaning             table                       read by
==================  ==========================  =====================================
concrete value      :data:`CONCRETE`            constant folding, ``reading.evaluate``
Python source       :data:`PYTHON`              spec/interp.py, spec/packed.py
readable text       :data:`SPELLING`            ``reading.render`` (errors, certificates)
algebra             :data:`ALGEBRA`             spec/symmetry.py (via :data:`COMMUTATIVE`,
                                                :data:`ASSOCIATIVE`)
z3 term             ``encode.Z3``               proofs/encode.py
Promela source      ``promela.PROMELA``         proofs/promela.py
==================  ==========================  =====================================

(spec/packed.py also narrows value ranges per operator, by an exhaustive ``match`` of its
own.)

Rules this module keeps:

1. Every table is built by a function that ``match``-es on the operator and ends in
   ``assert_never``: an operator added to :class:`Op` and left out of a table is a mypy
   error, not a ``KeyError`` at run time.  ``tests/proofs/test_operators.py`` pins each
   table's keys to ``set(Op)`` and runs every operator through every back end.
2. A back end dispatches on a node with ``match node.op``: one case per :class:`Leaf`,
   then ``case Op():`` and one table lookup.  Nothing compares operator strings.

Adding an operator: a member here, its constructor in :mod:`ackproof.spec.expr` (sort,
interval, folding, checks), then each table mypy names, and an example in
``tests/proofs/test_operators.py`` (mypy names that too).  Certificates read z3's terms
back through ``certificate.FROM_Z3``, keyed by z3's operators, not these.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Literal, TypeAlias, assert_never


class Op(Enum):
    """An operator: an interior node of an expression."""

    NOT = "not"
    AND = "and"  # n-ary
    OR = "or"  # n-ary
    EQ = "eq"
    LT = "lt"
    LE = "le"
    ADD = "add"
    SUB = "sub"
    MUL = "mul"  # the second argument is a constant
    MOD = "mod"  # the second argument is a positive constant
    ITE = "ite"  # (condition, then, else)
    MIN = "min"
    MAX = "max"

    #: Members are singletons, so identity is their equality: hash them as objects (in C),
    #: not by name (in Python) as ``Enum`` does — code generation hashes a node's operator
    #: in every structural key it builds.
    __hash__ = object.__hash__


class Leaf(Enum):
    """A node without arguments; its ``value`` is the constant or the slot index."""

    CONST = "const"
    SLOT = "slot"
    ARRAY = "array"  # a handler's view of an array field; never a value (the kernel refuses it)

    __hash__ = object.__hash__  # as Op's


#: What an ``Expr`` node is.
Kind: TypeAlias = Op | Leaf


# -- concrete value ----------------------------------------------------------------------
def _concrete(op: Op) -> Callable[..., bool | int]:
    match op:
        case Op.NOT:
            return operator.not_
        case Op.AND:
            return lambda *xs: all(xs)
        case Op.OR:
            return lambda *xs: any(xs)
        case Op.EQ:
            return operator.eq
        case Op.LT:
            return operator.lt
        case Op.LE:
            return operator.le
        case Op.ADD:
            return operator.add
        case Op.SUB:
            return operator.sub
        case Op.MUL:
            return operator.mul
        case Op.MOD:
            return operator.mod  # Python's: the sign of the (positive) divisor
        case Op.ITE:
            return lambda c, a, b: a if c else b
        case Op.MIN:
            return min
        case Op.MAX:
            return max
        case _:
            assert_never(op)


#: The concrete meaning of every operator, on its arguments' values.
CONCRETE: dict[Op, Callable[..., bool | int]] = {op: _concrete(op) for op in Op}


# -- Python source -----------------------------------------------------------------------
Source: TypeAlias = Callable[[Sequence[str]], str]


def infix(sym: str) -> Source:
    """Generated source for a binary operator written ``a sym b`` (Python and Promela)."""
    return lambda a: f"({a[0]} {sym} {a[1]})"


def _python(op: Op) -> Source:
    match op:
        case Op.NOT:
            return lambda a: f"(not {a[0]})"
        case Op.AND:
            return lambda a: "(" + " and ".join(a) + ")"
        case Op.OR:
            return lambda a: "(" + " or ".join(a) + ")"
        case Op.EQ:
            return infix("==")
        case Op.LT:
            return infix("<")
        case Op.LE:
            return infix("<=")
        case Op.ADD:
            return infix("+")
        case Op.SUB:
            return infix("-")
        case Op.MUL:
            return infix("*")
        case Op.MOD:
            return infix("%")
        case Op.ITE:
            return lambda a: f"({a[1]} if {a[0]} else {a[2]})"
        case Op.MIN:
            return lambda a: f"min({a[0]}, {a[1]})"
        case Op.MAX:
            return lambda a: f"max({a[0]}, {a[1]})"
        case _:
            assert_never(op)


#: A Python expression for an operator applied to its arguments' sources (each already a
#: parenthesized expression or a name); the result is parenthesized where it needs to be.
PYTHON: dict[Op, Source] = {op: _python(op) for op in Op}


# -- readable text -----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Spelling:
    """How :func:`~ackproof.spec.expr.render` writes an operator: ``~x``, ``x + y`` or
    ``ite(c, x, y)``; an infix operand is parenthesized, any other is not."""

    form: Literal["prefix", "infix", "call"]
    text: str


def _spelling(op: Op) -> Spelling:
    match op:
        case Op.NOT:
            return Spelling("prefix", "~")
        case Op.AND:
            return Spelling("infix", "&")
        case Op.OR:
            return Spelling("infix", "|")
        case Op.EQ:
            return Spelling("infix", "==")
        case Op.LT:
            return Spelling("infix", "<")
        case Op.LE:
            return Spelling("infix", "<=")
        case Op.ADD:
            return Spelling("infix", "+")
        case Op.SUB:
            return Spelling("infix", "-")
        case Op.MUL:
            return Spelling("infix", "*")
        case Op.MOD:
            return Spelling("infix", "%")
        case Op.ITE | Op.MIN | Op.MAX:
            return Spelling("call", op.value)
        case _:
            assert_never(op)


#: How every operator is written for people (the handler API's own spelling).
SPELLING: dict[Op, Spelling] = {op: _spelling(op) for op in Op}


# -- algebra -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Algebra:
    commutative: bool  # the arguments can be reordered
    associative: bool  # nested applications flatten: (a + b) + c is a + b + c


def _algebra(op: Op) -> Algebra:
    match op:
        case Op.AND | Op.OR | Op.ADD | Op.MUL | Op.MIN | Op.MAX:
            return Algebra(commutative=True, associative=True)
        case Op.EQ:
            return Algebra(commutative=True, associative=False)
        case Op.NOT | Op.LT | Op.LE | Op.SUB | Op.MOD | Op.ITE:
            return Algebra(commutative=False, associative=False)
        case _:
            assert_never(op)


ALGEBRA: dict[Op, Algebra] = {op: _algebra(op) for op in Op}
COMMUTATIVE: frozenset[Op] = frozenset(op for op, a in ALGEBRA.items() if a.commutative)
ASSOCIATIVE: frozenset[Op] = frozenset(op for op, a in ALGEBRA.items() if a.associative)
