"""The two error families of ``ackproof.impl``.

* :class:`UsageError` — the caller misused the API (bad option, non-loopback address, sending on a
  closed node). Raised to the caller; fix the calling code.
* :class:`PeerError` — the peer or an input broke the protocol (a malformed, truncated, oversized or
  unknown frame). Nodes never let it escape: the frame is dropped and counted in ``statistics()``.

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


class PeerError(Exception):
    """The peer (or an input) broke the protocol."""


class FrameError(PeerError):
    """A frame could not be decoded."""

    def __init__(self, kind: FrameErrorKind, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
