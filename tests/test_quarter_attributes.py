"""close_date and forecast_category as first-class attributes (issue 14, CONTRACT §14):
checked at the boundary, kept in the log's form, and a stage's default category."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from _helpers import T0, day, plain_pipeline
from salesstages import (
    DataError,
    DataTypeError,
    Pipeline,
    PipelineError,
    SalesStagesError,
    Stage,
    presets,
)

BAD_CLOSE_DATES: list[tuple[object, type[Exception]]] = [
    ("2026-02-30", DataError),
    ("31/03/2026", DataError),
    ("next quarter", DataError),
    ("", DataError),
    ("2026-03-31T00:00:00", DataError),
    (datetime(2026, 3, 31, tzinfo=UTC), DataTypeError),
    (20260331, DataTypeError),
    (["2026-03-31"], DataTypeError),
]

BAD_CATEGORIES: list[tuple[object, type[Exception]]] = [
    ("Commit", DataError),
    ("upside", DataError),
    ("closed", DataError),
    ("", DataError),
    (1, DataTypeError),
    (True, DataTypeError),
]


def _assert_names(exc: BaseException, *words: str) -> None:
    """The error is a SalesStagesError and names every word."""
    assert isinstance(exc, SalesStagesError)
    for word in words:
        assert word in str(exc), (word, str(exc))


@pytest.mark.parametrize(("value", "error"), BAD_CLOSE_DATES)
def test_open_deal_refuses_a_bad_close_date(value: object, error: type[Exception]) -> None:
    """open_deal refuses a close date that is not a date or an ISO date, naming it."""
    with pytest.raises(error) as info:
        plain_pipeline().open_deal("D1", at=T0, close_date=value)
    _assert_names(info.value, "close_date", "D1")
    assert getattr(info.value, "field", None) == "close_date"


@pytest.mark.parametrize(("value", "error"), BAD_CLOSE_DATES)
def test_update_refuses_a_bad_close_date(value: object, error: type[Exception]) -> None:
    """update refuses a bad close date and records nothing."""
    deal = plain_pipeline().open_deal("D1", at=T0, close_date="2026-03-31")
    with pytest.raises(error) as info:
        deal.update(at=day(1), close_date=value)
    _assert_names(info.value, "close_date")
    assert len(deal.events) == 2
    assert deal.attributes["close_date"] == "2026-03-31"


@pytest.mark.parametrize(("value", "error"), BAD_CATEGORIES)
def test_bad_forecast_category_is_refused(value: object, error: type[Exception]) -> None:
    """open_deal and update refuse a category that is not one of the four, naming it."""
    with pytest.raises(error) as info:
        plain_pipeline().open_deal("D1", at=T0, forecast_category=value)
    _assert_names(info.value, "forecast_category", repr(value))
    deal = plain_pipeline().open_deal("D2", at=T0)
    with pytest.raises(error):
        deal.update(at=day(1), forecast_category=value)
    assert len(deal.events) == 2


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (date(2026, 3, 31), "2026-03-31"),
        ("2026-03-31", "2026-03-31"),
        ("20260331", "2026-03-31"),  # the basic ISO form is normalised
        (None, None),
    ],
)
def test_good_close_dates_are_kept_as_iso_strings(value: object, kept: object) -> None:
    """A date or ISO date string is stored in the log as 'YYYY-MM-DD'."""
    deal = plain_pipeline().open_deal("D1", at=T0, close_date=value)
    assert deal.attributes["close_date"] == kept
    assert deal.events[0].data["close_date"] == kept


@pytest.mark.parametrize("category", ["pipeline", "best_case", "commit", "omitted", None])
def test_good_categories_are_kept(category: Any) -> None:
    """Each of the four categories (or None) is accepted by open_deal and update."""
    deal = plain_pipeline().open_deal("D1", at=T0, forecast_category=category)
    deal.update(at=day(1), forecast_category=category)
    assert deal.attributes["forecast_category"] == category


def test_stage_default_category_round_trips() -> None:
    """A stage's forecast_category is written by to_dict and read back by from_dict."""
    stage = Stage("proposal", forecast_category="commit")
    assert stage.to_dict() == {"name": "proposal", "forecast_category": "commit"}
    assert Stage.from_dict(stage.to_dict()) == stage
    assert "forecast_category" not in Stage("lead").to_dict()


@pytest.mark.parametrize("category", ["Commit", "closed", 3])
def test_stage_refuses_an_unknown_category(category: Any) -> None:
    """A stage's category outside the four is a PipelineError naming it."""
    with pytest.raises(PipelineError, match="forecast_category") as info:
        Stage("lead", forecast_category=category)
    assert repr(category) in str(info.value)
    with pytest.raises(PipelineError):
        Stage.from_dict({"name": "lead", "forecast_category": category})


def test_closed_stage_refuses_a_category() -> None:
    """A won or lost stage has no forecast category: PipelineError naming the stage."""
    with pytest.raises(PipelineError, match="'won'"):
        Stage("won", outcome="won", forecast_category="commit")


@pytest.mark.parametrize("make", [presets.inbound_b2b, presets.classic_b2b, presets.modern_b2b])
def test_presets_give_every_open_stage_a_category(make: Any) -> None:
    """Every preset open stage has a category, and they never get less certain down the funnel."""
    pipeline: Pipeline = make()
    order = ["omitted", "pipeline", "best_case", "commit"]
    ranks = [order.index(s.forecast_category) for s in pipeline.open_stages]
    assert ranks == sorted(ranks)
    assert pipeline.open_stages[-1].forecast_category == "commit"
    assert Pipeline.from_dict(pipeline.to_dict()).to_dict() == pipeline.to_dict()
