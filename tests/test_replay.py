"""Replay and check: the compiled table enforces the graph's rules on logs."""

from __future__ import annotations

import random
from typing import Any

import attrs
import pytest

from _helpers import T0, day, plain_pipeline
from salesstages import Event, InvalidLogError, Pipeline, Problem
from salesstages._simulate import simulate
from salesstages.presets import inbound_b2b


def ev(seq: int, kind: str, stage: str | None = None, at: Any = None, **kw: Any) -> Event:
    """An event of deal D."""
    return Event.create(deal_id="D", seq=seq, at=at or day(seq), kind=kind, stage=stage, **kw)


def good_log() -> list[Event]:
    """opened → a → b → lost → b (reopened) → won."""
    return [
        ev(0, "opened", data={"amount": 10}),
        ev(1, "stage_entered", "a"),
        ev(2, "stage_entered", "b"),
        ev(3, "updated", "b", data={"amount": 20}),
        ev(4, "stage_entered", "lost", data={"reason": "price"}),
        ev(5, "activity", "lost", name="call"),
        ev(6, "stage_entered", "b"),
        ev(7, "stage_entered", "won"),
    ]


class TestReplay:
    """Replaying valid logs."""

    def test_rebuilds_state_in_any_order(self, plain: Pipeline) -> None:
        """Shuffled events give the same deal: stage, attributes, lost_from, events in order."""
        log = good_log()
        random.Random(3).shuffle(log)
        deal = plain.replay(log)["D"]
        assert (deal.stage, deal.outcome, dict(deal.attributes), deal.lost_from) == (
            "won",
            "won",
            {"amount": 20},
            "b",
        )
        assert [e.seq for e in deal.events] == list(range(8))
        assert deal.store is None

    def test_replay_equals_live(self, plain: Pipeline) -> None:
        """A replayed deal equals the live deal that wrote the events."""
        live = plain.open_deal("L", at=T0, amount=3)
        live.move("b", at=day(1))
        live.lose(at=day(2), reason="x")
        live.reopen(at=day(3))
        assert plain.replay(live.events)["L"] == live

    def test_simulated_logs_replay_and_check_clean(self) -> None:
        """Simulated inbound logs replay strictly and pass check with guards."""
        p = inbound_b2b()
        log = simulate(p, deals=200, start=T0, seed=5)
        assert len(p.replay(log)) == 200
        assert p.check(log, guards=True) == []


def broken(index: int, **changes: Any) -> list[Event]:
    """The good log with one event changed."""
    log = good_log()
    log[index] = attrs.evolve(log[index], **changes)
    return log


BROKEN_LOGS = [
    (
        "first_event",
        broken(0, kind="activity", name="x"),
        0,
        "the first event is 'activity', not 'opened'",
    ),
    (
        "second_event",
        broken(1, kind="activity", name="x"),
        1,
        "the event after 'opened' is 'activity', not 'stage_entered'",
    ),
    (
        "second_event",
        broken(1, stage="won"),
        1,
        "the first stage entered, 'won', is not an open stage",
    ),
    ("seq", [e for e in good_log() if e.seq != 3], 4, "seq 4 where 3 was expected (a gap)"),
    (
        "seq",
        [*good_log()[:4], attrs.evolve(good_log()[3], name="dup"), *good_log()[4:]],
        3,
        "seq 3 where 4 was expected (a duplicate)",
    ),
    # day(0.5) is 2026-01-05 21:00; the event before it (seq 2) is at day(2), 2026-01-07 09:00
    (
        "time",
        broken(3, at=day(0.5)),
        3,
        # seq 3 also lies before the stay it belongs to began, and says so (issue 23)
        "'updated' event at 2026-01-05T21:00:00+00:00 is dated before the deal entered 'b' at 2026-01-07T09:00:00+00:00 (its stay there would be negative)",
    ),
    ("unknown_stage", broken(2, stage="zz"), 2, "unknown stage 'zz'"),
    (
        "move_not_allowed",
        broken(2, stage="a"),
        2,
        "the pipeline does not allow moving from 'a' to 'a'",
    ),
    (
        "stage_mismatch",
        broken(3, stage="a"),
        3,
        "'updated' event names stage 'a' but the deal is in 'b'",
    ),
    ("duplicate_opened", broken(3, kind="opened"), 3, "a second 'opened' event"),
    (
        "after_won",
        [*good_log(), ev(8, "activity", "won", name="kickoff")],
        8,
        "'activity' event after the deal was won in 'won'",
    ),
    (
        "substate",
        broken(3, kind="substate_entered", name="review"),
        3,
        "'review' is not a sub-state of 'b'",
    ),
]


class TestStrictErrors:
    """Each rule, broken once, raises InvalidLogError naming deal, seq, rule and what is wrong."""

    @pytest.mark.parametrize(
        ("rule", "log", "seq", "says"),
        BROKEN_LOGS,
        ids=[f"{r}-{i}" for i, (r, _, _, _) in enumerate(BROKEN_LOGS)],
    )
    def test_rule(self, plain: Pipeline, rule: str, log: list[Event], seq: int, says: str) -> None:
        """strict replay raises at the bad event; check reports the same rule with the same words."""
        with pytest.raises(InvalidLogError) as info:
            plain.replay(log)
        err = info.value
        assert (err.deal_id, err.seq, err.rule) == ("D", seq, rule)
        assert f"deal 'D', seq {seq}: {says} (rule {rule!r})" in str(err)
        assert "strict=False" in str(err)
        messages = [p.message for p in plain.check(log) if p.rule == rule]
        assert messages[0] == f"deal 'D', seq {seq}: {says}"

    def test_opened_only(self, plain: Pipeline) -> None:
        """A deal that never entered a stage is refused strictly and dropped leniently."""
        log = [ev(0, "opened")]
        with pytest.raises(InvalidLogError, match="never entered a stage") as info:
            plain.replay(log)
        assert info.value.rule == "no_stage"
        assert plain.replay(log, strict=False) == {}
        assert [p.rule for p in plain.check(log)] == ["no_stage"]


class TestLenient:
    """strict=False keeps each deal as far as its events make sense; check lists every problem."""

    def test_truncates_at_first_problem(self, plain: Pipeline) -> None:
        """The deal is kept up to the event before the first problem."""
        deal = plain.replay(broken(4, stage="a"), strict=False)["D"]
        assert deal.stage == "b"
        assert len(deal.events) == 4

    def test_check_lists_every_problem(self, plain: Pipeline) -> None:
        """Two independent problems in one deal are both reported, in order."""
        log = broken(2, stage="zz")
        log[6] = attrs.evolve(log[6], at=day(0))
        problems = plain.check(log)
        assert [(p.deal_id, p.seq, p.rule) for p in problems] == [
            ("D", 2, "unknown_stage"),  # skipped: the deal stays in 'a'
            ("D", 3, "stage_mismatch"),  # the update names 'b'
            ("D", 6, "time"),  # a → lost → activity were fine; seq 6 goes back in time
            ("D", 7, "move_not_allowed"),  # still lost (seq 6 skipped): lost → won
        ]
        assert all(isinstance(p, Problem) for p in problems)

    def test_a_deal_with_no_good_event_is_reported_once(self, plain: Pipeline) -> None:
        """A deal whose only event is refused gets that problem, not also 'no_stage'."""
        log = [ev(0, "stage_entered", "a")]
        assert [(p.seq, p.rule) for p in plain.check(log)] == [(0, "first_event")]
        opened_only = [ev(0, "opened")]
        assert [(p.seq, p.rule) for p in plain.check(opened_only)] == [(None, "no_stage")]

    def test_check_with_guards(self, pipeline: Pipeline) -> None:
        """guards=True re-evaluates entry criteria; without it the log is clean."""
        log = [ev(0, "opened"), ev(1, "stage_entered", "lead"), ev(2, "stage_entered", "discovery")]
        assert pipeline.check(log) == []
        problems = pipeline.check(log, guards=True)
        assert [(p.seq, p.rule) for p in problems] == [(2, "entry_criteria")]
        assert "meeting 'discovery' has not been booked" in problems[0].message

    def test_good_deals_survive_bad_neighbours(self) -> None:
        """A broken deal does not stop other deals being replayed leniently."""
        p = plain_pipeline()
        other = [attrs.evolve(e, deal_id="E") for e in good_log()]
        deals = p.replay([*broken(0, kind="updated"), *other], strict=False)
        assert list(deals) == ["E"]


def test_unmet_criteria_do_not_cascade() -> None:
    """check(guards=True) reports an unmet entry criterion once and judges later events from there."""
    from salesstages import Stage, activity

    def stages(entry: Any) -> list[Stage]:
        return [
            Stage("a"),
            Stage("b", entry=entry),
            Stage("c"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ]

    loose = Pipeline("p", stages(None), allow_skip=False)
    strict = Pipeline("p", stages(activity("call")), allow_skip=False)
    deal = loose.open_deal("D", at=T0)
    deal.move("b", at=day(1))
    deal.record("note", at=day(2))
    deal.move("c", at=day(3))
    deal.win(at=day(4))
    problems = strict.check(deal.events, guards=True)
    assert [(p.seq, p.rule) for p in problems] == [(2, "entry_criteria")]
