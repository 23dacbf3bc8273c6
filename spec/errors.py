"""The two error families of ``ackproof.spec``.

``SpecError`` means the author of a protocol wrote something the kernel cannot give a
meaning to (a type error, an undeclared field, Python control flow on a symbolic value).
It is raised at definition time and names the protocol, the action and the field.

``StepError`` means a well-formed protocol did something illegal while running: an
update put a value outside its declared range. It is raised by the concrete interpreter
and names the same three things plus the state it happened in.
"""

from __future__ import annotations


class SpecError(Exception):
    """A protocol definition is malformed."""

    def __init__(
        self,
        message: str,
        *,
        protocol: str | None = None,
        action: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.protocol = protocol
        self.action = action
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.protocol is not None:
            where.append(f"protocol {self.protocol!r}")
        if self.action is not None:
            where.append(f"action {self.action!r}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(
        self,
        *,
        protocol: str | None = None,
        action: str | None = None,
        field: str | None = None,
    ) -> SpecError:
        """The same error with any missing location filled in."""
        return SpecError(
            self.message,
            protocol=self.protocol if self.protocol is not None else protocol,
            action=self.action if self.action is not None else action,
            field=self.field if self.field is not None else field,
        )


class StepError(Exception):
    """A transition produced a value outside the declared range of a field."""
