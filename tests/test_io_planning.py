"""Importers carry the planning attributes (issue 14): Salesforce's CloseDate and
ForecastCategory, and a stage-date table's close-date and category columns."""

from __future__ import annotations

import io
from datetime import UTC, date, timedelta, timezone

import pytest

from salesstages import DataError, Pipeline, Stage, forecast, metrics
from salesstages.io import read_opportunity_history, read_stage_table
from salesstages.io._planning import category_of


def small() -> Pipeline:
    """prospecting → engaging → won / lost."""
    return Pipeline(
        "small",
        [
            Stage("prospecting"),
            Stage("engaging"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


STAGE_MAP = {"Prospecting": "prospecting", "Qualification": "engaging", "Closed Won": "won"}

HISTORY = """OpportunityId,CreatedDate,StageName,Amount,CloseDate,ForecastCategory
006A,2026-01-05T09:00:00.000+0000,Prospecting,1000,2026-03-15,Pipeline
006A,2026-01-20T09:00:00.000+0000,Qualification,1000,2026-03-31,BestCase
006A,2026-02-10T09:00:00.000+0000,Qualification,1000,2026-04-30,Forecast
006B,2026-01-06T09:00:00.000+0000,Prospecting,500,2026-02-28,Omitted
006B,2026-02-01T09:00:00.000+0000,Closed Won,600,2026-02-01,Closed
"""


def stream(text: str, name: str) -> io.StringIO:
    """A text stream with a file name."""
    f = io.StringIO(text, newline="")
    f.name = name
    return f


@pytest.mark.parametrize(
    ("name", "ours"),
    [
        ("Pipeline", "pipeline"),
        ("BestCase", "best_case"),
        ("Best Case", "best_case"),
        ("best_case", "best_case"),
        ("Commit", "commit"),
        ("Forecast", "commit"),  # Salesforce's API value for the "Commit" label
        ("Omitted", "omitted"),
        ("Closed", "closed"),
    ],
)
def test_crm_category_names(name: str, ours: str) -> None:
    """Salesforce's category names (API values and labels) map onto ours."""
    assert category_of(name) == ours


def test_salesforce_history_carries_close_date_and_category() -> None:
    """CloseDate and ForecastCategory become attributes, changes become updates, and
    slippage and categories read them."""
    result = read_opportunity_history(stream(HISTORY, "history.csv"), small(), stage_map=STAGE_MAP)
    assert result.problems == ()
    deals = small().replay(result.events)
    a = [(e.kind, dict(e.data)) for e in deals["006A"].events if e.kind != "stage_entered"]
    assert a == [
        ("opened", {"amount": 1000, "close_date": "2026-03-15", "forecast_category": "pipeline"}),
        ("updated", {"close_date": "2026-03-31", "forecast_category": "best_case"}),
        ("updated", {"close_date": "2026-04-30", "forecast_category": "commit"}),
    ]
    # "Closed" keeps no category: 006B keeps "omitted" from its first row
    assert deals["006B"].attributes["forecast_category"] == "omitted"
    slips = metrics.slippage(result.events, small())
    # Mar 15 -> Mar 31 -> Apr 30: two pushes, 46 days (16 + 30)
    assert [(s.deal_id, s.pushes, s.days_slipped) for s in slips] == [("006A", 2, 46)]
    cats = forecast.categories(result.events, small(), start=date(2026, 1, 1), end=date(2026, 7, 1))
    assert cats["commit"] == (1, 1000.0)
    assert cats["closed"] == (1, 600.0)


def test_salesforce_bad_category_is_reported() -> None:
    """A category no name maps is a 'forecast_category' problem naming it; strict raises."""
    text = HISTORY.replace("BestCase", "Upside-ish")
    result = read_opportunity_history(stream(text, "h.csv"), small(), stage_map=STAGE_MAP)
    [problem] = result.problems
    assert problem.rule == "forecast_category"
    assert "'Upside-ish'" in problem.message
    with pytest.raises(DataError, match="Upside-ish"):
        read_opportunity_history(stream(text, "h.csv"), small(), stage_map=STAGE_MAP, strict=True)


def test_salesforce_export_without_category_column_still_reads() -> None:
    """An export with no ForecastCategory column imports as before."""
    text = "\n".join(line.rsplit(",", 1)[0] for line in HISTORY.splitlines()) + "\n"
    result = read_opportunity_history(stream(text, "h.csv"), small(), stage_map=STAGE_MAP)
    assert result.problems == ()
    assert all("forecast_category" not in e.data for e in result.events)


def test_close_date_keeps_the_written_day_east_of_utc() -> None:
    """A bare CloseDate is the day written, even with a timezone east of UTC."""
    result = read_opportunity_history(
        stream(HISTORY, "h.csv"),
        small(),
        stage_map=STAGE_MAP,
        tz=timezone(timedelta(hours=10)),
    )
    assert result.events[0].data["close_date"] == "2026-03-15"


TABLE = """id,prospecting_date,engaging_date,expected_close,category
A,2026-01-05,2026-01-20,2026-03-31,Commit
B,2026-01-06,,31/03/2026,Pipeline
C,2026-01-07,,2026-02-15,maybe
"""


def test_stage_table_maps_close_date_and_category_columns() -> None:
    """A stage-date table's expected-close and category columns become attributes;
    bad cells are reported and left out."""
    result = read_stage_table(
        stream(TABLE, "table.csv"),
        small(),
        id_column="id",
        stage_columns={"prospecting_date": "prospecting", "engaging_date": "engaging"},
        close_date_column="expected_close",
        forecast_category_column="category",
    )
    opened = {e.deal_id: dict(e.data) for e in result.events if e.kind == "opened"}
    assert opened["A"] == {"close_date": "2026-03-31", "forecast_category": "commit"}
    assert opened["B"] == {"forecast_category": "pipeline"}  # the date is not ISO
    assert opened["C"] == {"close_date": "2026-02-15"}
    assert sorted((p.deal_id, p.rule) for p in result.problems) == [
        ("B", "date"),
        ("C", "forecast_category"),
    ]
    assert opened["A"]["close_date"] == date(2026, 3, 31).isoformat()
    assert result.events[0].at.tzinfo is UTC
