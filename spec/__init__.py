"""ackproof.spec: delivery protocols as typed, finite state machines.

A user's variant imports only this package::

    from ackproof.spec import Bool, Builder, Ctx, Faults, protocol

    @protocol("my-protocol", claims=["exactly-once"], faults=Faults(loss=True))
    def my_protocol(p: Builder) -> None:
        ...

See :mod:`ackproof.spec.kernel` for nodes, fields and handlers,
:mod:`ackproof.spec.context` for what a handler's ``ctx`` offers,
:mod:`ackproof.spec.protocol` for ``@protocol`` and :mod:`ackproof.spec.history` for the
guarantees.  This package imports neither z3 nor trio.
"""

from .context import Ctx, FrameView
from .errors import SpecError, StepError
from .explore import Exploration, Path, explore
from .expr import Expr, all_, any_, implies, ite, max_, min_
from .faults import Faults, apply_fault_list, parse_faults
from .history import GUARANTEE_STATEMENTS, GUARANTEES, PROPERTIES
from .interp import compile_system
from .kernel import Builder, Node
from .links import Connection, Link
from .network import FrameKind
from .protocol import ProtocolDef, protocol
from .system import Action, Property, Slot, System
from .types import Age, Array, Bag, Bool, Enum, Int, Queue, Scalar

__all__ = [
    "GUARANTEES",
    "GUARANTEE_STATEMENTS",
    "PROPERTIES",
    "Action",
    "Age",
    "Array",
    "Bag",
    "Bool",
    "Builder",
    "Connection",
    "Ctx",
    "Enum",
    "Exploration",
    "Expr",
    "Faults",
    "FrameKind",
    "FrameView",
    "Int",
    "Link",
    "Node",
    "Path",
    "Property",
    "ProtocolDef",
    "Queue",
    "Scalar",
    "Slot",
    "SpecError",
    "StepError",
    "System",
    "all_",
    "any_",
    "apply_fault_list",
    "compile_system",
    "explore",
    "implies",
    "ite",
    "max_",
    "min_",
    "parse_faults",
    "protocol",
]
