"""Helpers for the impl tests: run trio code. The two cores' driver, ``CorePair``, is in
``tests/cores_testing.py`` (the conformance tests drive it too)."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import trio

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

T = TypeVar("T")


def run_trio(fn: Callable[[], Awaitable[T]], *, clock: trio.abc.Clock | None = None) -> T:
    async def main() -> T:
        return await fn()

    return trio.run(main, clock=clock)
