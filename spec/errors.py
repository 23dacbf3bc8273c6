"""The two error families of ``ackproof.spec``.

``SpecError`` means the author of a protocol wrote something the kernel cannot give a
meaning to (a type error, an undeclared field, Python control flow on a symbolic value).
It is raised at definition time and names the protocol, the action and the field.

``StepError`` means a well-formed protocol did something illegal while running: an
update put a value outside its declared range. It is raised by the concrete interpreter
and names the same three things plus the state it happened in.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path


class SpecError(Exception):
    """A protocol definition is malformed."""

    def __init__(
        self,
        message: str,
        *,
        protocol: str | None = None,
        action: str | None = None,
        field: str | None = None,
        where: str | None = None,
    ) -> None:
        self.message = message
        self.protocol = protocol
        self.action = action
        self.field = field
        #: ``file:line`` of the protocol's source that the error is about.
        self.where = where
        #: The symbolic value Python control flow was used on, if that is the error.
        self.expr: object = None
        super().__init__(self._render())

    def _render(self) -> str:
        """``file:line: protocol 'p', action 'a', field 'f': message``, each part only
        when known."""
        named = []
        if self.protocol is not None:
            named.append(f"protocol {self.protocol!r}")
        if self.action is not None:
            named.append(f"action {self.action!r}")
        if self.field is not None:
            named.append(f"field {self.field!r}")
        prefix = ", ".join(named)
        if self.where is not None:
            prefix = f"{self.where}: {prefix}" if prefix else self.where
        return f"{prefix}: {self.message}" if prefix else self.message

    def located(
        self,
        *,
        protocol: str | None = None,
        action: str | None = None,
        field: str | None = None,
        where: str | None = None,
    ) -> SpecError:
        """The same error with any missing location filled in."""
        out = SpecError(
            self.message,
            protocol=self.protocol if self.protocol is not None else protocol,
            action=self.action if self.action is not None else action,
            field=self.field if self.field is not None else field,
            where=self.where if self.where is not None else where,
        )
        out.expr = self.expr
        return out


class StepError(Exception):
    """A transition produced a value outside the declared range of a field."""


def names(value: object, what: str, example: str) -> tuple[str, ...]:
    """``value`` as a tuple of names: a list or tuple of strings.  A bare string is an error
    (iterating it would read it letter by letter)."""
    if isinstance(value, str):
        raise SpecError(f"{what} takes a list of names, e.g. {example}, got the string {value!r}")
    if not isinstance(value, Iterable):
        raise SpecError(f"{what} takes a list of names, e.g. {example}, got {value!r}")
    items: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise SpecError(f"{what} takes a list of names, e.g. {example}; got {item!r} in it")
        items.append(item)
    return tuple(items)


_SPEC_DIR = Path(__file__).resolve().parent
_STDLIB = tuple(str(Path(p).resolve()) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix} if p)


def _shown(filename: str) -> str:
    rel = os.path.relpath(filename)
    return filename if rel.startswith("..") else rel


def user_line(e: BaseException, handler: Callable[..., object] | None = None) -> str | None:
    """``file:line`` of the protocol's own code that raised ``e`` (the deepest frame that
    is neither the kernel's nor the standard library's); else where ``handler`` is
    defined; ``None`` if neither is known."""
    for frame in reversed(traceback.extract_tb(e.__traceback__)):
        name = frame.filename
        if name.startswith("<"):
            continue
        path = Path(name).resolve()
        if path.is_relative_to(_SPEC_DIR) or str(path).startswith(_STDLIB):
            continue
        return f"{_shown(name)}:{frame.lineno}"
    code = getattr(handler, "__code__", None)
    if code is not None:
        return f"{_shown(code.co_filename)}:{code.co_firstlineno}"
    return None
