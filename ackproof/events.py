"""One line of a recorded trace, as :mod:`ackproof.validate` reads it and
:mod:`ackproof.replay` replays it (the format: ``impl/TRACE_FORMAT.md``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    file: str
    line: int
    node: str
    event: str
    msg: int | None
    t: float | None
    frame: tuple[tuple[str, object], ...] | None = None
    #: Appended after the node died, from its durable records (the original line was lost).
    recovered: bool = False

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"
