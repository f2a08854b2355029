""":func:`~salesstages.metrics.slippage` on an Ibis table's own backend (CONTRACT §10, §14).

Close dates are compared as the ISO ``YYYY-MM-DD`` strings the API writes; a
value of another shape (a log written by other tools) counts as no close date.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from .._planning import Slip
from ._columns import ibis
from ._pivots import Pivots

__all__ = ["slippage"]


def slippage(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> list[Slip]:
    """:func:`salesstages.metrics.slippage` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of is None:
        return []
    k = pv.kept
    sel = k.filter(
        (k.kind == "opened") | ((k.kind == "updated") & pv.json.present(k.data, "close_date"))
    )
    sel = sel.select("deal_id", "seq", v=pv.json.string(sel.data, "close_date"))
    last = sel.group_by(c_deal="deal_id").aggregate(c_seq=sel.seq.max())
    cur = sel.join(last, [sel.deal_id == last.c_deal, sel.seq == last.c_seq])
    cur = cur.select(cur_deal=cur.deal_id, cur=cur.v)
    valid = sel.filter(sel.v.length() == 10)
    valid = valid.mutate(prev=valid.v.lag().over(ibis.window(group_by="deal_id", order_by="seq")))
    per = valid.group_by(p_deal="deal_id").aggregate(
        pushes=ibis.ifelse(valid.v > valid.prev, 1, 0).sum(), first=valid.v.argmin(valid.seq)
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
