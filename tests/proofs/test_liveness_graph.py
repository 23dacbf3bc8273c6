"""The liveness check's shortcut: an obligation decided on the states its triggers reach.

``check_obligations`` first asks ``_doomed_somewhere`` (the component analysis on ``R``,
the goal-free states reachable from a trigger state) and looks for a lasso on the whole
goal-free graph only when that says one exists.  Before, every obligation ran the full
analysis on the whole graph (two thirds of exactly-once's explicit check at N = 4 went
to the liveness part).  Here both answers are compared on every obligation of every
built-in, broken, example, environment and library system.
"""

from __future__ import annotations

from environment_cases import CASES
from environment_cases import system as case_system
from proofs_testing import PROTOCOLS
from proofs_testing import system as protocol_system

from ackproof.proofs.calmgraph import CalmGraph
from ackproof.proofs.liveness import _doomed_somewhere, _violation
from ackproof.spec import System, explore
from ackproof.spec.interp import compile_system


def _systems() -> list[System]:
    return [protocol_system(n) for n in PROTOCOLS] + [case_system(n) for n in CASES]


def test_the_trigger_closure_decides_every_obligation_as_the_whole_graph_does() -> None:
    outcomes: dict[bool, int] = {True: 0, False: 0}
    for s in _systems():
        obligations = [ob for p in s.properties.values() for ob in p.eventually]
        if not obligations:
            continue
        comp = compile_system(s)
        ex = explore(s, compiled=comp, graph=True, max_states=200_000)
        if not ex.complete:
            continue
        graph = CalmGraph(comp, ex, None)
        marks = graph.truth([x for ob in obligations for x in (ob.goal, ob.trigger)])
        for k, ob in enumerate(obligations):
            goal, trig = graph.bit(2 * k), graph.bit(2 * k + 1)
            for room in (True, False):
                fast = _doomed_somewhere(graph, marks, goal, trig, room=room)
                full = _violation(graph, ob, marks, goal, trig, room=room)
                assert fast == (full is not None), (s.protocol, k, room)
                outcomes[fast] += 1
    assert outcomes[True] > 0  # violated obligations were compared
    assert outcomes[False] > 0  # and ones that hold
