"""Time to close on an Ibis table: the twin of ``forecast/_survival.py``."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import ibis
from ...metrics._ibis._pivots import Pivots
from .. import _survival as python
from .._survival import CumulativeIncidence, Survival, _incidence, _survival

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["cumulative_incidence", "time_to_close"]


def _close_samples(pv: Pivots) -> tuple[list[int], list[str | None]]:
    """Each deal's opened → latest closing µs and outcome (open: censored at as_of)."""
    durations: list[int] = []
    causes: list[str | None] = []
    if pv.as_of_us is None:
        return durations, causes
    d = pv.deals_with("opened")
    end = ibis.ifelse(d.outcome == "open", pv.as_of_us, d.closed_at)
    dur = end - d.opened_at
    d = d.select("outcome", dur=ibis.ifelse(dur < 0, 0, dur))
    agg = d.group_by(["dur", "outcome"]).aggregate(n=d.count())
    got = pv.arrow(agg.order_by(["dur", "outcome"]), "count")  # many rows: column-wise
    names = ("dur", "outcome", "n")
    for dur, outcome, n in zip(*(got.column(c).to_pylist() for c in names), strict=True):
        durations.extend([int(dur)] * int(n))
        causes.extend([None if outcome == "open" else outcome] * int(n))
    return durations, causes


@table_kernel(python.time_to_close)
def time_to_close(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None, level: float = 0.95
) -> Survival:
    """:func:`salesstages.forecast.time_to_close` on the table's backend."""
    durations, causes = _close_samples(Pivots(events, pipeline, as_of))
    return _survival(durations, causes, level)


@table_kernel(python.cumulative_incidence)
def cumulative_incidence(
    events: Table,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    as_of: datetime | None = None,
) -> CumulativeIncidence:
    """:func:`salesstages.forecast.cumulative_incidence` on the table's backend."""
    durations, causes = _close_samples(Pivots(events, pipeline, as_of))
    return _incidence(durations, causes, outcome)
