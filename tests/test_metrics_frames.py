"""DataFrame conversion: every result type to pandas and polars, and the missing-extra error."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from salesstages import forecast, metrics
from test_metrics import EVENTS, P, day

D = timedelta(days=1)
RESULTS: dict[str, Callable[[], Any]] = {
    "visits": lambda: metrics.visits(EVENTS, P),
    "substate_visits": lambda: metrics.substate_visits(EVENTS, P),
    "stage_durations": lambda: metrics.stage_durations(EVENTS, P),
    "stage_durations_by": lambda: metrics.stage_durations(EVENTS, P, by="region"),
    "funnel": lambda: metrics.funnel(EVENTS, P),
    "funnel_by": lambda: metrics.funnel(EVENTS, P, by="region"),
    "conversion": lambda: metrics.conversion(EVENTS, P, from_stage="lead", to_stage="won"),
    "win_rate_by": lambda: metrics.win_rate(EVENTS, P, by="region"),
    "sales_cycle": lambda: metrics.sales_cycle(EVENTS, P),
    "snapshot": lambda: metrics.snapshot(EVENTS, P, as_of=day(6)),
    "stalled": lambda: metrics.stalled(EVENTS, P),
    "lost_reasons": lambda: metrics.lost_reasons(EVENTS, P, as_of=day(4)),
    "velocity_by": lambda: metrics.velocity(EVENTS, P, by="region"),
    "flows": lambda: metrics.skips_and_regressions(EVENTS, P),
    "win_loss": lambda: metrics.win_loss(EVENTS, P, by="region", at="closing"),
    "time_to_close": lambda: forecast.time_to_close(EVENTS, P),
    "cumulative_incidence": lambda: forecast.cumulative_incidence(EVENTS, P),
    "markov": lambda: forecast.markov(EVENTS, P),
    "backtest": lambda: forecast.backtest(EVENTS, P, dates=[day(4), day(6)], horizon=3 * D),
    "outlook": lambda: forecast.stage_outlook(EVENTS, P, stage="lead"),
}
ROWS = {
    "visits": 18,
    "substate_visits": 3,
    "stage_durations": 3,
    "stage_durations_by": 9,
    "funnel": 3,
    "funnel_by": 9,
    "conversion": 1,
    "win_rate_by": 3,
    "sales_cycle": 1,
    "snapshot": 3,
    "stalled": 1,
    "lost_reasons": 2,
    "velocity_by": 3,
    "flows": 3,
    "win_loss": 2,  # eu and us (G, without a region, is still open)
    "time_to_close": 4,  # closings at 3, 4, 10 and 11 days
    "cumulative_incidence": 4,
    "markov": 3,  # lead, qualified, proposal
    "backtest": 2,  # two dates
    "outlook": 1,
}


class TestRecords:
    """records(): the flat rows both converters are built on."""

    def test_dict_keys_become_columns(self) -> None:
        """A by= result of stage dicts gives two key columns, named as asked."""
        rows = metrics.records(RESULTS["stage_durations_by"](), names=["region", "stage"])
        assert rows[0]["region"] == "eu"
        assert rows[0]["stage"] == "lead"
        assert rows[0]["mean"] == 5 / 3 * timedelta(days=1)

    def test_default_names(self) -> None:
        """A dict of stages names its column 'stage', a by= level the attribute; the lost
        reasons get their own column names."""
        assert set(metrics.records(RESULTS["snapshot"]())[0]) == {"stage", "count", "amount"}
        assert [r["stage"] for r in metrics.records(RESULTS["stage_durations"]())] == [
            "lead",
            "qualified",
            "proposal",
        ]
        by = metrics.records(RESULTS["stage_durations_by"]())
        assert list(by[0])[:3] == ["region", "stage", "count"]
        assert (by[0]["region"], by[0]["stage"]) == ("eu", "lead")
        assert metrics.records(RESULTS["lost_reasons"]())[0] == {
            "reason": "price",
            "deals": 1,
            "amount": 50.0,
        }
        assert metrics.records(RESULTS["velocity_by"]())[0] == {"region": "eu", "value": 0.0}

    def test_bad_input(self) -> None:
        """Something that is no metric result, or names of the wrong length, is refused."""
        with pytest.raises(TypeError, match="cannot turn str into table rows"):
            metrics.records(["a", "b"])
        with pytest.raises(TypeError, match="cannot turn tuple into table rows"):
            metrics.records([("price", 1, 50.0)])
        with pytest.raises(ValueError, match=r"one column name per dict level \(2\)"):
            metrics.records(RESULTS["stage_durations_by"](), names=["stage"])
        with pytest.raises(ValueError, match="names only applies to a dict result"):
            metrics.records(RESULTS["visits"](), names=["x"])


class TestTidy:
    """A record that holds a series gives one row per item, not one row of tuples."""

    def test_survival_curve_one_row_per_time(self) -> None:
        """time_to_close gives one row per closing time with its survival and interval."""
        rows = metrics.records(RESULTS["time_to_close"]())
        assert [r["times"] for r in rows] == [3 * D, 4 * D, 10 * D, 11 * D]
        # Kaplan–Meier: at risk 6, 5, 3, 2 (G is censored at 1 day, F at 9, D at 11);
        # S = 5/6, 5/6·4/5 = 2/3, 2/3·2/3 = 4/9, 4/9·1/2 = 2/9.
        assert [r["survival"] for r in rows] == pytest.approx([5 / 6, 2 / 3, 4 / 9, 2 / 9])
        assert [r["at_risk"] for r in rows] == [6, 5, 3, 2]
        assert set(rows[0]) == {"times", "survival", "lower", "upper", "at_risk", "closed"}

    def test_survival_curve_to_pandas(self) -> None:
        """to_pandas(time_to_close(...)) is the curve: a duration column and float columns."""
        pd = pytest.importorskip("pandas")
        df = metrics.to_pandas(RESULTS["time_to_close"]())
        assert pd.api.types.is_timedelta64_dtype(df["times"])
        assert df["survival"].iloc[-1] == pytest.approx(2 / 9)

    def test_incidence_keeps_its_outcome(self) -> None:
        """cumulative_incidence repeats its outcome on every row, so won and lost stack."""
        rows = metrics.records(RESULTS["cumulative_incidence"]())
        assert {r["outcome"] for r in rows} == {"won"}
        assert len(rows) == 4

    def test_markov_one_row_per_stage(self) -> None:
        """A Markov model gives each open stage's win and loss probability on one row."""
        rows = metrics.records(RESULTS["markov"]())
        assert [r["stage"] for r in rows] == ["lead", "qualified", "proposal"]
        for r in rows:
            assert r["win_probability"] + r["loss_probability"] == pytest.approx(1.0)

    def test_backtest_one_row_per_date(self) -> None:
        """A backtest gives one row per date, each method's forecast in its own column."""
        rows = metrics.records(RESULTS["backtest"]())
        assert [r["at"] for r in rows] == [day(4), day(6)]
        assert {"forecasts_weighted", "forecasts_markov", "forecasts_conditional"} <= set(rows[0])

    def test_backtest_errors_keyed_by_method(self) -> None:
        """A backtest's errors dict names its key column 'method'."""
        rows = metrics.records(RESULTS["backtest"]().errors)
        assert {r["method"] for r in rows} == {"weighted", "markov", "conditional"}

    def test_win_loss_one_row_per_group(self) -> None:
        """A win/loss analysis gives one row per group, its key in a column named after the
        attribute it groups by."""
        rows = metrics.records(RESULTS["win_loss"]())
        assert {r["region"] for r in rows} == {"eu", "us"}
        assert "key" not in rows[0]


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_to_pandas(name: str) -> None:
    """Every result converts to a pandas DataFrame with one row per record."""
    pytest.importorskip("pandas")
    df = metrics.to_pandas(RESULTS[name]())
    assert len(df) == ROWS[name]


def test_pandas_dtypes() -> None:
    """Timestamps become UTC datetimes and durations timedeltas."""
    pd = pytest.importorskip("pandas")
    df = metrics.to_pandas(metrics.visits(EVENTS, P))
    assert str(df["entered_at"].dtype) == "datetime64[ns, UTC]"
    assert pd.api.types.is_timedelta64_dtype(df["duration"])
    assert df["duration"].sum() == pd.Timedelta(days=47)  # A10 B4 C11 D9 E3 F9 G1


@pytest.mark.parametrize("name", sorted(RESULTS))
def test_to_polars(name: str) -> None:
    """Every result converts to a polars DataFrame with one row per record."""
    pytest.importorskip("polars")
    df = metrics.to_polars(RESULTS[name]())
    assert df.height == ROWS[name]


def test_polars_dtypes() -> None:
    """Timestamps become UTC datetimes and durations durations."""
    pl = pytest.importorskip("polars")
    df = metrics.to_polars(metrics.visits(EVENTS, P))
    assert df.schema["entered_at"] == pl.Datetime("us", "UTC")
    assert df.schema["duration"] == pl.Duration("us")


def test_empty_results() -> None:
    """An empty result gives an empty frame."""
    pytest.importorskip("pandas")
    assert metrics.to_pandas([]).empty


@pytest.mark.parametrize(("extra", "convert"), [("pandas", "to_pandas"), ("polars", "to_polars")])
def test_missing_extra(monkeypatch: pytest.MonkeyPatch, extra: str, convert: str) -> None:
    """Without the extra installed, the error names the pip command."""
    monkeypatch.setitem(sys.modules, extra, None)
    with pytest.raises(ImportError, match=rf"pip install 'salesstages\[{extra}\]'"):
        getattr(metrics, convert)(metrics.visits(EVENTS, P))


class TestKeyNames:
    """Dict results carry the name of their keys (metrics.Keyed), and records() uses it."""

    def test_sales_cycle_by_is_keyed_by_the_attribute(self) -> None:
        """sales_cycle(..., by=) maps attribute values, not stages: its column is the
        attribute's name."""
        got = metrics.sales_cycle(EVENTS, P, by="region")
        assert isinstance(got, metrics.Keyed)
        assert got.key_name == "region"
        rows = metrics.records(got)
        assert {r["region"] for r in rows} == set(got)
        assert "stage" not in rows[0]

    def test_substate_durations_is_keyed_by_substate(self) -> None:
        """substate_durations names its column 'substate' (by=: the attribute, then
        'substate')."""
        from test_substates import _funnel_log, proposal_pipeline

        got = metrics.substate_durations(_funnel_log(), proposal_pipeline(), stage="proposal")
        assert got.key_name == "substate"
        rows = metrics.records(got)
        assert [r["substate"] for r in rows] == list(
            proposal_pipeline().stage("proposal").substates
        )
        assert "stage" not in rows[0]

    def test_stage_results_are_keyed_by_stage(self) -> None:
        """stage_durations and snapshot name their column 'stage'; by= adds the attribute in
        front."""
        assert metrics.stage_durations(EVENTS, P).key_name == "stage"
        assert metrics.snapshot(EVENTS, P, as_of=day(6)).key_name == "stage"
        by = metrics.records(metrics.stage_durations(EVENTS, P, by="region"))
        assert list(by[0])[:2] == ["region", "stage"]

    def test_keyed_is_a_plain_dict(self) -> None:
        """A Keyed result equals the dict of its items, prints like one, pickles and copies
        with its key name."""
        import pickle

        got = metrics.stage_durations(EVENTS, P)
        assert got == dict(got)
        assert repr(got) == repr(dict(got))
        back = pickle.loads(pickle.dumps(got))
        assert (back, back.key_name, type(back)) == (got, "stage", metrics.Keyed)
        assert got.copy().key_name == "stage"
        assert metrics.Keyed("key", [("a", 1)]) == {"a": 1}

    def test_a_plain_dict_of_stats_is_not_guessed(self) -> None:
        """A dict that says nothing of its keys gets 'key', whatever its values are."""
        rows = metrics.records(dict(metrics.stage_durations(EVENTS, P)))
        assert "key" in rows[0]
        assert "stage" not in rows[0]

    def test_ibis_engine_returns_the_same_type(self) -> None:
        """On a DuckDB table the results are Keyed with the same key names."""
        pytest.importorskip("ibis")
        from _engines import close_all, duckdb_loader

        try:
            table = duckdb_loader()(EVENTS)
            for call in (
                lambda ev: metrics.stage_durations(ev, P),
                lambda ev: metrics.stage_durations(ev, P, by="region"),
                lambda ev: metrics.sales_cycle(ev, P, by="region"),
                lambda ev: metrics.snapshot(ev, P, as_of=day(6)),
            ):
                want, got = call(EVENTS), call(table)
                assert type(got) is type(want) is metrics.Keyed
                assert got.key_name == want.key_name
                assert metrics.records(got) == metrics.records(want)
        finally:
            close_all()
