"""A crash may cut a submit call short, like any other handler (the dual write).

A message counts as submitted from the submit handler's first effect on; a crash may fall
between any two effects of the handler unless they share ``atomic()``.  By default the
producer gives up on a call cut short; with ``on_submit(retry=True)`` it calls again with
the same id before submitting anything else.
"""

from __future__ import annotations

import pytest

from ackproof.proofs import check
from ackproof.proofs.result import EngineName
from ackproof.spec import Array, Bool, Builder, Ctx, Expr, Faults, SpecError, explore, protocol
from ackproof.spec.examples.dual_write import (
    dual_write,
    dual_write_retry,
    dual_write_retry_skips,
    transactional_outbox,
)
from ackproof.spec.interp import compile_system
from ackproof.spec.protocols import BUILTIN

ENGINES: tuple[EngineName, ...] = ("explicit", "bmc", "pdr", "kinduction", "auto")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_dual_write_loses_the_event_when_a_crash_falls_between_commit_and_publish(
    engine: EngineName,
) -> None:
    r = check(dual_write.system(2), "no-loss", engine=engine, depth=6, timeout=60)
    assert r.verdict == "violated"
    assert r.counterexample is not None
    labels = [dual_write.system(2).actions[a].label for a in r.counterexample.actions]
    assert labels == ["submit(m=0), crash after 1 effect"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_retrying_producer_does_not_help_a_handler_that_skips_committed_ids(
    engine: EngineName,
) -> None:
    system = dual_write_retry_skips.system(2)
    r = check(system, "no-loss", engine=engine, depth=6, timeout=60)
    assert r.verdict == "violated"
    assert r.counterexample is not None
    labels = [system.actions[a].label for a in r.counterexample.actions]
    assert labels == ["submit(m=0), crash after 1 effect", "producer retries submit(m=0)"]


def test_a_retrying_producer_and_a_republishing_handler_lose_nothing() -> None:
    r = explore(dual_write_retry.system(2), ["no-loss", "no-phantom"])
    assert r.complete
    assert not r.violations
    assert set(r.witnesses) == {"no-loss", "no-phantom"}


def test_the_transactional_outbox_is_exactly_once_when_the_service_crashes() -> None:
    r = explore(transactional_outbox.system(2), ["no-loss", "no-duplicate", "no-phantom"])
    assert r.complete
    assert not r.violations
    assert len(r.witnesses) == 3


def test_submit_handlers_get_crash_points_between_effects_not_before_the_first() -> None:
    system = BUILTIN["exactly-once"].system(1)  # submit: write the outbox, then send
    labels = [a.label for a in system.actions if a.kind == "submit"]
    assert labels == ["submit(m=0)", "submit(m=0), crash after 1 effect"]
    no_crash = BUILTIN["exactly-once"].system(1, Faults(loss=True, crash=("receiver",)))
    assert [a.label for a in no_crash.actions if a.kind == "submit"] == ["submit(m=0)"]


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_the_builtins_keep_their_verdicts_when_a_crash_cuts_submit_short(name: str) -> None:
    pdef = BUILTIN[name]
    faults = Faults(loss=True, duplicate=True, reorder=True, crash=("sender",))
    system = pdef.system(2, faults)
    # at-most-once's submit has one effect (the send): nothing for a crash to fall between
    cut = any(a.kind == "submit" and a.crash_after == 1 for a in system.actions)
    assert cut == (name != "at-most-once")
    r = explore(system, ["no-loss", "no-duplicate", "no-phantom"])
    assert r.complete
    expected = {
        "at-most-once": {"no-loss"},
        "at-least-once": {"no-duplicate"},
        "exactly-once": set(),
    }[name]
    assert set(r.violations) == expected


def test_a_retrying_producer_finishes_a_call_before_the_next_message() -> None:
    system = dual_write_retry.system(2)
    # In every reachable state, message 1 is submitted only once message 0's call ended.
    comp = compile_system(system)
    sub1 = system.slot("submitted[1]").index
    int0 = system.slot("interrupted[0]").index
    seen_retry = False
    frontier, seen = [system.initial()], {system.initial()}
    while frontier:
        s = frontier.pop()
        for a in system.actions:
            t = comp.step(s, a.index)
            if t is None:
                continue
            seen_retry |= a.label.startswith("producer retries")
            if not s[sub1] and t[sub1]:
                assert not s[int0], a.label
            if t in seen:
                continue
            seen.add(t)
            frontier.append(t)
    assert seen_retry


def test_on_submit_retry_must_be_a_bool() -> None:
    @protocol("bad-retry", claims=["no-loss"], faults=Faults())
    def bad(p: Builder) -> None:
        p.sender.var("x", Array(p.msg, Bool))

        @p.sender.on_submit(retry="yes")  # type: ignore[call-overload, untyped-decorator]
        def submit(ctx: Ctx, m: Expr) -> None:
            ctx.x[m] = True

    with pytest.raises(SpecError, match=r"retry=.*True or False"):
        bad.system(1)
