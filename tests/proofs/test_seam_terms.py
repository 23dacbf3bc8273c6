"""The fast z3 constructors make the very terms z3's own Python constructors make, and a
system's transition relation is built once and shared.

``proofs/z3seam.py`` builds ``And``/``Or``/``Not``/``==``/``If``/comparisons/``+``/``-``
and ``substitute`` through z3's C API (``Z3_mk_and`` …), skipping the Python wrappers'
argument checks; ``proofs/encode.py`` builds ``T`` with each selector test and frame
equation made once.  Here the same encodings are built again with the plain constructors
(``z3.And(*args)``, ``a == b``, ``z3.If``, ``z3.substitute``) and the builder as it was
before (every term made where it is used), and compared by z3's term id: z3 hash-conses
terms in a context, so two live terms have one id exactly when they are the same term.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
import z3
from proofs_testing import PROTOCOLS, system

from ackproof.proofs import encode
from ackproof.proofs import z3seam as z
from ackproof.proofs.budget import Clock
from ackproof.proofs.encode import Encoding, Shape, StateVars
from ackproof.proofs.engines import run_z3
from ackproof.proofs.z3seam import Term
from ackproof.spec import System
from ackproof.spec.expr import const
from ackproof.spec.interp import compile_system
from ackproof.spec.lasso import backing_system
from ackproof.spec.library import LIBRARY
from ackproof.spec.protocols import BUILTIN

ENCODINGS: list[tuple[z.IntMode, Shape]] = [
    ("bv", "selector"),
    ("bv", "disjunctive"),
    ("int", "selector"),
    ("int", "disjunctive"),
]


def _zz(t: Term) -> Any:
    return t


def _plain_and(*xs: Term) -> Term:
    if not xs:
        return z.TRUE
    return xs[0] if len(xs) == 1 else Term(z3.And(*[_zz(x) for x in xs]))


def _plain_or(*xs: Term) -> Term:
    if not xs:
        return z.FALSE
    return xs[0] if len(xs) == 1 else Term(z3.Or(*[_zz(x) for x in xs]))


def _plain_substitute(t: Term, pairs: list[tuple[Term, Term]]) -> Term:
    if not pairs:
        return t
    return Term(z3.substitute(_zz(t), *[(_zz(a), _zz(b)) for a, b in pairs]))


#: The constructors as they were: z3's Python API, every argument checked and coerced.
PLAIN_SEAM: dict[str, Any] = {
    "and_": _plain_and,
    "or_": _plain_or,
    "not_": lambda a: Term(z3.Not(_zz(a))),
    "eq": lambda a, b: Term(_zz(a) == _zz(b)),
    "ite": lambda c, a, b: Term(z3.If(_zz(c), _zz(a), _zz(b))),
    "substitute": _plain_substitute,
}
PLAIN_ARITH: dict[str, Any] = {
    "add": lambda self, a, b: Term(_zz(a) + _zz(b)),
    "sub": lambda self, a, b: Term(_zz(a) - _zz(b)),
    "lt": lambda self, a, b: Term(_zz(a) < _zz(b)),
    "le": lambda self, a, b: Term(_zz(a) <= _zz(b)),
}


def reference_trans(enc: Encoding, s: StateVars, t: StateVars, a: Term) -> Term:
    """``Encoding._build_trans`` as it was: every selector test and frame equation made
    where it is used."""
    cache: dict[int, Term] = {}
    actions = enc.system.actions
    guards = [enc.expr(act.guard, s, cache) for act in actions]
    if enc.shape == "disjunctive":
        steps = []
        for j, act in enumerate(actions):
            upd = dict(act.updates)
            eqs = [
                z.eq(t[i], enc.expr(upd[i], s, cache) if i in upd else s[i]) for i in range(len(s))
            ]
            steps.append(z.and_(enc.is_action(a, j), guards[j], *eqs))
        return z.and_(enc.action_range(a), z.or_(*steps), enc.domain(t))
    enabled = z.or_(*(z.and_(enc.is_action(a, j), g) for j, g in enumerate(guards)))
    nexts = []
    for i in range(len(s)):
        value = s[i]
        for j, act in reversed(list(enumerate(actions))):
            for slot_index, e in act.updates:
                if slot_index == i:
                    value = z.ite(enc.is_action(a, j), enc.expr(e, s, cache), value)
        nexts.append(z.eq(t[i], value))
    return z.and_(enc.action_range(a), enabled, *nexts, enc.domain(t))


def _terms(enc: Encoding, *, plain: bool) -> list[Term]:
    """``T(s, t, a)``, ``Init``, ``Dom`` and every property's invariant and witness."""
    s, t, a = enc.state("s"), enc.state("t"), enc.selector("a")
    if plain:
        ts, tt, ta = enc.state("pre"), enc.state("post"), enc.selector("step")
        body = reference_trans(enc, ts, tt, ta)
        pairs = [*zip(ts, s, strict=True), *zip(tt, t, strict=True), (ta, a)]
        trans = z.substitute(body, pairs)
    else:
        trans = enc.trans(s, t, a)
    out = [trans, enc.init(s), enc.domain(s)]
    for pid in enc.system.properties:
        out.extend((enc.prop(pid, s), enc.witness(pid, s)))
    return out


def _assert_same_terms(s: System, monkeypatch: pytest.MonkeyPatch) -> None:
    for mode, shape in ENCODINGS:
        fast = _terms(Encoding(s, mode=mode, shape=shape), plain=False)
        with monkeypatch.context() as m:
            for name, f in PLAIN_SEAM.items():
                m.setattr(z, name, f)
            for name, f in PLAIN_ARITH.items():
                m.setattr(z.Arith, name, f)
            plain = _terms(Encoding(s, mode=mode, shape=shape), plain=True)
        assert len(fast) == len(plain)
        for i, (x, y) in enumerate(zip(fast, plain, strict=True)):
            # both alive here, so equal ids mean the same hash-consed term
            assert z.term_id(x) == z.term_id(y), f"{s.protocol} {mode}/{shape}: term {i}"


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_a_built_in_system_gets_the_same_terms_as_with_plain_z3(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_same_terms(system(name), monkeypatch)


@pytest.mark.parametrize("entry", LIBRARY, ids=lambda e: e.name)
def test_a_library_system_gets_the_same_terms_as_with_plain_z3(
    entry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _assert_same_terms(entry.protocol.system(entry.bound), monkeypatch)


def test_the_fast_constructors_agree_on_a_small_term_by_term() -> None:
    """Each constructor on its own, bit-vector and integer, by id and by text."""
    for ar in (z.Arith("bv", 6), z.Arith("int")):
        x, y = ar.var("x"), ar.var("y")
        p, q = z.bool_var("p"), z.bool_var("q")
        pairs = [
            (z.and_(p, q, z.not_(p)), z3.And(_zz(p), _zz(q), z3.Not(_zz(p)))),
            (z.or_(p, q), z3.Or(_zz(p), _zz(q))),
            (z.eq(x, y), _zz(x) == _zz(y)),
            (z.ite(p, x, y), z3.If(_zz(p), _zz(x), _zz(y))),
            (z.ite(p, q, p), z3.If(_zz(p), _zz(q), _zz(p))),
            (ar.add(x, ar.val(3)), _zz(x) + _zz(ar.val(3))),
            (ar.sub(x, y), _zz(x) - _zz(y)),
            (ar.lt(x, y), _zz(x) < _zz(y)),
            (ar.le(x, y), _zz(x) <= _zz(y)),
            # a numeral on the right: Python asks it first (0 == x, 2 > x, 2 >= x)
            (z.eq(x, ar.val(0)), _zz(x) == _zz(ar.val(0))),
            (ar.lt(x, ar.val(2)), _zz(x) < _zz(ar.val(2))),
            (ar.le(x, ar.val(2)), _zz(x) <= _zz(ar.val(2))),
            (ar.le(ar.val(2), x), _zz(ar.val(2)) <= _zz(x)),
            (z.substitute(ar.add(x, y), [(x, y)]), _zz(y) + _zz(y)),
        ]
        for fast, plain in pairs:
            assert z.term_id(fast) == plain.get_id()
            assert z.show(fast) == str(plain)
            assert type(_zz(fast)) is type(plain)  # the same Python class (bv, int, bool)


def test_the_transition_relation_is_built_once_per_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every property of a check, its certificate re-check and the well-formedness proof
    share one ``T`` per system, flavour and shape.  Before, each Spacer run and each
    re-check built its own: ten builds of the same relation for exactly-once's three
    properties, about half of a large symbolic check."""
    built: list[tuple[int, str, str]] = []
    real = Encoding._build_trans

    def counting(self: Encoding, s: StateVars, t: StateVars, a: Term) -> Term:
        built.append((id(self.system), self.mode, self.shape))
        return real(self, s, t, a)

    monkeypatch.setattr(Encoding, "_build_trans", counting)
    monkeypatch.setattr(encode, "_TEMPLATES", {})
    s = BUILTIN["exactly-once"].system(2)
    comp = compile_system(s)
    for prop in ("no-duplicate", "no-phantom"):
        r = run_z3(s, prop, "pdr", 20, Clock(None), comp)
        assert r.verdict == "proved", prop
        assert r.certificate, prop
    mine = [b for b in built if b[0] == id(s)]
    assert sorted(mine) == [(id(s), "bv", "selector"), (id(s), "int", "disjunctive")]


def test_a_shared_template_is_the_term_a_fresh_build_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(encode, "_TEMPLATES", {})
    s = BUILTIN["at-least-once"].system(2)
    first = Encoding(s, mode="int", shape="disjunctive")
    again = Encoding(s, mode="int", shape="disjunctive")
    assert again.template() is first.template()
    x, y, a = first.state("x"), first.state("y"), first.selector("a")
    shared = again.trans(x, y, a)
    encode._TEMPLATES.clear()
    fresh = Encoding(s, mode="int", shape="disjunctive")
    assert fresh.template() is not first.template()
    assert z.term_id(fresh.trans(x, y, a)) == z.term_id(shared)
    # another width (a certificate with a larger constant) is another template
    bv = Encoding(s, mode="bv", shape="selector")
    wide = Encoding(s, mode="bv", shape="selector", extra=(const(1 << 20),))
    assert wide.arith.width > bv.arith.width
    assert wide.template() is not bv.template()
    assert Encoding(s, mode="bv", shape="selector").template() is bv.template()


def test_a_system_that_changes_only_its_properties_shares_the_template(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """no-loss's backing system (the invariant strengthened with why each claim is
    backed) has the system's own slots and actions: it reuses ``T`` instead of building it."""
    monkeypatch.setattr(encode, "_TEMPLATES", {})
    s = BUILTIN["exactly-once"].system(2)
    backed = backing_system(s, "no-loss")
    assert backed is not None
    assert backed is not s
    first = Encoding(s, mode="int", shape="disjunctive")
    assert Encoding(backed, mode="int", shape="disjunctive").template() is first.template()
    # another relation is another template, even over the same slots
    fewer = replace(s, actions=s.actions[:-1])
    assert Encoding(fewer, mode="int", shape="disjunctive").template() is not first.template()
