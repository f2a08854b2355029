"""Recurring revenue on an Ibis table: the twin of ``metrics/_revenue.py``.

One query reads the contract of every won deal: its win (from the deal pivot) and
the ``account``, ``arr``, ``contract_start`` and ``contract_end`` it held then (each
the value of its last setting, in the ``opened`` event or an update; a won deal
takes no update). Those rows, one per won deal and a few narrow columns, come back
and the figures are computed from them by the pure-Python engine's own code
(:mod:`salesstages.metrics._revenue_types`), so both engines agree exactly.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from ..._contract_values import ACCOUNT, ARR, CONTRACT_END, CONTRACT_START
from .. import _revenue as python
from .._contracts import Book, Contract, contract_of
from .._engine import table_kernel
from .._revenue_types import (
    AccountRow,
    CohortRow,
    Retention,
    RevenueMovement,
    account_rows,
    cohort_rows,
    movement_of,
    retention_of,
)
from ._columns import from_us, ibis
from ._pivots import Pivots, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["accounts", "arr", "cohort_retention", "retention", "revenue_movement"]

_TEXT = (ACCOUNT, CONTRACT_START, CONTRACT_END)


def _latest(pv: Pivots, key: str, name: str, *, number: bool = False) -> Any:
    """Per deal, the value of attribute ``key`` after its last setting (``deal_id``
    as ``<name>_deal``)."""
    k = pv.kept
    sel = k.filter((k.kind == "opened") | ((k.kind == "updated") & pv.json.present(k.data, key)))
    sel = sel.mutate(last=sel.seq.max().over(ibis.window(group_by="deal_id")))
    sel = sel.filter(sel.seq == sel.last)
    value = pv.json.number(sel.data, key) if number else pv.json.string(sel.data, key)
    return sel.select(**{f"{name}_deal": sel.deal_id, name: value})


def _contracts(pv: Pivots) -> dict[tuple[Any, ...], list[Contract]]:
    """The contracts of the won deals, by ``by=`` key columns (``()`` without ``by``)."""
    if pv.as_of_us is None:
        return {}
    d = pv.deals_with()
    d = d.filter(d.outcome == "won").select("deal_id", "closed_at", *pv.group)
    for key in (*_TEXT, ARR):
        latest = _latest(pv, key, key, number=key == ARR)
        d = d.left_join(latest, d.deal_id == latest[f"{key}_deal"]).drop(f"{key}_deal")
    out: dict[tuple[Any, ...], list[Contract]] = {}
    for r in pv.run(d, "contracts"):
        attributes = {k: r[k] for k in (*_TEXT, ARR) if r[k] is not None}
        contract = contract_of(r["deal_id"], from_us(int(r["closed_at"])), attributes)
        out.setdefault(pv.key_of(r), []).append(contract)
    return out


def _books(pv: Pivots) -> tuple[dict[tuple[Any, ...], Book], list[dict[str, Any]]]:
    books = {k: Book(c) for k, c in _contracts(pv).items()}
    keys = pv.keys(pv.deals_with()) if pv.by is not None and pv.as_of_us is not None else []
    return books, keys


@table_kernel(python.arr)
def arr(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None, by: str | None = None
) -> float | dict[Hashable, float]:
    """:func:`salesstages.metrics.arr` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    books, keys = _books(pv)
    at = pv.as_of
    totals = {k: b.total_at(at) for k, b in books.items()} if at is not None else {}
    return grouped(by, keys, totals, float)


@table_kernel(python.accounts)
def accounts(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[AccountRow]:
    """:func:`salesstages.metrics.accounts` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of is None:
        return []
    book = _books(pv)[0].get((), Book(()))
    d = pv.deals_with().select("deal_id")
    latest = _latest(pv, ACCOUNT, "acct")
    j = d.join(latest, d.deal_id == latest.acct_deal)
    j = j.filter(j.acct.notnull() & (j.acct != ""))
    agg = j.group_by("acct").aggregate(n=j.count())
    named = {str(r["acct"]): int(r["n"]) for r in pv.run(agg, "count")}
    return account_rows(book, named, pv.as_of)


@table_kernel(python.revenue_movement)
def revenue_movement(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> RevenueMovement | dict[Hashable, RevenueMovement]:
    """:func:`salesstages.metrics.revenue_movement` on the table's backend (``start``
    and ``end`` checked by the public function: aware UTC datetimes)."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    pv = Pivots(events, pipeline, as_of, by=by)
    books, keys = _books(pv)
    results = {k: movement_of(b, start, end, pv.as_of) for k, b in books.items()}
    return grouped(by, keys, results, lambda: movement_of(Book(()), start, end, pv.as_of))


@table_kernel(python.retention)
def retention(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> Retention | dict[Hashable, Retention]:
    """:func:`salesstages.metrics.retention` on the table's backend."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    pv = Pivots(events, pipeline, as_of, by=by)
    books, keys = _books(pv)
    results = {k: retention_of(b, start, end, pv.as_of) for k, b in books.items()}
    return grouped(by, keys, results, lambda: retention_of(Book(()), start, end, pv.as_of))


@table_kernel(python.cohort_retention)
def cohort_retention(
    events: Table,
    pipeline: Pipeline,
    *,
    period: Literal["month", "quarter", "year"] = "quarter",
    as_of: datetime | None = None,
) -> list[CohortRow]:
    """:func:`salesstages.metrics.cohort_retention` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of is None:
        return []
    return cohort_rows(_books(pv)[0].get((), Book(())), period, pv.as_of)
