"""Outcomes and the state of the pipeline: :func:`win_rate`, :func:`sales_cycle`,
:func:`lost_reasons`, :func:`velocity`, :func:`snapshot` and :func:`stalled`."""

from __future__ import annotations

import math
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Final, Literal, overload

from .._pipeline import Pipeline
from .._time import to_utc
from ._common import (
    amount_of,
    amount_sum,
    check_by,
    check_choice,
    duration_stats,
    load,
    segmented,
)
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory
from ._types import DurationStats, Keyed, LostReason, Ratio, SnapshotRow, Stall

__all__ = [
    "LOST_AT_ZERO",
    "NO_REASON",
    "lost_reasons",
    "sales_cycle",
    "snapshot",
    "stalled",
    "value_ratio",
    "velocity",
    "win_rate",
]

#: The reason :func:`lost_reasons` reports for a lost deal whose event has none.
NO_REASON = "(no reason)"
_DAY = 86_400.0


#: Why :func:`win_rate` by value is ``None`` although deals were lost.
LOST_AT_ZERO: Final = (
    "every lost deal closed at an amount of 0 (a CRM that zeroes a lost deal's value?): "
    "the win rate by value is not known"
)


def value_ratio(won: float, lost: float, n_lost: int) -> Ratio:
    """The win rate by value from the won and lost amounts and the number of lost deals:
    ``None`` with :data:`LOST_AT_ZERO` when deals were lost but all at 0 (shared with
    the Ibis engine)."""
    total = won + lost
    if n_lost and not lost:
        return Ratio(numerator=won, denominator=total, rate=None, reason=LOST_AT_ZERO)
    return Ratio(numerator=won, denominator=total, rate=won / total if total else None)


def _win_ratio(deals: list[DealHistory], by_value: bool) -> Ratio:
    won: float
    lost: float
    if by_value:
        # fsum: exactly rounded, so the result does not depend on the deals' order
        won = amount_sum(amount_of(h.closed_amount) for h in deals if h.outcome == "won")
        lost = amount_sum(amount_of(h.closed_amount) for h in deals if h.outcome == "lost")
        return value_ratio(won, lost, sum(1 for h in deals if h.outcome == "lost"))
    else:
        won = sum(1 for h in deals if h.outcome == "won")
        lost = sum(1 for h in deals if h.outcome == "lost")
    total = won + lost
    return Ratio(numerator=won, denominator=total, rate=won / total if total else None)


@overload
def win_rate(
    events: Events,
    pipeline: Pipeline,
    *,
    by_value: bool = False,
    by: None = None,
    as_of: datetime | None = None,
) -> Ratio: ...


@overload
def win_rate(
    events: Events,
    pipeline: Pipeline,
    *,
    by_value: bool = False,
    by: str,
    as_of: datetime | None = None,
) -> dict[Hashable, Ratio]: ...


@engine
def win_rate(
    events: Events,
    pipeline: Pipeline,
    *,
    by_value: bool = False,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """Won / (won + lost) over deals by their outcome now (open deals are left out).

    With ``by_value`` the deals are weighted by their ``amount`` attribute at
    their latest closing (a missing or non-numeric amount counts as 0), so
    the ratio's parts are sums of money.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        by_value: Weight by amount at closing.
        by: Segment by this attribute's value at opening.
        as_of: Ignore later events; defaults to the latest event time.
    """
    check_by(by)
    if is_ibis_table(events):
        return on_table(win_rate)(events, pipeline, by_value=by_value, by=by, as_of=as_of)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, lambda deals: _win_ratio(deals, bool(by_value)))


def _cycle(deals: list[DealHistory], outcome: str) -> DurationStats:
    durations: list[timedelta] = []
    still_open = 0
    for h in deals:
        if h.outcome == outcome:
            durations.append(h.closed_at - h.opened_at)  # type: ignore[operator]
        elif h.outcome == "open":
            still_open += 1
    return duration_stats(durations, still_open)


@overload
def sales_cycle(
    events: Events,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    by: None = None,
    as_of: datetime | None = None,
) -> DurationStats: ...


@overload
def sales_cycle(
    events: Events,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    by: str,
    as_of: datetime | None = None,
) -> dict[Hashable, DurationStats]: ...


@engine
def sales_cycle(
    events: Events,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    by: str | None = None,
    as_of: datetime | None = None,
) -> DurationStats | dict[Hashable, DurationStats]:
    """Time from opening to the latest closing, over deals whose outcome now is
    ``outcome``; ``open_count`` is the number of deals still open (not included).

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        outcome: ``"won"`` or ``"lost"``.
        by: Segment by this attribute's value at opening.
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        ValueError: ``outcome`` is not ``"won"`` or ``"lost"``.
    """
    check_choice("outcome", outcome, ("won", "lost"))
    check_by(by)
    if is_ibis_table(events):
        return on_table(sales_cycle)(events, pipeline, outcome=outcome, by=by, as_of=as_of)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, lambda deals: _cycle(deals, outcome))


@engine(positional=("as_of",))
def snapshot(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> dict[str, SnapshotRow]:
    """Where the open deals stood at ``as_of``: per open stage (all of them, in
    order) how many deals were there and the sum of their ``amount`` attribute
    as it was then (missing or non-numeric amounts count as 0). ``as_of``
    defaults to the latest event time.

    Raises:
        NaiveTimeError: ``as_of`` has no timezone.
    """
    moment = None if as_of is None else to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(snapshot)(events, pipeline, as_of=moment)
    hist = load(events, pipeline, moment)
    amounts: dict[str, list[float]] = {s.name: [] for s in pipeline.open_stages}
    for h in hist.deals.values():
        if h.outcome == "open":
            amounts[h.stage].append(amount_of(h.attributes.get("amount")))
    return Keyed(
        "stage",
        {
            name: SnapshotRow(count=len(values), amount=amount_sum(values))
            for name, values in amounts.items()
        },
    )


@engine
def stalled(events: Events, pipeline: Pipeline, *, as_of: datetime | None = None) -> list[Stall]:
    """Open deals whose last event (of any kind) is more than their stage's
    ``rot_after`` before ``as_of``; ``idle`` is ``as_of`` minus that event's time.

    Stages without ``rot_after`` never stall. Most idle first, then by deal id.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
    """
    if is_ibis_table(events):
        return on_table(stalled)(events, pipeline, as_of=as_of)
    hist = load(events, pipeline, as_of)
    rot = {s.name: s.rot_after for s in pipeline.open_stages if s.rot_after is not None}
    now = hist.as_of
    out: list[Stall] = []
    for h in hist.deals.values():
        limit = rot.get(h.stage) if h.outcome == "open" else None
        if limit is not None:
            idle = now - h.last_at  # type: ignore[operator]
            if idle > limit:
                out.append(Stall(deal_id=h.deal_id, stage=h.stage, idle=idle))
    out.sort(key=lambda s: (-s.idle, s.deal_id))
    return out


@engine
def lost_reasons(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[LostReason]:
    """A :class:`LostReason` (``reason, deals, amount``) per reason over deals that are
    lost now: their lost reason
    (from their latest loss; :data:`NO_REASON` when it has none), how many
    deals gave it, and the sum of their ``amount`` at closing. Most deals
    first, then by reason.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
    """
    if is_ibis_table(events):
        return on_table(lost_reasons)(events, pipeline, as_of=as_of)
    hist = load(events, pipeline, as_of)
    amounts: dict[str, list[float]] = {}
    for h in hist.deals.values():
        if h.outcome == "lost":
            reason = NO_REASON if h.lost_reason is None else str(h.lost_reason)
            amounts.setdefault(reason, []).append(amount_of(h.closed_amount))
    rows = [
        LostReason(reason=reason, deals=len(values), amount=amount_sum(values))
        for reason, values in amounts.items()
    ]
    rows.sort(key=lambda r: (-r.deals, r.reason))
    return rows


def _velocity(deals: list[DealHistory]) -> float:
    n_open = n_lost = 0
    won: list[DealHistory] = []
    for h in deals:
        if h.outcome == "open":
            n_open += 1
        elif h.outcome == "won":
            won.append(h)
        else:
            n_lost += 1
    if not won or not n_open:
        return 0.0
    amount = amount_sum(amount_of(h.closed_amount) for h in won)
    total = sum((h.closed_at - h.opened_at for h in won), timedelta(0))  # type: ignore[operator]
    return velocity_value(n_open, len(won), n_lost, amount, total)


def velocity_value(
    n_open: int, n_won: int, n_lost: int, won_amount: float, won_cycle: timedelta
) -> float:
    """Velocity from its parts (shared with the Ibis engine): ``won_amount`` and
    ``won_cycle`` are the won deals' total amount at closing and total cycle."""
    if not n_won or not n_open:
        return 0.0
    rate = n_won / (n_won + n_lost)
    mean_amount = won_amount / n_won
    mean_days = won_cycle.total_seconds() / _DAY / n_won
    if mean_days == 0:
        return math.inf if mean_amount else 0.0
    return n_open * rate * mean_amount / mean_days


@overload
def velocity(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: None = None,
) -> float: ...


@overload
def velocity(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, float]: ...


@engine
def velocity(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
) -> float | dict[Hashable, float]:
    """Pipeline velocity in money per day: open deals × win rate × mean won
    amount / mean won cycle in days.

    The win rate is :func:`win_rate` by count; the mean won amount is the
    ``amount`` at closing averaged over won deals; the mean won cycle is
    :func:`sales_cycle`'s mean for won deals, in days. 0.0 when there is no
    open or no won deal; ``math.inf`` when won deals closed the moment they
    opened.

    Args:
        events: Any iterable of :class:`~salesstages.Event`, in any order.
        pipeline: The pipeline the events follow.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment by this attribute's value at opening.
    """
    check_by(by)
    if is_ibis_table(events):
        return on_table(velocity)(events, pipeline, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    return segmented(hist.deals.values(), by, _velocity)
