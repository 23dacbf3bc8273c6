"""The z3 transition relation admits exactly the concrete successor, and nothing when the
action is disabled: drawn states and actions, every encoding."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from proofs_testing import PROTOCOLS, system

from ackproof.proofs import z3seam as z
from ackproof.proofs.encode import Encoding, Shape, selector_width
from ackproof.spec import StepError
from ackproof.spec.interp import compile_system
from ackproof.spec.system import State, System

NAMES = sorted(PROTOCOLS)
ENCODINGS = [("bv", "selector"), ("bv", "disjunctive"), ("int", "selector"), ("int", "disjunctive")]


@cache
def encoding(name: str, mode: z.IntMode, shape: Shape) -> Encoding:
    return Encoding(system(name), mode=mode, shape=shape)


def successors_in_z3(enc: Encoding, state: State, action: int) -> list[State]:
    """All successors z3 admits (at most two are enumerated)."""
    s, t, a = enc.state("s"), enc.state("t"), enc.selector("a")
    solver = z.Solver(None, mode=enc.mode)
    solver.add(enc.trans(s, t, a), enc.is_action(a, action))
    for v, x, sl in zip(s, state, enc.system.slots, strict=True):
        solver.add(z.eq(v, enc.value(x, sl.sort)))
    out: list[State] = []
    while len(out) < 2 and solver.check() == "sat":
        got = enc.decode(solver.model(), t)
        out.append(got)
        solver.add(
            z.or_(
                *(
                    z.not_(
                        z.eq(
                            v,
                            enc.value(
                                x,
                                "int" if isinstance(x, int) and not isinstance(x, bool) else "bool",
                            ),
                        )
                    )
                    for v, x in zip(t, got, strict=True)
                )
            )
        )
    return out


def draw_state(data: st.DataObject, s: System) -> State:
    out: list[bool | int] = []
    for sl in s.slots:
        if sl.sort == "bool":
            out.append(data.draw(st.booleans()))
        else:
            out.append(data.draw(st.integers(sl.lo, sl.hi)))
    return tuple(out)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    encoding_choice=st.sampled_from(ENCODINGS),
    data=st.data(),
)
def test_z3_admits_exactly_the_concrete_successor(
    name: str, encoding_choice: tuple[str, str], data: st.DataObject
) -> None:
    s = system(name)
    mode, shape = encoding_choice
    assert mode in ("bv", "int")
    assert shape in ("selector", "disjunctive")
    enc = encoding(name, mode, shape)
    state = draw_state(data, s)
    action = data.draw(st.integers(0, len(s.actions) - 1))
    try:
        concrete = compile_system(s).step(state, action)
    except StepError:
        concrete = None
        assume(False)  # ill-formed step from an unreachable state: not a transition
    got = successors_in_z3(enc, state, action)
    assert got == ([] if concrete is None else [concrete])


@pytest.mark.parametrize("name", NAMES)
def test_every_explicit_transition_is_admitted_by_z3(name: str) -> None:
    """All of a system's actions, from reachable states: a selector one bit too narrow or
    a dropped action fails here."""
    s = system(name)
    comp = compile_system(s)
    enc = encoding(name, "bv", "selector")
    seen_actions: set[int] = set()
    frontier, seen = [s.initial()], {s.initial()}
    while frontier and len(seen_actions) < len(s.actions) and len(seen) < 3000:
        nxt = []
        for st_ in frontier:
            for a, t in comp.successors(st_):
                if a not in seen_actions:
                    seen_actions.add(a)
                    assert successors_in_z3(enc, st_, a) == [t], s.actions[a].label
                if t not in seen:
                    seen.add(t)
                    nxt.append(t)
        frontier = nxt
    assert seen_actions, "no action is ever enabled"


@pytest.mark.parametrize(("n", "width"), [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (8, 3), (9, 4)])
def test_selector_is_wide_enough(n: int, width: int) -> None:
    assert selector_width(n) == width
    assert (1 << width) >= n
