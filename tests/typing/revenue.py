"""Typed usage of the recurring-revenue functions (contract §19): ``mypy --strict`` must
accept this file (it is not run)."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date, timedelta

import salesstages as ss
from salesstages import metrics, presets


def use(events: Iterable[ss.Event], success: Iterable[ss.Event], pipeline: ss.Pipeline) -> None:
    log = list(events)
    total: float = metrics.arr(log, pipeline)
    per: dict[Hashable, float] = metrics.arr(log, pipeline, by="region")
    rows: list[metrics.AccountRow] = metrics.accounts(log, pipeline)
    due: date | None = rows[0].renewal_due
    move: metrics.RevenueMovement = metrics.revenue_movement(
        log, pipeline, start=date(2026, 1, 1), end=date(2026, 4, 1)
    )
    churned: metrics.Tally = move.churn
    quick: float | None = move.quick_ratio
    kept: metrics.Retention = metrics.retention(
        log, pipeline, start=date(2025, 4, 1), end=date(2026, 4, 1)
    )
    nrr: float | None = kept.nrr
    ltv: float | None = kept.lifetime_value(gross_margin=0.8)
    cells: list[metrics.CohortRow] = metrics.cohort_retention(log, pipeline, period="month")
    tie: metrics.BowTie = metrics.bowtie(
        log, pipeline, success_events=list(success), success_pipeline=presets.customer_success()
    )
    wait: timedelta | None = tie.time_to_first_impact.median
    del total, per, due, churned, quick, nrr, ltv, cells, wait
