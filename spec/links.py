"""Per-link fault models: what one channel, or one connection, may do.

The global :class:`~ackproof.spec.faults.Faults` is the short form: every channel
loses, duplicates and reorders as it says, with one budget per fault kind.  Real
protocols need more — "the ack channel never loses", "at most one loss on this link",
"client and broker talk over a TCP connection" — so ``Faults(links={...})`` describes
links one by one, keyed by name:

* ``"a->b"``: the datagram channel from ``a`` to ``b`` — a :class:`Link`.  A link can only
  *narrow* the fault model: ``Link(loss=False)`` never loses even when the model loses;
  ``None`` (the default) keeps what the model says.  ``max_losses`` / ``max_duplicates``
  give the link a budget of its own (spent together with the model's, if it has one);
  ``capacity`` overrides the model's.
* ``"a<->b"``: a :class:`Connection` between ``a`` and ``b``, both directions — FIFO, no
  loss or duplication while it is up.  When the fault model has ``loss``, the connection
  may *drop* (at most ``max_drops`` times): every frame in flight on it, both ways, is
  lost and it is down; a frame sent while it is down is lost too; a crash of either end
  drops it.  Re-connecting is a step the environment takes (and must take, once faults
  stop); the nodes' ``on_connect`` / ``on_disconnect`` handlers run then.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import SpecError


def _budget(name: str, v: object) -> None:
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
        raise SpecError(f"{name} must be a non-negative int or None, got {v!r}")


def _capacity(v: object) -> None:
    if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
        raise SpecError(f"capacity and within take a positive int or None, got {v!r}")


@dataclass(frozen=True, slots=True)
class Link:
    """A datagram channel: which of the fault model's faults it suffers, its budgets."""

    loss: bool | None = None
    duplicate: bool | None = None
    reorder: bool | None = None
    capacity: int | None = None
    max_losses: int | None = None
    max_duplicates: int | None = None
    #: Delivered or lost within this many ticks (overrides the model's ``within``).
    within: int | None = None

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder"):
            v = getattr(self, name)
            if v is not None and not isinstance(v, bool):
                raise SpecError(f"Link({name}=...) must be True, False or None, got {v!r}")
        _budget("Link(max_losses=...)", self.max_losses)
        _budget("Link(max_duplicates=...)", self.max_duplicates)
        _capacity(self.capacity)
        _capacity(self.within)


@dataclass(frozen=True, slots=True)
class Connection:
    """A connection between two nodes: FIFO and reliable while up; it may drop."""

    capacity: int | None = None
    max_drops: int | None = None
    #: Delivered (or dropped) within this many ticks.
    within: int | None = None

    def __post_init__(self) -> None:
        _budget("Connection(max_drops=...)", self.max_drops)
        _capacity(self.capacity)
        _capacity(self.within)


LinkSpec = Link | Connection


def link_key(text: str) -> tuple[str, str, bool]:
    """``"a->b"`` -> ``(a, b, False)``; ``"a<->b"`` -> ``(a, b, True)``."""
    if not isinstance(text, str):
        raise SpecError(f"a link is named 'a->b' or 'a<->b', got {text!r}")
    connection = "<->" in text
    parts = text.split("<->" if connection else "->")
    if len(parts) != 2 or not all(p.strip().isidentifier() for p in parts):
        raise SpecError(
            f"a link is named 'a->b' (a channel) or 'a<->b' (a connection), got {text!r}"
        )
    return parts[0].strip(), parts[1].strip(), connection
