"""Fault models: what the environment may do to the protocol.

A fault model says, per run, whether channels lose, duplicate and reorder frames, how many
frames a channel holds, which nodes may crash, and an optional budget for each fault
(``None`` means any number).  Channels that do not reorder are FIFO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .errors import SpecError
from .links import Connection, Link, LinkSpec, link_key

FAULT_WORDS = ("loss", "dup", "reorder", "crash")


@dataclass(frozen=True, slots=True)
class Faults:
    loss: bool = False
    duplicate: bool = False
    reorder: bool = False
    #: Nodes that may crash and restart; ``("*",)`` means every node.
    crash: tuple[str, ...] = ()
    max_losses: int | None = None
    max_duplicates: int | None = None
    max_crashes: int | None = None
    #: Frames in flight per channel at most; a send into a full channel waits.
    capacity: int = 2
    #: Per link, by name (``"a->b"``: a channel; ``"a<->b"``: a connection): see
    #: :mod:`ackproof.spec.links`.  Given as a mapping, kept as sorted pairs.
    links: Mapping[str, LinkSpec] | tuple[tuple[str, LinkSpec], ...] = ()
    #: Per node, a crash budget of its own (the node may crash; at most that many times).
    crash_budgets: Mapping[str, int] | tuple[tuple[str, int], ...] = ()
    #: A logical clock bound: every channel delivers or loses a frame within this many
    #: ticks (``None``: no bound — a frame may stay in flight forever).
    within: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_losses", "max_duplicates", "max_crashes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 0):
                raise SpecError(
                    f"fault budget {name} must be a non-negative int or None, got {v!r}"
                )
        if not isinstance(self.capacity, int) or self.capacity < 1:
            raise SpecError(f"channel capacity must be a positive int, got {self.capacity!r}")
        if self.within is not None and (
            not isinstance(self.within, int) or isinstance(self.within, bool) or self.within < 1
        ):
            raise SpecError(f"Faults(within=...) takes a positive int or None, got {self.within!r}")
        links = dict(self.links)
        for name, spec in links.items():
            link_key(name)
            if not isinstance(spec, Link | Connection):
                raise SpecError(f"links[{name!r}] must be a Link(...) or a Connection(...)")
            if isinstance(spec, Connection) != ("<->" in name):
                want = "'a<->b' for a Connection" if isinstance(spec, Connection) else "'a->b'"
                raise SpecError(f"links[{name!r}]: name it {want}")
        object.__setattr__(self, "links", tuple(sorted(links.items())))
        budgets = dict(self.crash_budgets)
        for node, k in budgets.items():
            if not isinstance(node, str) or not isinstance(k, int) or isinstance(k, bool) or k < 0:
                raise SpecError(
                    f"crash_budgets maps node names to non-negative ints, got {node!r}: {k!r}"
                )
        object.__setattr__(self, "crash_budgets", tuple(sorted(budgets.items())))

    def crashes(self, node: str) -> bool:
        return "*" in self.crash or node in self.crash or node in dict(self.crash_budgets)

    def link(self, name: str) -> LinkSpec | None:
        return dict(self.links).get(name)

    def crash_budget(self, node: str) -> int | None:
        return dict(self.crash_budgets).get(node)

    @property
    def name(self) -> str:
        """A short id such as ``loss+dup+reorder+crash(receiver)``."""
        parts = []
        if self.loss:
            parts.append("loss")
        if self.duplicate:
            parts.append("dup")
        if self.reorder:
            parts.append("reorder")
        crashing = [*self.crash, *(n for n in dict(self.crash_budgets) if n not in self.crash)]
        if crashing:
            parts.append("crash" if "*" in crashing else f"crash({','.join(crashing)})")
        return "+".join(parts) if parts else "none"

    def with_capacity(self, capacity: int) -> Faults:
        return replace(self, capacity=capacity)


def parse_faults(text: str, *, capacity: int = 2) -> Faults:
    """Parse ``"loss,dup,reorder,crash"`` (also ``+`` separated; ``crash:receiver``)."""
    words = [w.strip() for w in text.replace("+", ",").split(",") if w.strip()]
    loss = dup = reorder = False
    crash: list[str] = []
    for w in words:
        if w == "none":
            continue
        if w == "loss":
            loss = True
        elif w in ("dup", "duplicate", "duplication"):
            dup = True
        elif w == "reorder":
            reorder = True
        elif w == "crash":
            crash.append("*")
        elif w.startswith("crash:") or (w.startswith("crash(") and w.endswith(")")):
            crash.extend(n for n in w[6:].rstrip(")").split("|") if n)
        else:
            raise SpecError(
                f"unknown fault {w!r}; use a comma-separated list of "
                f"{', '.join(FAULT_WORDS)} (or crash:NODE), or none"
            )
    return Faults(loss=loss, duplicate=dup, reorder=reorder, crash=tuple(crash), capacity=capacity)
