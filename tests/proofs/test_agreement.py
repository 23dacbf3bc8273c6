"""BMC and the explicit engine agree: same verdicts, same shortest counterexample and
witness lengths, for every built-in protocol, broken variant and example (N = 2)."""

from __future__ import annotations

import pytest
from proofs_testing import PROTOCOLS, assert_bmc_agrees_with_explicit, system

from ackproof.proofs import check
from ackproof.proofs.bmc import reach
from ackproof.proofs.encode import Encoding
from ackproof.spec import explore
from ackproof.spec.expr import not_
from ackproof.spec.protocols import BROKEN

BMC_CAP = 14


@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_bmc_and_explicit_agree_on_every_property(name: str) -> None:
    # The explicit search's depth is the diameter: BMC to it sees every reachable state
    # (capped to keep the suite fast; beyond the cap both must find nothing shorter).
    assert_bmc_agrees_with_explicit(system(name), BMC_CAP, witness_required=True)


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_every_broken_variant_is_caught_at_the_same_length_by_check(name: str) -> None:
    pdef, prop = BROKEN[name]
    s = pdef.system(2)
    explicit = check(s, prop, engine="explicit")
    bmc = check(s, prop, engine="bmc", depth=12)
    assert explicit.verdict == bmc.verdict == "violated"
    assert explicit.counterexample is not None
    assert bmc.counterexample is not None
    assert len(explicit.counterexample) == len(bmc.counterexample) == bmc.depth
    assert bmc.certificate is None


@pytest.mark.parametrize("shape", ["selector", "disjunctive"])
@pytest.mark.parametrize("mode", ["bv", "int"])
def test_encodings_agree_on_shortest_counterexamples(mode: str, shape: str) -> None:
    s = system("mark-before-process")
    r = reach(
        s,
        {"bad": not_(s.properties["no-loss"].invariant)},
        depth=8,
        enc=Encoding(s, mode=mode, shape=shape),  # type: ignore[arg-type]
    )
    assert len(r.found["bad"]) == len(explore(s).violations["no-loss"]) == 5
