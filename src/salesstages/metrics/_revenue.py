"""Recurring revenue (CONTRACT §19): :func:`arr`, :func:`accounts`,
:func:`revenue_movement`, :func:`retention` and :func:`cohort_retention`.

Every figure is read from the contracts of won deals
(:mod:`salesstages.metrics._contracts`): the ARR of an account at instant ``t`` is
the sum of ``arr`` over its deals won at or before ``t`` whose contract covers
``t`` (``contract_start <= t.date() < contract_end``). The values a deal holds when
it is won are the ones that count (a won deal takes no update). A period follows
§17: ``[start, end)`` with the closing instant ``min(end, as_of⁺)``; an account's
``a`` is its ARR at ``start`` and ``b`` its ARR at the closing instant.

The records and the figures from a :class:`~._contracts.Book` live in
:mod:`._revenue_types`, shared with the Ibis engine (``metrics/_ibis/_revenue.py``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, overload

from ._common import check_by, check_choice, load, segmented
from ._contracts import Book, Contract, contract_of
from ._engine import Events, engine, is_ibis_table, on_table
from ._planning import period_bounds
from ._revenue_types import (
    PERIODS,
    AccountRow,
    CohortRow,
    Retention,
    RevenueMovement,
    account_rows,
    cohort_rows,
    movement_of,
    retention_of,
)

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ._history import DealHistory

__all__ = ["accounts", "arr", "cohort_retention", "contracts", "retention", "revenue_movement"]


def contracts(deals: Iterable[DealHistory]) -> list[Contract]:
    """The contract of every won deal among ``deals``."""
    return [
        contract_of(h.deal_id, h.closed_at, h.attributes)  # type: ignore[arg-type]
        for h in deals
        if h.outcome == "won"
    ]


@overload
def arr(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None, by: None = None
) -> float: ...


@overload
def arr(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None, by: str
) -> dict[Hashable, float]: ...


@engine
def arr(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None, by: str | None = None
) -> float | dict[Hashable, float]:
    """Annual recurring revenue at ``as_of``: the sum of ``arr`` over the deals won at or
    before it whose contract covers it (``contract_start <= as_of.date() <
    contract_end``; a won deal without ``contract_start`` starts on the day it is won,
    one without ``contract_end`` runs on; overlapping contracts add up).

    Args:
        events: The log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The pipeline the log follows.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment on this attribute's value at opening: a dict of totals.
    """
    check_by(by)
    if is_ibis_table(events):
        return on_table(arr)(events, pipeline, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    at = hist.as_of

    def total(deals: list[DealHistory]) -> float:
        return 0.0 if at is None else Book(contracts(deals)).total_at(at)

    return segmented(hist.deals.values(), by, total)


@engine
def accounts(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[AccountRow]:
    """One :class:`AccountRow` per account at ``as_of``, most ARR first, then by name.

    The accounts are the values of the ``account`` attribute of every deal (as of its
    last event), and the ids of won deals that name no account (each its own
    account). ``status`` is ``"active"`` (ARR > 0), ``"churned"`` (ARR 0 after some
    ARR before) or ``"never_active"``; ``renewal_due`` is the earliest
    ``contract_end`` among the contracts counting at ``as_of``.
    """
    if is_ibis_table(events):
        return on_table(accounts)(events, pipeline, as_of=as_of)
    hist = load(events, pipeline, as_of)
    if hist.as_of is None:
        return []
    named: dict[str, int] = {}
    for h in hist.deals.values():
        name = h.attributes.get("account")
        if isinstance(name, str) and name:
            named[name] = named.get(name, 0) + 1
    return account_rows(Book(contracts(hist.deals.values())), named, hist.as_of)


@overload
def revenue_movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: None = None,
) -> RevenueMovement: ...


@overload
def revenue_movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, RevenueMovement]: ...


@engine
def revenue_movement(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> RevenueMovement | dict[Hashable, RevenueMovement]:
    """How ARR moved over ``[start, end)``: a :class:`RevenueMovement`.

    Per account, ``a`` is its ARR at ``start`` and ``b`` its ARR at the closing
    instant ``min(end, as_of⁺)``: ``a = 0 < b`` is *new* when the account had no ARR
    at any instant before ``start``, else *reactivation*; ``a > 0 = b`` *churn*
    (``a``); ``0 < a < b`` *expansion* (``b - a``); ``0 < b < a`` *contraction*
    (``a - b``). ``closing = opening + new + reactivation + expansion - contraction
    - churn``, for counts of accounts and for amounts. With ``by``, each segment
    reads the contracts of its own deals (keyed at their opening), so an account
    whose deals fall in two segments shows in both with those deals' ARR.

    Args:
        events: The log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The pipeline the log follows.
        start: A date (midnight UTC) or an aware datetime: the first instant.
        end: The same, not before ``start``: the instant just after the period.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment on this attribute's value at opening: a dict of movements.

    Raises:
        NaiveTimeError: ``start``, ``end`` or ``as_of`` is a naive datetime.
        DataError: ``end`` lies before ``start``.
    """
    lo, hi = period_bounds(start, end)
    check_by(by)
    if is_ibis_table(events):
        return on_table(revenue_movement)(events, pipeline, start=lo, end=hi, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    return segmented(
        hist.deals.values(),
        by,
        lambda ds: movement_of(Book(contracts(ds)), lo, hi, hist.as_of),
    )


@overload
def retention(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: None = None,
) -> Retention: ...


@overload
def retention(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str,
) -> dict[Hashable, Retention]: ...


@engine
def retention(
    events: Events,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> Retention | dict[Hashable, Retention]:
    """Revenue and logo retention over ``[start, end)``: a :class:`Retention`.

    The cohort is the accounts with ARR at ``start`` (``a > 0``); with ``b`` their
    ARR at the closing instant ``min(end, as_of⁺)``: ``nrr = Σb / Σa``, ``grr =
    Σ min(a, b) / Σa``, ``logo_retention`` the share of them with ``b > 0``. All
    three are ``None``, with a ``reason``, when no account had ARR at ``start``.

    Args:
        events: The log (events, a :class:`Histories`, or an Ibis table).
        pipeline: The pipeline the log follows.
        start: A date (midnight UTC) or an aware datetime: the first instant.
        end: The same, not before ``start``: the instant just after the period.
        as_of: Ignore later events; defaults to the latest event time.
        by: Segment on this attribute's value at opening: a dict of retentions.
    """
    lo, hi = period_bounds(start, end)
    check_by(by)
    if is_ibis_table(events):
        return on_table(retention)(events, pipeline, start=lo, end=hi, as_of=as_of, by=by)
    hist = load(events, pipeline, as_of)
    return segmented(
        hist.deals.values(),
        by,
        lambda ds: retention_of(Book(contracts(ds)), lo, hi, hist.as_of),
    )


@engine
def cohort_retention(
    events: Events,
    pipeline: Pipeline,
    *,
    period: Literal["month", "quarter", "year"] = "quarter",
    as_of: datetime | None = None,
) -> list[CohortRow]:
    """Retention by cohort, tidy for a heat map: one :class:`CohortRow` per (cohort,
    periods since), in that order.

    An account's cohort is the period (``"month"``, ``"quarter"`` or ``"year"``, UTC)
    of its first instant with ARR > 0, and ``arr_start`` its ARR then. For
    ``periods_since = k`` each account is measured at the end of the ``k``-th
    period after its cohort's (the closing instant ``min(period end, as_of⁺)``),
    for every period begun by ``as_of``.
    """
    check_choice("period", period, PERIODS)
    if is_ibis_table(events):
        return on_table(cohort_retention)(events, pipeline, period=period, as_of=as_of)
    hist = load(events, pipeline, as_of)
    if hist.as_of is None:
        return []
    return cohort_rows(Book(contracts(hist.deals.values())), period, hist.as_of)
