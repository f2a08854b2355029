"""``salesstages.forecast``: hand-computed cases, properties and every error path."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import T0, day
from salesstages import (
    Event,
    NaiveTimeError,
    Pipeline,
    Stage,
    UnknownStageError,
    forecast,
    presets,
)
from salesstages._simulate import simulate
from salesstages._stats import greenwood_interval, kaplan_meier
from salesstages.testing import events as event_logs

DAY = timedelta(days=1)
US = timedelta(microseconds=1)


class Log:
    """A tiny builder of valid event logs, with times in days from ``T0``."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.events: list[Event] = []

    def deal(
        self, deal_id: str, path: Sequence[tuple[float, str]], **attributes: Any
    ) -> list[Event]:
        """Open ``deal_id`` in ``path[0]``'s stage, then enter each later stage at its day."""
        lost = {s.name for s in self.pipeline.lost_stages}
        evs = [
            Event.create(deal_id=deal_id, seq=0, at=day(path[0][0]), kind="opened", data=attributes)
        ]
        for t, stage in path:
            evs.append(
                Event.create(
                    deal_id=deal_id,
                    seq=len(evs),
                    at=day(t),
                    kind="stage_entered",
                    stage=stage,
                    data={"reason": "price"} if stage in lost else None,
                )
            )
        self.events.extend(evs)
        return evs

    def update(self, deal_id: str, t: float, stage: str, **attributes: Any) -> None:
        """Append an ``updated`` event to ``deal_id``."""
        seq = sum(1 for e in self.events if e.deal_id == deal_id)
        self.events.append(
            Event.create(
                deal_id=deal_id, seq=seq, at=day(t), kind="updated", stage=stage, data=attributes
            )
        )


def abwl() -> Pipeline:
    """Open a, b (regression allowed), won w, lost l."""
    return Pipeline(
        "abwl",
        [
            Stage("a", probability=0.2),
            Stage("b", probability=0.5),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
        allow_regress=True,
    )


def chain_log() -> Log:
    """Moves out of a: 6 → b, 1 → w, 3 → l; out of b: 2 → a, 5 → w, 3 → l.

    The 4-state chain solved by hand in ``TestMarkov.test_hand_computed_chain``.
    One deal is lost from b, reopened into b and then won: the reopening is
    not a move out of an open stage, and its later b → w is.
    """
    log = Log(abwl())
    paths: list[list[str]] = [
        ["a", "w"],
        ["a", "l"],
        ["a", "l"],
        ["a", "l"],
        ["a", "b", "w"],
        ["a", "b", "l"],
        ["a", "b", "a", "b", "w"],
        ["a", "b", "a", "b", "l"],
        ["b", "w"],
        ["b", "w"],
        ["b", "l", "b", "w"],
    ]
    for n, path in enumerate(paths):
        log.deal(f"D{n}", [(n + i, s) for i, s in enumerate(path)], amount=1000.0)
    log.deal("OPEN-A", [(20, "a")], amount=1100.0)
    log.deal("OPEN-B", [(21, "b")], amount=2200.0)
    return log


class TestWeighted:
    """The weighted pipeline."""

    def test_hand_computed(self) -> None:
        """1100 × 0.2 (a) + 2200 × 0.5 (b); closed deals do not count."""
        log = chain_log()
        assert forecast.weighted(log.events, log.pipeline) == pytest.approx(1320.0)

    def test_as_of_uses_amount_then(self) -> None:
        """As of an earlier date, the open deals and their amounts are as they were."""
        log = Log(abwl())
        log.deal("X", [(0, "a")], amount=100.0)
        log.update("X", 5, "a", amount=300.0)
        assert forecast.weighted(log.events, log.pipeline, as_of=day(1)) == pytest.approx(20.0)
        assert forecast.weighted(log.events, log.pipeline) == pytest.approx(60.0)

    def test_stage_without_probability_counts_zero(self, plain: Pipeline) -> None:
        """A stage with no configured probability contributes nothing."""
        log = Log(plain)
        log.deal("X", [(0, "a")], amount=100.0)
        assert forecast.weighted(log.events, plain) == 0.0

    def test_missing_amount_counts_zero(self) -> None:
        """A deal with no amount (or ``None``) contributes 0."""
        log = Log(abwl())
        log.deal("X", [(0, "a")])
        log.deal("Y", [(0, "b")], amount=None)
        log.deal("Z", [(0, "b")], amount=10)
        assert forecast.weighted(log.events, log.pipeline) == pytest.approx(5.0)

    @pytest.mark.parametrize("bad", ["1000", True, [1]])
    def test_non_numeric_amount_counts_zero(self, bad: Any) -> None:
        """An amount that is not a number counts as 0, as in the metrics."""
        log = Log(abwl())
        log.deal("X", [(0, "a")], amount=bad)
        log.deal("Y", [(0, "a")], amount=10.0)
        assert forecast.weighted(log.events, log.pipeline) == pytest.approx(2.0)

    def test_bad_arguments_refused(self) -> None:
        """A pipeline or events of the wrong type raise TypeError."""
        with pytest.raises(TypeError, match="pipeline"):
            forecast.weighted([], "pipeline")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="events"):
            forecast.markov("events", abwl())  # type: ignore[arg-type]

    def test_naive_as_of_refused(self) -> None:
        """A naive ``as_of`` raises NaiveTimeError."""
        log = chain_log()
        with pytest.raises(NaiveTimeError):
            forecast.weighted(log.events, log.pipeline, as_of=datetime(2026, 1, 1))

    def test_empty_log(self, plain: Pipeline) -> None:
        """No events, no forecast."""
        assert forecast.weighted([], plain) == 0.0


class TestMarkov:
    """The empirical absorbing chain."""

    def test_hand_computed_chain(self) -> None:
        """Counts become Q and R; absorption solved by hand.

        Q = [[0, 0.6], [0.2, 0]], R = [[0.1, 0.3], [0.5, 0.3]] (columns w, l):
        w_a = 0.1 + 0.6 w_b, w_b = 0.5 + 0.2 w_a ⇒ w_a = 0.4 / 0.88 = 5/11,
        w_b = 13/22; losses 6/11 and 9/22; expected moves m_a = 1 + 0.6 m_b,
        m_b = 1 + 0.2 m_a ⇒ m_a = 20/11, m_b = 15/11.
        """
        log = chain_log()
        model = forecast.markov(log.events, log.pipeline)
        assert dict(model.moves["a"]) == {"b": 6, "w": 1, "l": 3}
        assert dict(model.moves["b"]) == {"a": 2, "w": 5, "l": 3}
        assert dict(model.transition["a"]) == pytest.approx({"b": 0.6, "w": 0.1, "l": 0.3})
        assert model.win_probability["a"] == pytest.approx(5 / 11)
        assert model.win_probability["b"] == pytest.approx(13 / 22)
        assert model.loss_probability["a"] == pytest.approx(6 / 11)
        assert model.loss_probability["b"] == pytest.approx(9 / 22)
        assert model.expected_moves["a"] == pytest.approx(20 / 11)
        assert model.expected_moves["b"] == pytest.approx(15 / 11)
        assert dict(model.absorption["b"]) == pytest.approx({"w": 13 / 22, "l": 9 / 22})
        assert model.stages == ("a", "b")
        assert model.unresolved == ()
        # the model's own short repr: 6 + 1 + 3 moves out of a, 2 + 5 + 3 out of b = 20
        assert repr(model) == "MarkovModel(moves=20, win_probability={a: 0.4545, b: 0.5909})"
        # a result type is built by keyword only, so fields can be added without breaking callers
        values = [getattr(model, f.name) for f in attrs.fields(forecast.MarkovModel)]
        with pytest.raises(TypeError):
            forecast.MarkovModel(*values)

    def test_expected_value_forecast(self) -> None:
        """Σ amount × P(win | stage): 1100 × 5/11 + 2200 × 13/22 = 500 + 1300."""
        log = chain_log()
        assert forecast.markov_forecast(log.events, log.pipeline) == pytest.approx(1800.0)

    def test_forecast_with_given_model(self) -> None:
        """A model passed in is used as is, instead of one fitted on the events."""
        log = chain_log()
        model = forecast.markov(log.events, log.pipeline)
        only_open = [e for e in log.events if e.deal_id.startswith("OPEN")]
        value = forecast.markov_forecast(only_open, log.pipeline, model=model)
        assert value == pytest.approx(1800.0)
        # fitted on the open deals alone there are no moves: configured probabilities
        assert forecast.markov_forecast(only_open, log.pipeline) == pytest.approx(
            1100 * 0.2 + 2200 * 0.5
        )

    def test_as_of_sees_only_earlier_moves(self) -> None:
        """As of day 2, only the two moves made by then are counted."""
        log = chain_log()
        model = forecast.markov(log.events, log.pipeline, as_of=day(2))
        assert {a: dict(r) for a, r in model.moves.items()} == {"a": {"w": 1, "l": 1}}
        assert model.win_probability == {"a": pytest.approx(0.5)}

    def test_moves_into_a_stage_never_left_are_set_aside(self, plain: Pipeline) -> None:
        """b was never left, so a's move into b is left out and a's estimate rests on the rest."""
        log = Log(plain)
        log.deal("X", [(0, "a"), (1, "b")])
        log.deal("Y", [(0, "a"), (1, "won")])
        log.deal("Z", [(0, "a"), (1, "lost")])
        model = forecast.markov(log.events, plain)
        assert dict(model.moves["a"]) == {"b": 1, "won": 1, "lost": 1}
        assert dict(model.transition["a"]) == {"won": 0.5, "lost": 0.5}
        assert model.win_probability == {"a": 0.5}
        assert model.unresolved == ()

    def test_unresolved_stages(self) -> None:
        """Stages whose moves only loop among themselves or lead nowhere get no estimate."""
        log = Log(abwl())
        log.deal("X", [(0, "a"), (1, "b"), (2, "a")])
        model = forecast.markov(log.events, log.pipeline)
        assert model.stages == ()
        assert model.unresolved == ("a", "b")
        assert dict(model.win_probability) == {}
        assert "unresolved" in repr(model)
        # the forecast falls back to the configured probability of a (0.2)
        log.update("X", 3, "a", amount=10.0)
        assert forecast.markov_forecast(log.events, log.pipeline) == pytest.approx(2.0)

    def test_reopening_is_not_a_move(self, plain: Pipeline) -> None:
        """lost → a is not counted; the reopened deal's a → won is."""
        log = Log(plain)
        log.deal("X", [(0, "a"), (1, "lost"), (2, "a"), (3, "won")])
        model = forecast.markov(log.events, plain)
        assert {a: dict(r) for a, r in model.moves.items()} == {"a": {"lost": 1, "won": 1}}

    def test_empty_log(self, plain: Pipeline) -> None:
        """No events give an empty model and a zero forecast."""
        model = forecast.markov([], plain)
        assert model.stages == ()
        assert dict(model.moves) == {}
        assert forecast.markov_forecast([], plain) == 0.0

    def test_repr_is_readable(self) -> None:
        """The repr shows the number of moves and each stage's win probability."""
        log = chain_log()
        text = repr(forecast.markov(log.events, log.pipeline))
        assert text == "MarkovModel(moves=20, win_probability={a: 0.4545, b: 0.5909})"

    def test_result_is_read_only(self) -> None:
        """The model is frozen, and so are its mappings."""
        log = chain_log()
        model = forecast.markov(log.events, log.pipeline)
        with pytest.raises(TypeError):
            model.win_probability["a"] = 1.0  # type: ignore[index]
        with pytest.raises(AttributeError):
            model.stages = ()  # type: ignore[misc]


def km_log() -> tuple[Log, datetime]:
    """The six deals of ``test_stats``'s hand table, as a log; as of day 10.

    Closed at 2 (won), 3 (lost), 5 (won), 8 (lost) days after opening; open
    for 3 and for 7 days at as_of (censored).
    """
    log = Log(abwl())
    log.deal("W2", [(0, "a"), (2, "w")])
    log.deal("L3", [(0, "a"), (1, "b"), (3, "l")])
    log.deal("O3", [(7, "a")])
    log.deal("W5", [(0, "a"), (5, "w")])
    log.deal("O7", [(3, "a"), (4, "b")])
    log.deal("L8", [(0, "a"), (8, "l")])
    return log, day(10)


class TestTimeToClose:
    """Kaplan–Meier of opened → closed."""

    def test_hand_computed_table(self) -> None:
        """The six-deal table (tie at 3 days between a closing and a censoring)."""
        log, as_of = km_log()
        s = forecast.time_to_close(log.events, log.pipeline, as_of=as_of)
        assert s.times == (2 * DAY, 3 * DAY, 5 * DAY, 8 * DAY)
        assert s.survival == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
        assert s.at_risk == (6, 5, 3, 1)
        assert s.closed == (1, 1, 1, 1)
        assert s.median == 5 * DAY
        assert s.deals == 6
        assert s.censored == 2
        lower, upper = greenwood_interval(
            kaplan_meier([2, 3, 3, 5, 7, 8], [True, True, False, True, False, True])
        )
        assert s.lower == pytest.approx(lower)
        assert s.upper == pytest.approx(upper)

    def test_step_lookups(self) -> None:
        """``at``, ``interval`` and ``close_within`` read the step curve."""
        log, as_of = km_log()
        s = forecast.time_to_close(log.events, log.pipeline, as_of=as_of)
        assert s.at(timedelta(0)) == 1.0
        assert s.at(4 * DAY) == pytest.approx(2 / 3)
        assert s.interval(DAY) == (1.0, 1.0)
        assert s.interval(4 * DAY) == (s.lower[1], s.upper[1])
        assert s.close_within(4 * DAY) == pytest.approx(1 / 3)
        # open for 3 days already (S = 2/3): P(close by day 5) = 1 - (4/9) / (2/3)
        assert s.close_within(2 * DAY, age=3 * DAY) == pytest.approx(1 / 3)
        assert s.close_within(DAY, age=9 * DAY) == 1.0

    def test_default_as_of_is_latest_event(self) -> None:
        """Without as_of, open deals are censored at the latest event (day 8)."""
        log, _ = km_log()
        s = forecast.time_to_close(log.events, log.pipeline)
        # O3 opened at 7 is censored at 1 day, O7 opened at 3 at 5 days (tied with W5)
        assert s.at_risk == (5, 4, 3, 1)

    def test_latest_closing_counts(self, plain: Pipeline) -> None:
        """A deal lost at day 1, reopened and won at day 4 closed after 4 days."""
        log = Log(plain)
        log.deal("X", [(0, "a"), (1, "lost"), (2, "a"), (4, "won")])
        s = forecast.time_to_close(log.events, plain)
        assert s.times == (4 * DAY,)
        assert s.median == 4 * DAY

    def test_median_none_when_not_reached(self, plain: Pipeline) -> None:
        """With most deals open, S never gets to 0.5."""
        log = Log(plain)
        log.deal("X", [(0, "a"), (1, "won")])
        for n in range(3):
            log.deal(f"O{n}", [(0, "a")])
        s = forecast.time_to_close(log.events, plain, as_of=day(5))
        assert s.survival == (0.75,)
        assert s.median is None

    def test_empty_log(self, plain: Pipeline) -> None:
        """No events give an empty curve."""
        s = forecast.time_to_close([], plain)
        assert (s.times, s.deals, s.median) == ((), 0, None)
        assert s.close_within(DAY) == 0.0

    def test_repr_is_readable(self) -> None:
        """The repr summarises instead of listing every time."""
        log, as_of = km_log()
        text = repr(forecast.time_to_close(log.events, log.pipeline, as_of=as_of))
        assert text == (
            "Survival(deals=6, censored=2, median=5 days, 0:00:00, level=0.95, times=<4 times>)"
        )

    @pytest.mark.parametrize("level", [0.0, 1.0, 2])
    def test_bad_level_refused(self, level: float) -> None:
        """A confidence level outside (0, 1) raises ValueError."""
        log, _ = km_log()
        with pytest.raises(ValueError, match="level"):
            forecast.time_to_close(log.events, log.pipeline, level=level)

    @pytest.mark.parametrize("bad", [-DAY, 3])
    def test_bad_times_refused(self, bad: Any) -> None:
        """Lookups at a negative or non-timedelta time raise ValueError."""
        log, _ = km_log()
        s = forecast.time_to_close(log.events, log.pipeline)
        with pytest.raises(ValueError, match="timedelta"):
            s.at(bad)
        with pytest.raises(ValueError, match="timedelta"):
            s.interval(bad)
        with pytest.raises(ValueError, match="timedelta"):
            s.close_within(bad)
        with pytest.raises(ValueError, match="timedelta"):
            s.close_within(DAY, age=bad)


class TestCumulativeIncidence:
    """Aalen–Johansen, won and lost competing."""

    def test_hand_computed(self) -> None:
        """F_won = 1/6, 1/6, 7/18, 7/18 and F_lost = 0, 1/6, 1/6, 11/18 (see test_stats)."""
        log, as_of = km_log()
        won = forecast.cumulative_incidence(log.events, log.pipeline, as_of=as_of)
        lost = forecast.cumulative_incidence(log.events, log.pipeline, outcome="lost", as_of=as_of)
        assert won.incidence == pytest.approx([1 / 6, 1 / 6, 7 / 18, 7 / 18])
        assert lost.incidence == pytest.approx([0, 1 / 6, 1 / 6, 11 / 18])
        assert won.events == (1, 0, 1, 0)
        assert won.final == pytest.approx(7 / 18)
        assert won.at(4 * DAY) == pytest.approx(1 / 6)
        assert won.at(timedelta(0)) == 0.0
        assert repr(won) == (
            "CumulativeIncidence(outcome='won', deals=6, final=0.3889, times=<4 times>)"
        )

    def test_empty_log(self, plain: Pipeline) -> None:
        """No events: an empty curve whose final value is 0."""
        ci = forecast.cumulative_incidence([], plain)
        assert (ci.times, ci.final, ci.deals) == ((), 0.0, 0)

    def test_bad_outcome_refused(self) -> None:
        """Only 'won' and 'lost' are outcomes."""
        log, _ = km_log()
        with pytest.raises(ValueError, match="'won' or 'lost'"):
            forecast.cumulative_incidence(log.events, log.pipeline, outcome="open")  # type: ignore[arg-type]

    def test_bad_time_refused(self) -> None:
        """A lookup at a negative time raises ValueError."""
        log, _ = km_log()
        ci = forecast.cumulative_incidence(log.events, log.pipeline)
        with pytest.raises(ValueError, match="timedelta"):
            ci.at(-DAY)


def outlook_log(plain: Pipeline) -> tuple[Log, datetime]:
    """Six stays in a; as of day 20.

    D1: a for 2.5 days → b, won 6.5 days after entering a.
    D2: a for 0.5 → lost.            D3: a for 4.5 → lost.
    D4: in a for 5.5 days, open.     D5: a for 3.5 → b → won at 3.75.
    D6: in a for 1.2 days, open.
    """
    log = Log(plain)
    log.deal("D1", [(0, "a"), (2.5, "b"), (6.5, "won")], amount=10.0)
    log.deal("D2", [(0, "a"), (0.5, "lost")], amount=10.0)
    log.deal("D3", [(0, "a"), (4.5, "lost")], amount=10.0)
    log.deal("D4", [(14.5, "a")], amount=100.0)
    log.deal("D5", [(0, "a"), (3.5, "b"), (3.75, "won")], amount=10.0)
    log.deal("D6", [(18.8, "a")], amount=1000.0)
    return log, day(20)


class TestStageOutlook:
    """Stage-conditional forecasts."""

    def test_hand_computed(self, plain: Pipeline) -> None:
        """Stays in a that lasted a day, followed from their first day on.

        D1 won 5.5 days later, D3 lost 3.5 later, D4 open (4.5), D5 won 2.75
        later, D6 open (0.2); D2 left after half a day and is not in the sample.
          2.75 won:  n=4 (D6 censored at 0.2 first), F_w = 1/4, S = 3/4
          3.5  lost: n=3, F_l = 3/4 · 1/3 = 1/4,          S = 1/2
          4.5  censored
          5.5  won:  n=1, F_w = 1/4 + 1/2 = 3/4,          S = 0
        Median remaining: 3.5 days; restricted mean ∫₀^5.5 S
        = 2.75 + 0.75 · 0.75 + 2 · 0.5 = 4.3125 days.
        """
        log, as_of = outlook_log(plain)
        o = forecast.stage_outlook(
            log.events, plain, stage="a", age=DAY, horizon=3 * DAY, as_of=as_of
        )
        assert (o.stays, o.won, o.lost, o.open) == (5, 2, 1, 2)
        assert o.win_probability == pytest.approx(3 / 4)
        assert o.win_within == pytest.approx(1 / 4)
        assert o.median_remaining == timedelta(days=3.5)
        assert o.expected_remaining == timedelta(days=4.3125)
        assert o.horizon == 3 * DAY
        assert o.age == DAY
        assert repr(o) == (
            "StageOutlook(stage='a', age=1 day, 0:00:00, stays=5, won=2, lost=1, open=2, "
            "win_probability=0.75, horizon=3 days, 0:00:00, win_within=0.25, "
            "expected_remaining=4 days, 7:30:00, median_remaining=3 days, 12:00:00)"
        )

    def test_age_zero_takes_every_stay(self, plain: Pipeline) -> None:
        """At age 0 all six stays count, D2's quick loss included."""
        log, as_of = outlook_log(plain)
        o = forecast.stage_outlook(log.events, plain, stage="a", as_of=as_of)
        assert (o.stays, o.won, o.lost, o.open) == (6, 2, 2, 2)
        assert o.win_within is None
        assert o.horizon is None
        assert "win_within" not in repr(o)

    def test_no_stay_that_long(self, plain: Pipeline) -> None:
        """With no stay as old as ``age``, nothing is estimated."""
        log, as_of = outlook_log(plain)
        o = forecast.stage_outlook(log.events, plain, stage="a", age=30 * DAY, as_of=as_of)
        assert o.stays == 0
        assert o.win_probability is None
        assert o.expected_remaining is None
        assert o.median_remaining is None

    def test_conditional_forecast_hand_computed(self, plain: Pipeline) -> None:
        """D6 (1.2 days in a, 1000) gets 3/4; D4 (5.5 days, 100) is alone in its sample: 0."""
        log, as_of = outlook_log(plain)
        assert forecast.conditional_forecast(log.events, plain, as_of=as_of) == pytest.approx(750.0)
        # within 3 days: D6's sample wins 1/4 by then
        value = forecast.conditional_forecast(log.events, plain, as_of=as_of, horizon=3 * DAY)
        assert value == pytest.approx(250.0)

    def test_conditional_forecast_empty(self, plain: Pipeline) -> None:
        """No open deals, no forecast."""
        log = Log(plain)
        log.deal("X", [(0, "a"), (1, "won")], amount=5.0)
        assert forecast.conditional_forecast(log.events, plain) == 0.0
        assert forecast.conditional_forecast([], plain) == 0.0

    def test_empty_log(self, plain: Pipeline) -> None:
        """An outlook on an empty log has an empty sample."""
        assert forecast.stage_outlook([], plain, stage="b").stays == 0

    def test_closed_stage_refused(self, plain: Pipeline) -> None:
        """An outlook needs an open stage."""
        with pytest.raises(ValueError, match=r"open stage.*a, b, c"):
            forecast.stage_outlook([], plain, stage="won")

    def test_unknown_stage_refused(self, plain: Pipeline) -> None:
        """An unknown stage raises UnknownStageError."""
        with pytest.raises(UnknownStageError):
            forecast.stage_outlook([], plain, stage="nope")

    @pytest.mark.parametrize(("age", "horizon"), [(-DAY, None), (DAY, -DAY), (1, None)])
    def test_bad_durations_refused(self, plain: Pipeline, age: Any, horizon: Any) -> None:
        """A negative or non-timedelta age or horizon raises ValueError."""
        with pytest.raises(ValueError, match="timedelta"):
            forecast.stage_outlook([], plain, stage="a", age=age, horizon=horizon)

    def test_conditional_bad_horizon_refused(self, plain: Pipeline) -> None:
        """A negative horizon raises ValueError."""
        with pytest.raises(ValueError, match="horizon"):
            forecast.conditional_forecast([], plain, horizon=-DAY)


class TestBacktest:
    """Forecasts at past dates against what was won."""

    def test_hand_computed(self) -> None:
        """As of day 21.5 with a 10-day horizon: OPEN-B (2200) wins at day 25, OPEN-A loses."""
        log = chain_log()
        log.events.extend(
            [
                Event.create(deal_id="OPEN-B", seq=2, at=day(25), kind="stage_entered", stage="w"),
                Event.create(
                    deal_id="OPEN-A",
                    seq=2,
                    at=day(26),
                    kind="stage_entered",
                    stage="l",
                    data={"reason": "price"},
                ),
            ]
        )
        log.deal("NEW", [(22, "a"), (23, "w")], amount=50.0)
        # as_of day 32: the window [21.5, 31.5) is complete (the log itself ends at day 26)
        bt = forecast.backtest(
            log.events, log.pipeline, dates=[day(21.5)], horizon=10 * DAY, as_of=day(32)
        )
        (row,) = bt.rows
        assert (row.partial, row.window, row.notes) == (False, 10 * DAY, ())
        assert row.open_deals == 2
        assert row.open_amount == pytest.approx(3300.0)
        assert row.actual == pytest.approx(2200.0)
        assert row.won_new == pytest.approx(50.0)
        assert row.forecasts["weighted"] == pytest.approx(1320.0)
        assert row.forecasts["markov"] == pytest.approx(1800.0)
        assert set(bt.errors) == {"weighted", "markov", "conditional"}
        assert bt.errors["weighted"].bias == pytest.approx(1320.0 - 2200.0)
        assert bt.errors["weighted"].mae == pytest.approx(880.0)
        assert bt.errors["weighted"].mape == pytest.approx(880.0 / 2200.0)
        assert bt.errors["markov"].rmse == pytest.approx(400.0)
        maes = [e.mae for e in bt.errors.values()]
        assert maes == sorted(maes)  # type: ignore[type-var]
        assert {e.count for e in bt.errors.values()} == {1}
        # without as_of the log ends at day 26: a partial window of 4.5 days, not scored
        bt = forecast.backtest(log.events, log.pipeline, dates=[day(21.5)], horizon=10 * DAY)
        (row,) = bt.rows
        assert (row.partial, row.window, row.actual) == (True, 4.5 * DAY + US, 2200.0)
        assert "partial window: 4.5" in row.notes[0]
        assert all(e.count == 0 and e.mae is None for e in bt.errors.values())

    def test_summary_prints_each_method(self) -> None:
        """``str()`` is a table naming every method and date."""
        log = chain_log()
        bt = forecast.backtest(log.events, log.pipeline, dates=[day(10), day(5)], horizon=7 * DAY)
        text = str(bt)
        assert text == bt.summary()
        for word in ("weighted", "markov", "conditional", "MAE", "2026-01-10", "2026-01-15"):
            assert word in text
        assert [r.at for r in bt.rows] == [day(5), day(10)]
        assert repr(bt).startswith("Backtest(horizon=7 days, 0:00:00, dates=2, best=")
        assert "forecasts={weighted:" in repr(bt.rows[0])
        assert repr(next(iter(bt.errors.values()))).startswith("MethodError(method=")

    def test_deal_closed_at_the_date_is_in_no_forecast(self, plain: Pipeline) -> None:
        """A deal lost before the date and won again within the horizon is neither actual nor new."""
        log = Log(plain)
        log.deal("BACK", [(0, "a"), (1, "lost"), (3, "a"), (4, "won")], amount=70.0)
        log.deal("NEW", [(3, "a"), (4, "won")], amount=5.0)
        (row,) = forecast.backtest(log.events, plain, dates=[day(2)], horizon=5 * DAY).rows
        assert (row.open_deals, row.actual, row.won_new) == (0, 0.0, 5.0)

    def test_nothing_won_gives_no_mape(self, plain: Pipeline) -> None:
        """With no wins in any horizon the relative error is undefined."""
        log = Log(plain)
        log.deal("X", [(0, "a")], amount=10.0)
        bt = forecast.backtest(log.events, plain, dates=[day(0)], horizon=DAY)
        assert all(e.mape is None for e in bt.errors.values())
        assert "n/a" in bt.summary()

    @pytest.mark.parametrize(
        ("at", "horizon", "match"),
        [
            ([], DAY, "at least one"),
            ([T0], timedelta(0), "positive"),
            ([T0], 3, "positive"),
            (T0, DAY, "sequence"),
        ],
    )
    def test_bad_arguments_refused(self, at: Any, horizon: Any, match: str) -> None:
        """Empty dates, a single date or a non-positive horizon raise ValueError."""
        log = chain_log()
        with pytest.raises(ValueError, match=match):
            forecast.backtest(log.events, log.pipeline, dates=at, horizon=horizon)

    def test_naive_date_refused(self) -> None:
        """A naive date raises NaiveTimeError."""
        log = chain_log()
        with pytest.raises(NaiveTimeError):
            forecast.backtest(log.events, log.pipeline, dates=[datetime(2026, 1, 1)], horizon=DAY)


# ------------------------------------------------------------------ properties
logs = st.builds(
    lambda seed, deals, regress, reopen: simulate(
        presets.inbound_b2b(),
        deals=deals,
        start=T0,
        days=60,
        seed=seed,
        activities=False,
        regress_rate=regress,
        reopen_rate=reopen,
    ),
    seed=st.integers(min_value=0, max_value=10_000),
    deals=st.integers(min_value=1, max_value=40),
    regress=st.sampled_from([0.0, 0.12, 0.5]),
    reopen=st.sampled_from([0.0, 0.25, 0.8]),
)


@settings(deadline=None, max_examples=40)
@given(logs)
def test_markov_properties(events: list[Event]) -> None:
    """Probabilities lie in [0, 1], win + loss = 1, and every stage with moves is accounted for."""
    pipeline = presets.inbound_b2b()
    model = forecast.markov(events, pipeline)
    assert set(model.stages) | set(model.unresolved) == set(model.moves)
    assert not set(model.stages) & set(model.unresolved)
    for stage in model.stages:
        w, lo = model.win_probability[stage], model.loss_probability[stage]
        assert 0.0 <= w <= 1.0
        assert 0.0 <= lo <= 1.0
        assert w + lo == pytest.approx(1.0)
        assert model.expected_moves[stage] >= 1.0 - 1e-9
        assert sum(model.transition[stage].values()) == pytest.approx(1.0)


@settings(deadline=None, max_examples=40)
@given(logs)
def test_survival_properties(events: list[Event]) -> None:
    """KM is non-increasing in [0, 1]; F_won + F_lost = 1 − KM at every time."""
    pipeline = presets.inbound_b2b()
    s = forecast.time_to_close(events, pipeline)
    won = forecast.cumulative_incidence(events, pipeline, outcome="won")
    lost = forecast.cumulative_incidence(events, pipeline, outcome="lost")
    prev = 1.0
    for v in s.survival:
        assert 0.0 <= v <= prev + 1e-15
        prev = v
    assert won.times == s.times == lost.times
    for fw, fl, sv in zip(won.incidence, lost.incidence, s.survival, strict=True):
        assert fw + fl == pytest.approx(1.0 - sv, abs=1e-12)
    for lo, v, hi in zip(s.lower, s.survival, s.upper, strict=True):
        assert (lo, hi) == (0.0, 0.0) or lo - 1e-12 <= v <= hi + 1e-12


@settings(deadline=None, max_examples=30)
@given(logs, st.sampled_from([None, 7, 30]))
def test_forecasts_bounded_by_open_amount(events: list[Event], horizon_days: int | None) -> None:
    """Every forecast lies between 0 and the open deals' total amount."""
    pipeline = presets.inbound_b2b()
    horizon = None if horizon_days is None else timedelta(days=horizon_days)
    deals = pipeline.replay(events)
    open_amount = sum(d.attributes.get("amount", 0.0) for d in deals.values() if d.is_open)
    for value in (
        forecast.weighted(events, pipeline),
        forecast.markov_forecast(events, pipeline),
        forecast.conditional_forecast(events, pipeline, horizon=horizon),
    ):
        assert -1e-6 <= value <= open_amount + 1e-6


@settings(deadline=None, max_examples=25)
@given(logs, st.sampled_from([None, 0, 3, 10]))
def test_conditional_matches_outlooks_at_whole_days(
    events: list[Event], horizon_days: int | None
) -> None:
    """The fast forecast agrees with per-deal outlooks when times are whole days."""
    horizon = None if horizon_days is None else timedelta(days=horizon_days)
    pipeline = presets.inbound_b2b()
    # round every timestamp down to midnight so that day bins lose nothing
    rounded = [
        Event.create(
            deal_id=e.deal_id,
            seq=e.seq,
            at=e.at.replace(hour=0, minute=0, second=0, microsecond=0),
            kind=e.kind,
            stage=e.stage,
            name=e.name,
            data=e.data,
        )
        for e in events
    ]
    as_of = max(e.at for e in rounded)
    deals = pipeline.replay(rounded)
    expected = 0.0
    for d in deals.values():
        if not d.is_open:
            continue
        entered = max(e.at for e in d.events if e.kind == "stage_entered")
        o = forecast.stage_outlook(
            rounded, pipeline, stage=d.stage, age=as_of - entered, horizon=horizon, as_of=as_of
        )
        p = o.win_probability if horizon is None else o.win_within
        assert (p is None) == (o.won + o.lost == 0)  # no closing seen: no estimate
        expected += d.attributes["amount"] * (p or 0.0)  # the sum's documented fallback: 0
    got = forecast.conditional_forecast(rounded, pipeline, as_of=as_of, horizon=horizon)
    assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-6)


def test_public_surface() -> None:
    """``forecast.__all__`` is sorted, names the contract's functions, and each name is documented."""
    names = forecast.__all__
    assert list(names) == sorted(set(names))
    assert {"weighted", "markov", "MarkovModel", "time_to_close", "Survival"} <= set(names)
    for name in names:
        obj = getattr(forecast, name)
        assert obj.__doc__, name
        assert obj.__module__ == "salesstages.forecast", name


_FLOAT_AMOUNTS = st.floats(0.01, 1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    log=event_logs(
        presets.inbound_b2b(),
        max_deals=12,
        max_steps=6,
        attributes=st.fixed_dictionaries({"amount": _FLOAT_AMOUNTS}),
    ),
    seed=st.integers(0, 2**32 - 1),
    horizon=st.sampled_from([None, timedelta(days=3), timedelta(days=30)]),
)
def test_forecasts_do_not_depend_on_the_order_of_deals(
    log: list[Event], seed: int, horizon: timedelta | None
) -> None:
    """Shuffling the log (deals in another order, as a database may return its rows)
    gives bit-identical forecasts: every sum over deals is exactly rounded."""
    import random

    p = presets.inbound_b2b()
    shuffled = list(log)
    random.Random(seed).shuffle(shuffled)
    for f in (forecast.markov_forecast, forecast.weighted, forecast.conditional_forecast):
        assert f(shuffled, p, horizon=horizon) == f(log, p, horizon=horizon), f.__name__
    assert forecast.markov(shuffled, p) == forecast.markov(log, p)
