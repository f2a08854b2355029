"""The backtest: each method's forecasts at past dates against what was won."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .._errors import DataError
from .._time import to_utc
from ..metrics._common import amount_of
from ..metrics._engine import Events, engine
from ..metrics._history import Histories, rewind
from ..metrics._types import Keyed, _amount, _days, _fields_row, _one_row, _pct, _when
from ._common import (
    _ZERO,
    METHODS,
    _fields_repr,
    _frozen_map,
    _hist,
    _open_amount,
    _stage_probabilities,
    _us,
)
from ._markov import _markov, _markov_sum
from ._outlook import _conditional_sum

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["Backtest", "BacktestRow", "MethodError", "backtest"]


@attrs.frozen(kw_only=True, repr=False)
class BacktestRow:
    """One date of a :func:`backtest`.

    Attributes:
        at: The date the forecasts were made as of.
        open_deals: Deals open at ``at``.
        open_amount: Their total amount at ``at``.
        actual: The amount of those deals won by ``at + horizon`` (at closing).
        won_new: The amount won by ``at + horizon`` by deals opened after
            ``at`` (not part of any forecast; shown for context).
        forecasts: Method name → its forecast, as of ``at``, of the amount
            the deals open then win within the horizon (what ``actual`` measures).
    """

    at: datetime
    open_deals: int
    open_amount: float
    actual: float
    won_new: float
    forecasts: Mapping[str, float]

    def __repr__(self) -> str:
        fc = ", ".join(f"{k}: {v:.4g}" for k, v in self.forecasts.items())
        return _fields_repr(
            self, ("at", "open_deals", "open_amount", "actual", "won_new"), f", forecasts={{{fc}}}"
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One row: ``at``, ``open_deals``, ``open_amount``, ``actual``, ``won_new``, then
        one ``forecasts_<method>`` column per method."""
        row = _fields_row(self)
        forecasts = row.pop("forecasts")
        row.update({f"forecasts_{m}": v for m, v in forecasts.items()})
        return [row]

    def __str__(self) -> str:
        """``2026-03-01 00:00: 12 open (amount 340,000), actual 120,000; weighted 150,000,
        markov 110,000``."""
        fc = ", ".join(f"{m} {_amount(v)}" for m, v in self.forecasts.items())
        return (
            f"{_when(self.at)}: {self.open_deals:,} open (amount {_amount(self.open_amount)}), "
            f"actual {_amount(self.actual)}; {fc}"
        )


@attrs.frozen(kw_only=True, repr=False)
class MethodError:
    """How far one method's forecasts were from what was won, over a backtest's dates.

    Attributes:
        method: ``"weighted"``, ``"markov"`` or ``"conditional"``.
        bias: Mean of forecast − actual (positive: the method overshoots).
        mae: Mean absolute error.
        rmse: Root mean squared error.
        mape: Mean absolute error relative to the actual amount, over the
            dates where something was won; ``None`` when nothing was.
    """

    method: str
    bias: float
    mae: float
    rmse: float
    mape: float | None

    def __repr__(self) -> str:
        return _fields_repr(self, ("method", "bias", "mae", "rmse", "mape"))

    to_records = _one_row

    def __str__(self) -> str:
        """``markov: bias 1,200, MAE 3,400, RMSE 4,100, MAPE 12.0%``."""
        return (
            f"{self.method}: bias {_amount(self.bias)}, MAE {_amount(self.mae)}, "
            f"RMSE {_amount(self.rmse)}, MAPE {_pct(self.mape)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class Backtest:
    """The result of :func:`backtest`: one row per date and each method's error.

    ``str(backtest)`` (or :meth:`summary`) is a printable table.

    Attributes:
        horizon: The horizon each forecast was checked over.
        rows: One :class:`BacktestRow` per date, in date order.
        errors: Method name → :class:`MethodError`, best (lowest MAE) first.
    """

    horizon: timedelta
    rows: tuple[BacktestRow, ...]
    errors: Mapping[str, MethodError]

    def __repr__(self) -> str:
        best = next(iter(self.errors), None)
        return f"Backtest(horizon={self.horizon}, dates={len(self.rows)}, best={best!r})"

    def __str__(self) -> str:
        return self.summary()

    def to_records(self) -> list[dict[str, Any]]:
        """One row per date (see :meth:`BacktestRow.to_records`), with the ``horizon``
        first; ``records(backtest.errors)`` gives the error table, one row per method."""
        return [{"horizon": self.horizon, **row} for r in self.rows for row in r.to_records()]

    def summary(self) -> str:
        """A printable table: each date's forecasts and actual, then each method's error."""
        methods = list(METHODS)
        head = f"{'as of':<20} {'open':>6} {'actual':>14} " + " ".join(f"{m:>14}" for m in methods)
        lines = [
            f"Forecast backtest: the amount won within {_days(self.horizon)} of each date, "
            "forecast by each method and actual",
            head,
            "-" * len(head),
        ]
        for r in self.rows:
            lines.append(
                f"{r.at.strftime('%Y-%m-%d %H:%M'):<20} {r.open_deals:>6} {r.actual:>14,.0f} "
                + " ".join(f"{r.forecasts[m]:>14,.0f}" for m in methods)
            )
        lines.append("")
        lines.append(f"{'method':<12} {'bias':>14} {'MAE':>14} {'RMSE':>14} {'MAPE':>8}")
        for e in self.errors.values():
            mape = "n/a" if e.mape is None else f"{e.mape:.1%}"
            lines.append(
                f"{e.method:<12} {e.bias:>14,.0f} {e.mae:>14,.0f} {e.rmse:>14,.0f} {mape:>8}"
            )
        return "\n".join(lines)


@engine
def backtest(
    events: Events,
    pipeline: Pipeline,
    *,
    at: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """Forecast as of each date in ``at`` and compare with what was won within ``horizon``.

    As of each date, every method forecasts the same quantity, the amount
    the deals open then will win within ``horizon``: :func:`weighted`,
    :func:`markov_forecast` and :func:`conditional_forecast`, each in its
    horizon form (``horizon=horizon``). Each model is fitted only on the
    events up to its date, and each deal counts at its amount as of that
    date, as it would have been then (a later change of the amount is not
    seen). The actual is the amount (at closing) of those same deals won
    in (date, date + horizon]. Dates whose horizon runs past the end of the
    log are measured against an incomplete future: pick dates at least
    ``horizon`` before the last event.

    The log is folded once (at the last date + ``horizon``); each date's view
    is rewound from that fold. ``events`` may be a
    :class:`~salesstages.metrics.Histories`: its ``as_of`` then ends every
    actual, and no date may be later than it.

    Raises:
        ValueError: ``at`` is empty or ``horizon`` is not a positive timedelta.
        DataError: A date is after the ``as_of`` of the given ``Histories``.
        NaiveTimeError: A date has no timezone.
    """
    dates = backtest_dates_of(at, horizon)
    if isinstance(events, Histories):
        final = _hist(events, pipeline, None)
        if final.as_of is not None and dates[-1] > final.as_of:
            raise DataError(
                f"backtest date {dates[-1].isoformat()} is after the as_of these histories "
                f"were folded for ({final.as_of.isoformat()}); fold the log at the last "
                "date + horizon or later"
            )
    else:
        final = _hist(events, pipeline, dates[-1] + horizon)
    return _backtest_folded(final, pipeline, dates, horizon)


def backtest_dates_of(at: object, horizon: object) -> list[datetime]:
    """Check :func:`backtest`'s ``at`` and ``horizon``; the dates, sorted and in UTC."""
    if not isinstance(horizon, timedelta) or horizon <= _ZERO:
        raise ValueError(f"horizon must be a positive timedelta, got {horizon!r}")
    if isinstance(at, datetime) or not isinstance(at, Sequence | Iterable):
        raise ValueError(f"at must be a sequence of datetimes, got {at!r}")
    dates = sorted({to_utc(d, "at") for d in at})
    if not dates:
        raise ValueError("at must name at least one date")
    return dates


def _backtest_folded(
    final: Histories,
    pipeline: Pipeline,
    dates: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """:func:`backtest` over sorted aware ``dates``, given ``final``: the log folded
    at the last date + ``horizon`` or later. Each date's view is rewound from it
    (no pass over the events), and it gives every date's actual wins."""
    rows = [_backtest_row(rewind(final, d), final, pipeline, d, horizon) for d in dates]
    return _backtest_result(rows, horizon)


def _backtest_row(
    now: Histories, final: Histories, pipeline: Pipeline, d: datetime, horizon: timedelta
) -> BacktestRow:
    """One backtest date: the forecasts fitted on ``now`` (the log folded at ``d``)
    against the actual wins in ``(d, d + horizon]``, read from ``final`` (the log
    folded at ``d + horizon`` or later: a win is final, so a deal won by then is
    won there too, at the same time and amount)."""
    end = d + horizon
    open_now = {k: h for k, h in now.deals.items() if h.outcome == "open"}
    actual = won_new = 0.0
    for k, h in final.deals.items():
        if h.outcome != "won" or h.closed_at is None or not d < h.closed_at <= end:
            continue
        amount = amount_of(h.closed_amount)
        if k in open_now:
            actual += amount
        elif k not in now.deals:
            won_new += amount
    h_us = _us(horizon)
    # every method in its horizon form: the amount won within the horizon,
    # from each deal's amount as of d (the rewound view knows no later value)
    forecasts = {
        "weighted": _conditional_sum(now, pipeline, h_us, _stage_probabilities(pipeline)),
        "markov": _markov_sum(now, pipeline, _markov(now, pipeline), h_us),
        "conditional": _conditional_sum(now, pipeline, h_us),
    }
    return BacktestRow(
        at=d,
        open_deals=len(open_now),
        open_amount=sum(_open_amount(h) for h in open_now.values()),
        actual=actual,
        won_new=won_new,
        forecasts=_frozen_map(forecasts),
    )


def _backtest_result(rows: Sequence[BacktestRow], horizon: timedelta) -> Backtest:
    """Each method's errors over the backtest ``rows``, best first."""
    errors: list[MethodError] = []
    for m in METHODS:
        diffs = [r.forecasts[m] - r.actual for r in rows]
        rel = [abs(r.forecasts[m] - r.actual) / r.actual for r in rows if r.actual > 0]
        errors.append(
            MethodError(
                method=m,
                bias=math.fsum(diffs) / len(diffs),
                mae=math.fsum(abs(x) for x in diffs) / len(diffs),
                rmse=math.sqrt(math.fsum(x * x for x in diffs) / len(diffs)),
                mape=math.fsum(rel) / len(rel) if rel else None,
            )
        )
    errors.sort(key=lambda e: (e.mae, METHODS.index(e.method)))
    return Backtest(
        horizon=horizon,
        rows=tuple(rows),
        errors=Keyed("method", {e.method: e for e in errors}),
    )
