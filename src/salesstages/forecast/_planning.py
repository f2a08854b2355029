"""Planning a period (CONTRACT §14, §17): :func:`categories` and :func:`coverage`.

Both read the deals as they stand at the period's closing instant ``min(end,
as_of⁺)`` (see :mod:`salesstages.metrics._planning`)."""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, overload

import attrs

from .._errors import DataError, DataTypeError
from .._time import to_utc
from .._values import FORECAST_CATEGORIES
from ..metrics._common import amount_of, check_by, load
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories
from ..metrics._planning import (
    Tally,
    amount_at,
    close_day,
    first_day_on_or_after,
    period_bounds,
    period_view,
)
from ..metrics._types import Keyed, _amount, _one_row, _pct, _repr

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..metrics._history import DealHistory

__all__ = [
    "CATEGORY_ORDER",
    "NOTHING_REMAINS",
    "NO_CLOSE_DATES",
    "Coverage",
    "categories",
    "combine",
    "coverage",
    "coverage_targets",
    "coverage_totals",
]

#: The keys of :func:`categories`, most certain first.
CATEGORY_ORDER: Final = ("closed", "commit", "best_case", "pipeline", "omitted")
_OPEN_CATEGORIES: Final = frozenset(FORECAST_CATEGORIES)
_TICK: Final = timedelta(microseconds=1)


@attrs.frozen(kw_only=True, repr=False)
class Coverage:
    """Won and open amounts against a period's target (see :func:`coverage`).

    Attributes:
        target: The amount to win in the period.
        won: The amount won in the period (``categories``' ``"closed"``).
        remaining: ``max(target - won, 0)``.
        open_amount: The open deals closing in the period, except ``"omitted"``.
        coverage: ``open_amount / remaining``; ``None`` when nothing remains, or
            when no open deal has a close date in the period (then it is not
            known, not 0).
        attainment: ``won / target``; ``None`` for a target of 0.
        reason: Why ``coverage`` is ``None`` (one sentence); ``None`` when it is not.
    """

    target: float
    won: float
    remaining: float
    open_amount: float
    coverage: float | None
    attainment: float | None
    reason: str | None = None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``won 100,000 of 250,000 (40.0%); open 300,000 against 150,000 remaining
        (coverage 2.00×)``."""
        cover = "–" if self.coverage is None else f"{self.coverage:.2f}×"
        return (
            f"won {_amount(self.won)} of {_amount(self.target)} ({_pct(self.attainment)}); "
            f"open {_amount(self.open_amount)} against {_amount(self.remaining)} remaining "
            f"(coverage {cover})" + ("" if self.reason is None else f": {self.reason}")
        )


def _category(h: DealHistory, defaults: Mapping[str, str | None]) -> str:
    own = h.attributes.get("forecast_category")
    if isinstance(own, str) and own in _OPEN_CATEGORIES:
        return own
    return defaults.get(h.stage) or "pipeline"


def _categories(deals: Any, pipeline: Pipeline, lo: datetime, hi: datetime) -> dict[str, Tally]:
    defaults = {s.name: s.forecast_category for s in pipeline.open_stages}
    first, stop = first_day_on_or_after(lo), first_day_on_or_after(hi)
    count = dict.fromkeys(CATEGORY_ORDER, 0)
    total = dict.fromkeys(CATEGORY_ORDER, 0.0)
    for h in deals:
        outcome = h.outcome
        if outcome == "open":
            day = close_day(h.attributes.get("close_date"))
            if day is not None and first <= day < stop:
                key = _category(h, defaults)
                count[key] += 1
                total[key] += amount_of(h.attributes.get("amount"))
        elif outcome == "won" and lo <= h.closed_at < hi:
            count["closed"] += 1
            # as movement() counts the win: amount changes at its instant first
            total["closed"] += amount_at(h, h.closed_at)
    return Keyed("category", {k: Tally(count[k], total[k]) for k in CATEGORY_ORDER})


def _at_closing(events: Events, pipeline: Pipeline, as_of: datetime | None, hi: datetime) -> Any:
    """The log folded as it stood at the closing instant ``min(hi, as_of⁺)``: events
    are folded there directly; a :class:`Histories` is rewound to it."""
    if isinstance(events, Histories):
        return period_view(load(events, pipeline, as_of), hi)
    last = hi - _TICK
    cut = last if as_of is None else min(to_utc(as_of, "as_of"), last)
    return load(events, pipeline, cut)


@engine(positional=("start", "end"))
def categories(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
) -> dict[str, Tally]:
    """:class:`~salesstages.metrics.Tally` ``(count, amount)`` of the deals expected to
    close in the period ``[start, end)``, by forecast category, plus what was won in it.

    The deals are taken as they stand at the period's closing instant
    ``min(end, as_of⁺)`` (§17). The open deals then whose ``close_date`` falls
    in the period count under their ``forecast_category``, else their stage's
    (:attr:`Stage.forecast_category <salesstages.Stage.forecast_category>`),
    else ``"pipeline"``, at their amount then. ``"closed"`` holds the deals
    won with ``start <= closing < closing instant``, at their amount at
    closing (an amount change at the win's instant counts first, as in
    :func:`~salesstages.metrics.movement`, whose ``won`` it equals). The keys
    are always ``"closed"``, ``"commit"``, ``"best_case"``, ``"pipeline"`` and
    ``"omitted"``, in that order.

    Raises:
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
        DataError: ``end`` lies before ``start``.
    """
    lo, hi = period_bounds(start, end)
    if is_ibis_table(events):
        return on_table(categories)(events, pipeline, start=lo, end=hi, as_of=as_of)
    hist = _at_closing(events, pipeline, as_of, hi)
    return _categories(hist.deals.values(), pipeline, lo, hi)


def _check_target(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise DataTypeError(
            f"{what} must be a number >= 0 (the amount to win in the period), "
            f"got {value!r} ({type(value).__name__})",
            field="target",
        )
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or number < 0:
        raise DataError(
            f"{what} must be a finite number >= 0 (the amount to win in the period), got {value!r}",
            field="target",
        )
    return number


#: Why :attr:`Coverage.coverage` is None.
NOTHING_REMAINS: Final = "nothing remains to win: the amount won reaches the target"
NO_CLOSE_DATES: Final = "no open deal has a close date in the period: coverage is not known"


def _coverage(cats: Mapping[str, Tally], target: float) -> Coverage:
    won = cats["closed"][1]
    remaining = max(target - won, 0.0)
    open_amount = cats["commit"][1] + cats["best_case"][1] + cats["pipeline"][1]
    dated = sum(cats[k][0] for k in CATEGORY_ORDER if k != "closed")
    reason = NOTHING_REMAINS if remaining <= 0 else NO_CLOSE_DATES if not dated else None
    return Coverage(
        target=target,
        won=won,
        remaining=remaining,
        open_amount=open_amount,
        coverage=open_amount / remaining if reason is None else None,
        attainment=won / target if target > 0 else None,
        reason=reason,
    )


@overload
def coverage(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    target: float | Decimal,
    as_of: datetime | None = None,
    by: None = None,
) -> Coverage: ...


@overload
def coverage(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    target: Mapping[Any, float | Decimal],
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, Coverage]: ...


@engine(positional=("start", "end"))
def coverage(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    target: float | Decimal | Mapping[Any, float | Decimal],
    as_of: datetime | None = None,
    by: str | None = None,
) -> Coverage | dict[Hashable, Coverage]:
    """Won and open amounts of the period [``start``, ``end``) against ``target``.

    From :func:`categories`: ``won`` is the ``"closed"`` amount, ``remaining =
    max(target - won, 0)``, ``open_amount`` the amount of the open categories
    except ``"omitted"``, ``coverage = open_amount / remaining`` (``None`` when
    nothing remains, or when no open deal has a close date in the period:
    ``reason`` says which) and ``attainment = won / target`` (``None`` for a
    target of 0). Deals are taken at the closing instant ``min(end, as_of⁺)``
    (§17). With ``by``, ``target`` maps each segment (the deal's ``by``
    attribute at opening) to its target, and the result is a dict keyed the
    same way; deals of other segments are left out.

    Raises:
        DataTypeError: A target that is not a number (or, with ``by``, not a
            mapping of numbers; without ``by``, a mapping).
        DataError: A negative or non-finite target, or ``end`` before ``start``.
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
    """
    lo, hi = period_bounds(start, end)
    by, goal, goals = coverage_targets(target, by)
    if is_ibis_table(events):
        on = on_table(coverage)
        if by is None:
            return on(events, pipeline, start=lo, end=hi, target=goal, as_of=as_of)
        return on(events, pipeline, start=lo, end=hi, target=goals, as_of=as_of, by=by)
    hist = _at_closing(events, pipeline, as_of, hi)
    if by is None:
        return _coverage(_categories(hist.deals.values(), pipeline, lo, hi), goal)
    groups: dict[Hashable, list[DealHistory]] = {k: [] for k in goals}
    for h in hist.deals.values():
        try:
            group = groups.get(h.opened_attributes.get(by))
        except TypeError:  # an unhashable attribute value: no target names it
            continue
        if group is not None:
            group.append(h)
    return Keyed(
        by,
        {k: _coverage(_categories(groups[k], pipeline, lo, hi), goal) for k, goal in goals.items()},
    )


def coverage_targets(
    target: Any, by: str | None
) -> tuple[str | None, float, dict[Hashable, float]]:
    """``coverage``'s ``by`` and targets, checked (shared by both engines): without
    ``by`` one number (the float), with ``by`` a mapping of numbers (the dict)."""
    by = check_by(by)
    if by is None:
        if isinstance(target, Mapping):
            raise DataTypeError(
                "coverage(): target is a mapping of targets per segment; pass by='<attribute>' "
                "to segment on, or one number",
                field="target",
            )
        return None, _check_target(target, "coverage(): target"), {}
    if not isinstance(target, Mapping):
        raise DataTypeError(
            f"coverage(by={by!r}): target must map each {by} to its target, got "
            f"{target!r} ({type(target).__name__})",
            field="target",
        )
    goals = {k: _check_target(v, f"coverage(): target for {by}={k!r}") for k, v in target.items()}
    return by, 0.0, goals


def combine(parts: Iterable[Coverage]) -> Coverage:
    """Several segments' coverage taken together: their targets, won and open amounts
    added up. Coverage is ``None`` when nothing remains, or (``NO_CLOSE_DATES``) when
    nothing is open and no segment had a coverage of its own."""
    listed = list(parts)
    target = math.fsum(c.target for c in listed)
    won = math.fsum(c.won for c in listed)
    open_amount = math.fsum(c.open_amount for c in listed)
    remaining = max(target - won, 0.0)
    reason: str | None = None
    if remaining <= 0:
        reason = NOTHING_REMAINS
    elif not open_amount and all(c.reason is not None for c in listed):
        reason = NO_CLOSE_DATES
    return Coverage(
        target=target,
        won=won,
        remaining=remaining,
        open_amount=open_amount,
        coverage=open_amount / remaining if reason is None else None,
        attainment=won / target if target > 0 else None,
        reason=reason,
    )


def coverage_totals(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    target: Mapping[Any, float | Decimal],
    by: str,
    as_of: datetime | None = None,
) -> tuple[dict[Hashable, Coverage], Coverage, Coverage]:
    """The rows of a targets table (issue 22): each segment's :class:`Coverage`, the
    *targeted* segments together (:func:`combine`), and *all* deals of the period
    against the sum of the targets (deals of segments without a target included).
    Runs on either engine (it calls :func:`coverage`)."""
    per = coverage(events, pipeline, start=start, end=end, target=target, by=by, as_of=as_of)
    _, _, goals = coverage_targets(target, by)
    everyone = coverage(
        events, pipeline, start=start, end=end, target=math.fsum(goals.values()), as_of=as_of
    )
    return dict(per), combine(per.values()), everyone
