"""The two error families of ``ackproof.impl``.

* :class:`UsageError` — the caller misused the API (bad option, non-loopback address, sending on a
  closed node). Raised to the caller; fix the calling code.
* :class:`PeerError` — the peer or an input broke the protocol (a malformed, truncated, oversized or
  unknown frame, or a well-formed one whose message id is outside the protocol's id space). Nodes
  never let it escape: the frame is dropped and counted in ``statistics()``; a frame whose fields
  could be read is also traced (``reject``). No single frame can stop a node.

Losses and duplicates are modelled inputs, not errors, and raise nothing.
"""

from __future__ import annotations

from enum import StrEnum


class UsageError(Exception):
    """The caller misused the API."""


class FrameErrorKind(StrEnum):
    """Why a frame was rejected; one counter per member in ``statistics()``."""

    TRUNCATED = "truncated"
    OVERSIZED = "oversized"
    UNKNOWN = "unknown"
    MALFORMED = "malformed"
    OUT_OF_RANGE = "out-of-range"


class PeerError(Exception):
    """The peer (or an input) broke the protocol."""


class FrameError(PeerError):
    """A frame could not be decoded, or was well-formed but refused.

    ``fields`` is set when the frame's fields could be read (kind, msg and payload length, as a
    trace line shows them) even though the frame is refused: the node traces such a rejection.
    """

    def __init__(
        self, kind: FrameErrorKind, detail: str, *, fields: dict[str, object] | None = None
    ) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.fields = fields

    @property
    def msg(self) -> int | None:
        """The refused frame's message id, when it could be read."""
        msg = None if self.fields is None else self.fields.get("msg")
        return msg if isinstance(msg, int) else None
