"""Typed usage of the result records: ``mypy --strict`` must accept this file (it is
not run). If a result type or ``records`` changes in a way that breaks user code,
this file stops type-checking."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import salesstages as ss
from salesstages import forecast, metrics


def use(events: Iterable[ss.Event], pipeline: ss.Pipeline) -> None:
    log = list(events)
    reasons: list[metrics.LostReason] = metrics.lost_reasons(log, pipeline)
    for reason, deals, amount in reasons:  # unpacks like the old tuple
        print(reason, deals, amount)
    first: metrics.LostReason = reasons[0]
    name: str = first.reason
    count: int = first.deals
    total: float = first.amount
    print(name, count, total)

    moved = metrics.movement(log, pipeline, start=date(2026, 1, 1), end=date(2026, 4, 1))
    assert isinstance(moved, metrics.Movement)
    won: metrics.Tally = moved.won
    n_won: int = won.count
    print(n_won, str(moved))

    cats = forecast.categories(log, pipeline, start=date(2026, 1, 1), end=date(2026, 4, 1))
    closed: metrics.Tally = cats["closed"]
    print(closed.amount)

    rows: list[dict[str, Any]] = metrics.records(moved)
    own: list[dict[str, Any]] = moved.to_records() + won.to_records() + first.to_records()
    by = metrics.win_rate(log, pipeline, by="owner")
    assert isinstance(by, metrics.Keyed)
    key: str = by.key_name
    keyed_rows: list[dict[str, Any]] = by.to_records()
    curve: list[dict[str, Any]] = forecast.time_to_close(log, pipeline).to_records()
    errors = forecast.backtest(log, pipeline, dates=[], horizon=timedelta(days=30)).errors
    print(rows, own, key, keyed_rows, curve, metrics.records(errors), metrics.records(1.5))
