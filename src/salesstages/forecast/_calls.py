"""Forecast calls held to account (CONTRACT §21): :class:`Call`, :func:`accuracy`.

A *call* is what an owner said they would win in a period (their commit, best
case or pipeline figure), made at some instant. :func:`accuracy` sets each call
against what the owner actually won in that period (§17: won with
``start <= closing < min(end, as_of⁺)``, credited to the deal's owner at
winning, at its amount then) and :func:`call_summary` sums the scores up per
owner or per week of the period.
"""

from __future__ import annotations

import difflib
import math
import re
import statistics
import warnings
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from .._errors import DataError, DataTypeError
from .._time import to_utc
from ..metrics._common import load
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._planning import amount_at, closing_instant
from ..metrics._types import _amount, _fields_row, _pct, _repr, _table

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "CALL_CATEGORIES",
    "Call",
    "CallScore",
    "CallScores",
    "CallSummary",
    "UnknownOwnerWarning",
    "accuracy",
    "parse_period",
    "summarise",
    "summary_table",
]

#: The categories a call may carry, most certain first.
CALL_CATEGORIES: Final = ("commit", "best_case", "pipeline")

_QUARTER: Final = re.compile(r"(\d{4})-[Qq]([1-4])")
_MONTH: Final = re.compile(r"(\d{4})-(\d{2})")
_YEAR: Final = re.compile(r"\d{4}")
_WEEK: Final = timedelta(days=7)


class UnknownOwnerWarning(UserWarning):
    """A call names an owner no deal of the log has had (a typo, or another spelling)."""


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str) -> tuple[date, date]:
    """``(start, end)`` of a period written ``2026-Q1``, ``2026-03`` or ``2026``.

    Raises:
        DataError: The text is none of these (``field="period"``).
    """
    value = text.strip() if isinstance(text, str) else ""
    try:
        if m := _QUARTER.fullmatch(value):
            year, q = int(m[1]), int(m[2])
            return date(year, 3 * q - 2, 1), _month_start(year, 3 * q + 1)
        if m := _MONTH.fullmatch(value):
            year, month = int(m[1]), int(m[2])
            return date(year, month, 1), _month_start(year, month + 1)
        if _YEAR.fullmatch(value):
            return date(int(value), 1, 1), date(int(value) + 1, 1, 1)
    except ValueError:
        pass
    raise DataError(
        f"period {text!r} is not a period: write a quarter (2026-Q1), a month (2026-03), "
        "a year (2026) or a (start, end) pair of dates",
        field="period",
    )


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _check_period(value: object) -> tuple[date, date]:
    if isinstance(value, str):
        return parse_period(value)
    if isinstance(value, tuple | list) and len(value) == 2:
        start, end = value
        if (
            isinstance(start, date)
            and not isinstance(start, datetime)
            and isinstance(end, date)
            and not isinstance(end, datetime)
        ):
            if end <= start:
                raise DataError(
                    f"period ends on {end.isoformat()}, not after its start "
                    f"{start.isoformat()}; a period is [start, end)",
                    field="period",
                )
            return start, end
    raise DataTypeError(
        f"period must be a period string (2026-Q1, 2026-03, 2026) or a (start, end) pair "
        f"of dates, got {value!r}",
        field="period",
    )


def _check_amount(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DataTypeError(
            f"amount must be a number >= 0, got {value!r} ({type(value).__name__})",
            field="amount",
        )
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise DataError(f"amount must be a finite number >= 0, got {value!r}", field="amount")
    return number


def _check_category(value: object) -> str:
    if value not in CALL_CATEGORIES:
        raise DataError(
            f"category must be one of {', '.join(CALL_CATEGORIES)}, got {value!r}",
            field="category",
        )
    return str(value)


def _check_owner(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"owner must be a non-empty string, got {value!r}", field="owner")
    return value


def _as_period(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_at(value: Any) -> datetime:
    return to_utc(value, "at")


@attrs.frozen(repr=False)
class Call:
    """One forecast call: ``owner`` said, at ``at``, they would win ``amount`` in
    ``period`` under ``category`` (``"commit"``, ``"best_case"`` or ``"pipeline"``).

    ``period`` is a period string (``"2026-Q1"``, ``"2026-03"``, ``"2026"``) or a
    ``(start, end)`` pair of dates, the period being ``[start, end)``; it is kept as
    given, and :attr:`start` / :attr:`end` give its bounds.

    Raises:
        DataError: An empty owner, an unknown category, a negative or non-finite
            amount, or a period that does not parse (the error names the field).
        NaiveTimeError: ``at`` is a naive datetime.
    """

    owner: str = attrs.field(converter=_check_owner)
    period: str | tuple[date, date] = attrs.field(converter=_as_period)
    category: str = attrs.field(converter=_check_category)
    amount: float = attrs.field(converter=_check_amount)
    at: datetime = attrs.field(converter=_check_at)
    _bounds: tuple[date, date] = attrs.field(init=False, eq=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "_bounds", _check_period(self.period))

    def __repr__(self) -> str:
        return (
            f"Call(owner={self.owner!r}, period={self.period!r}, category={self.category!r}, "
            f"amount={self.amount!r}, at={self.at.isoformat()})"
        )

    @property
    def start(self) -> datetime:
        """The period's start (midnight UTC)."""
        return _midnight(self._bounds[0])

    @property
    def end(self) -> datetime:
        """The period's end (midnight UTC, not included)."""
        return _midnight(self._bounds[1])

    @property
    def label(self) -> str:
        """The period as written (a period string, or ``start..end`` for dates)."""
        if isinstance(self.period, str):
            return self.period.strip()
        first, after = self._bounds
        return f"{first.isoformat()}..{after.isoformat()}"

    @property
    def week(self) -> int:
        """The week of the period in which the call was made: 1 for its first seven
        days; 0 or less for a call made before the period began."""
        return (self.at - self.start) // _WEEK + 1

    def __str__(self) -> str:
        """``alice 2026-Q1 commit 120,000 (at 2026-01-05)``."""
        return (
            f"{self.owner} {self.label} {self.category} {_amount(self.amount)} "
            f"(at {self.at.date().isoformat()})"
        )


@attrs.frozen(kw_only=True, repr=False)
class CallScore:
    """A call against what its owner actually won in its period (see :func:`accuracy`).

    Attributes:
        call: The :class:`Call`.
        actual: The amount the owner won in the period (§17), at each deal's
            amount at winning.
        accuracy: ``call.amount / actual``; ``None`` when nothing was won.
        error: ``call.amount - actual`` (positive: the call was too high).
        week: The week of the period the call was made in (:attr:`Call.week`).
    """

    call: Call
    actual: float
    accuracy: float | None
    error: float
    week: int

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row: the call's fields flattened, then the score."""
        c = self.call
        return [
            {
                "owner": c.owner,
                "period": c.label,
                "category": c.category,
                "amount": c.amount,
                "at": c.at,
                "actual": self.actual,
                "accuracy": self.accuracy,
                "error": self.error,
                "week": self.week,
            }
        ]

    def __str__(self) -> str:
        """``alice 2026-Q1 commit 120,000 (week 1): won 100,000, accuracy 120.0%``."""
        c = self.call
        return (
            f"{c.owner} {c.label} {c.category} {_amount(c.amount)} (week {self.week}): "
            f"won {_amount(self.actual)}, accuracy {_pct(self.accuracy)}, "
            f"error {_amount(self.error)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class CallSummary:
    """The scores of one owner, or of one week of the period (see :func:`call_summary`).

    Attributes:
        key: The owner, or the week number.
        calls: How many calls.
        median_abs_error: The median of ``|error|``.
        bias: The mean of ``error`` (positive: calls too high on average).
        median_accuracy: The median of the accuracies that are known; ``None``
            when none is (nothing was won in any of the periods).
    """

    key: str | int
    calls: int
    median_abs_error: float
    bias: float
    median_accuracy: float | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        return (
            f"{self.key}: {self.calls} calls, median |error| {_amount(self.median_abs_error)}, "
            f"bias {_amount(self.bias)}, median accuracy {_pct(self.median_accuracy)}"
        )


def summarise(
    scores: Iterable[CallScore], *, by: Literal["owner", "week"] = "owner"
) -> list[CallSummary]:
    """The scores summed up per owner (by name) or per week of the period (in order):
    how many calls, the median absolute error, the bias (mean error) and the median
    accuracy. Per week shows how the calls improve as the period goes on.

    Raises:
        ValueError: ``by`` is neither ``"owner"`` nor ``"week"``.
    """
    if by not in ("owner", "week"):
        raise ValueError(f"by must be 'owner' or 'week', got {by!r}")
    groups: dict[str | int, list[CallScore]] = {}
    for s in scores:
        groups.setdefault(s.call.owner if by == "owner" else s.week, []).append(s)
    out = []
    for key in sorted(groups, key=lambda k: (str(type(k)), k)):
        group = groups[key]
        known = [s.accuracy for s in group if s.accuracy is not None]
        out.append(
            CallSummary(
                key=key,
                calls=len(group),
                median_abs_error=float(statistics.median(abs(s.error) for s in group)),
                bias=math.fsum(s.error for s in group) / len(group),
                median_accuracy=float(statistics.median(known)) if known else None,
            )
        )
    return out


class CallScores(list[CallScore]):
    """The scores of :func:`accuracy`: a list of :class:`CallScore`, one per call in
    the calls' order, that also sums itself up per owner and per week of the period."""

    def by_owner(self) -> list[CallSummary]:
        """One :class:`CallSummary` per owner, by name."""
        return summarise(self, by="owner")

    def by_week(self) -> list[CallSummary]:
        """One :class:`CallSummary` per week of the period, in order: how the calls
        improve as the period goes on."""
        return summarise(self, by="week")

    def to_records(self) -> list[dict[str, Any]]:
        """One row per call (see :meth:`CallScore.to_records`)."""
        return [s.to_records()[0] for s in self]

    def __str__(self) -> str:
        """One line per call, then the summaries per owner and per week."""
        if not self:
            return "no forecast calls"
        lines = [str(s) for s in self]
        return "\n".join(
            [
                *lines,
                "",
                summary_table(self.by_owner(), "owner"),
                "",
                summary_table(self.by_week(), "week"),
            ]
        )


def _check_calls(calls: object) -> list[Call]:
    if isinstance(calls, Call):
        return [calls]
    if isinstance(calls, str | bytes) or not isinstance(calls, Iterable):
        raise DataTypeError(f"calls must be an iterable of Call, got {calls!r}", field="calls")
    out = list(calls)
    for c in out:
        if not isinstance(c, Call):
            raise DataTypeError(
                f"calls must hold forecast.Call records, got {c!r} ({type(c).__name__})",
                field="calls",
            )
    return out


def _warn_unknown(calls: Sequence[Call], known: set[str]) -> None:
    for name in sorted({c.owner for c in calls} - known):
        near = difflib.get_close_matches(name, sorted(known), n=1)
        hint = f"; did you mean {near[0]!r}?" if near else "; check the owner's spelling"
        warnings.warn(
            f"forecast call for owner {name!r}: no deal of the log has that owner{hint}",
            UnknownOwnerWarning,
            stacklevel=4,
        )


def score_calls(
    calls: Sequence[Call],
    won: Iterable[tuple[Any, datetime, float]],
    known: set[str],
    as_of: datetime | None,
) -> CallScores:
    """The scores of ``calls`` from the won deals ``(owner at winning, closed_at,
    amount at winning)`` and the owners the log knows (both engines)."""
    _warn_unknown(calls, known)
    wins = list(won)
    out = CallScores()
    for c in calls:
        lo, hi = c.start, closing_instant(c.end, as_of)
        actual = math.fsum(a for o, at, a in wins if o == c.owner and lo <= at < hi)
        out.append(
            CallScore(
                call=c,
                actual=actual,
                accuracy=c.amount / actual if actual else None,
                error=c.amount - actual,
                week=c.week,
            )
        )
    return out


@engine
def accuracy(
    events: Events,
    pipeline: Pipeline,
    *,
    calls: Iterable[Call],
    as_of: datetime | None = None,
) -> CallScores:
    """Each call against the amount its owner won in the call's period.

    ``actual`` is the amount of the deals won with ``start <= closing <
    min(end, as_of⁺)`` (§17) whose ``owner`` at winning is the call's owner, each
    at its amount at winning; ``accuracy = amount / actual`` (``None`` when
    nothing was won) and ``error = amount - actual``. One score per call, in the
    calls' order, as :class:`CallScores`: a list whose ``by_owner()`` and
    ``by_week()`` sum the scores up (median absolute error, bias, median accuracy).

    A call naming an owner that no deal of the log has had gives an
    :class:`UnknownOwnerWarning` naming it, with the nearest known owner.

    Raises:
        DataTypeError: ``calls`` is not an iterable of :class:`Call`.
        NaiveTimeError: ``as_of`` is naive.
    """
    wanted = _check_calls(calls)
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(accuracy)(events, pipeline, calls=wanted, as_of=as_of)
    hist = load(events, pipeline, as_of)
    # nothing follows a won stage: a won deal's attributes now are those at winning
    won = (
        (h.attributes.get("owner"), h.closed_at, amount_at(h, h.closed_at))
        for h in hist.deals.values()
        if h.outcome == "won" and h.closed_at is not None
    )
    known = {
        o
        for h in hist.deals.values()
        for o in (h.opened_attributes.get("owner"), h.attributes.get("owner"))
        if isinstance(o, str)
    }
    return score_calls(wanted, won, known, hist.as_of if as_of is not None else None)


def summary_table(rows: Sequence[CallSummary], key: str) -> str:
    """A plain-text table of :func:`call_summary` rows."""
    return _table(
        [key, "calls", "median |error|", "bias", "median accuracy"],
        [
            [
                str(r.key),
                str(r.calls),
                _amount(r.median_abs_error),
                _amount(r.bias),
                _pct(r.median_accuracy),
            ]
            for r in rows
        ],
    )
