"""Typed usage of the paths-and-people functions (contract §20): ``mypy --strict`` must
accept this file (it is not run)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date, timedelta

import salesstages as ss
from salesstages import metrics
from salesstages.io import write_xes


def use(events: Iterable[ss.Event], pipeline: ss.Pipeline) -> None:
    log = list(events)
    rows: list[metrics.PathRow] = metrics.paths(log, pipeline, top=10)
    path: tuple[str, ...] = rows[0].path
    rate: float | None = rows[0].win_rate.rate
    by: dict[Hashable, list[metrics.PathRow]] = metrics.paths(log, pipeline, by="region")
    moves: list[metrics.TransitionRow] = metrics.transitions(log, pipeline)
    median: timedelta | None = moves[0].durations.median
    again: dict[str, metrics.Rework] = metrics.rework(log, pipeline)
    conf: metrics.Conformance = metrics.conformance(log, pipeline, reference=pipeline)
    share: float | None = conf.rate
    row: metrics.DeviationRow = conf.deviations[0]
    hands: list[metrics.Handover] = metrics.handovers(log, pipeline, attribute="owner")
    card: metrics.Scorecard = metrics.scorecard(
        log, pipeline, start=date(2026, 1, 1), prior_strength=5.0, level=0.9
    )
    best: metrics.ScorecardRow = card[0]
    shrunk: float = best.shrunk
    traces: int = write_xes(log, pipeline, "log.xes")
    print(path, rate, by, median, again, share, row, hands, shrunk, traces)
