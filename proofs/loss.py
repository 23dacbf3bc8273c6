"""Is a no-loss counterexample a real loss?  The copies a protocol forgot to declare.

no-loss, as a safety property, looks for a state where a submitted, never-processed
message has no copy left: none in flight, none claimed by a node's ``holds()``.  That
reading trusts the protocol to declare every copy it keeps.  If it declares too few (a
retransmitting sender with no ``holds()``), the "lost" message may still be processed
later, and the counterexample would be bogus.  So every no-loss counterexample, from any
engine, is re-checked here before it is shown: from its last state, a fault-free run must
not be able to process the message.  If one can, the protocol is under-declared and the
user gets an error that says which node still had the message — never a bogus trace.
"""

from __future__ import annotations

from ackproof.spec import SpecError
from ackproof.spec.explore import Path
from ackproof.spec.expr import evaluate
from ackproof.spec.interp import Compiled

from .budget import Clock
from .liveness import revival
from .trace import decode_step

#: How many states the re-check may visit before it gives up (and the violation stands).
REVIVAL_STATES = 200_000
#: How long the re-check may take at most (it also ends with the check's budget).
LOSS_RECHECK_SECONDS = 30.0


def check_loss_is_real(comp: Compiled, path: Path, clock: Clock) -> None:
    """Raise :class:`SpecError` if the message ``path`` shows as lost can still be
    processed without any further fault (searched for until ``clock`` runs out)."""
    system = comp.system
    last = path.steps[-1][1] if path.steps else path.initial
    culprits = system.properties["no-loss"].culprits
    lost = [m for m, c in enumerate(culprits) if evaluate(c, last)]
    if not lost:
        return
    m = lost[0]
    later = revival(comp, last, m, max_states=REVIVAL_STATES, clock=clock)
    if later is None:
        return
    who, how = _first_copy(comp, later, m)
    at = system.actions[path.steps[-1][0]].label if path.steps else "the start"
    raise SpecError(
        f"no-loss: after {len(path)} steps (last: {at}) message {m} has no copy in flight and "
        f"no node claims to hold one, yet without any fault it is processed later — {who} "
        f"still has it ({how}). Declare what {who} keeps with @{who}.holds (a function of "
        f"ctx and m), so that no-loss counts it as a copy",
        protocol=system.protocol,
    )


def _first_copy(comp: Compiled, later: Path, m: int) -> tuple[str, str]:
    """The node that first sends (or processes) ``m`` on ``later``, and the step."""
    system = comp.system
    before = later.initial
    for k, (a, after) in enumerate(later.steps, 1):
        action = system.actions[a]
        step = decode_step(system, k, action, before, after)
        for d in step.done:
            carried = (
                d.frame is not None
                and d.frame.kind in system.carriers
                and d.frame.get(system.carriers[d.frame.kind]) == m
            )
            if (carried or (d.kind == "process" and d.msg == m)) and action.node is not None:
                return action.node, f"{action.label}: {d}"
        before = after
    final = system.actions[later.steps[-1][0]]
    return final.node or "a node", final.label
