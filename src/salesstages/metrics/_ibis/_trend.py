""":func:`~salesstages.metrics.trend` on an Ibis table's own backend (CONTRACT §17, §21).

One query brings back one row per deal: its opening (time, amount then and the
``by=`` key), its outcome, latest closing and amount at winning, and its first
entry into the conversion's first stage with whether it entered the second
after it. The periods, figures and tests run in Python through the same code
as the pure-Python engine.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from .. import _trend as _python
from .._engine import table_kernel
from .._trend import Fact, TrendRow, keyed_rows
from ._columns import from_us, ibis
from ._pivots import KEY_COLUMNS, Pivots, key_value

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["trend"]


@table_kernel(_python.trend)
def trend(
    events: Table,
    pipeline: Pipeline,
    *,
    measure: Literal["created", "won", "win_rate", "cycle", "conversion"],
    period: Literal["month", "quarter", "year"] = "month",
    stages: tuple[str, str] | None = None,
    as_of: datetime | None = None,
    by: str | None = None,
) -> list[TrendRow] | dict[Hashable, list[TrendRow]]:
    """:func:`salesstages.metrics.trend` on the table's backend."""
    assert stages is not None  # the public function fills in the default pair
    pv = Pivots(events, pipeline, as_of, by=by)
    d = pv.deals_with("opened", "closed_amount")
    # the amount at opening: its last setting at or before the opening instant
    am = pv.amounts
    op = d.select(o_deal="deal_id", o_at="opened_at")
    j = am.join(op, [am.deal_id == op.o_deal, am.at_us <= op.o_at])
    first = j.group_by(a_deal="deal_id").aggregate(o_amount=j.amt.argmax(j.seq))
    e = pv.entries
    fr = e.filter(e.stage == stages[0])
    fr = fr.group_by(f_deal="deal_id").aggregate(f_at=fr.at_us.min(), f_seq=fr.seq.min())
    to = e.filter(e.stage == stages[1]).select(t_deal="deal_id", t_seq="seq")
    hit = to.join(fr, [to.t_deal == fr.f_deal, to.t_seq > fr.f_seq])
    hit = hit.select(h_deal="t_deal").distinct()
    d = d.left_join(first, d.deal_id == first.a_deal)
    d = d.left_join(fr, d.deal_id == fr.f_deal)
    d = d.left_join(hit, d.deal_id == hit.h_deal)
    keys = [c for c in KEY_COLUMNS if c in d.columns] if pv.by is not None else []
    expr = d.select(
        "outcome",
        "opened_at",
        "closed_at",
        "closed_amount",
        "f_at",
        *keys,
        o_amount=d.o_amount.coalesce(0.0),
        reached=ibis.ifelse(d.h_deal.notnull(), 1, 0),
    )
    facts = [
        Fact(
            key=None if pv.by is None else key_value(r, pv.by),
            opened_at=from_us(r["opened_at"]),
            opened_amount=float(r["o_amount"]),
            outcome=r["outcome"],
            closed_at=None if r["outcome"] == "open" else from_us(r["closed_at"]),
            closed_amount=float(r["closed_amount"]) if r["outcome"] == "won" else 0.0,
            from_at=None if r["f_at"] is None else from_us(r["f_at"]),
            reached=bool(r["reached"]),
        )
        for r in pv.run(expr, "trend")
    ]
    return keyed_rows(facts, pv.by, measure, period, pv.as_of)
