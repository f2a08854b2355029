"""The records of recurring revenue (CONTRACT §19) and the figures both engines compute
from a :class:`~salesstages.metrics._contracts.Book`: :class:`AccountRow`,
:class:`RevenueMovement`, :class:`Retention` and :class:`CohortRow`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any, Final, Literal

import attrs

from ._contracts import TICK, Book
from ._planning import Tally
from ._types import _amount, _one_row, _pct, _repr, _table, _when

__all__ = [
    "MOVEMENT_LINES",
    "PERIODS",
    "AccountRow",
    "AccountStatus",
    "CohortRow",
    "Retention",
    "RevenueMovement",
    "account_rows",
    "add_periods",
    "cohort_rows",
    "movement_of",
    "period_label",
    "period_start",
    "retention_of",
]

#: The periods :func:`~salesstages.metrics.cohort_retention` groups by.
PERIODS: Final = ("month", "quarter", "year")
#: Where an account stands (see :class:`AccountRow`).
AccountStatus = Literal["active", "churned", "never_active"]
_YEAR: Final = timedelta(days=365.25)


@attrs.frozen(kw_only=True, repr=False)
class AccountRow:
    """One account at ``as_of`` (see :func:`~salesstages.metrics.accounts`).

    Attributes:
        account: The account's name (a won deal's id when it names none).
        arr: Its ARR at ``as_of``.
        status: ``"active"`` (ARR > 0), ``"churned"`` (ARR 0, after ARR > 0 at some
            earlier instant) or ``"never_active"``.
        first_won: When its first deal was won (``None``: none won yet).
        deals: How many deals name it (any outcome; 1 for a won deal naming none).
        renewal_due: The earliest ``contract_end`` among its contracts counting at
            ``as_of`` (``None``: none, or none with an end).
    """

    account: str
    arr: float
    status: AccountStatus
    first_won: datetime | None
    deals: int
    renewal_due: date | None

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``acme: ARR 24,000 (active), 3 deals, renewal due 2027-01-01``."""
        due = "" if self.renewal_due is None else f", renewal due {self.renewal_due.isoformat()}"
        return (
            f"{self.account}: ARR {_amount(self.arr)} ({self.status}), "
            f"{self.deals:,} deal{'s' if self.deals != 1 else ''}{due}"
        )


#: :class:`RevenueMovement`'s lines, in order.
MOVEMENT_LINES: Final = (
    "opening",
    "new",
    "reactivation",
    "expansion",
    "contraction",
    "churn",
    "closing",
)


@attrs.frozen(kw_only=True, repr=False)
class RevenueMovement:
    """How ARR moved over a period (see :func:`~salesstages.metrics.revenue_movement`).

    Every line is a :class:`~salesstages.metrics.Tally` (accounts, ARR);
    ``closing = opening + new + reactivation + expansion - contraction - churn``.

    Attributes:
        start: The period's first instant.
        end: The instant just after it.
        closing_at: The closing instant ``min(end, as_of⁺)``.
        opening: Accounts with ARR at ``start``, and their ARR.
        new: Accounts with ARR at the closing instant and never any before ``start``.
        reactivation: Accounts with ARR again at the closing instant after some
            before ``start`` but none at it.
        expansion: Accounts whose ARR grew (the sum of the growth).
        contraction: Accounts whose ARR shrank but stayed above 0 (the sum of the cuts).
        churn: Accounts with ARR at ``start`` and none at the closing instant.
        closing: Accounts with ARR at the closing instant, and their ARR.
    """

    start: datetime
    end: datetime
    closing_at: datetime
    opening: Tally
    new: Tally
    reactivation: Tally
    expansion: Tally
    contraction: Tally
    churn: Tally
    closing: Tally

    __repr__ = _repr

    @property
    def quick_ratio(self) -> float | None:
        """(new + reactivation + expansion) / (contraction + churn), in ARR; ``None``
        when nothing was lost."""
        lost = self.contraction.amount + self.churn.amount
        if lost == 0:
            return None
        return (self.new.amount + self.reactivation.amount + self.expansion.amount) / lost

    def to_records(self) -> list[dict[str, Any]]:
        """One row per line, ``opening`` to ``closing``: ``line``, ``count`` (accounts),
        ``amount`` (ARR)."""
        return [
            {"line": name, "count": t.count, "amount": t.amount}
            for name in MOVEMENT_LINES
            for t in (getattr(self, name),)
        ]

    def __str__(self) -> str:
        """A table of the lines, then the quick ratio."""
        table = _table(
            ("line", "accounts", "ARR"),
            ((r["line"], f"{r['count']:,}", _amount(r["amount"])) for r in self.to_records()),
        )
        quick = self.quick_ratio
        ratio = "–" if quick is None else f"{quick:.2f}"
        return f"{table}\nquick ratio {ratio}"


@attrs.frozen(kw_only=True, repr=False)
class Retention:
    """Revenue and logo retention over a period (see
    :func:`~salesstages.metrics.retention`).

    Attributes:
        start: The period's first instant.
        end: The instant just after it.
        closing_at: The closing instant ``min(end, as_of⁺)``.
        accounts: The cohort: accounts with ARR at ``start``.
        retained: Those with ARR at the closing instant.
        arr_start: Their ARR at ``start`` (Σa).
        arr_end: Their ARR at the closing instant (Σb).
        arr_kept: Σ min(a, b): the starting ARR they kept, expansion left out.
        nrr: Net revenue retention ``arr_end / arr_start``.
        grr: Gross revenue retention ``arr_kept / arr_start`` (never above 1, nor
            above ``nrr``).
        logo_retention: ``retained / accounts``.
        reason: Why the ratios are ``None`` (no account had ARR at ``start``, or
            the period has not begun by ``as_of``); ``None`` when they are measured.
    """

    start: datetime
    end: datetime
    closing_at: datetime
    accounts: int
    retained: int
    arr_start: float
    arr_end: float
    arr_kept: float
    nrr: float | None
    grr: float | None
    logo_retention: float | None
    reason: str | None

    __repr__ = _repr
    to_records = _one_row

    def lifetime_value(self, gross_margin: float = 1.0) -> float | None:
        """Customer lifetime value: the cohort's average ARR × ``gross_margin`` / the
        yearly logo churn rate (logo retention annualised over the period's length);
        ``None`` when nothing churned, or nothing was measured.

        Raises:
            ValueError: ``gross_margin`` is not a number in (0, 1].
        """
        if isinstance(gross_margin, bool) or not isinstance(gross_margin, int | float):
            raise TypeError(f"gross_margin must be a number in (0, 1], got {gross_margin!r}")
        if not 0 < gross_margin <= 1:
            raise ValueError(f"gross_margin must be in (0, 1], got {gross_margin!r}")
        kept = self.logo_retention
        years = (self.closing_at - self.start) / _YEAR
        if kept is None or kept >= 1 or years <= 0 or not self.accounts:
            return None
        churn: float = 1 - kept ** (1 / years)
        if churn <= 0:  # pragma: no cover - kept < 1 gives a positive churn
            return None
        return self.arr_start / self.accounts * gross_margin / churn

    def __str__(self) -> str:
        """``NRR 104.2%, GRR 91.0%, logo retention 88.0% (22 of 25 accounts, ARR
        1,200,000 → 1,250,400)``, or the reason when nothing is measured."""
        if self.nrr is None:
            return f"retention not measured: {self.reason}"
        return (
            f"NRR {_pct(self.nrr)}, GRR {_pct(self.grr)}, logo retention "
            f"{_pct(self.logo_retention)} ({self.retained:,} of {self.accounts:,} accounts, "
            f"ARR {_amount(self.arr_start)} → {_amount(self.arr_end)})"
        )


@attrs.frozen(kw_only=True, repr=False)
class CohortRow:
    """One cell of a cohort heat map (see :func:`~salesstages.metrics.cohort_retention`).

    Attributes:
        cohort: The period of the accounts' first ARR (``"2026-Q1"``, ``"2026-03"``,
            ``"2026"``).
        periods_since: How many periods after the cohort's (0: its own).
        accounts: The accounts of the cohort.
        arr_start: Their ARR at their first instant with ARR.
        net_retained: Their ARR at the end of the period / ``arr_start``.
        gross_retained: Σ min(ARR then, ARR at start) / ``arr_start``.
        logos_retained: How many of them had ARR at the end of the period.
    """

    cohort: str
    periods_since: int
    accounts: int
    arr_start: float
    net_retained: float
    gross_retained: float
    logos_retained: int

    __repr__ = _repr
    to_records = _one_row

    def __str__(self) -> str:
        """``2026-Q1 +2: 12 accounts, net 104.0%, gross 95.5%, 11 logos``."""
        return (
            f"{self.cohort} +{self.periods_since}: {self.accounts:,} accounts, net "
            f"{_pct(self.net_retained)}, gross {_pct(self.gross_retained)}, "
            f"{self.logos_retained:,} logos"
        )


# -------------------------------------------------------------------- figures
def _tally(count: int, amounts: list[float]) -> Tally:
    return Tally(count, math.fsum(amounts))


def _stop(end: datetime, as_of: datetime | None) -> datetime:
    return end if as_of is None else min(end, as_of + TICK)


def movement_of(
    book: Book, start: datetime, end: datetime, as_of: datetime | None
) -> RevenueMovement:
    """The revenue movement of ``book`` over ``[start, end)`` (both engines)."""
    stop = _stop(end, as_of)
    first = min(start, stop)  # a period not begun by as_of: nothing moves
    lines: dict[str, tuple[list[int], list[float]]] = {n: ([0], []) for n in MOVEMENT_LINES}

    def add(name: str, amount: float) -> None:
        lines[name][0][0] += 1
        lines[name][1].append(amount)

    for account in book.accounts:
        a = book.arr_at(account, first)
        b = book.arr_at(account, stop)
        if a > 0:
            add("opening", a)
        if b > 0:
            add("closing", b)
        if a == 0 < b:
            add("reactivation" if book.had_arr_before(account, first) else "new", b)
        elif a > 0 == b:
            add("churn", a)
        elif 0 < a < b:
            add("expansion", b - a)
        elif 0 < b < a:
            add("contraction", a - b)
    tallies = {n: _tally(c[0], s) for n, (c, s) in lines.items()}
    return RevenueMovement(start=start, end=end, closing_at=stop, **tallies)


def retention_of(book: Book, start: datetime, end: datetime, as_of: datetime | None) -> Retention:
    """The retention of ``book`` over ``[start, end)`` (both engines)."""
    stop = _stop(end, as_of)
    pairs = []
    if stop > start:
        for account in book.accounts:
            a = book.arr_at(account, start)
            if a > 0:
                pairs.append((a, book.arr_at(account, stop)))
    sa = math.fsum(a for a, _ in pairs)
    sb = math.fsum(b for _, b in pairs)
    kept = math.fsum(min(a, b) for a, b in pairs)
    retained = sum(1 for _, b in pairs if b > 0)
    reason = None
    if stop <= start:
        reason = f"the period starting {_when(start)} has not begun by as_of"
    elif not pairs:
        reason = f"no account had ARR at the period's start ({_when(start)})"
    return Retention(
        start=start,
        end=end,
        closing_at=stop,
        accounts=len(pairs),
        retained=retained,
        arr_start=sa,
        arr_end=sb,
        arr_kept=kept,
        nrr=None if reason else sb / sa,
        grr=None if reason else min(kept / sa, 1.0),
        logo_retention=None if reason else retained / len(pairs),
        reason=reason,
    )


def period_start(moment: datetime, period: str) -> datetime:
    """The first instant of the ``period`` (UTC) holding ``moment``."""
    month = {"month": moment.month, "quarter": (moment.month - 1) // 3 * 3 + 1, "year": 1}
    return moment.replace(month=month[period], day=1, hour=0, minute=0, second=0, microsecond=0)


def add_periods(first: datetime, period: str, k: int) -> datetime:
    """``first`` (a period's first instant) moved ``k`` periods later."""
    months = k * {"month": 1, "quarter": 3, "year": 12}[period]
    index = first.year * 12 + first.month - 1 + months
    return first.replace(year=index // 12, month=index % 12 + 1)


def period_label(first: datetime, period: str) -> str:
    """``"2026-03"``, ``"2026-Q1"`` or ``"2026"``."""
    if period == "month":
        return f"{first.year}-{first.month:02d}"
    if period == "quarter":
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    return str(first.year)


def cohort_rows(book: Book, period: str, as_of: datetime) -> list[CohortRow]:
    """The cohort heat map of ``book`` at ``as_of`` (both engines)."""
    cohorts: dict[datetime, list[tuple[str, float]]] = {}
    for account in book.accounts:
        first = book.first_active(account)
        if first is None or first > as_of:
            continue
        cohorts.setdefault(period_start(first, period), []).append(
            (account, book.arr_at(account, first))
        )
    out: list[CohortRow] = []
    for begin in sorted(cohorts):
        members = cohorts[begin]
        total = math.fsum(a for _, a in members)
        k = 0
        while add_periods(begin, period, k) <= as_of:
            stop = min(add_periods(begin, period, k + 1), as_of + TICK)
            now = [(a, book.arr_at(account, stop)) for account, a in members]
            out.append(
                CohortRow(
                    cohort=period_label(begin, period),
                    periods_since=k,
                    accounts=len(members),
                    arr_start=total,
                    net_retained=math.fsum(b for _, b in now) / total,
                    gross_retained=math.fsum(min(a, b) for a, b in now) / total,
                    logos_retained=sum(1 for _, b in now if b > 0),
                )
            )
            k += 1
    return out


def account_rows(book: Book, named: Mapping[str, int], as_of: datetime) -> list[AccountRow]:
    """The :class:`AccountRow` of every account (``named``: deals per account
    attribute value), most ARR first, then by name (both engines)."""
    names = set(named) | set(book.accounts)
    rows = []
    for name in names:
        contracts = book.accounts.get(name, [])
        arr = book.arr_at(name, as_of) if contracts else 0.0
        status: AccountStatus = (
            "active"
            if arr > 0
            else "churned"
            if contracts and book.had_arr_before(name, as_of)
            else "never_active"
        )
        rows.append(
            AccountRow(
                account=name,
                arr=arr,
                status=status,
                first_won=min((c.won_at for c in contracts), default=None),
                deals=named.get(name, len(contracts)),
                renewal_due=book.renewal_due(name, as_of) if contracts else None,
            )
        )
    rows.sort(key=lambda r: (-r.arr, r.account))
    return rows
