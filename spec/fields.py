"""A node's fields as slots of the flat state.

:func:`allocate_fields` turns each :class:`~ackproof.spec.kernel.VarDecl` into slots of
the :class:`~ackproof.spec.env.Layout`: their names (``node.field`` or ``shared.field``,
``node.a[i]``, ``node.bag#v``, ``node.q[i]`` and ``node.q.len``), ranges, initial values,
durability, and — for arrays and bags indexed by message id — the ids each slot is about.
"""

from __future__ import annotations

from .env import Layout
from .expr import Value
from .kernel import Node, VarDecl
from .types import Array, Bag, Int, Scalar


def allocate_fields(layout: Layout, node: Node) -> None:
    """Give every field of ``node`` its slots (``decl.slots``, a queue's ``length_slot``):
    a scalar one slot, an array one per index, a bag one count per value, a queue one per
    position and its length.  A shared field is allocated once, by the first node."""
    for decl in node.vars.values():
        if decl.shared and (decl.slots or decl.length_slot is not None):
            continue  # one store, allocated once
        base = f"shared.{decl.name}" if decl.shared else f"{node.name}.{decl.name}"
        owner = "shared" if decl.shared else node.name
        t = decl.type

        def add(
            name: str,
            s: Scalar,
            init: Value,
            *,
            d: VarDecl = decl,
            owner: str = owner,
            about: tuple[int, ...] = (),
            family: str | None = None,
        ) -> int:
            return layout.add(
                name,
                sort=s.sort,
                lo=s.lo,
                hi=s.hi,
                init=init,
                owner=owner,
                durable=d.durable,
                ghost=d.ghost,
                enum=s.enum,
                members=s.members,
                ticks=s.ticks,
                msgs=about,
                family=family,
            )

        if isinstance(t, Scalar):
            decl.slots = [add(base, t, init_value(decl.init, t))]
        elif isinstance(t, Array):
            by_id = t.index.msg_id  # an array indexed by message id: a slot per message
            decl.slots = [
                add(
                    f"{base}[{t.index.show(i)}]",
                    t.elem,
                    init_value(decl.init, t.elem),
                    about=(int(i),) if by_id else (),
                    family=f"{base}[*]" if by_id else None,
                )
                for i in t.index.values()
            ]
        elif isinstance(t, Bag):
            counts = Int(0, t.capacity)
            by_id = t.elem.msg_id
            decl.slots = [
                add(
                    f"{base}#{t.elem.show(v)}",
                    counts,
                    0,
                    about=(int(v),) if by_id else (),
                    family=f"{base}#*" if by_id else None,
                )
                for v in t.elem.values()
            ]
        else:
            decl.slots = [add(f"{base}[{i}]", t.elem, t.elem.default()) for i in range(t.capacity)]
            decl.length_slot = add(f"{base}.len", Int(0, t.capacity), 0)


def init_value(init: Value, t: Scalar) -> Value:
    if t.sort == "bool":
        return bool(init)
    return int(init)
