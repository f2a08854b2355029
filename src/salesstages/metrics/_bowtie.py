"""The bow-tie (CONTRACT §19): the sales funnel, the knot (the win of new business)
and the mirror funnel after it (:func:`salesstages.presets.customer_success`), with
the recurring-revenue figures of the trailing twelve months.

The success log's journeys use the account as deal id, so the two logs meet at an
account's first win. Everything is built from the public metrics (which run on
either engine) and a :class:`~._contracts.Book`, which each engine reads its own way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._errors import DataError
from ._common import duration_stats, load
from ._contracts import TICK, Book, midnight
from ._durations import visits
from ._engine import Events, engine, is_ibis_table, on_table
from ._funnel import funnel
from ._outcomes import win_rate
from ._revenue import contracts
from ._revenue_types import Retention, movement_of, retention_of
from ._types import DurationStats, FunnelRow, Ratio, _amount, _days, _pct, _repr

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["FIRST_IMPACT", "BowTie", "bowtie", "bowtie_of"]

#: The success pipeline's stage whose first entry is an account's first impact.
FIRST_IMPACT: Final = "first_impact"
_YEAR: Final = timedelta(days=365)


@attrs.frozen(kw_only=True, repr=False)
class BowTie:
    """Both funnels around the knot (see :func:`~salesstages.metrics.bowtie`).

    Attributes:
        as_of: The moment the figures are as of.
        sales: The sales funnel (:func:`~salesstages.metrics.funnel` of the sales log).
        knot: The win rate of new business (deals whose ``deal_type`` at opening is
            ``"new"`` or absent).
        success: The success funnel (the funnel of the success log).
        time_to_first_impact: From an account's first win to its journey's first
            entry into ``first_impact`` (accounts that have both).
        renewal_rate: Contracts that came due in the trailing twelve months and were
            followed by ARR of the same account on their end day, over those due.
        expansion_rate: Expansion ARR of the trailing twelve months over the ARR at
            their start (``None`` when there was none).
        retention: NRR, GRR and logo retention of the trailing twelve months.
    """

    as_of: datetime | None
    sales: list[FunnelRow]
    knot: Ratio
    success: list[FunnelRow]
    time_to_first_impact: DurationStats
    renewal_rate: Ratio
    expansion_rate: float | None
    retention: Retention

    __repr__ = _repr

    @property
    def nrr(self) -> float | None:
        """Net revenue retention of the trailing twelve months."""
        return self.retention.nrr

    @property
    def grr(self) -> float | None:
        """Gross revenue retention of the trailing twelve months."""
        return self.retention.grr

    def to_records(self) -> list[dict[str, Any]]:
        """One row per step, left to right: ``part`` (``"sales"``, ``"knot"``,
        ``"success"``, ``"after"``), ``step``, ``count`` and ``value`` (a rate, or
        days for ``time_to_first_impact``)."""
        out: list[dict[str, Any]] = [
            {"part": "sales", "step": r.stage, "count": r.reached, "value": r.conversion_rate}
            for r in self.sales
        ]
        out.append(
            {
                "part": "knot",
                "step": "win_rate",
                "count": self.knot.denominator,
                "value": self.knot.rate,
            }
        )
        out += [
            {"part": "success", "step": r.stage, "count": r.reached, "value": r.conversion_rate}
            for r in self.success
        ]
        median = self.time_to_first_impact.median
        out += [
            {
                "part": "after",
                "step": "time_to_first_impact",
                "count": self.time_to_first_impact.count,
                "value": None if median is None else median / timedelta(days=1),
            },
            {
                "part": "after",
                "step": "renewal_rate",
                "count": self.renewal_rate.denominator,
                "value": self.renewal_rate.rate,
            },
            {
                "part": "after",
                "step": "expansion_rate",
                "count": None,
                "value": self.expansion_rate,
            },
            {"part": "after", "step": "nrr", "count": self.retention.accounts, "value": self.nrr},
            {"part": "after", "step": "grr", "count": self.retention.accounts, "value": self.grr},
        ]
        return out

    def __str__(self) -> str:
        """The two funnels around the knot, then the figures after the win."""
        lines = ["sales:"]
        lines += [f"  {r}" for r in self.sales]
        lines.append(f"knot (win rate of new business): {self.knot}")
        lines.append("success:")
        lines += [f"  {r}" for r in self.success]
        lines.append(
            f"median time to first impact: {_days(self.time_to_first_impact.median)} "
            f"(n={self.time_to_first_impact.count:,})"
        )
        lines.append(f"renewal rate: {self.renewal_rate}")
        lines.append(f"expansion rate: {_pct(self.expansion_rate)}")
        lines.append(f"trailing twelve months: {self.retention}")
        lines.append(f"ARR then: {_amount(self.retention.arr_end)}")
        return "\n".join(lines)


def _knot(events: Events, pipeline: Pipeline, as_of: datetime | None) -> Ratio:
    """The win rate of new business: ``deal_type`` ``"new"`` or absent at opening."""
    try:
        by_type: Mapping[Any, Ratio] = win_rate(events, pipeline, by="deal_type", as_of=as_of)
    except DataError:  # no deal has a deal_type: every deal is new business
        return win_rate(events, pipeline, as_of=as_of)
    parts = [r for k, r in by_type.items() if k in ("new", None)]
    num = sum(r.numerator for r in parts)
    den = sum(r.denominator for r in parts)
    return Ratio(numerator=num, denominator=den, rate=num / den if den else None)


def _impact_times(book: Book, impact: Mapping[str, datetime]) -> DurationStats:
    waits = []
    for account, contracts_ in book.accounts.items():
        reached = impact.get(account)
        won = min(c.won_at for c in contracts_)
        if reached is not None and reached >= won:
            waits.append(reached - won)
    return duration_stats(waits, 0)


def _renewals(book: Book, start: datetime, as_of: datetime) -> Ratio:
    due = renewed = 0
    for account, contracts_ in book.accounts.items():
        for c in contracts_:
            if c.end_day is None or not c.ever_counts:
                continue
            end = midnight(c.end_day)
            if start <= end <= as_of:
                due += 1
                renewed += book.arr_at(account, end) > 0
    return Ratio(numerator=renewed, denominator=due, rate=renewed / due if due else None)


def bowtie_of(
    book: Book,
    as_of: datetime | None,
    sales: list[FunnelRow],
    knot: Ratio,
    success: list[FunnelRow],
    impact: Iterable[tuple[str, str, datetime]],
) -> BowTie:
    """The :class:`BowTie` from its parts (both engines); ``impact`` holds the
    success log's ``(deal_id, stage, entered_at)`` visits."""
    first: dict[str, datetime] = {}
    for deal_id, stage, entered in impact:
        if stage == FIRST_IMPACT and (deal_id not in first or entered < first[deal_id]):
            first[deal_id] = entered
    now = as_of or datetime.now().astimezone()
    start, stop = now + TICK - _YEAR, now + TICK
    move = movement_of(book, start, stop, as_of)
    opening = move.opening.amount
    return BowTie(
        as_of=as_of,
        sales=sales,
        knot=knot,
        success=success,
        time_to_first_impact=_impact_times(book, first),
        renewal_rate=_renewals(book, start, now),
        expansion_rate=move.expansion.amount / opening if opening else None,
        retention=retention_of(book, start, stop, as_of),
    )


def success_visits(
    success_events: Events, success_pipeline: Pipeline, as_of: datetime | None
) -> list[tuple[str, str, datetime]]:
    """The success log's visits as ``(deal_id, stage, entered_at)``."""
    return [
        (v.deal_id, v.stage, v.entered_at)
        for v in visits(success_events, success_pipeline, as_of=as_of)
    ]


@engine
def bowtie(
    events: Events,
    pipeline: Pipeline,
    *,
    success_events: Events | Sequence[Any],
    success_pipeline: Pipeline,
    as_of: datetime | None = None,
) -> BowTie:
    """The bow-tie: the sales funnel, the knot and the success funnel, with the
    recurring-revenue figures of the twelve months up to ``as_of``.

    Args:
        events: The sales log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The sales pipeline.
        success_events: The success log, whose deal ids are account names (events,
            or an Ibis table).
        success_pipeline: Its pipeline (:func:`salesstages.presets.customer_success`).
        as_of: Ignore later events (in both logs); defaults to the sales log's
            latest event time.
    """
    if is_ibis_table(events):
        return on_table(bowtie)(
            events,
            pipeline,
            success_events=success_events,
            success_pipeline=success_pipeline,
            as_of=as_of,
        )
    hist = load(events, pipeline, as_of)
    at = hist.as_of
    return bowtie_of(
        Book(contracts(hist.deals.values())),
        at,
        funnel(hist, pipeline),
        _knot(hist, pipeline, None),
        funnel(success_events, success_pipeline, as_of=at),
        success_visits(success_events, success_pipeline, at),
    )
