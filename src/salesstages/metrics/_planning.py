"""Planning a period (CONTRACT §14): :func:`movement` and :func:`slippage`, and the
period and close-date helpers that :mod:`salesstages.forecast`'s ``categories``
and ``coverage`` share.

Both work on the fold of :mod:`salesstages.metrics._history`: a deal's stage
entries, its ``amount`` history (``DealHistory.amounts``) and its ``close_date``
history (``DealHistory.close_dates``). The fold keeps amounts and stage entries
as two lists, so at one same instant an amount change counts as made before a
stage entry (a deal updated and won at the same moment is won at its new
amount); within each list the log's order is kept.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, overload

import attrs

from .._errors import DataError, DataTypeError
from .._time import to_utc
from ._common import amount_of, check_by, load, segmented
from ._engine import Events, engine
from ._types import _amount, _eq_tuple, _hash_tuple, _one_row, _repr, _table

if TYPE_CHECKING:
    from .._pipeline import Outcome, Pipeline
    from ._history import DealHistory

__all__ = [
    "Movement",
    "Slip",
    "Tally",
    "close_day",
    "movement",
    "period_bounds",
    "slippage",
]

_DAY = timedelta(days=1)


@attrs.frozen(repr=False, eq=False)
class Tally:
    """A number of deals (or events) and the sum of their amounts.

    ``Tally(3, 1200.0)`` or ``Tally(count=3, amount=1200.0)``; it unpacks like
    the ``(count, amount)`` pair it stands for (``count, amount = tally``) and
    equals it (``Tally(3, 1200.0) == (3, 1200.0)``).

    Attributes:
        count: How many deals (or events).
        amount: The sum of their amounts.
    """

    count: int
    amount: float

    __repr__ = _repr
    __eq__ = _eq_tuple
    __hash__ = _hash_tuple
    to_records = _one_row

    def __iter__(self) -> Iterator[Any]:
        """``count, amount``, so that the record unpacks like a pair."""
        return iter((self.count, self.amount))

    def __getitem__(self, index: int) -> Any:
        """The field at ``index``, as in the tuple the record replaces."""
        return tuple(self)[index]

    def __str__(self) -> str:
        """``12 (amount 340,000)``."""
        return f"{self.count:,} (amount {_amount(self.amount)})"


@attrs.frozen(kw_only=True, repr=False)
class Movement:
    """How the open pipeline moved over a period (see :func:`movement`).

    Every field is a :class:`Tally` ``(count, amount)``. For counts,
    ``opening + created + reopened - won - lost == closing``; for amounts the
    same plus ``increased - decreased``.

    Attributes:
        opening: The deals open at ``start``, at their amount then.
        created: Deals opened after ``start``, at or before ``end``, at their
            amount when opened.
        reopened: Moves out of a closed stage back into an open one, at the
            deal's amount then.
        won: Moves of an open deal into a won stage, at its amount then.
        lost: Moves of an open deal into a lost stage, at its amount then.
        increased: Raises of the amount of an open deal (count, sum of the raises).
        decreased: Cuts of the amount of an open deal (count, sum of the cuts,
            a positive number).
        closing: The deals open at ``end``, at their amount then.
    """

    opening: Tally
    created: Tally
    reopened: Tally
    won: Tally
    lost: Tally
    increased: Tally
    decreased: Tally
    closing: Tally

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row per line, in field order: ``line``, ``count``, ``amount``."""
        return [
            {"line": f.name, "count": t.count, "amount": t.amount}
            for f in attrs.fields(type(self))
            for t in (getattr(self, f.name),)
        ]

    def __str__(self) -> str:
        """A table: each line's count and amount, ``opening`` to ``closing``."""
        return _table(
            ("line", "count", "amount"),
            ((r["line"], f"{r['count']:,}", _amount(r["amount"])) for r in self.to_records()),
        )


@attrs.frozen(kw_only=True, repr=False)
class Slip:
    """An open deal whose close date moved later, or has passed (see :func:`slippage`).

    Attributes:
        deal_id: The deal.
        pushes: How many times its close date was moved later.
        days_slipped: ``close_date - first_close_date`` in days (negative when
            it was pulled in further than it was pushed out).
        first_close_date: The first close date the deal had.
        close_date: Its close date at ``as_of``.
        overdue: True when ``close_date`` lies before ``as_of``'s date.
    """

    deal_id: str
    pushes: int
    days_slipped: int
    first_close_date: date
    close_date: date
    overdue: bool

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``D-3: close date 2026-02-01 → 2026-03-01 (+28 days, pushed 2 times), overdue``."""
        pushes = "1 time" if self.pushes == 1 else f"{self.pushes:,} times"
        overdue = ", overdue" if self.overdue else ""
        return (
            f"{self.deal_id}: close date {self.first_close_date.isoformat()} → "
            f"{self.close_date.isoformat()} ({self.days_slipped:+,} days, pushed {pushes})"
            f"{overdue}"
        )


# ------------------------------------------------------------------ arguments
def _bound(value: object, what: str) -> datetime:
    if isinstance(value, datetime):
        return to_utc(value, what)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise DataTypeError(
        f"{what} must be a date (midnight UTC) or a timezone-aware datetime, got "
        f"{value!r} ({type(value).__name__})",
        field=what,
    )


def period_bounds(start: object, end: object) -> tuple[datetime, datetime]:
    """``start`` and ``end`` as aware UTC datetimes (a ``date`` is midnight UTC).

    Raises:
        DataTypeError: Either is not a date or a datetime.
        NaiveTimeError: Either is a naive datetime.
        DataError: ``end`` lies before ``start``.
    """
    lo = _bound(start, "start")
    hi = _bound(end, "end")
    if hi < lo:
        raise DataError(
            f"end={hi.isoformat()} lies before start={lo.isoformat()}; "
            "a period runs from start to a later (or the same) end",
            field="end",
        )
    return lo, hi


@lru_cache(maxsize=4096)
def _parse_day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def close_day(value: Any) -> date | None:
    """A ``close_date`` attribute as a :class:`date`; ``None`` when absent or not a
    date (a log written by other tools may hold anything)."""
    if isinstance(value, str):
        return _parse_day(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return None


def first_day_on_or_after(moment: datetime) -> date:
    """The first calendar day (UTC) whose midnight is at or after ``moment``."""
    day = moment.date()
    if moment.hour or moment.minute or moment.second or moment.microsecond:
        day += _DAY
    return day


# ------------------------------------------------------------------- movement
_NO_TALLY = Tally(0, 0.0)


def _movement(
    deals: list[DealHistory], outcomes: dict[str, Outcome], start: datetime, end: datetime
) -> Movement:
    # counts and sums: opening, created, reopened, won, lost, increased, decreased, closing
    n = [0] * 8
    s = [0.0] * 8
    for h in deals:
        opened_at = h.opened_at
        if opened_at > end:
            continue
        amounts = h.amounts
        amt = amount_of(h.opened_attributes.get("amount") if amounts is None else amounts[0][1])
        is_open = True
        pre = opened_at <= start  # the opening snapshot is still to be taken
        if not pre:
            n[1] += 1
            s[1] += amt
        entries = h.entries
        changes = amounts if amounts is not None else ()
        i, ni = 1, len(changes)
        j, nj = 0, len(entries)
        while True:
            # the next change or entry; an amount change first on equal times
            if i < ni and (j >= nj or changes[i][0] <= entries[j][0]):
                at = changes[i][0]
                if at > end:
                    break
                if pre and at > start:
                    pre = False
                    if is_open:
                        n[0] += 1
                        s[0] += amt
                new = amount_of(changes[i][1])
                i += 1
                if is_open and at > start:
                    if new > amt:
                        n[5] += 1
                        s[5] += new - amt
                    elif new < amt:
                        n[6] += 1
                        s[6] += amt - new
                amt = new
            elif j < nj:
                at, stage, _ = entries[j]
                if at > end:
                    break
                if pre and at > start:
                    pre = False
                    if is_open:
                        n[0] += 1
                        s[0] += amt
                j += 1
                oc = outcomes[stage]
                if is_open:
                    if oc != "open":
                        is_open = False
                        if at > start:
                            k = 3 if oc == "won" else 4
                            n[k] += 1
                            s[k] += amt
                elif oc == "open":
                    is_open = True
                    if at > start:
                        n[2] += 1
                        s[2] += amt
            else:
                break
        if pre and is_open:
            n[0] += 1
            s[0] += amt
        if is_open:
            n[7] += 1
            s[7] += amt
    t = [Tally(c, a) if c else _NO_TALLY for c, a in zip(n, s, strict=True)]
    return Movement(
        opening=t[0],
        created=t[1],
        reopened=t[2],
        won=t[3],
        lost=t[4],
        increased=t[5],
        decreased=t[6],
        closing=t[7],
    )


@overload
def movement(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    by: None = None,
) -> Movement: ...


@overload
def movement(
    events: Events, pipeline: Pipeline, start: date | datetime, end: date | datetime, *, by: str
) -> dict[Hashable, Movement]: ...


@engine
def movement(
    events: Events,
    pipeline: Pipeline,
    start: date | datetime,
    end: date | datetime,
    *,
    by: str | None = None,
) -> Movement | dict[Hashable, Movement]:
    """How the open pipeline moved from ``start`` to ``end``: a :class:`Movement`.

    ``opening`` holds the deals open once every event at or before ``start``
    has happened, ``closing`` those open at ``end``, each at its amount then.
    Between them, every event after ``start`` up to and including ``end``
    counts: deals ``created``, ``reopened``, ``won`` and ``lost`` (at the
    deal's amount at that moment), and the amount changes of open deals
    (``increased``, ``decreased``). So that, for counts,
    ``opening + created + reopened - won - lost == closing``, and for amounts
    the same ``+ increased - decreased``. A deal's amount is its ``amount``
    attribute (0 when absent).

    Args:
        events: The log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The pipeline the log follows.
        start: A date (midnight UTC) or an aware datetime.
        end: The same, not before ``start``.
        by: Segment on this attribute's value at opening: a dict of movements.

    Raises:
        NaiveTimeError: ``start`` or ``end`` is a naive datetime.
        DataError: ``end`` lies before ``start`` (``DataTypeError`` for a value
            that is not a date or a datetime).
    """
    lo, hi = period_bounds(start, end)
    by = check_by(by)
    hist = load(events, pipeline, None)
    outcomes: dict[str, Outcome] = {st.name: st.outcome for st in pipeline.stages}
    return segmented(hist.deals.values(), by, lambda ds: _movement(ds, outcomes, lo, hi))


# ------------------------------------------------------------------- slippage
def _slip(h: DealHistory, today: date) -> Slip | None:
    current = close_day(h.attributes.get("close_date"))
    if current is None:
        return None
    closes = h.close_dates
    pushes = 0
    if closes is None:
        first = current
    else:
        first_seen: date | None = None
        prev: date | None = None
        for _, value in closes:
            day = close_day(value)
            if day is None:
                continue
            if first_seen is None:
                first_seen = day
            elif prev is not None and day > prev:
                pushes += 1
            prev = day
        first = first_seen if first_seen is not None else current
    overdue = current < today
    if not pushes and not overdue:
        return None
    return Slip(
        deal_id=h.deal_id,
        pushes=pushes,
        days_slipped=(current - first).days,
        first_close_date=first,
        close_date=current,
        overdue=overdue,
    )


@engine
def slippage(events: Events, pipeline: Pipeline, *, as_of: datetime | None = None) -> list[Slip]:
    """The open deals at ``as_of`` whose close date slipped: a list of :class:`Slip`.

    A deal is listed when its ``close_date`` was moved later at least once
    (``pushes`` counts those changes; ``days_slipped`` is ``close_date -
    first_close_date`` in days) or lies before ``as_of``'s date (``overdue``).
    Most days slipped first, then by deal id. Deals without a close date are
    left out.
    """
    hist = load(events, pipeline, as_of)
    if hist.as_of is None:
        return []
    today = hist.as_of.date()
    out = []
    for h in hist.deals.values():
        if h.outcome == "open":
            slip = _slip(h, today)
            if slip is not None:
                out.append(slip)
    out.sort(key=lambda sl: (-sl.days_slipped, sl.deal_id))
    return out
