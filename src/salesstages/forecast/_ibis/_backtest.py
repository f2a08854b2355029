"""The backtest on an Ibis table: the twin of ``forecast/_backtest.py``. Nothing after
``as_of`` is read (CONTRACT §17)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import from_us, ibis, to_us
from ...metrics._ibis._pivots import Pivots
from .. import _backtest as python
from .._backtest import (
    Backtest,
    BacktestRow,
    _check_dates,
    _forecasts,
    _row,
    backtest_result,
    window_end,
)

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline
from .._common import _DAY_US, METHODS, _us
from .._markov import _markov_model

__all__ = ["backtest"]


@table_kernel(python.backtest)
def backtest(
    events: Table,
    pipeline: Pipeline,
    *,
    dates: Sequence[datetime],
    horizon: timedelta,
    as_of: datetime | None = None,
) -> Backtest:
    """:func:`salesstages.forecast.backtest` on the table's backend: per date the
    engine's own forecasts as of that date, and the actual wins in SQL, reading
    nothing after ``as_of``. ``dates`` and ``horizon`` are checked (the dates sorted,
    distinct and in UTC)."""
    days = list(dates)
    # every date's view rewound from the pivots of the log cut at as_of (as the
    # pure-Python engine rewinds one fold): built once, shared with the report's, and
    # every date's aggregates in one query each
    base = Pivots(events, pipeline, as_of)
    _check_dates(days, base.as_of)
    if base.as_of_us is None:
        rows = [
            _row(d, 0, 0.0, 0.0, 0.0, dict.fromkeys(METHODS, 0.0), horizon, horizon) for d in days
        ]
        return backtest_result(rows, horizon, base.as_of)
    return backtest_result(_backtest_rows(pipeline, base, days, horizon), horizon, base.as_of)


def _dated_entries(base: Pivots, dates: Any) -> Any:
    """The entries of ``base`` rewound to each date of ``dates`` (``d_i``, ``d_us``) at
    once, as :attr:`Rewound.entries`: one row per entry and date at or after it."""
    e = base.entries.cross_join(dates)
    e = e.filter(e.at_us <= e.d_us)
    later = e.next_at > e.d_us
    unclosed = e.c_at > e.d_us
    return e.mutate(
        next_at=ibis.ifelse(later, ibis.null("int64"), e.next_at),
        next_stage=ibis.ifelse(later, ibis.null("string"), e.next_stage),
        c_at=ibis.ifelse(unclosed, ibis.null("int64"), e.c_at),
        c_code=ibis.ifelse(unclosed, ibis.null("int64"), e.c_code),
    )


def _backtest_rows(
    pipeline: Any, base: Pivots, dates: Sequence[datetime], horizon: timedelta
) -> list[BacktestRow]:
    """Each date's row, as :func:`salesstages.forecast._backtest_row` on the date's
    view rewound from ``base`` (:class:`Rewound`, for every date at once: one query
    per aggregate, the dates a small table crossed with the pivots)."""
    n = len(dates)
    cuts = [to_us(d) for d in dates]
    ends = [to_us(window_end(d, horizon, base.as_of)) for d in dates]
    h_us = _us(horizon)
    dt = ibis.memtable(
        {"d_i": list(range(n)), "d_us": cuts, "e_us": ends},
        schema={"d_i": "int64", "d_us": "int64", "e_us": "int64"},
    )
    e = _dated_entries(base, dt.select("d_i", "d_us"))
    # the moves each date's Markov model is fitted on
    mv = e.filter(e.stage.isin(base.opens) & e.next_stage.notnull())
    order = {name: i for i, name in enumerate(base.names)}
    moves: list[dict[str, dict[str, int]]] = [{} for _ in dates]
    got = base.run(mv.group_by(["d_i", "stage", "next_stage"]).aggregate(m=mv.count()), "count")
    for r in sorted(got, key=lambda r: (order[r["stage"]], order[r["next_stage"]])):
        moves[int(r["d_i"])].setdefault(r["stage"], {})[r["next_stage"]] = int(r["m"])
    # each deal as of each date: its last entry then, and its amount then
    am = base.amounts.cross_join(dt.select(a_i="d_i", a_us="d_us"))
    am = am.filter(am.at_us <= am.a_us)
    am = am.group_by(["a_i", "deal_id"]).aggregate(a_now=am.amt.argmax(am.seq))
    am = am.select("a_i", "a_now", a_deal="deal_id")
    last = e.filter(e.next_at.isnull())
    last = last.left_join(am, [last.deal_id == am.a_deal, last.d_i == am.a_i])
    last = last.select(
        "d_i",
        "deal_id",
        "stage",
        is_open=ibis.ifelse(last.stage.isin(base.opens), 1, 0),
        amount=last.a_now.coalesce(0.0),
        days=(last.d_us - last.at_us) // _DAY_US,
    )
    # the open amounts by stage and whole days in it
    op = last.filter(last.is_open == 1)
    op = op.mutate(nz=ibis.ifelse(op.amount != 0, 1, 0))
    agg = op.group_by(["d_i", "stage", "days", "nz"]).aggregate(s=op.amount.sum(), m=op.count())
    sums: list[dict[str, list[float]]] = [{} for _ in dates]
    counts: list[Counter[str]] = [Counter() for _ in dates]
    wanted: list[dict[str, dict[int, float]]] = [{} for _ in dates]
    for r in base.run(agg, "sum"):
        i, stage, amount = int(r["d_i"]), r["stage"], float(r["s"] or 0.0)
        sums[i].setdefault(stage, []).append(amount)
        counts[i][stage] += int(r["m"])
        if r["nz"]:
            wanted[i].setdefault(stage, {})[int(r["days"])] = amount
    # the actual wins in [date, min(date + horizon, as_of⁺)) of the deals open then,
    # and of new ones (base is cut at as_of: nothing later is read)
    fd = base.deals_with("closed_amount")
    fd = fd.filter(fd.outcome == "won").cross_join(dt.select(w_i="d_i", w_us="d_us", w_end="e_us"))
    fd = fd.filter((fd.closed_at >= fd.w_us) & (fd.closed_at < fd.w_end))
    # each won deal's last entry at the date, if any (straight from the pivot)
    be = base.entries
    nd = be.select(n_deal="deal_id", n_at="at_us", n_next="next_at", n_stage="stage")
    j = fd.left_join(
        nd,
        [
            fd.deal_id == nd.n_deal,
            nd.n_at <= fd.w_us,
            nd.n_next.isnull() | (nd.n_next > fd.w_us),
        ],
    )
    agg = j.group_by("w_i").aggregate(
        actual=j.closed_amount.sum(where=j.n_stage.isin(base.opens)),
        won_new=j.closed_amount.sum(where=j.n_deal.isnull()),
    )
    actuals = {int(r["w_i"]): r for r in base.run(agg, "sum")}
    # the stays' cells of each date with open amounts (see _conditional)
    st = e.filter(e.stage.isin(base.opens))
    st = st.select(
        "d_i",
        "stage",
        cause=st.c_code.coalesce(0),
        lb=(st.next_at.coalesce(st.d_us) - st.at_us) // _DAY_US,
        tb=(st.c_at.coalesce(st.d_us) - st.at_us) // _DAY_US,
    )
    st = st.filter(st.d_i.isin([i for i in range(n) if wanted[i]] or [-1]))
    cells_agg = st.group_by(["d_i", "stage", "lb", "tb", "cause"]).aggregate(m=st.count())
    cells: list[dict[str, Counter[int]]] = [{s: Counter() for s in base.opens} for _ in dates]
    got_cells = base.arrow(cells_agg, "count")  # many rows: read column-wise
    names = ("d_i", "stage", "lb", "tb", "cause", "m")
    for i, stage, lb, tb, cause, m in zip(
        *(got_cells.column(c).to_pylist() for c in names), strict=True
    ):
        cells[int(i)][stage][int(lb) << 32 | int(tb) << 2 | int(cause)] += int(m)
    rows: list[BacktestRow] = []
    for i, d in enumerate(dates):
        amounts = {stage: math.fsum(parts) for stage, parts in sums[i].items()}
        got_i = actuals.get(i, {})
        # every method in its horizon form, as the pure-Python row
        forecasts = _forecasts(
            wanted[i], cells[i], h_us, pipeline, lambda i=i: _markov_model(moves[i], pipeline)
        )
        assert tuple(forecasts) == METHODS
        rows.append(
            _row(
                d,
                sum(counts[i].values()),
                math.fsum(amounts.values()),
                float(got_i.get("actual") or 0.0),
                float(got_i.get("won_new") or 0.0),
                forecasts,
                from_us(ends[i]) - d,
                horizon,
            )
        )
    return rows
