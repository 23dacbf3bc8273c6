"""Fault models: what the environment may do to the protocol.

A fault model says, per run, whether channels lose, duplicate and reorder frames, how many
frames a channel holds, which nodes may crash, and an optional budget for each fault
(``None`` means any number).  Channels that do not reorder are FIFO.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .errors import SpecError, names
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
        # Normalisation of a frozen dataclass: ``crash``, ``links`` and ``crash_budgets``
        # accept any iterable or mapping but are kept as sorted tuples, so that two equal
        # fault models compare and hash equal.  A frozen dataclass can only do that with
        # object.__setattr__ (as dataclasses itself does); nothing else writes a Faults.
        crash = names(self.crash, "Faults(crash=...)", "('receiver',) or ('*',) for every node")
        object.__setattr__(self, "crash", crash)
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

    def describe(self) -> str:
        """Everything this model checks, on one line: the faults, every budget, the
        capacity, per-link and per-node settings and the clock bound, e.g.
        ``loss+crash(receiver), at most 1 loss, at most 2 crashes, capacity 2``."""
        return ", ".join([self.name, *self.settings()])

    def settings(self) -> list[str]:
        """What :meth:`describe` says after the name, item by item (budgets, capacity,
        clock bound, links): never empty, the capacity is always there."""
        parts: list[str] = []
        for v, one, many in (
            (self.max_losses, "loss", "losses"),
            (self.max_duplicates, "duplicate", "duplicates"),
            (self.max_crashes, "crash", "crashes"),
        ):
            if v is not None:
                parts.append(f"at most {v} {one if v == 1 else many}")
        parts.extend(f"{node} crashes at most {k}" for node, k in dict(self.crash_budgets).items())
        parts.append(f"capacity {self.capacity}")
        if self.within is not None:
            parts.append(f"delivered or lost within {self.within} ticks")
        parts.extend(f"{name}: {_link_text(spec)}" for name, spec in dict(self.links).items())
        return parts

    def to_json(self) -> dict[str, object]:
        """The model as a JSON object: every field, links and crash budgets as objects."""
        return {
            "name": self.name,
            "loss": self.loss,
            "duplicate": self.duplicate,
            "reorder": self.reorder,
            "crash": list(self.crash),
            "max_losses": self.max_losses,
            "max_duplicates": self.max_duplicates,
            "max_crashes": self.max_crashes,
            "capacity": self.capacity,
            "within": self.within,
            "crash_budgets": dict(self.crash_budgets),
            "links": {
                name: {"kind": type(spec).__name__.lower(), **_link_fields(spec)}
                for name, spec in dict(self.links).items()
            },
        }


def _link_fields(spec: LinkSpec) -> dict[str, object]:
    return {f: getattr(spec, f) for f in spec.__dataclass_fields__}


def _link_text(spec: LinkSpec) -> str:
    given = {k: v for k, v in _link_fields(spec).items() if v is not None}
    inner = ", ".join(f"{k}={v}" for k, v in given.items())
    return f"{type(spec).__name__}({inner})"


#: ``--faults`` items that set a number (``capacity=3``, ``max_losses=1``).
FAULT_NUMBERS = ("capacity", "max_losses", "max_duplicates", "max_crashes", "within")


def _fault_items(text: str) -> list[str]:
    if not isinstance(text, str) or not text.strip():
        raise SpecError(
            "empty fault list; use a comma-separated list of "
            f"{', '.join(FAULT_WORDS)} (or crash:NODE), or none"
        )
    items = [w.strip() for w in text.replace("+", ",").split(",")]
    for k, w in enumerate(items, 1):
        if not w:
            raise SpecError(f"fault list {text!r}: item {k} is empty")
    return items


def _unknown(w: str) -> SpecError:
    return SpecError(
        f"unknown fault {w!r}; use a comma-separated list of "
        f"{', '.join(FAULT_WORDS)} (or crash:NODE), {'=N, '.join(FAULT_NUMBERS)}=N, or none"
    )


def apply_fault_list(declared: Faults, text: str) -> Faults:
    """``declared`` with the faults named in ``text`` (``"loss,dup,reorder,crash"``, also
    ``+`` separated; ``crash:NODE`` or ``crash(NODE|NODE)``; ``none``) instead of its own.

    Which faults happen comes from the list; everything else the model declares — the
    budgets, the capacity, per-link settings, the clock bound, the crash budgets of nodes
    that still crash — is kept unless the list sets it (``capacity=3``, ``max_losses=1``,
    ``max_duplicates=N``, ``max_crashes=N``, ``within=N``).  Every malformed item is an
    error naming it."""
    loss = dup = reorder = False
    crash: list[str] = []
    numbers: dict[str, int | None] = {}
    items = _fault_items(text)
    for w in items:
        if w == "none":
            if len(items) > 1:
                raise SpecError(f"fault list {text!r}: 'none' cannot be combined with faults")
        elif w == "loss":
            loss = True
        elif w in ("dup", "duplicate", "duplication"):
            dup = True
        elif w == "reorder":
            reorder = True
        elif w == "crash":
            crash.append("*")
        elif w.startswith("crash:") or (w.startswith("crash(") and w.endswith(")")):
            inner = w[6:-1] if w.startswith("crash(") else w[6:]
            names = [n.strip() for n in inner.split("|")]
            if not all(n.isidentifier() for n in names):
                raise SpecError(
                    f"fault {w!r} names no node (or an empty one); write crash:NODE "
                    "or crash(NODE|NODE)"
                )
            crash.extend(names)
        elif "=" in w and w.split("=", 1)[0].strip() in FAULT_NUMBERS:
            key, _, value = (x.strip() for x in w.partition("="))
            try:
                numbers[key] = None if value in ("none", "any") else int(value)
            except ValueError:
                raise SpecError(f"fault {w!r}: {key} takes an integer, got {value!r}") from None
        else:
            raise _unknown(w)
    kept = dict(declared.crash_budgets)
    if "*" not in crash:
        kept = {n: k for n, k in kept.items() if n in crash}
    return replace(
        declared,
        loss=loss,
        duplicate=dup,
        reorder=reorder,
        crash=tuple(dict.fromkeys(crash)),
        crash_budgets=kept,
        **numbers,  # type: ignore[arg-type]
    )


def parse_faults(text: str, *, capacity: int = 2) -> Faults:
    """Parse ``"loss,dup,reorder,crash"`` (also ``+`` separated; ``crash:receiver``) into a
    fault model with no budgets: see :func:`apply_fault_list`."""
    return apply_fault_list(Faults(capacity=capacity), text)
