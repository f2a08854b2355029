"""Planning a period (CONTRACT §14, §17): :func:`movement`, :func:`slippage` and
:func:`period_status`, and the period and close-date helpers that
:mod:`salesstages.forecast`'s ``categories``, ``coverage`` and ``backtest`` share.

One period rule for every planning figure (§17): a period is ``[start, end)`` in
UTC (a ``date`` means its midnight); its *closing instant* is ``min(end,
as_of⁺)``, where ``as_of⁺`` is just after ``as_of`` (one microsecond, the
resolution of every timestamp), so that events at ``as_of`` count. An event is
in the period when ``start <= at < closing instant``; ``opening`` is the state
just before ``start``, ``closing`` the state at the closing instant.

Both work on the fold of :mod:`salesstages.metrics._history`: a deal's stage
entries, its ``amount`` history (``DealHistory.amounts``) and its ``close_date``
history (``DealHistory.close_dates``). The fold keeps amounts and stage entries
as two lists, so at one same instant an amount change counts as made before a
stage entry (a deal updated and won at the same moment is won at its new
amount); within each list the log's order is kept.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final, Literal, overload

import attrs

from .._errors import DataError, DataTypeError
from .._time import to_utc
from ._common import amount_of, check_by, load, segmented
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import Histories, rewind
from ._types import _amount, _eq_tuple, _hash_tuple, _one_row, _repr, _table, _when

if TYPE_CHECKING:
    from .._pipeline import Outcome, Pipeline
    from ._history import DealHistory

__all__ = [
    "Movement",
    "PeriodState",
    "PeriodStatus",
    "Slip",
    "Tally",
    "amount_at",
    "close_day",
    "closing_instant",
    "first_day_on_or_after",
    "movement",
    "period_bounds",
    "period_status",
    "period_view",
    "slippage",
    "status_of",
]

_DAY: Final = timedelta(days=1)
#: The resolution of every timestamp: ``as_of⁺`` is ``as_of + _TICK``.
_TICK: Final = timedelta(microseconds=1)

#: Where a period stands at ``as_of`` (see :class:`PeriodStatus`).
PeriodState = Literal["ended", "in_progress", "not_started", "before_data", "no_data"]


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
class PeriodStatus:
    """Where a period ``[start, end)`` stands at ``as_of`` (see :func:`period_status`).

    Attributes:
        start: The period's first instant (UTC).
        end: The instant just after it (UTC).
        closing: The closing instant ``min(end, as_of⁺)``: events before it count;
            ``None`` for a log with no event.
        as_of: The moment the figures are as of (the latest event when not given);
            ``None`` for a log with no event.
        first_event: The first event of the log (its earliest deal opening).
        state: ``"ended"`` (the whole period is known), ``"in_progress"`` (it runs
            past ``as_of``), ``"not_started"`` (``as_of`` lies before ``start``),
            ``"before_data"`` (it ends at or before the first event) or
            ``"no_data"`` (no event at or before ``as_of``).
        note: One sentence saying why the period's movement is not measured, for
            the last three states; ``None`` when it is.
    """

    start: datetime
    end: datetime
    closing: datetime | None
    as_of: datetime | None
    first_event: datetime | None
    state: PeriodState
    note: str | None

    __repr__ = _repr

    @property
    def measured(self) -> bool:
        """True when the period has begun inside the log (``ended`` or ``in_progress``)."""
        return self.state in ("ended", "in_progress")

    to_records = _one_row

    def __str__(self) -> str:
        """``2026-01-01 00:00 → 2026-04-01 00:00: in_progress, closing at 2026-03-05
        09:00``, then the note when there is one."""
        text = f"{_when(self.start)} → {_when(self.end)}: {self.state}"
        if self.closing is not None:
            text += f", closing at {_when(self.closing)}"
        return text if self.note is None else f"{text}; {self.note}"


@attrs.frozen(kw_only=True, repr=False)
class Movement:
    """How the open pipeline moved over a period (see :func:`movement`).

    Every line is a :class:`Tally` ``(count, amount)``. For counts,
    ``opening + created + reopened - won - lost == closing``; for amounts the
    same plus ``increased - decreased``.

    Attributes:
        opening: The deals open just before ``start``, at their amount then.
        created: Deals opened in the period, at their amount when opened.
        reopened: Moves out of a closed stage back into an open one, at the
            deal's amount then.
        won: Moves of an open deal into a won stage, at its amount then.
        lost: Moves of an open deal into a lost stage, at its amount then.
        increased: Raises of the amount of an open deal (count, sum of the raises).
        decreased: Cuts of the amount of an open deal (count, sum of the cuts,
            a positive number).
        closing: The deals open at the closing instant, at their amount then.
        period: Where the period stands (:class:`PeriodStatus`): when it has not
            started at ``as_of`` or ends before the first event, every line is
            the state at the closing instant with nothing moving, and
            ``period.note`` says so.
    """

    opening: Tally
    created: Tally
    reopened: Tally
    won: Tally
    lost: Tally
    increased: Tally
    decreased: Tally
    closing: Tally
    period: PeriodStatus | None = None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row per line, ``opening`` to ``closing``: ``line``, ``count``,
        ``amount`` (the :attr:`period` stays on the record)."""
        return [
            {"line": name, "count": t.count, "amount": t.amount}
            for name in _LINES
            for t in (getattr(self, name),)
        ]

    def __str__(self) -> str:
        """A table: each line's count and amount, ``opening`` to ``closing``; the
        period's note below it when the period is not measured."""
        table = _table(
            ("line", "count", "amount"),
            ((r["line"], f"{r['count']:,}", _amount(r["amount"])) for r in self.to_records()),
        )
        note = None if self.period is None else self.period.note
        return table if note is None else f"{table}\n{note}"


#: :class:`Movement`'s lines, in order.
_LINES: Final = (
    "opening",
    "created",
    "reopened",
    "won",
    "lost",
    "increased",
    "decreased",
    "closing",
)


@attrs.frozen(kw_only=True, repr=False)
class Slip:
    """An open deal whose close date moved later, or has passed (see :func:`slippage`).

    Attributes:
        deal_id: The deal.
        pushes: How many times its close date was moved later (in the period,
            when one is given).
        days_slipped: ``close_date - first_close_date`` in days (negative when
            it was pulled in further than it was pushed out).
        first_close_date: The first close date the deal had (its close date at
            the period's start, when a period is given and it had one then).
        close_date: Its close date at ``as_of`` (at the closing instant).
        overdue: True when ``close_date`` lies before the day of ``as_of`` (of
            the last instant of the period counted).
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


def closing_instant(end: datetime, as_of: datetime | None) -> datetime:
    """``min(end, as_of⁺)``: events strictly before it are in the period (§17)."""
    return end if as_of is None else min(end, as_of + _TICK)


def status_of(
    start: datetime, end: datetime, as_of: datetime | None, first_event: datetime | None
) -> PeriodStatus:
    """The :class:`PeriodStatus` of ``[start, end)`` for a log whose effective
    cut-off is ``as_of`` and whose first event is ``first_event`` (both engines)."""
    label = f"the period {start.date().isoformat()} to {(end - _TICK).date().isoformat()}"
    state: PeriodState
    note: str | None = None
    if as_of is None or first_event is None:
        closing = None
        state = "no_data"
        note = f"{label} is not measured: the log has no event at or before as_of"
    else:
        closing = closing_instant(end, as_of)
        if as_of < start:
            state = "not_started"
            note = (
                f"{label} has not started at as_of {as_of.isoformat()}: its movement is not "
                "measured (pass a later as_of, or review an earlier period)"
            )
        elif end <= first_event:
            state = "before_data"
            note = (
                f"{label} ends before the first event ({first_event.isoformat()}): its "
                "movement is not measured"
            )
        elif closing < end:
            state = "in_progress"
        else:
            state = "ended"
    return PeriodStatus(
        start=start,
        end=end,
        closing=closing,
        as_of=as_of,
        first_event=first_event,
        state=state,
        note=note,
    )


def _first_event(hist: Histories) -> datetime | None:
    return min((h.opened_at for h in hist.deals.values()), default=None)


def period_view(hist: Histories, end: datetime) -> Histories:
    """``hist`` as it stood at the closing instant of a period ending at ``end``: the
    fold itself when ``end`` lies after its ``as_of``, else rewound to just before
    ``end`` (stage entries, outcome, closing, amount and close date exact; other
    attributes as at opening, see :func:`~salesstages.metrics._history.rewind`)."""
    if hist.as_of is None or end > hist.as_of:
        return hist
    return rewind(hist, end - _TICK)


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


def amount_at(h: DealHistory, moment: datetime) -> float:
    """The deal's amount at ``moment`` (its last setting at or before it; at one
    instant, amount changes count before a stage entry), as a number."""
    amounts = h.amounts
    if amounts is None:
        return amount_of(h.opened_attributes.get("amount"))
    value = amounts[0][1]
    for at, v in amounts:
        if at > moment:
            break
        value = v
    return amount_of(value)


# ------------------------------------------------------------------- movement
_NO_TALLY = Tally(0, 0.0)


def _movement(
    deals: Iterable[DealHistory],
    outcomes: dict[str, Outcome],
    start: datetime,
    stop: datetime,
    status: PeriodStatus,
) -> Movement:
    """The movement over ``[start, stop)`` (``stop`` the closing instant; when it is
    at or before ``start`` nothing moves and opening is the state at ``stop``)."""
    start = min(start, stop)
    # counts and sums: opening, created, reopened, won, lost, increased, decreased, closing
    n = [0] * 8
    s = [0.0] * 8
    for h in deals:
        opened_at = h.opened_at
        if opened_at >= stop:
            continue
        amounts = h.amounts
        amt = amount_of(h.opened_attributes.get("amount") if amounts is None else amounts[0][1])
        is_open = True
        pre = opened_at < start  # the opening snapshot is still to be taken
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
                if at >= stop:
                    break
                if pre and at >= start:
                    pre = False
                    if is_open:
                        n[0] += 1
                        s[0] += amt
                new = amount_of(changes[i][1])
                i += 1
                if is_open and not pre:
                    if new > amt:
                        n[5] += 1
                        s[5] += new - amt
                    elif new < amt:
                        n[6] += 1
                        s[6] += amt - new
                amt = new
            elif j < nj:
                at, stage, _ = entries[j]
                if at >= stop:
                    break
                if pre and at >= start:
                    pre = False
                    if is_open:
                        n[0] += 1
                        s[0] += amt
                j += 1
                oc = outcomes[stage]
                if is_open:
                    if oc != "open":
                        is_open = False
                        if not pre:
                            k = 3 if oc == "won" else 4
                            n[k] += 1
                            s[k] += amt
                elif oc == "open":
                    is_open = True
                    if not pre:
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
        period=status,
    )


@overload
def movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: None = None,
) -> Movement: ...


@overload
def movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, Movement]: ...


@engine(positional=("start", "end"))
def movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> Movement | dict[Hashable, Movement]:
    """How the open pipeline moved over the period ``[start, end)``: a :class:`Movement`.

    The period's closing instant is ``min(end, as_of⁺)`` (events at ``as_of``
    count). ``opening`` holds the deals open just before ``start``,
    ``closing`` those open at the closing instant, each at its amount then.
    Between them, every event with ``start <= at < closing instant`` counts:
    deals ``created``, ``reopened``, ``won`` and ``lost`` (at the deal's amount
    at that moment), and the amount changes of open deals (``increased``,
    ``decreased``). So that, for counts, ``opening + created + reopened - won
    - lost == closing``, and for amounts the same ``+ increased - decreased``;
    ``won`` equals the ``"closed"`` entry of :func:`salesstages.forecast.categories`
    for the same period and ``as_of``. A deal's amount is its ``amount``
    attribute (0 when absent).

    ``Movement.period`` says where the period stands: a period that has not
    started at ``as_of``, or that ends before the first event, is not
    measured (``period.note`` says so; nothing moves).

    Args:
        events: The log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The pipeline the log follows.
        start: A date (midnight UTC) or an aware datetime: the first instant.
        end: The same, not before ``start``: the instant just after the period.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment on this attribute's value at opening: a dict of movements.

    Raises:
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
        DataError: ``end`` lies before ``start`` (``DataTypeError`` for a value
            that is not a date or a datetime).
    """
    lo, hi = period_bounds(start, end)
    by = check_by(by)
    if is_ibis_table(events):
        return on_table(movement)(events, pipeline, start=lo, end=hi, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    status = status_of(lo, hi, hist.as_of, _first_event(hist))
    stop = status.closing if status.closing is not None else lo
    outcomes: dict[str, Outcome] = {st.name: st.outcome for st in pipeline.stages}
    return segmented(hist.deals.values(), by, lambda ds: _movement(ds, outcomes, lo, stop, status))


@engine
def period_status(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
) -> PeriodStatus:
    """Where the period ``[start, end)`` stands at ``as_of``: a :class:`PeriodStatus`.

    ``"ended"`` when the closing instant is ``end``, ``"in_progress"`` when it is
    ``as_of⁺``, ``"not_started"`` when ``as_of`` lies before ``start``,
    ``"before_data"`` when the period ends at or before the log's first event,
    ``"no_data"`` for a log with no event at or before ``as_of``. In the last
    three, ``note`` is one sentence a report can print in place of the period's
    movement.

    Raises:
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
        DataError: ``end`` lies before ``start``.
    """
    lo, hi = period_bounds(start, end)
    if is_ibis_table(events):
        return on_table(period_status)(events, pipeline, start=lo, end=hi, as_of=as_of)
    hist = load(events, pipeline, as_of)
    return status_of(lo, hi, hist.as_of, _first_event(hist))


# ------------------------------------------------------------------- slippage
def _slip(h: DealHistory, today: date, since: datetime | None) -> Slip | None:
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
        for at, value in closes:
            day = close_day(value)
            if day is None:
                continue
            if since is not None and at < since:
                # before the period: only the baseline it starts from
                first_seen = prev = day
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
def slippage(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    as_of: datetime | None = None,
) -> list[Slip]:
    """The open deals whose close date slipped: a list of :class:`Slip`.

    Without a period: the deals open at ``as_of`` whose ``close_date`` was moved
    later at least once (``pushes`` counts those changes; ``days_slipped`` is
    ``close_date - first_close_date`` in days) or lies before ``as_of``'s date
    (``overdue``).

    With ``start`` and ``end`` (both, §17): the deals open at the period's
    closing instant ``min(end, as_of⁺)``, counting only the pushes made in
    ``[start, closing instant)``, from the close date each deal had at
    ``start`` (``first_close_date``; the first one set in the period when it
    had none); ``overdue`` against the day of the last instant counted.

    Most days slipped first, then by deal id. Deals without a close date are
    left out.

    Raises:
        DataError: Only one of ``start`` and ``end`` is given, or ``end`` lies
            before ``start``.
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
    """
    since: datetime | None = None
    hi: datetime | None = None
    if start is not None or end is not None:
        if start is None or end is None:
            raise DataError(
                "slippage(): give both start= and end= (a period), or neither",
                field="start" if start is None else "end",
            )
        since, hi = period_bounds(start, end)
    if is_ibis_table(events):
        return on_table(slippage)(events, pipeline, start=since, end=hi, as_of=as_of)
    hist = load(events, pipeline, as_of)
    if since is not None and hi is not None:
        hist = period_view(hist, hi)
        if hist.as_of is not None and hist.as_of < since:
            return []  # not started: no push can have been made in it yet
    if hist.as_of is None:
        return []
    today = hist.as_of.date()
    out = []
    for h in hist.deals.values():
        if h.outcome == "open":
            slip = _slip(h, today, since)
            if slip is not None:
                out.append(slip)
    out.sort(key=lambda sl: (-sl.days_slipped, sl.deal_id))
    return out
