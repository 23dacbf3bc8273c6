"""A first message's lemma from the same protocol with fewer messages.

Spacer's query for the first message's conjunct grows with the number of messages (every
slot of every message is a variable of the unknown invariant): at exactly-once no-loss it
took about 0.08 s of CPU at N = 2, 0.23 s at N = 6 and 0.43 s at N = 16 (under load),
the largest part of a proof at N >= 6.  The conjunct is about one message, so its lemma
with that message alone is often the lemma at any N.  :func:`seed_lemma` poses the same
conjunct on :attr:`~ackproof.spec.system.System.instance` at :data:`SEED_MESSAGES`
messages and returns Spacer's invariant there.  Its variables are named by slot
(``<slot>@x``), and a slot has the same name at every N, so the lemma is a term over this
system's variables as it is (with ``Int`` arithmetic; bit-vectors are sized per system).

It is a candidate and nothing more: :func:`~.pdr.spacer` hands it to the same filter as a
lemma renamed from another message (``Init -> C``, ``known & C & Dom & T & known' -> C'``
on *this* system, then ``C & Dom -> P``), so a lemma that holds on the smaller instance
and not here is cut down or dropped, and Spacer then runs here as before.
"""

from __future__ import annotations

from ackproof.spec import Expr, System
from ackproof.spec.errors import SpecError
from ackproof.spec.expr import walk
from ackproof.spec.ops import Leaf

from . import z3seam as z
from .budget import Clock
from .encode import Encoding, StateVars

#: The smaller instance's number of messages.  One: the cheapest query (exactly-once
#: no-loss, Spacer's CPU: 0.055-0.061 s against 0.074-0.077 s with two, and the smaller
#: instance is lowered and encoded faster), and its lemma carries every built-in
#: protocol at N = 4 and 6.  Two let a lemma say how a message and another interact; on
#: the library's MQTT and outbox protocols at N = 4 neither size, nor trying one then the
#: other, was faster beyond Spacer's run-to-run spread (their seeds mostly fail the
#: filter, and Spacer then proves each message here).
SEED_MESSAGES = 1
#: Spacer's time on the smaller instance (it takes a fraction of this where it helps).
SEED_SECONDS = 2.0


def seed_lemma(
    system: System, enc: Encoding, xs: StateVars, part: Expr, clock: Clock
) -> z.Term | None:
    """Spacer's invariant for ``part`` (a conjunct about one message) on ``system``'s
    instance with :data:`SEED_MESSAGES` messages, as a term over ``xs``; ``None`` if there
    is no smaller instance, a slot of ``part`` is not in it, or Spacer does not prove it
    there within :data:`SEED_SECONDS`."""
    if system.instance is None or system.messages <= SEED_MESSAGES or clock.expired():
        return None
    if enc.mode != "int":  # bit-vectors' width is sized per system: the names would differ
        return None
    try:
        small = system.instance(SEED_MESSAGES)
    except SpecError:  # the protocol wants more messages: no smaller instance
        return None
    names = {sl.name for sl in system.slots}
    here = {sl.name for sl in small.slots}
    used = {system.slots[n.value].name for n in walk([part]) if n.op is Leaf.SLOT}
    if not here <= names or not used <= here:
        return None  # a slot the other system does not have: the names would not agree
    senc = Encoding(small, mode=enc.mode, shape="disjunctive")
    sxs, sys_, a = senc.state("x"), senc.state("y"), senc.selector("a")
    left = clock.left()
    h = z.Horn(sxs, timeout=SEED_SECONDS if left is None else min(left, SEED_SECONDS))
    h.rule(sxs, senc.init(sxs), h.inv(sxs))
    h.rule([*sxs, *sys_, a], z.and_(h.inv(sxs), senc.trans(sxs, sys_, a)), h.inv(sys_))
    h.rule(sxs, z.and_(h.inv(sxs), z.not_(enc.expr(part, xs))), z.FALSE)
    if h.check() != "sat":
        return None
    return z.quantifier_free(z.simplify(h.invariant(sxs)))
