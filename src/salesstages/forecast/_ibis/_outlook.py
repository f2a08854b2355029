"""Stage outlooks and the conditional forecast on Ibis tables: twin of ``forecast/_outlook.py``."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import ibis
from ...metrics._ibis._pivots import Pivots
from .. import _outlook as python
from .._common import _DAY_US, _us
from .._outlook import StageOutlook, _conditional_value, _outlook, _Stays

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["conditional", "conditional_forecast", "stage_outlook", "stays"]

_ZERO: Final = timedelta(0)


def stays(pv: Pivots, stage: str | None) -> Any:
    """Every stay in an open stage (or in ``stage``): ``stage``, ``length`` (µs to the
    next entry or ``as_of``), ``total`` (µs to the next closing or ``as_of``) and
    ``cause`` (1 won, 2 lost, 0 not closed yet)."""
    e = pv.entries
    j = e.filter(e.stage == stage) if stage is not None else e.filter(e.stage.isin(pv.opens))
    as_of = ibis.literal(pv.as_of_us, type="int64")
    return j.select(
        "stage",
        length=j.next_at.coalesce(as_of) - j.at_us,
        total=j.c_at.coalesce(as_of) - j.at_us,
        cause=j.c_code.coalesce(0),
    )


@table_kernel(python.stage_outlook)
def stage_outlook(
    events: Table,
    pipeline: Pipeline,
    *,
    stage: str,
    age: timedelta = _ZERO,
    horizon: timedelta | None = None,
    as_of: datetime | None = None,
) -> StageOutlook:
    """:func:`salesstages.forecast.stage_outlook` on the table's backend."""
    h_us = None if horizon is None else _us(horizon)
    pv = Pivots(events, pipeline, as_of)
    length: list[timedelta] = []
    total: list[timedelta] = []
    cause: list[int] = []
    if pv.as_of_us is not None:
        s = stays(pv, stage)
        s = s.filter(s.length >= _us(age))
        agg = s.group_by(["length", "total", "cause"]).aggregate(n=s.count())
        for r in pv.run(agg.order_by(["length", "total", "cause"]), "count"):
            n = int(r["n"])
            length.extend([timedelta(microseconds=int(r["length"]))] * n)
            total.extend([timedelta(microseconds=int(r["total"]))] * n)
            cause.extend([int(r["cause"])] * n)
    return _outlook(_Stays.of(stage, length, total, cause), stage, _us(age), h_us)


def conditional(pv: Pivots, horizon_us: int | None, prob: dict[str, float] | None = None) -> float:
    if pv.as_of_us is None:
        return 0.0
    d = pv.deals_with("amount")
    d = d.filter((d.outcome == "open") & (d.amount != 0))
    d = d.mutate(days=(pv.as_of_us - d.entered_at) // _DAY_US)
    agg = d.group_by(["stage", "days"]).aggregate(amount=d.amount.sum())
    wanted: dict[str, dict[int, float]] = {}
    for r in pv.run(agg, "sum"):
        wanted.setdefault(r["stage"], {})[int(r["days"])] = float(r["amount"])
    if not wanted:
        return 0.0
    s = stays(pv, None)
    s = s.select("stage", "cause", lb=s.length // _DAY_US, tb=s.total // _DAY_US)
    cells_agg = s.group_by(["stage", "lb", "tb", "cause"]).aggregate(n=s.count())
    cells: dict[str, Counter[int]] = {name: Counter() for name in pv.opens}
    got = pv.arrow(cells_agg, "count")  # many rows: read column-wise
    names = ("stage", "lb", "tb", "cause", "n")
    for stage, lb, tb, cause, n in zip(*(got.column(c).to_pylist() for c in names), strict=True):
        cells[stage][int(lb) << 32 | int(tb) << 2 | int(cause)] += int(n)
    return _conditional_value(wanted, cells, horizon_us, prob)


@table_kernel(python.conditional_forecast)
def conditional_forecast(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    horizon: timedelta | None = None,
) -> float:
    """:func:`salesstages.forecast.conditional_forecast` on the table's backend."""
    h_us = None if horizon is None else _us(horizon)
    return conditional(Pivots(events, pipeline, as_of), h_us)
