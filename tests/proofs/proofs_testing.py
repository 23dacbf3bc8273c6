"""Shared cases for the engine tests: every built-in, broken variant and example system."""

from __future__ import annotations

from functools import cache

from ackproof.proofs import replay
from ackproof.proofs.bmc import reach
from ackproof.proofs.encode import Encoding
from ackproof.spec import ProtocolDef, System, explore
from ackproof.spec.expr import Expr, not_
from ackproof.spec.interp import compile_system
from ackproof.spec.protocols import BROKEN, BUILTIN


def _examples() -> dict[str, ProtocolDef]:
    try:
        from ackproof.spec.examples import EXAMPLES
    except ImportError:  # the examples are written alongside; absent is fine
        return {}
    return dict(EXAMPLES)


#: Every protocol definition the engines must agree on, by name.
PROTOCOLS: dict[str, ProtocolDef] = {
    **BUILTIN,
    **{name: pdef for name, (pdef, _) in BROKEN.items()},
    **_examples(),
}


@cache
def system(name: str, n: int = 2) -> System:
    return PROTOCOLS[name].system(n)


def assert_bmc_agrees_with_explicit(s: System, cap: int, *, witness_required: bool) -> None:
    """BMC to the explicit search's diameter (capped: beyond the cap both must find nothing
    shorter) finds the same violations and witnesses, at the same shortest lengths;
    ``witness_required``: every property's witness must be reachable within the depth."""
    ex = explore(s)
    assert ex.complete
    targets: dict[str, Expr] = {}
    for pid, p in s.properties.items():
        targets[f"bad:{pid}"] = not_(p.invariant)
        targets[f"wit:{pid}"] = p.witness
    depth = min(ex.depth, cap)
    r = reach(s, targets, depth=depth, enc=Encoding(s, shape="disjunctive"))
    assert r.status == "complete"
    comp = compile_system(s)
    for pid in s.properties:
        bad, wit = r.found.get(f"bad:{pid}"), r.found.get(f"wit:{pid}")
        want_bad, want_wit = ex.violations.get(pid), ex.witnesses.get(pid)
        if want_bad is not None and len(want_bad) > depth:
            want_bad = None
        assert (bad is None) == (want_bad is None), pid
        if bad is not None and want_bad is not None:
            assert len(bad) == len(want_bad), pid
            replay(comp, bad)
        if witness_required:
            assert wit is not None, f"{pid}: witness unreachable for BMC"
            assert want_wit is not None, f"{pid}: witness unreachable for explicit"
            assert len(wit) == len(want_wit), pid
        elif want_wit is not None and len(want_wit) <= depth:
            assert wit is not None, f"{pid}: witness unreachable for BMC"
            assert len(wit) == len(want_wit), pid
        else:
            assert wit is None, pid
