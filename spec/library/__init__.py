"""The library: real protocols, each written from its source, with pinned verdicts.

Every module in this package is a one-file variant a user could have written: it imports
only :mod:`ackproof.spec`, defines its protocols with ``@protocol``, cites its source (the
spec section, the KIP, the bug report) in its docstring, and ends with a module-level
``ENTRIES`` list of :class:`Entry`: which protocol, which system it belongs to, and the
verdict expected for each property at the entry's bounds.

:data:`LIBRARY` collects every module's entries (discovered, not listed by hand), so a new
module is picked up by ``ackproof prove --library``, ``ackproof list`` and the tests that
pin each expected verdict with no other edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Literal

from ..protocol import ProtocolDef

Expected = Literal["holds", "violated"]


@dataclass(frozen=True)
class Entry:
    """One library protocol and what checking it must show.

    ``expected`` maps each property checked to ``"holds"`` or ``"violated"``;
    ``shortest`` maps each violated property to the length of its shortest counterexample
    (in steps) at ``messages`` messages, under the protocol's own declared faults.
    """

    protocol: ProtocolDef
    system: str
    source: str
    expected: dict[str, Expected]
    shortest: dict[str, int] = field(default_factory=dict)
    messages: int | None = None
    note: str = ""

    @property
    def name(self) -> str:
        return self.protocol.name

    @property
    def bound(self) -> int:
        return self.protocol.messages if self.messages is None else self.messages

    def __post_init__(self) -> None:
        for prop, verdict in self.expected.items():
            if verdict == "violated" and prop not in self.shortest:
                raise ValueError(f"{self.protocol.name}: {prop} violated needs its shortest length")
        extra = set(self.shortest) - {p for p, v in self.expected.items() if v == "violated"}
        if extra:
            name = self.protocol.name
            raise ValueError(f"{name}: shortest given for {sorted(extra)}, not violated")


def _discover() -> tuple[Entry, ...]:
    found: list[Entry] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        entries = getattr(module, "ENTRIES", None)
        if not isinstance(entries, list) or not all(isinstance(e, Entry) for e in entries):
            raise TypeError(f"{module.__name__} must define ENTRIES: list[Entry]")
        found.extend(entries)
    names = [e.name for e in found]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"library protocol names must be unique: {sorted(dup)}")
    return tuple(found)


#: Every library entry, in module order.
LIBRARY: tuple[Entry, ...] = _discover()

__all__ = ["LIBRARY", "Entry", "Expected"]
