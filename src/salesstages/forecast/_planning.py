"""Planning a period (CONTRACT §14): :func:`categories` and :func:`coverage`."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, overload

import attrs

from .._errors import DataError, DataTypeError
from .._values import FORECAST_CATEGORIES
from ..metrics._common import amount_of, check_by, load
from ..metrics._engine import Events, engine
from ..metrics._planning import Tally, close_day, first_day_on_or_after, period_bounds
from ..metrics._types import Keyed, _amount, _one_row, _pct, _repr

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..metrics._history import DealHistory

__all__ = ["CATEGORY_ORDER", "Coverage", "categories", "coverage", "coverage_targets"]

#: The keys of :func:`categories`, most certain first.
CATEGORY_ORDER: Final = ("closed", "commit", "best_case", "pipeline", "omitted")
_OPEN_CATEGORIES: Final = frozenset(FORECAST_CATEGORIES)


@attrs.frozen(kw_only=True, repr=False)
class Coverage:
    """Won and open amounts against a period's target (see :func:`coverage`).

    Attributes:
        target: The amount to win in the period.
        won: The amount won in the period (``categories``' ``"closed"``).
        remaining: ``max(target - won, 0)``.
        open_amount: The open deals closing in the period, except ``"omitted"``.
        coverage: ``open_amount / remaining``; ``None`` when nothing remains.
        attainment: ``won / target``; ``None`` for a target of 0.
    """

    target: float
    won: float
    remaining: float
    open_amount: float
    coverage: float | None
    attainment: float | None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``won 100,000 of 250,000 (40.0%); open 300,000 against 150,000 remaining
        (coverage 2.00×)``."""
        cover = "–" if self.coverage is None else f"{self.coverage:.2f}×"
        return (
            f"won {_amount(self.won)} of {_amount(self.target)} ({_pct(self.attainment)}); "
            f"open {_amount(self.open_amount)} against {_amount(self.remaining)} remaining "
            f"(coverage {cover})"
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
            total["closed"] += amount_of(h.closed_amount)
    return Keyed("category", {k: Tally(count[k], total[k]) for k in CATEGORY_ORDER})


@engine
def categories(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    as_of: datetime | None = None,
) -> dict[str, Tally]:
    """(count, amount) of the deals expected to close in [``start``, ``end``), by
    forecast category, plus what was already won then.

    The open deals at ``as_of`` whose ``close_date`` falls in the period count
    under their ``forecast_category``, else their stage's
    (:attr:`Stage.forecast_category <salesstages.Stage.forecast_category>`),
    else ``"pipeline"``, at their amount at ``as_of``. ``"closed"`` holds the
    deals won with their closing in [``start``, ``end``) and at or before
    ``as_of``, at their amount at closing. The keys are always
    ``"closed"``, ``"commit"``, ``"best_case"``, ``"pipeline"`` and
    ``"omitted"``, in that order.

    Raises:
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
        DataError: ``end`` lies before ``start``.
    """
    lo, hi = period_bounds(start, end)
    hist = load(events, pipeline, as_of)
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


def _coverage(cats: dict[str, Tally], target: float) -> Coverage:
    won = cats["closed"][1]
    remaining = max(target - won, 0.0)
    open_amount = cats["commit"][1] + cats["best_case"][1] + cats["pipeline"][1]
    return Coverage(
        target=target,
        won=won,
        remaining=remaining,
        open_amount=open_amount,
        coverage=open_amount / remaining if remaining > 0 else None,
        attainment=won / target if target > 0 else None,
    )


@overload
def coverage(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    target: float | Decimal,
    as_of: datetime | None = None,
    by: None = None,
) -> Coverage: ...


@overload
def coverage(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    target: Mapping[Any, float | Decimal],
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, Coverage]: ...


@engine
def coverage(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    target: float | Decimal | Mapping[Any, float | Decimal],
    as_of: datetime | None = None,
    by: str | None = None,
) -> Coverage | dict[Hashable, Coverage]:
    """Won and open amounts of the period [``start``, ``end``) against ``target``.

    From :func:`categories`: ``won`` is the ``"closed"`` amount, ``remaining =
    max(target - won, 0)``, ``open_amount`` the amount of the open categories
    except ``"omitted"``, ``coverage = open_amount / remaining`` (``None`` when
    nothing remains) and ``attainment = won / target`` (``None`` for a target
    of 0). With ``by``, ``target`` maps each segment (the deal's ``by``
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
    if by is None:
        hist = load(events, pipeline, as_of)
        return _coverage(_categories(hist.deals.values(), pipeline, lo, hi), goal)
    hist = load(events, pipeline, as_of)
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
