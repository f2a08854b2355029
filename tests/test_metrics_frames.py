"""DataFrame conversion: every result type to pandas and polars, and the missing-extra error."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from salesstages import metrics
from test_metrics import EVENTS, P, day

RESULTS: dict[str, Callable[[], Any]] = {
    "visits": lambda: metrics.visits(EVENTS, P),
    "substate_visits": lambda: metrics.substate_visits(EVENTS, P),
    "stage_durations": lambda: metrics.stage_durations(EVENTS, P),
    "stage_durations_by": lambda: metrics.stage_durations(EVENTS, P, by="region"),
    "funnel": lambda: metrics.funnel(EVENTS, P),
    "funnel_by": lambda: metrics.funnel(EVENTS, P, by="region"),
    "conversion": lambda: metrics.conversion(EVENTS, P, "lead", "won"),
    "win_rate_by": lambda: metrics.win_rate(EVENTS, P, by="region"),
    "sales_cycle": lambda: metrics.sales_cycle(EVENTS, P),
    "snapshot": lambda: metrics.snapshot(EVENTS, P, day(6)),
    "stalled": lambda: metrics.stalled(EVENTS, P),
    "lost_reasons": lambda: metrics.lost_reasons(EVENTS, P, as_of=day(4)),
    "velocity_by": lambda: metrics.velocity(EVENTS, P, by="region"),
    "flows": lambda: metrics.skips_and_regressions(EVENTS, P),
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
        """One dict level is 'key'; the lost reasons get their own column names."""
        assert set(metrics.records(RESULTS["snapshot"]())[0]) == {"key", "count", "amount"}
        assert metrics.records(RESULTS["lost_reasons"]())[0] == {
            "reason": "price",
            "deals": 1,
            "amount": 50.0,
        }
        assert metrics.records(RESULTS["velocity_by"]())[0] == {"key": "eu", "value": 0.0}

    def test_bad_input(self) -> None:
        """Something that is no metric result, or names of the wrong length, is refused."""
        with pytest.raises(TypeError, match="cannot turn int into a table row"):
            metrics.records([1, 2])
        with pytest.raises(ValueError, match=r"one column name per dict level \(2\)"):
            metrics.records(RESULTS["stage_durations_by"](), names=["stage"])
        with pytest.raises(ValueError, match="names only applies to a dict result"):
            metrics.records(RESULTS["visits"](), names=["x"])


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
