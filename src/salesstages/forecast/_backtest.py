"""The backtest: each method's forecasts at past dates against what was won.

Nothing after ``as_of`` is read (CONTRACT §17): each date's actual is the amount
won in ``[date, min(date + horizon, as_of⁺))``; a date whose horizon runs past
``as_of`` is kept as a *partial window* (its length said) and not scored. A method
with no estimate at a date (no stay in its sample had closed by then) gives
``None`` there, and each method's error figures use only the rows where it has
one, with their count.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import DataError
from .._time import to_utc
from ..metrics._common import amount_of
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories, rewind, stay_cells
from ..metrics._types import Keyed, _amount, _days, _fields_row, _one_row, _pct, _when
from ._common import (
    _DAY,
    _DAY_US,
    _ZERO,
    METHODS,
    _fields_repr,
    _frozen_map,
    _hist,
    _open_amount,
    _stage_probabilities,
    _us,
)
from ._markov import _markov, _markov_probabilities
from ._outlook import _table_sum, _win_tables

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "NO_ESTIMATE",
    "Backtest",
    "BacktestRow",
    "MethodError",
    "backtest",
    "backtest_dates_of",
    "backtest_result",
    "has_estimate",
]

_TICK: Final = timedelta(microseconds=1)

#: A row's note when no method has an estimate at its date.
NO_ESTIMATE: Final = (
    "no estimate: no stay in an open stage had closed by this date, so no method "
    "can tell how soon the open deals close"
)


@attrs.frozen(kw_only=True, repr=False)
class BacktestRow:
    """One date of a :func:`backtest`.

    Attributes:
        at: The date the forecasts were made as of.
        open_deals: Deals open at ``at``.
        open_amount: Their total amount at ``at``.
        actual: The amount of those deals won in ``[at, at + window)`` (at closing).
        won_new: The amount won in that window by deals opened after ``at`` (not
            part of any forecast; shown for context).
        forecasts: Method name → its forecast, as of ``at``, of the amount the
            deals open then win within the horizon (what ``actual`` measures), or
            ``None`` when the method has no estimate there (``notes`` says why).
        window: How long after ``at`` the actual was measured: the horizon, or
            less for a partial window.
        partial: True when ``at + horizon`` runs past ``as_of``: the actual covers
            only ``window``, and the row is not scored.
        notes: Sentences saying why a forecast is ``None`` or the row not scored.
    """

    at: datetime
    open_deals: int
    open_amount: float
    actual: float
    won_new: float
    forecasts: Mapping[str, float | None]
    window: timedelta
    partial: bool = False
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fc = ", ".join(
            f"{k}: {'None' if v is None else format(v, '.4g')}" for k, v in self.forecasts.items()
        )
        return _fields_repr(
            self,
            ("at", "open_deals", "open_amount", "actual", "won_new", "partial"),
            f", forecasts={{{fc}}}",
        )

    @property
    def scored(self) -> bool:
        """True when the row counts in the error figures (a full window)."""
        return not self.partial

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
        partial = " (partial window, not scored)" if self.partial else ""
        return (
            f"{_when(self.at)}: {self.open_deals:,} open (amount {_amount(self.open_amount)}), "
            f"actual {_amount(self.actual)}{partial}; {fc}"
        )


@attrs.frozen(kw_only=True, repr=False)
class MethodError:
    """How far one method's forecasts were from what was won, over a backtest's dates.

    Only the rows with a full window where the method has an estimate count
    (``count`` of them); every figure is ``None`` when there is none.

    Attributes:
        method: ``"weighted"``, ``"markov"`` or ``"conditional"``.
        bias: Mean of forecast − actual (positive: the method overshoots).
        mae: Mean absolute error.
        rmse: Root mean squared error.
        mape: Mean absolute error relative to the actual amount, over the
            scored dates where something was won; ``None`` when nothing was.
        count: How many dates were scored.
    """

    method: str
    bias: float | None
    mae: float | None
    rmse: float | None
    mape: float | None
    count: int = 0

    def __repr__(self) -> str:
        return _fields_repr(self, ("method", "bias", "mae", "rmse", "mape", "count"))

    to_records = _one_row

    def __str__(self) -> str:
        """``markov: bias 1,200, MAE 3,400, RMSE 4,100, MAPE 12.0% (8 dates)``."""
        return (
            f"{self.method}: bias {_amount(self.bias)}, MAE {_amount(self.mae)}, "
            f"RMSE {_amount(self.rmse)}, MAPE {_pct(self.mape)} ({self.count:,} dates)"
        )


@attrs.frozen(kw_only=True, repr=False)
class Backtest:
    """The result of :func:`backtest`: one row per date and each method's error.

    ``str(backtest)`` (or :meth:`summary`) is a printable table.

    Attributes:
        horizon: The horizon each forecast was checked over.
        rows: One :class:`BacktestRow` per date, in date order.
        errors: Method name → :class:`MethodError`, best (lowest MAE) first; a
            method with no scored date last.
        as_of: The moment nothing after which was read.
        overlapping: True when two dates lie less than one horizon apart: their
            windows overlap, so their errors are not independent (a ranking on
            them says less than the number of dates suggests).
    """

    horizon: timedelta
    rows: tuple[BacktestRow, ...]
    errors: Mapping[str, MethodError]
    as_of: datetime | None = None
    overlapping: bool = False

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
            cells = " ".join(
                f"{'n/a':>14}" if r.forecasts[m] is None else f"{r.forecasts[m]:>14,.0f}"
                for m in methods
            )
            mark = f"  (partial window: {r.window / _DAY:g} days)" if r.partial else ""
            lines.append(
                f"{r.at.strftime('%Y-%m-%d %H:%M'):<20} {r.open_deals:>6} {r.actual:>14,.0f} "
                + cells
                + mark
            )
        lines.append("")
        lines.append(
            f"{'method':<12} {'bias':>14} {'MAE':>14} {'RMSE':>14} {'MAPE':>8} {'dates':>6}"
        )
        for e in self.errors.values():
            mape = "n/a" if e.mape is None else f"{e.mape:.1%}"
            figures = " ".join(
                f"{'n/a':>14}" if v is None else f"{v:>14,.0f}" for v in (e.bias, e.mae, e.rmse)
            )
            lines.append(f"{e.method:<12} {figures} {mape:>8} {e.count:>6}")
        if self.overlapping:
            lines.append(
                "The dates lie less than one horizon apart: their windows overlap, so the "
                "errors are not independent."
            )
        return "\n".join(lines)


@engine(renamed={"at": "dates"})
def backtest(
    events: Events,
    pipeline: Pipeline,
    *,
    dates: Sequence[datetime],
    horizon: timedelta,
    as_of: datetime | None = None,
) -> Backtest:
    """Forecast as of each date in ``dates`` and compare with what was won within ``horizon``.

    As of each date, every method forecasts the same quantity, the amount
    the deals open then will win within ``horizon``: :func:`weighted`,
    :func:`markov_forecast` and :func:`conditional_forecast`, each in its
    horizon form (``horizon=horizon``). Each model is fitted only on the
    events up to its date, and each deal counts at its amount as of that
    date, as it would have been then (a later change of the amount is not
    seen). The actual is the amount (at closing) of those same deals won in
    ``[date, min(date + horizon, as_of⁺))``: nothing after ``as_of`` (default:
    the latest event) is read. A date whose horizon runs past ``as_of`` gives a
    *partial window* row (``partial``, ``window`` its length) that is not
    scored. A method with no estimate at a date (no stay in an open stage had
    closed by then) gives ``None`` there; each method's bias, MAE, RMSE and
    MAPE use only the scored rows where it has an estimate (``count``).
    ``Backtest.overlapping`` says when dates lie less than one horizon apart.

    The log is folded once (at ``as_of``); each date's view is rewound from that
    fold. ``events`` may be a :class:`~salesstages.metrics.Histories`: its
    ``as_of`` is then the one used.

    Raises:
        ValueError: ``dates`` is empty or ``horizon`` is not a positive timedelta.
        DataError: A date is after ``as_of``.
        NaiveTimeError: A date or ``as_of`` has no timezone.
    """
    days = backtest_dates_of(dates, horizon)
    if is_ibis_table(events):
        return on_table(backtest)(events, pipeline, dates=days, horizon=horizon, as_of=as_of)
    final = _hist(events, pipeline, as_of)
    _check_dates(days, final.as_of)
    return _backtest_folded(final, pipeline, days, horizon)


def _check_dates(dates: Sequence[datetime], as_of: datetime | None) -> None:
    if as_of is not None and dates[-1] > as_of:
        raise DataError(
            f"backtest date {dates[-1].isoformat()} is after as_of {as_of.isoformat()}: "
            "a forecast as of it would read events after as_of; pick dates at or before "
            "as_of (and at least one horizon before it for a full window)",
            field="dates",
        )


def backtest_dates_of(dates: object, horizon: object) -> list[datetime]:
    """Check :func:`backtest`'s ``dates`` and ``horizon``; the dates, sorted and in UTC."""
    if not isinstance(horizon, timedelta) or horizon <= _ZERO:
        raise ValueError(f"horizon must be a positive timedelta, got {horizon!r}")
    if isinstance(dates, datetime) or not isinstance(dates, Sequence | Iterable):
        raise ValueError(f"dates must be a sequence of datetimes, got {dates!r}")
    out = sorted({to_utc(d, "dates") for d in dates})
    if not out:
        raise ValueError("dates must name at least one date")
    return out


def window_end(d: datetime, horizon: timedelta, as_of: datetime | None) -> datetime:
    """The end (excluded) of date ``d``'s window: ``min(d + horizon, as_of⁺)``."""
    end = d + horizon
    return end if as_of is None else min(end, as_of + _TICK)


def has_estimate(
    wanted: Mapping[str, Mapping[int, float]], cells: Mapping[str, Counter[int]], h_days: int
) -> bool:
    """True when a horizon-form forecast over the open amounts ``wanted`` (by stage and
    whole days in it) has an estimate: nothing is open with an amount (the forecast
    is then 0), or some stay as old as an open deal in its stage was seen to close
    (what ``_binned`` calls *seen*; ``h_days`` does not change it)."""
    del h_days  # the same for every horizon
    if not wanted:
        return True
    for stage, amounts in wanted.items():
        youngest = min(amounts)
        # a cell is days_in << 32 | days_to << 2 | cause (cause 0: not closed)
        if any(key & 3 and key >> 32 >= youngest for key in cells.get(stage, ())):
            return True
    return False


def _backtest_folded(
    final: Histories,
    pipeline: Pipeline,
    dates: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """:func:`backtest` over sorted aware ``dates``, given ``final``: the log folded
    at ``as_of`` (no date after it). Each date's view is rewound from it (no pass over
    the events), and it gives every date's actual wins up to ``as_of``."""
    _check_dates(dates, final.as_of)
    rows = [_backtest_row(rewind(final, d), final, pipeline, d, horizon) for d in dates]
    return backtest_result(rows, horizon, final.as_of)


def _wanted(now: Histories) -> dict[str, dict[int, float]]:
    """The open amounts by stage and whole days in it (as ``_conditional_sum``)."""
    as_of = now.as_of
    parts: dict[str, dict[int, list[float]]] = {}
    for h in now.deals.values():
        if h.outcome == "open" and as_of is not None:
            amount = _open_amount(h)
            if amount:
                days = (as_of - h.entries[-1][0]) // _DAY
                parts.setdefault(h.stage, {}).setdefault(days, []).append(amount)
    return {
        stage: {days: math.fsum(amounts) for days, amounts in row.items()}
        for stage, row in parts.items()
    }


def _backtest_row(
    now: Histories, final: Histories, pipeline: Pipeline, d: datetime, horizon: timedelta
) -> BacktestRow:
    """One backtest date: the forecasts fitted on ``now`` (the log folded at ``d``)
    against the actual wins in ``[d, min(d + horizon, as_of⁺))``, read from ``final``
    (the log folded at ``as_of``: a win is final, so a deal won by then is won there
    too, at the same time and amount)."""
    end = window_end(d, horizon, final.as_of)
    open_now = {k: h for k, h in now.deals.items() if h.outcome == "open"}
    actual = won_new = 0.0
    for k, h in final.deals.items():
        if h.outcome != "won" or h.closed_at is None or not d <= h.closed_at < end:
            continue
        amount = amount_of(h.closed_amount)
        if k in open_now:
            actual += amount
        elif k not in now.deals:
            won_new += amount
    h_us = _us(horizon)
    # every method in its horizon form: the amount won within the horizon,
    # from each deal's amount as of d (the rewound view knows no later value)
    wanted = _wanted(now)
    cells = stay_cells(now, pipeline) if wanted else {}
    forecasts = _forecasts(wanted, cells, h_us, pipeline, lambda: _markov(now, pipeline))
    return _row(
        d,
        len(open_now),
        math.fsum(_open_amount(h) for h in open_now.values()),
        actual,
        won_new,
        forecasts,
        end - d,
        horizon,
    )


def _forecasts(
    wanted: Mapping[str, Mapping[int, float]],
    cells: Mapping[str, Counter[int]],
    h_us: int,
    pipeline: Pipeline,
    model: Any,
) -> dict[str, float | None]:
    """Every method's horizon-form forecast from the open amounts and the stays'
    cells (shared by both engines); ``None`` for all when there is no estimate."""
    if not has_estimate(wanted, cells, h_us // _DAY_US):
        return dict.fromkeys(METHODS, None)
    if not wanted:
        return dict.fromkeys(METHODS, 0.0)
    w = {k: dict(v) for k, v in wanted.items()}
    tables = _win_tables(w, dict(cells), h_us // _DAY_US)  # once for the three methods
    return {
        "weighted": _table_sum(w, tables, _stage_probabilities(pipeline)),
        "markov": _table_sum(w, tables, _markov_probabilities(pipeline, model())),
        "conditional": _table_sum(w, tables, None),
    }


def _row(
    d: datetime,
    open_deals: int,
    open_amount: float,
    actual: float,
    won_new: float,
    forecasts: Mapping[str, float | None],
    window: timedelta,
    horizon: timedelta,
) -> BacktestRow:
    """A :class:`BacktestRow` with its notes (shared by both engines)."""
    notes: list[str] = []
    if any(v is None for v in forecasts.values()):
        notes.append(NO_ESTIMATE)
    partial = window < horizon
    if partial:
        notes.append(
            f"partial window: {window / _DAY:g} of {horizon / _DAY:g} days (the horizon "
            "runs past as_of); not scored"
        )
    return BacktestRow(
        at=d,
        open_deals=open_deals,
        open_amount=open_amount,
        actual=actual,
        won_new=won_new,
        forecasts=_frozen_map(forecasts),
        window=window,
        partial=partial,
        notes=tuple(notes),
    )


def backtest_result(
    rows: Sequence[BacktestRow], horizon: timedelta, as_of: datetime | None
) -> Backtest:
    """Each method's errors over the scored ``rows`` where it has an estimate, best
    first (shared by both engines)."""
    errors: list[MethodError] = []
    for m in METHODS:
        scored = [(r.forecasts[m], r.actual) for r in rows if r.scored]
        pairs = [(f, a) for f, a in scored if f is not None]
        diffs = [f - a for f, a in pairs]
        rel = [abs(f - a) / a for f, a in pairs if a > 0]
        n = len(diffs)
        errors.append(
            MethodError(
                method=m,
                bias=math.fsum(diffs) / n if n else None,
                mae=math.fsum(abs(x) for x in diffs) / n if n else None,
                rmse=math.sqrt(math.fsum(x * x for x in diffs) / n) if n else None,
                mape=math.fsum(rel) / len(rel) if rel else None,
                count=n,
            )
        )
    errors.sort(key=lambda e: (e.mae is None, e.mae or 0.0, METHODS.index(e.method)))
    ats = [r.at for r in rows]
    overlapping = any(b - a < horizon for a, b in itertools.pairwise(ats))
    return Backtest(
        horizon=horizon,
        rows=tuple(rows),
        errors=Keyed("method", {e.method: e for e in errors}),
        as_of=as_of,
        overlapping=overlapping,
    )
