"""The live transitions machine and the compiled transition table agree.

Both are built from one definition; replay uses the table, live deals use the
machine. These properties drive random operation sequences (allowed and
refused moves, sub-states, wins, losses, reopenings) through both.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import T0, small_pipeline
from salesstages import (
    Deal,
    Pipeline,
    Stage,
    Substate,
    TransitionRefused,
    activity,
    substate_reached,
)
from salesstages._machine import live_machine, move_trigger, substate_trigger


@st.composite
def pipelines(draw: st.DrawFn) -> Pipeline:
    """Small pipelines with random flags, sub-states (some with entry criteria, some
    allowing regress) and several closed stages."""
    n_open = draw(st.integers(1, 5))
    stages = []
    for i in range(n_open):
        subs: tuple[str | Substate, ...] = draw(st.sampled_from([(), ("x",), ("x", "y", "z")]))
        if len(subs) == 3 and draw(st.booleans()):
            # y needs x reached first, z needs an activity
            subs = (
                "x",
                Substate("y", entry=substate_reached(f"s_{i}", "x")),
                Substate("z", entry=activity("act1")),
            )
        stages.append(Stage(f"s_{i}", substates=subs, substate_regress=draw(st.booleans())))
    stages += [Stage(f"won_{i}", outcome="won") for i in range(draw(st.integers(1, 2)))]
    stages += [Stage(f"lost_{i}", outcome="lost") for i in range(draw(st.integers(1, 2)))]
    return Pipeline(
        "drawn",
        stages,
        allow_skip=draw(st.booleans()),
        allow_regress=draw(st.booleans()),
        allow_reopen=draw(st.booleans()),
    )


ops = st.lists(
    st.tuples(
        st.sampled_from(["move", "sub", "win", "lose", "reopen", "record", "update"]),
        st.integers(0, 20),
        st.integers(0, 3),
    ),
    max_size=25,
)


def apply(deal: Deal, op: str, k: int, at: Any) -> None:
    """Apply one operation, choosing targets by index k."""
    p = deal.pipeline
    names = [s.name for s in p.stages]
    if op == "move":
        deal.move(names[k % len(names)], at=at)
    elif op == "sub":
        subs = ["x", "y", "z", "nope"]
        deal.enter_substate(subs[k % 4], at=at)
    elif op == "win":
        deal.win(at=at, stage=[s.name for s in p.won_stages][k % len(p.won_stages)])
    elif op == "lose":
        deal.lose(
            at=at, reason=f"r{k}", stage=[s.name for s in p.lost_stages][k % len(p.lost_stages)]
        )
    elif op == "reopen":
        deal.reopen(at=at, to=None if k % 2 else names[k % len(names)])
    elif op == "record":
        deal.record(f"act{k % 3}", at=at, n=k)
    else:
        deal.update(at=at, amount=k)


@settings(max_examples=150, deadline=None)
@given(pipelines(), ops)
def test_machine_and_table_agree(pipeline: Pipeline, steps: list[tuple[str, int, int]]) -> None:
    """At every step the machine and the table allow the same moves, refusals record nothing,
    and replaying the events gives the live deal."""
    machine = live_machine(pipeline)
    deal = pipeline.open_deal("D", at=T0)
    at = T0
    for op, k, dt in steps:
        at = at + timedelta(hours=dt)
        stage = deal.stage
        for target in pipeline.stages:
            assert machine.can_fire(deal.state, move_trigger(target.name)) == pipeline.allowed(
                stage, target.name
            ), (deal.state, target.name)
        for sub in ("x", "y", "z"):
            order_ok = sub in pipeline.substate_targets(stage, deal.substate)
            assert machine.can_fire(deal.state, substate_trigger(stage, sub)) == order_ok
            verdict = deal.can_enter_substate(sub)
            if not order_ok:
                assert not verdict.ok
            elif sub in pipeline.stage(stage).substates:
                entry = pipeline.stage(stage).substate(sub).entry
                assert verdict.ok == (entry is None or bool(entry(deal.view())))
        before_events, before_state = deal.events, deal.state
        try:
            apply(deal, op, k, at)
        except TransitionRefused:
            assert deal.events == before_events
            assert deal.state == before_state
        else:
            assert len(deal.events) == len(before_events) + 1
        assert pipeline.replay(deal.events)["D"] == deal
        assert pipeline.check(deal.events, guards=True) == []


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(
                [
                    ("activity", "meeting_booked", {"meeting": "discovery"}),
                    ("activity", "meeting_accepted", {"meeting": "discovery", "party": "rep"}),
                    ("activity", "meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
                    ("activity", "meeting_declined", {"meeting": "discovery"}),
                    ("activity", "document_sent", {"document": "proposal"}),
                    ("move", "discovery", {}),
                    ("move", "proposal", {}),
                    ("sub", "review", {}),
                    ("win", "", {}),
                    ("lose", "", {}),
                    ("reopen", "", {}),
                ]
            ),
            st.integers(0, 48),
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_guarded_pipeline_refusals_record_nothing(steps: list[Any], auto: bool) -> None:
    """On a guarded pipeline, refused calls change nothing, allowed ones match can_move,
    and the live deal always equals its replay (guards re-checked clean)."""
    pipeline = small_pipeline(auto_advance=auto)
    deal = pipeline.open_deal("D", at=T0)
    at = T0
    for (op, name, data), hours in steps:
        at = at + timedelta(hours=hours)
        before = (deal.events, deal.state)
        expected_ok = deal.can_move(name).ok if op == "move" else None
        try:
            if op == "activity":
                deal.record(name, at=at, **data)
            elif op == "move":
                deal.move(name, at=at)
            elif op == "sub":
                deal.enter_substate(name, at=at)
            elif op == "win":
                deal.win(at=at)
            elif op == "lose":
                deal.lose(at=at, reason="x")
            else:
                deal.reopen(at=at)
        except TransitionRefused as exc:
            refused = exc
            assert (deal.events, deal.state) == before
            assert not refused.verdict.ok
            assert expected_ok in (None, False)
        else:
            assert expected_ok in (None, True)
        assert pipeline.replay(deal.events)["D"] == deal
        assert pipeline.check(deal.events, guards=True) == []
