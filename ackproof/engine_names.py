"""The engines' names, defined once: the type :data:`EngineName` and the tuple
:data:`ENGINES` (in the order ``--engine`` lists them).

A leaf module (no imports from the package) so that the command line can offer
``--engine`` choices without loading :mod:`ackproof.proofs` and z3 at start-up;
:mod:`ackproof.proofs.result` re-exports both.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

EngineName: TypeAlias = Literal["auto", "bmc", "pdr", "kinduction", "explicit"]

#: Every engine, ``auto`` (the portfolio) first.
ENGINES: tuple[EngineName, ...] = get_args(EngineName)
