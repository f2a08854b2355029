"""forecast.accuracy, forecast.calibration, forecast.suggest_probabilities,
metrics.what_if and metrics.trend on an Ibis table agree with the pure-Python engine (issue 27, §10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

from _engines import assert_same, close_all, loader
from _helpers import day, plain_pipeline
from salesstages import Event, forecast, metrics
from salesstages.forecast import Call
from test_calibration import pipeline as calibrated
from test_calibration import ten_deals
from test_calls import at
from test_calls import log as calls_log
from test_trend import at as trend_at
from test_trend import log as trend_log
from test_whatif import log as whatif_log
from test_whatif import stakeholder_rule

pytest.importorskip("ibis")
pytest.importorskip("duckdb")


_LOADERS: dict[str, Callable[[Sequence[Event]], Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_connections() -> Iterator[None]:
    """Close the loaders' connections when the module is done."""
    yield
    _LOADERS.clear()
    close_all()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def table(request: pytest.FixtureRequest) -> Callable[[Sequence[Event]], Any]:
    """Events → an Ibis table on DuckDB, and on PostgreSQL when the tests have one."""
    name: str = request.param
    return loader(_LOADERS, name, request)


def test_accuracy_on_a_table(table: Callable[[Sequence[Event]], Any]) -> None:
    calls = [
        Call("ana", "2026-Q1", "commit", 200, at(8)),
        Call("bob", "2026-Q1", "commit", 100, at(1)),
        Call("bob", "2026-04", "best_case", 300, at(85)),
    ]
    events = calls_log()
    for as_of in (None, at(45)):
        want = forecast.accuracy(events, plain_pipeline(), calls=calls, as_of=as_of)
        got = forecast.accuracy(table(events), plain_pipeline(), calls=calls, as_of=as_of)
        assert got == want
    with pytest.warns(forecast.UnknownOwnerWarning, match="did you mean 'ana'"):
        forecast.accuracy(
            table(events), plain_pipeline(), calls=[Call("anna", "2026", "commit", 1, at(0))]
        )


@pytest.mark.parametrize("method", ["stage", "markov", "conditional"])
def test_calibration_on_a_table(table: Callable[[Sequence[Event]], Any], method: str) -> None:
    events = ten_deals()
    for kw in (
        {"dates": [day(10)]},
        {},
        {"dates": [day(10), day(30)], "horizon": timedelta(days=20)},
    ):
        want = forecast.calibration(events, calibrated(), method=method, **kw)  # type: ignore[arg-type]
        got = forecast.calibration(table(events), calibrated(), method=method, **kw)  # type: ignore[arg-type]
        assert_same(got, want)


def test_suggest_probabilities_on_a_table(table: Callable[[Sequence[Event]], Any]) -> None:
    events = ten_deals()
    for as_of in (None, day(20)):
        want = forecast.suggest_probabilities(events, calibrated(), as_of=as_of)
        got = forecast.suggest_probabilities(table(events), calibrated(), as_of=as_of)
        assert_same(got, want)


def test_what_if_on_a_table_reads_only_the_movers(
    table: Callable[[Sequence[Event]], Any],
) -> None:
    events = whatif_log()
    want = metrics.what_if(events, plain_pipeline(), stakeholder_rule())
    got = metrics.what_if(table(events), plain_pipeline(), stakeholder_rule())
    assert got.stopped_deals == want.stopped_deals
    assert_same(got.stopped, want.stopped)
    assert_same(got.passed, want.passed)
    assert got.won_share == want.won_share
    # P4 never left its first stage: six of seven deals' events were read
    assert got.note is not None
    assert "read the events of 6 of 7 deals" in got.note
    early = metrics.what_if(table(events), plain_pipeline(), stakeholder_rule(), as_of=day(4))
    assert [d.deal_id for d in early.stopped_deals] == ["S2", "S3"]


@pytest.mark.parametrize("measure", ["created", "won", "win_rate", "cycle", "conversion"])
def test_trend_on_a_table(table: Callable[[Sequence[Event]], Any], measure: str) -> None:
    events = trend_log()
    for kw in ({}, {"period": "quarter", "by": "region"}, {"as_of": trend_at(2, 12)}):
        want = metrics.trend(events, plain_pipeline(), measure=measure, **kw)  # type: ignore[arg-type]
        got = metrics.trend(table(events), plain_pipeline(), measure=measure, **kw)  # type: ignore[arg-type]
        assert_same(got, want)
    pair = {"stages": ("a", "c")}
    want = metrics.trend(events, plain_pipeline(), measure="conversion", **pair)  # type: ignore[arg-type]
    got = metrics.trend(table(events), plain_pipeline(), measure="conversion", **pair)  # type: ignore[arg-type]
    assert_same(got, want)
