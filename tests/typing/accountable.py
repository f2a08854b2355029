"""Typed usage of issue 27's functions: ``mypy --strict`` must accept this file (it is
not run): forecast calls, calibration, the what-if and trends."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import UTC, date, datetime, timedelta

import salesstages as ss
from salesstages import forecast, io, metrics


def calls(events: Sequence[ss.Event], pipeline: ss.Pipeline) -> float:
    made = [
        forecast.Call("ana", "2026-Q1", "commit", 120_000, datetime(2026, 1, 5, tzinfo=UTC)),
        forecast.Call(
            "ben", (date(2026, 1, 1), date(2026, 4, 1)), "best_case", 1.5, datetime.now(UTC)
        ),
        *io.read_calls("calls.csv"),
    ]
    scores: forecast.CallScores = forecast.accuracy(events, pipeline, calls=made)
    first: forecast.CallScore = scores[0]
    owners: list[forecast.CallSummary] = scores.by_owner()
    weeks: list[forecast.CallSummary] = scores.by_week()
    return first.error + len(owners) + len(weeks) + (first.accuracy or 0.0)


def calibration(events: Sequence[ss.Event], pipeline: ss.Pipeline) -> float | None:
    cal: forecast.Calibration = forecast.calibration(
        events, pipeline, method="markov", horizon=timedelta(days=30), bins=5
    )
    rows: tuple[forecast.ReliabilityRow, ...] = cal.rows
    suggested: list[forecast.StageProbability] = forecast.suggest_probabilities(events, pipeline)
    return cal.skill if rows and suggested else cal.brier


def what_if(events: Sequence[ss.Event], current: ss.Pipeline, proposed: ss.Pipeline) -> float:
    w: metrics.WhatIf = metrics.what_if(events, current, proposed, as_of=None)
    stopped: tuple[metrics.StoppedDeal, ...] = w.stopped_deals
    group: metrics.WhatIfGroup = w.passed
    return len(stopped) + group.won_amount + (w.won_share or 0.0)


def trends(events: Sequence[ss.Event], pipeline: ss.Pipeline) -> int:
    rows = metrics.trend(events, pipeline, measure="win_rate", period="quarter")
    by = metrics.trend(events, pipeline, measure="conversion", stages=("a", "c"), by="owner")
    assert isinstance(rows, list)
    assert isinstance(by, dict)
    first: metrics.TrendRow = rows[0]
    keys: list[Hashable] = list(by)
    return first.count + len(keys)
