"""The built-in protocols, one module each, and the broken variants the checker must catch."""

from ..protocol import ProtocolDef
from .at_least_once import at_least_once
from .at_most_once import at_most_once
from .broken import BROKEN
from .exactly_once import exactly_once

#: The three guarantees, by id.
BUILTIN: dict[str, ProtocolDef] = {
    "at-most-once": at_most_once,
    "at-least-once": at_least_once,
    "exactly-once": exactly_once,
}

__all__ = ["BROKEN", "BUILTIN", "at_least_once", "at_most_once", "exactly_once"]
