"""The example variants: the verdicts their docstrings promise, at small bounds.

A property that holds is checked on a fully explored state space, with its witness (every
message submitted and processed) reachable, so that no verdict is vacuous.  A broken
configuration is pinned by the exact length of its shortest counterexample.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from ackproof.spec import Builder, Faults, ProtocolDef, explore
from ackproof.spec.examples import (
    EXAMPLES,
    alternating_bit,
    alternating_bit_reordering,
    dedup_window,
    dedup_window_forgetful,
    dedup_window_roomy,
    mqtt_qos2,
    mqtt_qos2_reordering,
    mqtt_qos2_two_ids,
    sliding_window,
    sliding_window_ok,
    sliding_window_too_wide,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "spec" / "examples"
EXAMPLE_FILES = sorted(p for p in EXAMPLES_DIR.glob("*.py") if p.name != "__init__.py")

EXACTLY_ONCE = ("no-loss", "no-duplicate", "no-phantom")
ALL = (*EXACTLY_ONCE, "in-order")


def holds(
    pdef: ProtocolDef, n: int, faults: Faults | None = None, props: tuple[str, ...] = ALL
) -> int:
    """Assert every one of ``props`` holds on the whole state space; return its size."""
    r = explore(pdef.system(n, faults), props)
    assert r.complete, "a 'holds' verdict needs the state space explored in full"
    assert {p: r.labels(p) for p in r.violations} == {}
    for p in props:
        assert p in r.witnesses, f"{p} holds vacuously: no run processes every message"
    return r.states


def shortest(
    pdef: ProtocolDef,
    n: int,
    props: tuple[str, ...],
    faults: Faults | None = None,
    *,
    full: bool = False,
) -> dict[str, int]:
    """Property -> shortest counterexample length, for the violated ones of ``props``."""
    r = explore(pdef.system(n, faults), props, stop_when_decided=not full)
    if full:
        assert r.complete
    return {p: len(path) for p, path in r.violations.items()}


# -- alternating bit ----------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3])
def test_alternating_bit_is_exactly_once_and_in_order_over_lossy_duplicating_fifo(n: int) -> None:
    assert alternating_bit.faults == Faults(loss=True, duplicate=True)
    holds(alternating_bit, n)


def test_alternating_bit_holds_with_deeper_channels() -> None:
    holds(alternating_bit, 3, Faults(loss=True, duplicate=True, capacity=3))


def test_alternating_bit_over_a_reordering_channel_duplicates_with_two_messages() -> None:
    assert alternating_bit_reordering.faults.reorder
    # Fully explored: with two messages the stale copy can only duplicate, not lose.
    assert shortest(alternating_bit_reordering, 2, EXACTLY_ONCE, full=True) == {"no-duplicate": 7}


def test_alternating_bit_over_a_reordering_channel_loses_with_three_messages() -> None:
    v = shortest(alternating_bit_reordering, 3, ("no-duplicate", "no-loss"))
    assert v == {"no-duplicate": 7, "no-loss": 10}


def test_alternating_bit_duplicate_is_a_stale_copy_with_the_current_bit() -> None:
    r = explore(alternating_bit_reordering.system(2), ["no-duplicate"], stop_when_decided=True)
    assert r.labels("no-duplicate") == [
        "submit(m=0)",
        "sender timer retransmit()",
        "receiver <- DATA(bit=false, msg=0)",
        "sender <- ACK(bit=false)",
        "submit(m=1)",
        "receiver <- DATA(bit=true, msg=1)",
        "receiver <- DATA(bit=false, msg=0)",
    ]


# -- selective repeat ---------------------------------------------------------------------
def test_sliding_window_instances_and_bounds() -> None:
    assert sliding_window_ok.name == "sliding-window-w2-m4"
    assert sliding_window_too_wide.name == "sliding-window-w3-m4"
    # Enough messages to wrap the sequence space.
    assert sliding_window_ok.messages == sliding_window_too_wide.messages == 5
    with pytest.raises(ValueError, match="window"):
        sliding_window(5, 4)


@pytest.mark.parametrize("faults", [None, Faults(loss=True, capacity=3)], ids=["cap2", "cap3"])
def test_sliding_window_at_most_half_the_numbers_is_correct(faults: Faults | None) -> None:
    holds(sliding_window_ok, 5, faults)


def test_sliding_window_at_most_half_the_numbers_survives_fifo_duplication() -> None:
    holds(sliding_window_ok, 5, Faults(loss=True, duplicate=True))


def test_sliding_window_of_one_with_two_numbers_is_correct() -> None:
    holds(sliding_window(1, 2), 3, Faults(loss=True, duplicate=True))


def test_sliding_window_too_wide_processes_a_retransmission_as_new() -> None:
    # Four messages: fully explored, only the duplicate.
    assert shortest(sliding_window_too_wide, 4, EXACTLY_ONCE, full=True) == {"no-duplicate": 13}
    # Five (the default): the stale frame can also stand in for message 4.
    v = shortest(sliding_window_too_wide, 5, ("no-duplicate", "no-loss"))
    assert v == {"no-duplicate": 13, "no-loss": 14}


def test_sliding_window_wider_than_half_of_three_numbers_is_broken() -> None:
    v = shortest(sliding_window(2, 3), 4, ("no-duplicate", "no-loss"))
    assert v == {"no-duplicate": 10, "no-loss": 12}


def test_sliding_window_at_most_half_breaks_when_the_channel_reorders() -> None:
    # The W <= M/2 bound assumes no reordering beyond the window.
    v = shortest(sliding_window_ok, 5, ("no-duplicate", "no-loss"), Faults(loss=True, reorder=True))
    assert v == {"no-duplicate": 13, "no-loss": 15}


# -- MQTT QoS 2 -----------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3])
def test_mqtt_qos2_is_exactly_once_and_in_order_over_an_ordered_transport(n: int) -> None:
    holds(mqtt_qos2, n)


def test_mqtt_qos2_survives_adjacent_duplication_and_deeper_channels() -> None:
    holds(mqtt_qos2, 3, Faults(loss=True, duplicate=True, capacity=3))


def test_mqtt_qos2_with_two_ids_is_exactly_once_but_not_in_order() -> None:
    assert "in-order" not in mqtt_qos2_two_ids.claims
    holds(mqtt_qos2_two_ids, 3, props=EXACTLY_ONCE)
    assert shortest(mqtt_qos2_two_ids, 3, ("in-order",)) == {"in-order": 6}


def test_mqtt_qos2_over_a_datagram_network_duplicates_and_loses() -> None:
    assert shortest(mqtt_qos2_reordering, 2, EXACTLY_ONCE, full=True) == {
        "no-duplicate": 6,
        "no-loss": 9,
    }
    assert shortest(mqtt_qos2_reordering, 3, ("in-order",)) == {"in-order": 15}


def test_mqtt_qos2_reordering_alone_is_enough_to_break_it() -> None:
    v = shortest(mqtt_qos2, 2, EXACTLY_ONCE, Faults(reorder=True), full=True)
    assert v == {"no-duplicate": 6, "no-loss": 10}


def test_mqtt_qos2_duplicate_is_a_stale_publish_after_pubrel() -> None:
    r = explore(mqtt_qos2_reordering.system(2), ["no-duplicate"], stop_when_decided=True)
    assert r.labels("no-duplicate") == [
        "submit(m=0)",
        "sender timer retransmit(0)",
        "receiver <- PUBLISH(pid=0, msg=0)",
        "sender <- PUBREC(pid=0)",
        "receiver <- PUBREL(pid=0)",
        "receiver <- PUBLISH(pid=0, msg=0)",
    ]


# -- dedup window ---------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2])
def test_dedup_window_at_least_n_ids_is_exactly_once(n: int) -> None:
    holds(dedup_window_roomy, n, props=EXACTLY_ONCE)


def test_dedup_window_forgetting_an_id_in_flight_duplicates() -> None:
    assert shortest(dedup_window_forgetful, 2, EXACTLY_ONCE, full=True) == {"no-duplicate": 7}
    assert shortest(dedup_window_roomy, 3, ("no-duplicate",)) == {"no-duplicate": 10}


def test_dedup_window_never_loses_even_when_it_forgets() -> None:
    holds(dedup_window_forgetful, 2, props=("no-loss", "no-phantom"))


def test_dedup_window_rejects_an_empty_window() -> None:
    with pytest.raises(ValueError, match="at least one"):
        dedup_window(0)


# -- the registry and the files -----------------------------------------------------------
#: Example -> whether it keeps its claims (at its default bounds and fault model).
CORRECT = {
    "alternating-bit": True,
    "alternating-bit-reordering": False,
    "sliding-window-w2-m4": True,
    "sliding-window-w3-m4": False,
    "mqtt-qos2": True,
    "mqtt-qos2-two-ids": True,
    "mqtt-qos2-two-ids-patient": True,
    "mqtt-qos2-reordering": False,
    "dedup-window-k1": False,
    "dedup-window-k2": True,
    "compaction-watermark": True,
    "compaction-by-count-k1": False,
    "dual-write": False,
    "dual-write-retry-skips": False,
    "dual-write-retry": True,
    "transactional-outbox": True,
}


#: Example -> whether the message id is on the wire (a real field) or only a ghost.
ID_ON_THE_WIRE = {
    "alternating-bit": False,
    "sliding-window-w2-m4": False,
    "mqtt-qos2": False,
    "dedup-window-k1": True,
    "dual-write": True,
    "transactional-outbox": True,
}


@pytest.mark.parametrize("name", sorted(ID_ON_THE_WIRE))
def test_frames_carry_the_message_id_as_declared(name: str) -> None:
    pdef = EXAMPLES[name]
    b = Builder(pdef.name, pdef.messages, pdef.faults)
    pdef.build(b)
    carriers = [k for k in b.kinds.values() if k.carries is not None]
    assert carriers, f"{name}: no frame carries a message, so no-loss would be vacuous"
    for k in carriers:
        assert (k.carries in k.ghost) is not ID_ON_THE_WIRE[name], k.name
    for k in b.kinds.values():
        if k.carries is None:
            assert not k.ghost, f"{name}: {k.name} has ghost fields but carries no message"


def test_every_example_is_registered_under_its_name() -> None:
    assert set(EXAMPLES) == set(CORRECT)
    for name, pdef in EXAMPLES.items():
        assert pdef.name == name
        assert pdef.description, f"{name} has no description"


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_every_example_keeps_or_breaks_its_claims_at_its_defaults(name: str) -> None:
    pdef = EXAMPLES[name]
    r = explore(pdef.system(), pdef.claims, stop_when_decided=not CORRECT[name])
    if CORRECT[name]:
        assert r.complete
        assert r.violations == {}
        assert set(r.witnesses) == set(pdef.claims)
    else:
        assert r.violations, f"{name} should break one of its claims"


def test_module_level_definitions_are_all_registered() -> None:
    import importlib

    for path in EXAMPLE_FILES:
        mod = importlib.import_module(f"ackproof.spec.examples.{path.stem}")
        defs = [v for v in vars(mod).values() if isinstance(v, ProtocolDef)]
        assert defs, f"{path.name} defines no protocol"
        for d in defs:
            assert EXAMPLES.get(d.name) is d, f"{path.name}: {d.name} is not in EXAMPLES"


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: p.name)
def test_example_imports_only_the_spec_package(path: Path) -> None:
    tree = ast.parse(path.read_text(), filename=str(path))
    assert ast.get_docstring(tree), f"{path.name} needs a module docstring"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: relative import"
            assert node.module in ("__future__", "ackproof.spec"), (
                f"{path.name}:{node.lineno}: imports {node.module}"
            )
        elif isinstance(node, ast.Import):
            pytest.fail(f"{path.name}:{node.lineno}: import {node.names[0].name}")


def test_examples_import_neither_z3_nor_trio() -> None:
    code = (
        "import sys, ackproof.spec.examples; "
        "print(','.join(m for m in ('z3', 'trio') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""
