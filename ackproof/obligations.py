"""The built-in proof obligations: protocol x fault model x property, with expected verdicts.

This is the guarantee matrix every article on delivery guarantees draws by hand, stated
so that a machine checks every cell:

==============  ============  =============  ===========
protocol        no-loss       no-duplicate   no-phantom
==============  ============  =============  ===========
at-most-once    violated      holds          holds
at-least-once   holds         violated       holds
exactly-once    holds         holds          holds
==============  ============  =============  ===========

under each fault model the protocol is expected to face.  The broken variants are
obligations too: each must be caught violating the property it breaks.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Literal

from ackproof.spec import Faults, ProtocolDef
from ackproof.spec.protocols import BROKEN, BUILTIN

Expected = Literal["holds", "violated"]

PROPERTIES = ("no-loss", "no-duplicate", "no-phantom")

#: Column id -> fault model.  Lossy FIFO links; a network that also duplicates and
#: reorders; and the same with both nodes crashing and restarting.
FAULT_MODELS: dict[str, Faults] = {
    "loss": Faults(loss=True),
    "loss+dup+reorder": Faults(loss=True, duplicate=True, reorder=True),
    "loss+dup+reorder+crash": Faults(loss=True, duplicate=True, reorder=True, crash=("*",)),
}

FAULT_MEANINGS: dict[str, str] = {
    "loss": "FIFO links that may lose any frame",
    "loss+dup+reorder": "links that lose, duplicate and reorder frames",
    "loss+dup+reorder+crash": "as above, and either node may crash and restart at any point",
}

#: Protocol -> property -> expected verdict (the same under every fault model).
EXPECTED: dict[str, dict[str, Expected]] = {
    "at-most-once": {"no-loss": "violated", "no-duplicate": "holds", "no-phantom": "holds"},
    "at-least-once": {"no-loss": "holds", "no-duplicate": "violated", "no-phantom": "holds"},
    "exactly-once": {"no-loss": "holds", "no-duplicate": "holds", "no-phantom": "holds"},
}


@dataclass(frozen=True, slots=True)
class Obligation:
    protocol: ProtocolDef
    faults_id: str
    faults: Faults
    property: str
    expected: Expected
    section: Literal["guarantees", "broken"]

    @builtins.property
    def name(self) -> str:
        return f"{self.protocol.name} / {self.faults_id} / {self.property}"


def builtin_obligations(*, broken: bool = True) -> list[Obligation]:
    out = [
        Obligation(BUILTIN[p], fid, f, prop, EXPECTED[p][prop], "guarantees")
        for p in BUILTIN
        for fid, f in FAULT_MODELS.items()
        for prop in PROPERTIES
    ]
    if broken:
        for pdef, prop in BROKEN.values():
            out.append(Obligation(pdef, pdef.faults.name, pdef.faults, prop, "violated", "broken"))
    return out


def as_expected(expected: Expected, verdict: str) -> bool:
    if expected == "holds":
        return verdict in ("proved", "holds")
    return verdict == "violated"
