"""Fault models: what the environment may do to the protocol.

A fault model says, per run, whether channels lose, duplicate and reorder frames, how many
frames a channel holds, which nodes may crash, and an optional budget for each fault
(``None`` means any number).  Channels that do not reorder are FIFO.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import SpecError

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

    def __post_init__(self) -> None:
        for name in ("max_losses", "max_duplicates", "max_crashes"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v < 0):
                raise SpecError(
                    f"fault budget {name} must be a non-negative int or None, got {v!r}"
                )
        if not isinstance(self.capacity, int) or self.capacity < 1:
            raise SpecError(f"channel capacity must be a positive int, got {self.capacity!r}")

    def crashes(self, node: str) -> bool:
        return "*" in self.crash or node in self.crash

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
        if self.crash:
            parts.append("crash" if "*" in self.crash else f"crash({','.join(self.crash)})")
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
