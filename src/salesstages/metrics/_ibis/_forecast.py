"""The forecasts of :mod:`salesstages.forecast` on an Ibis table.

Each aggregate runs on the table's backend; the Markov solve, Kaplan–Meier,
Aalen–Johansen and the landmark estimates run in Python on the aggregates,
through the same functions as the pure-Python engine.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from ..._stats import z_value
from ..._time import to_utc
from ...forecast import (
    _DAY_US,
    METHODS,
    Backtest,
    BacktestRow,
    CumulativeIncidence,
    MarkovModel,
    StageOutlook,
    Survival,
    _backtest_result,
    _check_horizon,
    _check_outcome,
    _conditional_value,
    _frozen_map,
    _incidence,
    _markov_model,
    _markov_probabilities,
    _outlook,
    _stage_probabilities,
    _Stays,
    _survival,
    _us,
)
from .._common import check_stage
from ._columns import ibis, to_us
from ._pivots import Pivots, Rewound

__all__ = [
    "backtest",
    "conditional_forecast",
    "cumulative_incidence",
    "markov",
    "markov_forecast",
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


def weighted(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> float:
    """:func:`salesstages.forecast.weighted` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
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
) -> float:
    """:func:`salesstages.forecast.markov_forecast` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if model is None:
        model = _markov_model(_moves(pv), pipeline)
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
    for r in pv.run(agg.order_by(["dur", "outcome"]), "count"):
        n = int(r["n"])
        durations.extend([int(r["dur"])] * n)
        causes.extend([None if r["outcome"] == "open" else r["outcome"]] * n)
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


def _conditional(pv: Pivots, horizon_us: int | None) -> float:
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
    return _conditional_value(wanted, cells, horizon_us)


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
    at: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """:func:`salesstages.forecast.backtest` on the table's backend: per date the
    engine's own forecasts as of that date, and the actual wins in SQL."""
    if not isinstance(horizon, timedelta) or horizon <= _ZERO:
        raise ValueError(f"horizon must be a positive timedelta, got {horizon!r}")
    if isinstance(at, datetime) or not isinstance(at, Sequence | Iterable):
        raise ValueError(f"at must be a sequence of datetimes, got {at!r}")
    dates = sorted({to_utc(d, "at") for d in at})
    if not dates:
        raise ValueError("at must name at least one date")
    # every date's view rewound from the pivots of the whole log (as the pure-Python
    # engine rewinds one fold): they are built once, and shared with the report's
    base = Pivots(events, pipeline, None)
    final = Rewound(base, to_us(dates[-1] + horizon), materialise=True)
    rows = [_backtest_row(pipeline, final, Rewound(base, to_us(d)), d, horizon) for d in dates]
    return _backtest_result(rows, horizon)


def _backtest_row(
    pipeline: Any, final: Pivots, now: Pivots, d: datetime, horizon: timedelta
) -> BacktestRow:
    prob = _stage_probabilities(pipeline)
    counts: dict[str, int] = {}
    amounts = _open_amounts(now, counts)
    actual = won_new = 0.0
    if now.as_of_us is not None:
        nd = now.deals_with()
        nd = nd.select(n_deal="deal_id", n_open=ibis.ifelse(nd.outcome == "open", 1, 0))
        fd = final.deals_with("closed_amount")
        end = to_us(d + horizon)
        fd = fd.filter(
            (fd.outcome == "won") & (fd.closed_at > now.as_of_us) & (fd.closed_at <= end)
        )
        j = fd.left_join(nd, fd.deal_id == nd.n_deal)
        agg = j.aggregate(
            actual=j.closed_amount.sum(where=j.n_open == 1),
            won_new=j.closed_amount.sum(where=j.n_deal.isnull()),
        )
        got = now.run(agg, "sum")[0]
        actual = float(got["actual"] or 0.0)
        won_new = float(got["won_new"] or 0.0)
    forecasts = {
        # as the pure-Python row: a plain sum (0, an int, when nothing is open)
        "weighted": sum(a * prob[stage] for stage, a in amounts.items()),
        "markov": _value(
            amounts, _markov_probabilities(pipeline, _markov_model(_moves(now), pipeline))
        ),
        "conditional": _conditional(now, _us(horizon)),
    }
    assert tuple(forecasts) == METHODS
    return BacktestRow(
        at=d,
        open_deals=sum(counts.values()),
        open_amount=sum(amounts.values()),
        actual=actual,
        won_new=won_new,
        forecasts=_frozen_map(forecasts),
    )
