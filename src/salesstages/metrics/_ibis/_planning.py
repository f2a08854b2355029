""":func:`~salesstages.metrics.slippage` and :func:`~salesstages.metrics.movement` on an
Ibis table's own backend (CONTRACT §10, §14).

Close dates are compared as the ISO ``YYYY-MM-DD`` strings the API writes; a
value of another shape (a log written by other tools) counts as no close date.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .. import _planning as python
from .._engine import table_kernel
from .._planning import Movement, PeriodStatus, Slip, Tally, status_of
from ._columns import from_us, ibis, to_us
from ._pivots import KEY_COLUMNS, Pivots, Rewound, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["movement", "period_status", "slippage"]


def _status(pv: Pivots, lo: datetime, hi: datetime) -> PeriodStatus:
    """:func:`salesstages.metrics._planning.status_of` with the table's first opening."""
    if pv.as_of_us is None:
        return status_of(lo, hi, pv.as_of, None)
    d = pv.deals_with("opened")
    got = pv.run(d.aggregate(first=d.opened_at.min()), "min")
    first = got[0]["first"] if got else None
    return status_of(lo, hi, pv.as_of, None if first is None else from_us(int(first)))


@table_kernel(python.period_status)
def period_status(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
) -> PeriodStatus:
    """:func:`salesstages.metrics.period_status` on the table's backend (``start`` and
    ``end`` checked, aware datetimes)."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    return _status(Pivots(events, pipeline, as_of), start, end)


@table_kernel(python.slippage)
def slippage(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    as_of: datetime | None = None,
) -> list[Slip]:
    """:func:`salesstages.metrics.slippage` on the table's backend (``start`` and
    ``end`` checked: both aware datetimes, or both ``None``)."""
    since_us: int | None = None
    pv: Pivots = Pivots(events, pipeline, as_of)
    if start is not None and end is not None:
        assert isinstance(start, datetime)
        assert isinstance(end, datetime)
        since, hi = start, end
        if pv.as_of_us is not None and to_us(hi) <= pv.as_of_us:
            pv = Rewound(pv, to_us(hi) - 1)
        if pv.as_of is not None and pv.as_of < since:
            return []  # not started: no push can have been made in it yet
        since_us = to_us(since)
    if pv.as_of is None:
        return []
    k = pv.kept
    sel = k.filter(
        (k.kind == "opened") | ((k.kind == "updated") & pv.json.present(k.data, "close_date"))
    )
    sel = sel.select("deal_id", "seq", "at_us", v=pv.json.string(sel.data, "close_date"))
    last = sel.group_by(c_deal="deal_id").aggregate(c_seq=sel.seq.max())
    cur = sel.join(last, [sel.deal_id == last.c_deal, sel.seq == last.c_seq])
    cur = cur.select(cur_deal=cur.deal_id, cur=cur.v)
    valid = sel.filter(sel.v.length() == 10)
    valid = valid.mutate(prev=valid.v.lag().over(ibis.window(group_by="deal_id", order_by="seq")))
    if since_us is None:
        pushed = valid.v > valid.prev
        first = valid.v.argmin(valid.seq)
    else:
        # only pushes in the period, from the close date the deal had at its start
        before = valid.at_us < since_us
        pushed = (valid.v > valid.prev) & ~before
        base = valid.v.argmax(valid.seq, where=before)
        first = base.coalesce(valid.v.argmin(valid.seq))
    per = valid.group_by(p_deal="deal_id").aggregate(
        pushes=ibis.ifelse(pushed, 1, 0).sum(), first=first
    )
    d = pv.deals_with()
    d = d.filter(d.outcome == "open")
    d = d.join(cur, d.deal_id == cur.cur_deal).join(per, d.deal_id == per.p_deal)
    today = pv.as_of.date().isoformat()
    d = d.filter((d.cur.length() == 10) & ((d.pushes > 0) | (d.cur < today)))
    out = []
    for r in pv.run(d.select("deal_id", "pushes", "first", "cur"), "filter"):
        first, current = date.fromisoformat(r["first"]), date.fromisoformat(r["cur"])
        out.append(
            Slip(
                deal_id=r["deal_id"],
                pushes=int(r["pushes"]),
                days_slipped=(current - first).days,
                first_close_date=first,
                close_date=current,
                overdue=r["cur"] < today,
            )
        )
    out.sort(key=lambda s: (-s.days_slipped, s.deal_id))
    return out


def _tally(row: dict[str, Any], name: str) -> Tally:
    count = int(row[f"n_{name}"] or 0)
    return Tally(count, float(row[f"s_{name}"] or 0.0)) if count else Tally(0, 0.0)


_LINES = ("opening", "created", "reopened", "won", "lost", "increased", "decreased", "closing")


def _empty(status: PeriodStatus | None = None) -> Movement:
    return Movement(**dict.fromkeys(_LINES, Tally(0, 0.0)), period=status)


@table_kernel(python.movement)
def movement(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    by: str | None = None,
) -> Movement | dict[Hashable, Movement]:
    """:func:`salesstages.metrics.movement` on the table's backend.

    Each deal's ``opened`` event, stage entries and amount settings are put in the
    order the pure-Python engine takes them (by time; at one instant the opening
    first, then amount changes, then stage entries; then by ``seq``); window
    functions carry the amount and the open state along, and one aggregate adds up
    the movement. ``start`` and ``end`` are checked, aware datetimes; ``by`` is checked.
    """
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    lo, hi = start, end
    pv = Pivots(events, pipeline, as_of, by=by)
    status = _status(pv, lo, hi)
    if pv.as_of_us is None or status.closing is None:
        return grouped(by, [], {}, lambda: _empty(status))
    # [start, closing instant); nothing moves when the closing instant is not after start
    stop_us = to_us(status.closing)
    lo_us = min(to_us(lo), stop_us)
    k = pv.kept
    k = k.filter(k.at_us < stop_us)
    is_amount = (k.kind == "updated") & pv.json.present(k.data, "amount")
    r = k.filter((k.kind == "opened") | (k.kind == "stage_entered") | is_amount)
    rank = ibis.ifelse(r.kind == "opened", 0, ibis.ifelse(r.kind == "updated", 1, 2))
    r = r.select(
        "deal_id",
        "at_us",
        "stage",
        rank=rank,
        amt=pv.json.number(r.data, "amount").coalesce(0.0),
        o=ibis.row_number().over(ibis.window(group_by="deal_id", order_by=[r.at_us, rank, r.seq])),
    )
    upto = ibis.window(group_by="deal_id", order_by="o", preceding=None, following=0)
    r = r.mutate(
        set_o=ibis.ifelse(r.rank < 2, r.o, ibis.null("int64")).max().over(upto),
        ent_o=ibis.ifelse(r.rank == 2, r.o, ibis.null("int64")).max().over(upto),
    )
    amounts = r.filter(r.rank < 2).select(a_deal="deal_id", a_o="o", a_amt="amt")
    stages = r.filter(r.rank == 2).select(e_deal="deal_id", e_o="o", e_stage="stage")
    r = r.left_join(amounts, [r.deal_id == amounts.a_deal, r.set_o == amounts.a_o])
    r = r.left_join(stages, [r.deal_id == stages.e_deal, r.ent_o == stages.e_o])
    r = r.select(
        "deal_id",
        "at_us",
        "rank",
        "o",
        "stage",
        amt=r.a_amt.coalesce(0.0),
        is_open=ibis.ifelse(r.e_stage.isnull() | r.e_stage.isin(pv.opens), 1, 0),
    )
    w = ibis.window(group_by="deal_id", order_by="o")
    r = r.mutate(was_open=r.is_open.lag().over(w).coalesce(1), amt_before=r.amt.lag().over(w))
    # the state just before start and at the closing instant: each deal's last row then
    last_lo = r.filter(r.at_us < lo_us).group_by(x_deal="deal_id").aggregate(x_o=r.o.max())
    last_hi = r.group_by(y_deal="deal_id").aggregate(y_o=r.o.max())
    r = r.left_join(last_lo, [r.deal_id == last_lo.x_deal, r.o == last_lo.x_o])
    r = r.left_join(last_hi, [r.deal_id == last_hi.y_deal, r.o == last_hi.y_o])
    inside = r.at_us >= lo_us
    entry = (r.rank == 2) & inside
    change = (r.rank == 1) & inside & (r.was_open == 1)
    delta = r.amt - r.amt_before.coalesce(0.0)
    lines = {
        "opening": (r.x_o.notnull() & (r.is_open == 1), r.amt),
        "created": ((r.rank == 0) & inside, r.amt),
        "reopened": (entry & (r.was_open == 0) & (r.is_open == 1), r.amt),
        "won": (entry & (r.was_open == 1) & r.stage.isin(pv.won), r.amt),
        "lost": (entry & (r.was_open == 1) & r.stage.isin(pv.lost), r.amt),
        "increased": (change & (delta > 0), delta),
        "decreased": (change & (delta < 0), -delta),
        "closing": (r.y_o.notnull() & (r.is_open == 1), r.amt),
    }
    r = r.select(
        "deal_id",
        **{
            col: expr
            for name, (cond, value) in lines.items()
            for col, expr in (
                (f"c_{name}", ibis.ifelse(cond, 1, 0)),
                (f"v_{name}", ibis.ifelse(cond, value, 0.0)),
            )
        },
    )
    if by is not None:
        keys = pv.deals_with().select("deal_id", *KEY_COLUMNS).rename(k_deal="deal_id")
        r = r.join(keys, r.deal_id == keys.k_deal)
    aggs: dict[str, Any] = {}
    for name in lines:
        aggs[f"n_{name}"] = r[f"c_{name}"].sum()
        aggs[f"s_{name}"] = r[f"v_{name}"].sum()
    agg = r.group_by(pv.group).aggregate(**aggs) if pv.group else r.aggregate(**aggs)
    results = {
        pv.key_of(row): Movement(**{name: _tally(row, name) for name in _LINES}, period=status)
        for row in pv.run(agg, "sum")
    }
    return grouped(by, pv.keys(pv.deals_with()), results, lambda: _empty(status))
