"""Shared cases for the engine tests: every built-in, broken variant and example system."""

from __future__ import annotations

from functools import cache

from ackproof.spec import ProtocolDef, System
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
