"""The one judge (``spec/judge.py``) against the predicates the model checker proves
(``spec/history.py``), on the same histories; and its own choices where the spec is silent.

The spec side runs ``History``'s own effects (submit, process, ack) on concrete states,
plus one boolean per message saying whether a copy is left anywhere (the ``inflight`` the
properties are built with), and a property is violated by a run when its invariant is false
in any state of it.  The judge reads the same run as observations and, at the end, the ids
of which a copy is held.  Histories are physically possible: a submitted message is
processed only while a copy of it exists (once none is left it can never be processed: the
premise of the spec's bounded no-loss); anything may be processed before or without being
submitted (a phantom).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ackproof.events import NEEDS_MSG, TraceEvent
from ackproof.spec.env import Env, Layout
from ackproof.spec.expr import FALSE, TRUE, Value, const, evaluate
from ackproof.spec.history import (
    EVENTUAL_DELIVERY,
    GUARANTEES,
    IN_ORDER,
    NO_DUPLICATE,
    NO_LOSS,
    NO_PHANTOM,
    History,
)
from ackproof.spec.judge import Observation, judge, overall

N = 3  # message ids 0..N-1
JUDGED = (NO_LOSS, NO_DUPLICATE, NO_PHANTOM, IN_ORDER)
State = tuple[Value, ...]


class SpecHistory:
    """``spec/history.py`` run concretely: its slots, effects and property invariants."""

    def __init__(self) -> None:
        self.layout = Layout()
        self.history = History.allocate(self.layout, N)
        self.copy = [
            self.layout.add(f"copy[{m}]", sort="bool", lo=0, hi=1, init=False, owner="test")
            for m in range(N)
        ]
        self.leaves = self.layout.leaves()
        env = Env.fresh(self.layout, self.leaves)
        props = self.history.properties(env, lambda m: env.read(self.copy[m]), lambda m: ())
        self.invariants = {p: props[p].invariant for p in JUDGED}

    def initial(self) -> State:
        return tuple(s.init for s in self.layout.slots)

    def step(self, state: State, kind: str, m: int) -> State:
        """``kind`` (submit, process, ack, or drop: every copy lost) of message ``m``."""
        env = Env.fresh(self.layout, self.leaves)
        match kind:
            case "submit":
                self.history.submit(env, m)
                env.write(self.copy[m], TRUE, what="copy", trusted=True)
            case "process":
                self.history.process(env, const(m))
            case "ack":
                self.history.ack(env, const(m))
            case "drop":
                env.write(self.copy[m], FALSE, what="copy", trusted=True)
        assert not env.checks
        assert not env.guard
        return tuple(
            bool(evaluate(e, state)) if s.sort == "bool" else int(evaluate(e, state))
            for e, s in zip(env.cur, self.layout.slots, strict=True)
        )

    def read(self, state: State, slots: Sequence[int]) -> list[Value]:
        return [state[i] for i in slots]


SPEC = SpecHistory()
MOVES = st.lists(
    st.tuples(st.sampled_from(["submit", "process", "ack", "drop"]), st.integers(0, N - 1)),
    max_size=14,
)


def run_both(moves: list[tuple[str, int]]) -> tuple[list[State], list[Observation], set[int]]:
    """The moves that are possible, as spec states and as the judge's observations; and the
    ids of which a copy is left at the end."""
    h, spec = SPEC.history, SPEC
    states = [spec.initial()]
    seen: list[Observation] = []
    for kind, m in moves:
        s = states[-1]
        submitted = spec.read(s, h.submitted)
        copies = spec.read(s, spec.copy)
        if kind == "submit":
            m = sum(bool(v) for v in submitted)  # the spec submits in id order, each id once
            if m == N:
                continue
        elif kind == "process" and submitted[m] and not copies[m]:
            continue  # no copy left: impossible (the premise of bounded no-loss)
        states.append(spec.step(s, kind, m))
        if kind != "drop":  # a lost copy is invisible to an observer
            seen.append(Observation(TraceEvent(kind), m, where=f"#{len(seen)}"))
    held = {m for m, v in enumerate(spec.read(states[-1], spec.copy)) if v}
    return states, seen, held


@settings(max_examples=400, deadline=None)
@given(MOVES)
def test_the_judge_agrees_with_the_spec_history_predicates(moves: list[tuple[str, int]]) -> None:
    states, seen, held = run_both(moves)
    judged = judge(seen, holding=held)
    for prop, invariant in SPEC.invariants.items():
        spec_violated = any(not evaluate(invariant, s) for s in states)
        assert judged.violated(prop) == spec_violated, (prop, seen, held, judged)
    for name, props in GUARANTEES.items():
        broken = any(not evaluate(SPEC.invariants[p], s) for p in props for s in states)
        assert (judged.verdict(props) == "broken") == broken, name
    # the history itself: what the spec's slots hold at the end is what the judge read
    h, end = SPEC.history, states[-1]
    assert SPEC.read(end, h.submitted) == [m in judged.submitted for m in range(N)]
    assert SPEC.read(end, h.processed) == [min(judged.times.get(m, 0), 2) for m in range(N)]
    assert SPEC.read(end, h.acked) == [m in judged.acked for m in range(N)]
    assert end[h.order_broken] == judged.order_broken


def test_the_generated_histories_reach_every_violation() -> None:
    """The "sometimes" beside the agreement: each property is violated by some history."""
    cases = {
        NO_LOSS: [("submit", 0), ("drop", 0)],
        NO_DUPLICATE: [("submit", 0), ("process", 0), ("process", 0)],
        NO_PHANTOM: [("process", 1), ("submit", 0), ("submit", 0)],
        IN_ORDER: [("submit", 0), ("submit", 0), ("process", 1), ("process", 0)],
    }
    for prop, moves in cases.items():
        states, seen, held = run_both(moves)
        assert any(not evaluate(SPEC.invariants[prop], s) for s in states), prop
        assert judge(seen, holding=held).violations(JUDGED) == (prop,), prop


def obs(*events: tuple[TraceEvent, int] | tuple[TraceEvent, int, bytes]) -> list[Observation]:
    return [
        Observation(e[0], e[1], e[2] if len(e) == 3 else None, where=f"line {i}")
        for i, e in enumerate(events, 1)
    ]


S, P, A = TraceEvent.SUBMIT, TraceEvent.PROCESS, TraceEvent.ACK


def test_a_processing_before_its_submit_is_a_phantom() -> None:
    """no-phantom is a state invariant: the state between the processing and the submit
    already breaks it, even though the id is submitted in the end."""
    judged = judge(obs((P, 0), (S, 0)))
    assert [(c.msg, c.where) for c in judged.phantom] == [(0, "line 1")]
    assert judged.verdict(GUARANTEES["at-most-once"]) == "broken"


def test_a_corrupted_payload_breaks_no_phantom_and_still_counts_as_processed() -> None:
    """The harness counted a processing with a payload that was not the submitted one as
    breaking every promise, validate could not see it: both now ask the judge, which reads
    it as no-phantom (what was processed was never submitted)."""
    judged = judge(obs((S, 0, b"mine"), (P, 0, b"not mine"), (S, 1, b"one"), (P, 1, b"one")))
    assert [c.msg for c in judged.corrupted] == [0]
    assert judged.phantom == ()
    assert judged.lost == ()
    assert judged.violations(JUDGED) == (NO_PHANTOM,)
    for props in GUARANTEES.values():
        assert judged.verdict(props) == "broken"
    unknown = judge(obs((S, 0, b"mine"), (P, 0)))  # a trace has no payloads: nothing to say
    assert unknown.corrupted == ()


def test_in_flight_is_not_lost_and_leaves_no_loss_unfinished() -> None:
    judged = judge(obs((S, 0), (S, 1), (P, 0)), holding={1})
    assert judged.lost == ()
    assert judged.in_flight == (1,)
    assert judged.verdict(GUARANTEES["at-least-once"]) == "unfinished"
    assert judged.verdict(GUARANTEES["at-most-once"]) == "kept"  # promises nothing of loss
    gone = judge(obs((S, 0), (S, 1), (A, 1), (P, 0)), holding=set())
    assert [(x.msg, x.ack) for x in gone.lost] == [(1, "line 3")]  # acked, never processed
    assert gone.verdict(GUARANTEES["at-least-once"]) == "broken"


def test_without_holdings_a_finished_run_loses_what_an_unfinished_one_has_in_flight() -> None:
    """A trace cannot say what is still held. Finished (recorded until quiet): nothing is,
    an unprocessed id is lost. Unfinished (the probe's timeout): it may still arrive; the
    probe used to count it lost and list no-loss as violated in an unfinished run."""
    history = obs((S, 0), (S, 1), (P, 0))
    finished, cut = judge(history), judge(history, finished=False)
    assert [x.msg for x in finished.lost] == [1]
    assert finished.in_flight == ()
    assert cut.lost == ()
    assert cut.in_flight == (1,)
    assert finished.verdict(GUARANTEES["exactly-once"]) == "broken"
    assert cut.verdict(GUARANTEES["exactly-once"]) == "unfinished"
    # every promise waits for a run that was cut short: the demo's harness used to call an
    # unfinished at-most-once run kept
    assert cut.verdict(GUARANTEES["at-most-once"]) == "unfinished"
    assert (
        judge(obs((S, 0), (P, 0), (P, 0)), finished=False).verdict(GUARANTEES["at-most-once"])
        == "broken"
    )


def test_an_id_never_submitted_counts_as_submitted_last_for_in_order() -> None:
    """As in the spec (ids in submission order): a phantom processed first puts the
    submitted message processed after it out of order (validate used to skip phantoms)."""
    judged = judge(obs((S, 0), (P, 7), (P, 0)))
    assert [c.msg for c in judged.out_of_order] == [0]
    assert judge(obs((S, 0), (P, 0), (P, 7))).out_of_order == ()


def test_eventual_delivery_on_a_recorded_run_is_what_it_loses() -> None:
    """``validate --guarantee eventual-delivery`` was an internal error (KeyError)."""
    assert judge(obs((S, 0))).violated(EVENTUAL_DELIVERY)
    assert not judge(obs((S, 0), (P, 0))).violated(EVENTUAL_DELIVERY)
    with pytest.raises(KeyError, match="no-such"):
        judge(()).violated("no-such")


def test_only_history_events_are_observations_and_verdicts_fold() -> None:
    with pytest.raises(ValueError, match="not part of the history"):
        judge([Observation(TraceEvent.SEND, 0)])
    assert overall(["kept", "unfinished", "kept"]) == "unfinished"
    assert overall(["unfinished", "broken"]) == "broken"
    assert overall([]) == "kept"


def test_the_trace_format_documents_exactly_the_vocabulary() -> None:
    """Two forms, one test: the events TRACE_FORMAT.md lists are ``TraceEvent``."""
    doc = (Path(__file__).resolve().parents[2] / "impl" / "TRACE_FORMAT.md").read_text()
    section = doc.split("## Events", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)`", section, flags=re.MULTILINE))
    assert documented == {str(e) for e in TraceEvent}
    assert {str(e) for e in NEEDS_MSG} == {"submit", "process", "ack"}
