"""A protocol declared: :func:`protocol` turns a ``build(p)`` function into a
:class:`ProtocolDef`, and :meth:`ProtocolDef.system` lowers it to a finite transition
system (:mod:`ackproof.spec.lowering`).  The handler API itself is in
:mod:`ackproof.spec.kernel`; this module sits above both, so neither imports the other
back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .errors import SpecError, names
from .faults import Faults
from .history import resolve
from .kernel import MAX_MESSAGES, Builder
from .lowering import Lowering
from .system import System


@dataclass(frozen=True)
class ProtocolDef:
    """A protocol, ready to be instantiated at given bounds and under a fault model."""

    name: str
    build: Callable[[Builder], None]
    claims: tuple[str, ...]
    faults: Faults
    messages: int = 2
    description: str = ""

    def system(self, messages: int | None = None, faults: Faults | None = None) -> System:
        n = self.messages if messages is None else messages
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise SpecError(f"messages must be a positive int, got {n!r}", protocol=self.name)
        if n > MAX_MESSAGES:
            raise SpecError(
                f"{n} messages is more than the {MAX_MESSAGES} ackproof can build",
                protocol=self.name,
            )
        return Lowering(self, n, self.faults if faults is None else faults).run()


def protocol(
    name: str,
    *,
    claims: Sequence[str],
    faults: Faults,
    messages: int = 2,
    description: str | None = None,
) -> Callable[[Callable[[Builder], None]], ProtocolDef]:
    """Declare a protocol: ``claims`` are guarantees or properties it promises under ``faults``."""
    if not isinstance(name, str) or not name.strip():
        raise SpecError(f"a protocol needs a name (a non-empty string), got {name!r}")
    claimed = names(claims, "claims", "['no-loss', 'exactly-once']")
    if not isinstance(faults, Faults):
        raise SpecError(f"faults= takes a Faults(...), got {faults!r}", protocol=name)
    try:
        props = resolve(claimed)
    except KeyError as e:
        raise SpecError(str(e.args[0]), protocol=name) from None

    def wrap(fn: Callable[[Builder], None]) -> ProtocolDef:
        doc = description if description is not None else (fn.__doc__ or "").strip().split("\n")[0]
        return ProtocolDef(name, fn, props, faults, messages, doc)

    return wrap


__all__ = ["ProtocolDef", "protocol"]
