"""Fold once: ``metrics.histories`` is accepted in place of events everywhere (§10),
and the report folds once per ``as_of``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesstages import DataError, Event, SalesStagesError, forecast, metrics
from salesstages._simulate import simulate
from salesstages.forecast._backtest import _backtest_row
from salesstages.metrics import _history
from salesstages.presets import inbound_b2b
from salesstages.report import build_report
from salesstages.testing import events as event_logs
from test_metrics import EVENTS, P, day

#: Every function of §10's list, with the extra arguments it needs.
CALLS: dict[str, Callable[[Any, Any], Any]] = {
    "visits": lambda ev, p: metrics.visits(ev, p),
    "stage_durations": lambda ev, p: metrics.stage_durations(ev, p, include_open=True),
    "stage_durations per deal": lambda ev, p: metrics.stage_durations(ev, p, per="deal"),
    "stage_durations by": lambda ev, p: metrics.stage_durations(ev, p, by="region"),
    "funnel": lambda ev, p: metrics.funnel(ev, p),
    "funnel touched by": lambda ev, p: metrics.funnel(ev, p, skips="touched", by="region"),
    "conversion": lambda ev, p: metrics.conversion(ev, p, from_stage="lead", to_stage="proposal"),
    "win_rate": lambda ev, p: metrics.win_rate(ev, p),
    "win_rate by value": lambda ev, p: metrics.win_rate(ev, p, by_value=True, by="region"),
    "sales_cycle": lambda ev, p: metrics.sales_cycle(ev, p),
    "sales_cycle lost": lambda ev, p: metrics.sales_cycle(ev, p, outcome="lost"),
    "stalled": lambda ev, p: metrics.stalled(ev, p),
    "lost_reasons": lambda ev, p: metrics.lost_reasons(ev, p),
    "velocity": lambda ev, p: metrics.velocity(ev, p),
    "win_loss": lambda ev, p: metrics.win_loss(ev, p, by="region", at="closing"),
    "weighted": lambda ev, p: forecast.weighted(ev, p),
    "markov": lambda ev, p: forecast.markov(ev, p).win_probability,
    "markov_forecast": lambda ev, p: forecast.markov_forecast(ev, p),
    "time_to_close": lambda ev, p: forecast.time_to_close(ev, p).survival,
    "cumulative_incidence": lambda ev, p: forecast.cumulative_incidence(ev, p).incidence,
    "conditional_forecast": lambda ev, p: forecast.conditional_forecast(ev, p),
}


def _snapshot(ev: Any, p: Any) -> Any:
    hist = ev if isinstance(ev, metrics.Histories) else metrics.histories(ev, p)
    return metrics.snapshot(ev, p, as_of=hist.as_of)


CALLS["snapshot"] = _snapshot


class TestHistoriesInPlaceOfEvents:
    """Every §10 function gives the same answer from a ``Histories`` as from events."""

    @pytest.mark.parametrize("name", sorted(CALLS))
    def test_same_result_as_events(self, name: str) -> None:
        """The hand-made log: folded first or not, the figures are equal."""
        call = CALLS[name]
        assert call(metrics.histories(EVENTS, P), P) == call(EVENTS, P)

    @pytest.mark.parametrize("name", sorted(CALLS))
    def test_does_not_fold_again(self, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Given a ``Histories``, no function folds the log again."""
        hist = metrics.histories(EVENTS, P)
        monkeypatch.setattr(_history, "_fold", _refuse)
        CALLS[name](hist, P)

    @settings(max_examples=25)
    @given(log=event_logs(inbound_b2b()), cut=st.integers(0, 40))
    def test_any_log_any_cutoff(self, log: list[Event], cut: int) -> None:
        """Drawn logs, folded at a drawn cut-off: the same figures as the events at it."""
        p = inbound_b2b()
        if not log:
            return
        start = min(e.at for e in log)
        as_of = start + timedelta(days=cut)
        hist = metrics.histories(log, p, as_of=as_of)
        assert hist.as_of == as_of
        assert metrics.funnel(hist, p) == metrics.funnel(log, p, as_of=as_of)
        assert metrics.visits(hist, p, as_of=as_of) == metrics.visits(log, p, as_of=as_of)
        assert forecast.weighted(hist, p) == forecast.weighted(log, p, as_of=as_of)


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the log was folded again")


class TestHistoriesErrors:
    """A ``Histories`` that does not fit the call is refused, naming both sides."""

    def test_other_as_of(self) -> None:
        """An ``as_of`` other than the fold's is a ``DataError`` naming both moments."""
        hist = metrics.histories(EVENTS, P, as_of=day(5))
        with pytest.raises(
            DataError,
            match=r"as_of=2026-01-09T09:00:00\+00:00 differs.*\(2026-01-10T09:00:00\+00:00\)",
        ) as info:
            metrics.funnel(hist, P, as_of=day(4))
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, SalesStagesError)

    def test_same_as_of_is_fine(self) -> None:
        """Passing the fold's own ``as_of`` again is accepted."""
        hist = metrics.histories(EVENTS, P, as_of=day(5))
        assert metrics.win_rate(hist, P, as_of=day(5)) == metrics.win_rate(EVENTS, P, as_of=day(5))

    def test_empty_log_with_as_of(self) -> None:
        """An empty log folds with no cut-off; asking for one names that."""
        hist = metrics.histories([], P)
        with pytest.raises(DataError, match="no cut-off"):
            metrics.win_rate(hist, P, as_of=day(1))

    def test_other_pipeline(self) -> None:
        """Histories folded for another pipeline are refused."""
        hist = metrics.histories(EVENTS, P)
        with pytest.raises(DataError, match="folded for pipeline"):
            metrics.funnel(hist, inbound_b2b())

    def test_backtest_date_after_the_fold(self) -> None:
        """``backtest`` on a ``Histories`` refuses a date after its ``as_of``."""
        hist = metrics.histories(EVENTS, P, as_of=day(5))
        with pytest.raises(DataError, match=r"backtest date 2026-01-12T09:00:00\+00:00 is after"):
            forecast.backtest(hist, P, dates=[day(2), day(7)], horizon=timedelta(days=3))


class TestReportFoldsOnce:
    """``build_report`` folds once per distinct ``as_of`` and nothing more."""

    def test_one_fold(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """One fold for the report; the backtest dates are rewound from it."""
        p = inbound_b2b()
        log = simulate(p, deals=300, start=day(0), days=200, seed=3)
        cutoffs: list[object] = []
        real = _history._fold

        def counting(events: Any, outcomes: Any, cutoff: Any, check: bool) -> Any:
            if check:  # the grouped fast path; a fallback would call again with False
                cutoffs.append(cutoff)
            return real(events, outcomes, cutoff, check)

        monkeypatch.setattr(_history, "_fold", counting)
        report = build_report(log, p)
        dates = report.section("backtest").column("at")
        # one horizon (30 days) apart, from 30 days in to 30 days before the end: 5 dates
        assert len(dates) == 5
        assert cutoffs == [None]

    def test_backtest_unchanged(self) -> None:
        """The report's backtest (actuals from its own fold) equals ``forecast.backtest``."""
        p = inbound_b2b()
        log = simulate(p, deals=300, start=day(0), days=200, seed=4)
        report = build_report(log, p, horizon=timedelta(days=20))
        rows = report.section("backtest").records()
        from datetime import datetime

        dates = [datetime.fromisoformat(str(r["at"])) for r in rows]
        bt = forecast.backtest(log, p, dates=dates, horizon=timedelta(days=20))
        assert [r["actual"] for r in rows] == [r.actual for r in bt.rows]
        assert [r["won_new"] for r in rows] == [r.won_new for r in bt.rows]
        assert [{m: r[m] for m in f.forecasts} for r, f in zip(rows, bt.rows, strict=True)] == [
            dict(f.forecasts) for f in bt.rows
        ]

    def test_counts_from_the_fold(self) -> None:
        """Counts and period come from the fold: 2 deals, 7 events (hand-counted)."""
        deal = P.open_deal("A", at=day(0), amount=10, region="eu")  # opened + lead: 2
        deal.move("qualified", at=day(1))  # 3
        deal.win(at=day(2))  # 4
        other = P.open_deal("B", at=day(1), amount=5, region="us")  # 6
        other.move("qualified", at=day(3))  # 7
        report = build_report([*deal.events, *other.events], P)
        (counts,) = report.section("counts").records()
        assert counts == {
            "events": 7,
            "deals": 2,
            "open": 1,
            "won": 1,
            "lost": 0,
            "first_event": day(0).isoformat(),
            "last_event": day(3).isoformat(),
        }
        ages = {
            r["stage"]: r["open_median_age_days"] for r in report.section("time-in-stage").records()
        }
        assert ages["qualified"] == 0.0  # B entered qualified at d3, the as_of


class TestRewind:
    """A fold rewound to an earlier moment equals the fold at that moment, in what
    it promises to keep exact (``metrics._history.rewind``)."""

    @settings(max_examples=60)
    @given(log=event_logs(inbound_b2b()), cut=st.integers(0, 30), hours=st.integers(0, 23))
    def test_rewind_matches_a_fold(self, log: list[Event], cut: int, hours: int) -> None:
        """Entries, sub-states, outcome, closing and amount agree, deal by deal."""
        p = inbound_b2b()
        if not log:
            return
        d = min(e.at for e in log) + timedelta(days=cut, hours=hours)
        folded = metrics.histories(log, p, as_of=d).deals
        rewound = _history.rewind(metrics.histories(log, p), d).deals
        assert list(rewound) == list(folded)
        for k, h in folded.items():
            r = rewound[k]
            assert (r.entries, r.substates) == (h.entries, h.substates)
            assert (r.stage, r.substate, r.outcome) == (h.stage, h.substate, h.outcome)
            assert (r.closed_at, r.lost_reason) == (h.closed_at, h.lost_reason)
            assert r.closed_amount == h.closed_amount
            assert r.attributes.get("amount") == h.attributes.get("amount")

    def test_amount_changes(self) -> None:
        """A deal whose amount went 100 → 150 (d2) → 90 (d4): 150 as of d3, 90 at d4."""
        deal = P.open_deal("A", at=day(0), amount=100)
        deal.update(at=day(2), amount=150)
        deal.move("qualified", at=day(3))
        deal.update(at=day(4), amount=90)
        deal.win(at=day(5))
        full = metrics.histories(deal.events, P)
        assert full.deals["A"].amounts == [(day(0), 100), (day(2), 150), (day(4), 90)]
        at3 = _history.rewind(full, day(3)).deals["A"]
        assert (at3.attributes["amount"], at3.stage, at3.outcome) == (150, "qualified", "open")
        at4 = _history.rewind(full, day(4)).deals["A"]
        assert at4.attributes["amount"] == 90
        assert _history.rewind(full, day(5)).deals["A"].closed_amount == 90

    @settings(max_examples=20)
    @given(seed=st.integers(0, 10_000))
    def test_backtest_same_as_folding_each_date(self, seed: int) -> None:
        """Simulated logs: the rewound backtest equals one fold per date (the old way)."""
        p = inbound_b2b()
        log = simulate(p, deals=60, start=day(0), days=120, seed=seed)
        dates = [day(30), day(55), day(80)]
        horizon = timedelta(days=20)
        bt = forecast.backtest(log, p, dates=dates, horizon=horizon)
        final = metrics.histories(log, p, as_of=dates[-1] + horizon)
        for row, d in zip(bt.rows, dates, strict=True):
            old = _backtest_row(metrics.histories(log, p, as_of=d), final, p, d, horizon)
            assert row == old
