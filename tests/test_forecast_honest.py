"""Honest forecasts: every backtest method forecasts the amount won within the horizon,
from what was known at the date, and "no data" is never a 0 % chance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import day
from salesstages import Event, Pipeline, Stage, forecast, metrics, presets
from salesstages._simulate import simulate
from salesstages.metrics._history import rewind

DAY = timedelta(days=1)


def _pipeline() -> Pipeline:
    return Pipeline(
        "abwl",
        [
            Stage("a", probability=0.2),
            Stage("b", probability=0.5),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
    )


def _deal(deal_id: str, path: list[tuple[float, str]], **data: Any) -> list[Event]:
    """``deal_id`` opened in ``path[0]``'s stage, then each later stage at its day."""
    evs = [Event.create(deal_id=deal_id, seq=0, at=day(path[0][0]), kind="opened", data=data)]
    for t, stage in path:
        evs.append(
            Event.create(
                deal_id=deal_id,
                seq=len(evs),
                at=day(t),
                kind="stage_entered",
                stage=stage,
                data={"reason": "price"} if stage == "l" else None,
            )
        )
    return evs


def _same_quantity_log() -> list[Event]:
    """H1 a → w after 20 days, H2 a → w after 5, H3 a → l after 30; X opens in a
    on day 50 at 1,000, is raised to 4,000 on day 52 and won on day 55."""
    x = _deal("X", [(50, "a")], amount=1000.0)
    x.append(Event.create(deal_id="X", seq=2, at=day(52), kind="updated", data={"amount": 4000.0}))
    x.append(Event.create(deal_id="X", seq=3, at=day(55), kind="stage_entered", stage="w"))
    return [
        *_deal("H1", [(0, "a"), (20, "w")], amount=10.0),
        *_deal("H2", [(0, "a"), (5, "w")], amount=10.0),
        *_deal("H3", [(0, "a"), (30, "l")], amount=10.0),
        *x,
    ]


class TestSameQuantity:
    """Contract §14: every method compared by the backtest forecasts the amount won
    within the horizon of each date."""

    def test_hand_computed(self) -> None:
        """As of day 50, horizon 10 days, X (age 0 in a, 1,000 then) is the only open deal.

        Stays in a from age 0: H2 closes (won) after 5 days, H1 after 20, H3
        after 30, X censored at 0. Day bins 0..10: at bin 0 n = 4, X leaves
        (n = 3); at bin 5 H2 wins: P(win within 10) = P(close within 10) = 1/3.
        Markov: a → w twice, a → l once: P(win | a) = 2/3. Configured: 0.2.
          weighted    = 1000 × 0.2 × 1/3 =  66.67  (old: eventual, 1000 × 0.2 = 200)
          markov      = 1000 × 2/3 × 1/3 = 222.22  (old: eventual, 1000 × 2/3 = 666.67)
          conditional = 1000 × 1/3       = 333.33
        The actual is X's amount at closing, 4,000; the forecasts use 1,000, the
        amount known on day 50 (the raise on day 52 is later).
        """
        p = _pipeline()
        bt = forecast.backtest(_same_quantity_log(), p, dates=[day(50)], horizon=10 * DAY)
        (row,) = bt.rows
        assert row.actual == pytest.approx(4000.0)
        assert row.open_amount == pytest.approx(1000.0)
        assert row.forecasts["weighted"] == pytest.approx(1000 * 0.2 / 3)
        assert row.forecasts["markov"] == pytest.approx(1000 * (2 / 3) / 3)
        assert row.forecasts["conditional"] == pytest.approx(1000 / 3)
        assert "amount won within 10.0 days" in bt.summary()

    def test_horizon_forms_by_hand(self) -> None:
        """``weighted`` and ``markov_forecast`` with ``horizon`` give the backtest's figures."""
        p = _pipeline()
        log = _same_quantity_log()
        kw: dict[str, Any] = {"as_of": day(50), "horizon": 10 * DAY}
        assert forecast.weighted(log, p, **kw) == pytest.approx(1000 * 0.2 / 3)
        assert forecast.markov_forecast(log, p, **kw) == pytest.approx(1000 * (2 / 3) / 3)
        # without a horizon: eventual wins, as before
        assert forecast.weighted(log, p, as_of=day(50)) == pytest.approx(200.0)
        assert forecast.markov_forecast(log, p, as_of=day(50)) == pytest.approx(2000 / 3)

    @pytest.mark.parametrize("fn", [forecast.weighted, forecast.markov_forecast])
    def test_bad_horizon_refused(self, fn: Any) -> None:
        """A negative horizon raises ValueError."""
        with pytest.raises(ValueError, match="horizon must be a non-negative timedelta"):
            fn(_same_quantity_log(), _pipeline(), horizon=-DAY)

    @settings(deadline=None, max_examples=8)
    @given(st.integers(0, 10_000), st.integers(5, 40))
    def test_row_is_each_methods_horizon_form(self, seed: int, h: int) -> None:
        """Each backtest figure equals the method's horizon form on the log cut at the date."""
        p = presets.inbound_b2b()
        log = simulate(p, deals=40, start=day(0), days=120, seed=seed, activities=False)
        horizon = h * DAY
        dates = [day(40), day(70)]
        bt = forecast.backtest(log, p, dates=dates, horizon=horizon)
        for row, d in zip(bt.rows, dates, strict=True):
            cut = [e for e in log if e.at <= d]
            kw: dict[str, Any] = {"as_of": d, "horizon": horizon}
            forms = {
                "weighted": forecast.weighted(cut, p, **kw),
                "markov": forecast.markov_forecast(cut, p, **kw),
                "conditional": forecast.conditional_forecast(cut, p, **kw),
            }
            for method, form in forms.items():
                if row.forecasts[method] is None:
                    # no stay as old as an open deal was seen to close: the horizon
                    # form answers 0, the backtest says "no estimate" and scores nothing
                    assert form == 0.0
                    assert any("no estimate" in note for note in row.notes)
                else:
                    assert row.forecasts[method] == pytest.approx(form)


class TestNoDataIsNotZero:
    """Where nothing was seen, forecasts say so instead of answering 0."""

    def test_outlook_older_than_every_stay(self) -> None:
        """X has sat 40 days in a; the longest closed stay lasted 30: no estimate, not 0 %."""
        p = _pipeline()
        log = [
            *_deal("H1", [(0, "a"), (20, "w")]),
            *_deal("H3", [(0, "a"), (30, "l")]),
            *_deal("X", [(10, "a")], amount=24_000.0),
        ]
        o = forecast.stage_outlook(log, p, stage="a", age=40 * DAY, horizon=DAY, as_of=day(50))
        # the sample is X alone (still open): nothing closed
        assert (o.stays, o.won, o.lost, o.open) == (1, 0, 0, 1)
        assert o.win_probability is None
        assert o.win_within is None

    def test_markov_support_per_stage(self) -> None:
        """``support`` counts the moves out of each open stage; b, never left, has no estimate.

        Out of a: a → w three times (H1, H2, X), a → l once (H3), a → b once (Y): 5.
        """
        p = _pipeline()
        log = [*_same_quantity_log(), *_deal("Y", [(1, "a"), (2, "b")])]
        model = forecast.markov(log, p)
        assert dict(model.support) == {"a": 5, "b": 0}
        assert model.no_estimate == ("b",)
        # b has no estimate, so a's move into b is left out: 3 wins of 4
        assert model.win_probability["a"] == pytest.approx(3 / 4)


def test_rewound_amount_is_the_amount_then() -> None:
    """The view a backtest date sees holds X's amount as of then (1,000), not its later 4,000."""
    p = _pipeline()
    final = metrics.histories(_same_quantity_log(), p)
    then = rewind(final, day(51))
    assert then.deals["X"].attributes["amount"] == 1000.0
    assert final.deals["X"].closed_amount == 4000.0
