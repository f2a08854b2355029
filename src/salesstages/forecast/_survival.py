"""Time to close: Kaplan–Meier (:func:`time_to_close`) and Aalen–Johansen
(:func:`cumulative_incidence`), the other outcome competing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import attrs

from .._stats import (
    aalen_johansen,
    greenwood_interval,
    kaplan_meier,
    quantile_time,
    step_value,
    z_value,
)
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories
from ..metrics._types import _days, _pct
from ._common import (
    _US,
    _ZERO,
    _check_horizon,
    _fields_repr,
    _hist,
    _td,
    _us,
)

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["CumulativeIncidence", "Survival", "cumulative_incidence", "time_to_close"]


@attrs.frozen(kw_only=True, repr=False)
class Survival:
    """The Kaplan–Meier estimate of the time from opening to closing (see :func:`time_to_close`).

    Attributes:
        times: The distinct closing times (time since opening), ascending.
        survival: S just after each of those times: the estimated share of
            deals still open that long after opening.
        lower: The lower bound of S's confidence interval at each time.
        upper: The upper bound.
        at_risk: Deals still open (and observed) just before each time.
        closed: Deals that closed at each time.
        median: The first time at which S ≤ 0.5; ``None`` when S never gets there.
        deals: How many deals the estimate is built on.
        censored: How many of them were still open (right-censored).
        level: The confidence level of ``lower`` and ``upper``.
    """

    times: tuple[timedelta, ...]
    survival: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    at_risk: tuple[int, ...]
    closed: tuple[int, ...]
    median: timedelta | None
    deals: int
    censored: int
    level: float

    def __repr__(self) -> str:
        return _fields_repr(
            self, ("deals", "censored", "median", "level"), f", times=<{len(self.times)} times>"
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One row per closing time, ascending: ``times`` (that time), ``survival``,
        ``lower``, ``upper``, ``at_risk``, ``closed`` (the summary figures stay on the
        record)."""
        return [
            {"times": t, "survival": s, "lower": lo, "upper": hi, "at_risk": n, "closed": d}
            for t, s, lo, hi, n, d in zip(
                self.times,
                self.survival,
                self.lower,
                self.upper,
                self.at_risk,
                self.closed,
                strict=True,
            )
        ]

    def __str__(self) -> str:
        """``time to close: median 42.0 days over 120 deals (30 still open)``."""
        median = (
            "the median is not reached" if self.median is None else f"median {_days(self.median)}"
        )
        return f"time to close: {median} over {self.deals:,} deals ({self.censored:,} still open)"

    def at(self, t: timedelta) -> float:
        """S(t): the estimated share of deals still open ``t`` after opening."""
        _check_horizon(t, "t")
        return step_value(self.times, self.survival, t, 1.0)  # type: ignore[arg-type]

    def interval(self, t: timedelta) -> tuple[float, float]:
        """The confidence interval of S(t) (``(1, 1)`` before the first closing)."""
        _check_horizon(t, "t")
        i = _index_at(self.times, t)
        if i < 0:
            return 1.0, 1.0
        return self.lower[i], self.upper[i]

    def close_within(self, horizon: timedelta, *, age: timedelta = _ZERO) -> float:
        """P(a deal closes, won or lost, within ``horizon``), for one already open for ``age``.

        ``1 - S(age + horizon) / S(age)``; 1.0 when S(age) is already 0. For
        the chance to *win* within a horizon use :func:`cumulative_incidence`.
        """
        _check_horizon(horizon)
        _check_horizon(age, "age")
        s_age = self.at(age)
        if s_age <= 0.0:
            return 1.0
        return min(1.0, max(0.0, 1.0 - self.at(age + horizon) / s_age))


def _index_at(times: Sequence[Any], t: Any) -> int:
    """Index of the last time ≤ t, -1 when none."""
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _close_samples(hist: Histories) -> tuple[list[int], list[str | None]]:
    """Opened → latest closing (µs) and the outcome, or as_of − opened and None when open."""
    as_of = hist.as_of
    durations: list[int] = []
    causes: list[str | None] = []
    for h in hist.deals.values():
        if h.outcome == "open":
            assert as_of is not None
            durations.append(max(0, _us(as_of - h.opened_at)))
            causes.append(None)
        else:
            assert h.closed_at is not None
            durations.append(max(0, _us(h.closed_at - h.opened_at)))
            causes.append(h.outcome)
    return durations, causes


@engine
def time_to_close(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    level: float = 0.95,
) -> Survival:
    """Kaplan–Meier estimate of the time from opening to closing, won or lost.

    A closed deal's time runs from its ``opened`` event to its latest closing
    (a lost deal that was reopened and closed again counts once, at its last
    closing); a deal still open at ``as_of`` is right-censored at
    ``as_of - opened``. At each closing time t with n deals at risk and d
    closings, S(t) = S(t−) · (1 − d / n); a deal censored at the same time as
    a closing is still at risk at that time. The interval is Greenwood's, on
    the log(−log S) scale, at confidence ``level``.
    """
    z_value(level)
    if is_ibis_table(events):
        return on_table(time_to_close)(events, pipeline, as_of=as_of, level=level)
    hist = _hist(events, pipeline, as_of)
    durations, causes = _close_samples(hist)
    return _survival(durations, causes, level)


def _survival(durations: list[int], causes: list[str | None], level: float) -> Survival:
    """The :class:`Survival` from each deal's µs and outcome (shared with the Ibis engine)."""
    km = kaplan_meier(durations, [c is not None for c in causes])
    lower, upper = greenwood_interval(km, level)
    times = tuple(_US * t for t in km.times)  # exact: the times are whole µs
    median = quantile_time(km.times, km.survival)
    return Survival(
        times=times,
        survival=km.survival,
        lower=lower,
        upper=upper,
        at_risk=km.at_risk,
        closed=km.events,
        median=None if median is None else _td(median),
        deals=km.total,
        censored=sum(1 for c in causes if c is None),
        level=level,
    )


@attrs.frozen(kw_only=True, repr=False)
class CumulativeIncidence:
    """The probability of one outcome within a time, with the other competing.

    See :func:`cumulative_incidence`.

    Attributes:
        outcome: ``"won"`` or ``"lost"``.
        times: The distinct closing times (of either outcome), ascending.
        incidence: F(t) just after each time: the estimated share of deals
            that reach ``outcome`` within that time of opening.
        survival: The Kaplan–Meier share still open at each time, so that
            F_won(t) + F_lost(t) = 1 − survival(t).
        at_risk: Deals still open (and observed) just before each time.
        events: Deals that reached ``outcome`` at each time.
        final: F at the last closing time: the estimated share that ever
            reaches ``outcome`` (within the observed span).
        deals: How many deals the estimate is built on.
    """

    outcome: Literal["won", "lost"]
    times: tuple[timedelta, ...]
    incidence: tuple[float, ...]
    survival: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    final: float
    deals: int

    def __repr__(self) -> str:
        return _fields_repr(
            self, ("outcome", "deals", "final"), f", times=<{len(self.times)} times>"
        )

    def to_records(self) -> list[dict[str, Any]]:
        """One row per closing time, ascending: ``outcome``, ``times`` (that time),
        ``incidence``, ``survival``, ``at_risk``, ``events``."""
        return [
            {
                "outcome": self.outcome,
                "times": t,
                "incidence": f,
                "survival": s,
                "at_risk": n,
                "events": d,
            }
            for t, f, s, n, d in zip(
                self.times, self.incidence, self.survival, self.at_risk, self.events, strict=True
            )
        ]

    def __str__(self) -> str:
        """``won: 45.0% of 120 deals, by the last closing seen (58.0 days)``."""
        last = f" ({_days(self.times[-1])})" if self.times else ""
        return (
            f"{self.outcome}: {_pct(self.final)} of {self.deals:,} deals, by the last "
            f"closing seen{last}"
        )

    def at(self, t: timedelta) -> float:
        """F(t): the estimated share of deals that reach the outcome within ``t`` of opening."""
        _check_horizon(t, "t")
        return step_value(self.times, self.incidence, t, 0.0)  # type: ignore[arg-type]


def _check_outcome(outcome: Any) -> Literal["won", "lost"]:
    if outcome not in ("won", "lost"):
        raise ValueError(f"outcome must be 'won' or 'lost', got {outcome!r}")
    return outcome  # type: ignore[no-any-return]


@engine(positional=("outcome",))
def cumulative_incidence(
    events: Events,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    as_of: datetime | None = None,
) -> CumulativeIncidence:
    """Aalen–Johansen estimate of P(a deal reaches ``outcome`` within t of opening).

    Won and lost compete: a lost deal can no longer be won, so 1 − KM (the
    chance to close at all) overstates the chance to win. With S the
    all-cause Kaplan–Meier curve of :func:`time_to_close` (same times, same
    censoring of open deals), F(t) = Σ_{tᵢ ≤ t} S(tᵢ−) · dᵢ / nᵢ where dᵢ
    counts the deals reaching ``outcome`` at tᵢ. A deal's outcome is the
    one of its latest closing.
    """
    outcome = _check_outcome(outcome)
    if is_ibis_table(events):
        return on_table(cumulative_incidence)(events, pipeline, outcome=outcome, as_of=as_of)
    hist = _hist(events, pipeline, as_of)
    durations, causes = _close_samples(hist)
    return _incidence(durations, causes, outcome)


def _incidence(
    durations: list[int], causes: list[str | None], outcome: Literal["won", "lost"]
) -> CumulativeIncidence:
    """The :class:`CumulativeIncidence` from each deal's µs and outcome (shared)."""
    aj = aalen_johansen(durations, causes, ["won", "lost"])
    inc = aj.incidence[outcome]
    return CumulativeIncidence(
        outcome=outcome,
        times=tuple(_US * t for t in aj.times),
        incidence=inc,
        survival=aj.survival,
        at_risk=aj.at_risk,
        events=aj.events[outcome],
        final=inc[-1] if inc else 0.0,
        deals=aj.total,
    )
