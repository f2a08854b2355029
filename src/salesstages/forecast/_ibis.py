"""The forecasts of :mod:`salesstages.forecast` on an Ibis table.

Each aggregate runs on the table's backend; the Markov solve, Kaplan–Meier,
Aalen–Johansen and the landmark estimates run in Python on the aggregates,
through the same functions as the pure-Python engine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from .._stats import z_value
from ..metrics._common import check_stage
from ..metrics._ibis._columns import from_us, ibis, to_us
from ..metrics._ibis._pivots import Pivots
from ._backtest import (
    Backtest,
    BacktestRow,
    _check_dates,
    _forecasts,
    _row,
    backtest_dates_of,
    backtest_result,
    window_end,
)
from ._common import (
    _DAY_US,
    METHODS,
    _check_horizon,
    _stage_probabilities,
    _us,
)
from ._ibis_actions import next_actions
from ._ibis_planning import categories, coverage  # issue 14
from ._markov import MarkovModel, _markov_model, _markov_probabilities
from ._outlook import StageOutlook, _conditional_value, _outlook, _Stays
from ._survival import (
    CumulativeIncidence,
    Survival,
    _check_outcome,
    _incidence,
    _survival,
)

__all__ = [
    "backtest",
    "categories",
    "conditional_forecast",
    "coverage",
    "cumulative_incidence",
    "markov",
    "markov_forecast",
    "next_actions",
    "stage_outlook",
    "time_to_close",
    "weighted",
]

_ZERO: Final = timedelta(0)


def _open_amounts(pv: Pivots, counts: dict[str, int] | None = None) -> dict[str, float]:
    """The open deals' total amount per stage (and their number, into ``counts``)."""
    if pv.as_of_us is None:
        return {}
    d = pv.deals_with("amount")
    d = d.filter(d.outcome == "open")
    agg = d.group_by("stage").aggregate(amount=d.amount.sum(), n=d.count())
    out: dict[str, float] = {}
    for r in pv.run(agg, "sum"):
        out[r["stage"]] = float(r["amount"] or 0.0)
        if counts is not None:
            counts[r["stage"]] = int(r["n"])
    return out


def _value(amounts: dict[str, float], prob: dict[str, float]) -> float:
    return math.fsum(a * prob.get(stage, 0.0) for stage, a in amounts.items())


def weighted(
    events: Any, pipeline: Any, *, as_of: datetime | None = None, horizon: timedelta | None = None
) -> float:
    """:func:`salesstages.forecast.weighted` on the table's backend."""
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    pv = Pivots(events, pipeline, as_of)
    if h_us is not None:
        return _conditional(pv, h_us, _stage_probabilities(pipeline))
    return _value(_open_amounts(pv), _stage_probabilities(pipeline))


def _moves(pv: Pivots) -> dict[str, dict[str, int]]:
    """Every observed move out of an open stage, counted (as ``_count_moves``)."""
    moves: dict[str, dict[str, int]] = {}
    if pv.as_of_us is None:
        return moves
    e = pv.entries
    e = e.filter(e.stage.isin(pv.opens) & e.next_stage.notnull())
    agg = e.group_by(["stage", "next_stage"]).aggregate(n=e.count())
    order = {name: i for i, name in enumerate(pv.names)}
    got = sorted(pv.run(agg, "count"), key=lambda r: (order[r["stage"]], order[r["next_stage"]]))
    for r in got:
        moves.setdefault(r["stage"], {})[r["next_stage"]] = int(r["n"])
    return moves


def markov(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> MarkovModel:
    """:func:`salesstages.forecast.markov` on the table's backend."""
    return _markov_model(_moves(Pivots(events, pipeline, as_of)), pipeline)


def markov_forecast(
    events: Any,
    pipeline: Any,
    *,
    as_of: datetime | None = None,
    model: MarkovModel | None = None,
    horizon: timedelta | None = None,
) -> float:
    """:func:`salesstages.forecast.markov_forecast` on the table's backend."""
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    pv = Pivots(events, pipeline, as_of)
    if model is None:
        model = _markov_model(_moves(pv), pipeline)
    if h_us is not None:
        return _conditional(pv, h_us, _markov_probabilities(pipeline, model))
    return _value(_open_amounts(pv), _markov_probabilities(pipeline, model))


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


def time_to_close(
    events: Any, pipeline: Any, *, as_of: datetime | None = None, level: float = 0.95
) -> Survival:
    """:func:`salesstages.forecast.time_to_close` on the table's backend."""
    z_value(level)
    durations, causes = _close_samples(Pivots(events, pipeline, as_of))
    return _survival(durations, causes, level)


def cumulative_incidence(
    events: Any, pipeline: Any, outcome: str = "won", *, as_of: datetime | None = None
) -> CumulativeIncidence:
    """:func:`salesstages.forecast.cumulative_incidence` on the table's backend."""
    checked = _check_outcome(outcome)
    durations, causes = _close_samples(Pivots(events, pipeline, as_of))
    return _incidence(durations, causes, checked)


def _stays(pv: Pivots, stage: str | None) -> Any:
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


def stage_outlook(
    events: Any,
    pipeline: Any,
    stage: str,
    *,
    age: timedelta = _ZERO,
    horizon: timedelta | None = None,
    as_of: datetime | None = None,
) -> StageOutlook:
    """:func:`salesstages.forecast.stage_outlook` on the table's backend."""
    stage = check_stage(pipeline, stage, "stage", open_only=True)
    _check_horizon(age, "age")
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    pv = Pivots(events, pipeline, as_of)
    length: list[timedelta] = []
    total: list[timedelta] = []
    cause: list[int] = []
    if pv.as_of_us is not None:
        s = _stays(pv, stage)
        s = s.filter(s.length >= _us(age))
        agg = s.group_by(["length", "total", "cause"]).aggregate(n=s.count())
        for r in pv.run(agg.order_by(["length", "total", "cause"]), "count"):
            n = int(r["n"])
            length.extend([timedelta(microseconds=int(r["length"]))] * n)
            total.extend([timedelta(microseconds=int(r["total"]))] * n)
            cause.extend([int(r["cause"])] * n)
    return _outlook(_Stays.of(stage, length, total, cause), stage, _us(age), h_us)


def _conditional(pv: Pivots, horizon_us: int | None, prob: dict[str, float] | None = None) -> float:
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
    s = _stays(pv, None)
    s = s.select("stage", "cause", lb=s.length // _DAY_US, tb=s.total // _DAY_US)
    cells_agg = s.group_by(["stage", "lb", "tb", "cause"]).aggregate(n=s.count())
    cells: dict[str, Counter[int]] = {name: Counter() for name in pv.opens}
    got = pv.arrow(cells_agg, "count")  # many rows: read column-wise
    names = ("stage", "lb", "tb", "cause", "n")
    for stage, lb, tb, cause, n in zip(*(got.column(c).to_pylist() for c in names), strict=True):
        cells[stage][int(lb) << 32 | int(tb) << 2 | int(cause)] += int(n)
    return _conditional_value(wanted, cells, horizon_us, prob)


def conditional_forecast(
    events: Any,
    pipeline: Any,
    *,
    as_of: datetime | None = None,
    horizon: timedelta | None = None,
) -> float:
    """:func:`salesstages.forecast.conditional_forecast` on the table's backend."""
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    return _conditional(Pivots(events, pipeline, as_of), h_us)


def backtest(
    events: Any,
    pipeline: Any,
    *,
    dates: Sequence[datetime],
    horizon: timedelta,
    as_of: datetime | None = None,
) -> Backtest:
    """:func:`salesstages.forecast.backtest` on the table's backend: per date the
    engine's own forecasts as of that date, and the actual wins in SQL, reading
    nothing after ``as_of``."""
    days = backtest_dates_of(dates, horizon)
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
