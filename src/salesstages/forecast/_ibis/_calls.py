""":func:`~salesstages.forecast.accuracy` on an Ibis table's own backend (CONTRACT §21).

One query brings back the won deals (owner at winning, closing time, amount at
winning); another the owners the log knows. The scoring runs in Python through
the same function as the pure-Python engine."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import from_us
from ...metrics._ibis._pivots import Pivots
from .. import _calls as _python
from .._calls import Call, CallScores, score_calls
from ._planning import _latest

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["accuracy"]


@table_kernel(_python.accuracy)
def accuracy(
    events: Table,
    pipeline: Pipeline,
    *,
    calls: Iterable[Call],
    as_of: datetime | None = None,
) -> CallScores:
    """:func:`salesstages.forecast.accuracy` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    d = pv.deals_with("closed_amount")
    ow = _latest(pv, "owner", "ow")
    won = d.filter(d.outcome == "won")
    won = won.left_join(ow, won.deal_id == ow.ow_deal)
    rows = pv.run(won.select("ow", "closed_at", "closed_amount"), "accuracy")
    k = pv.kept
    op = k.filter(k.kind == "opened")
    first = op.select(o=pv.json.string(op.data, "owner"))
    now = ow.select(o=ow.ow)
    names = first.union(now, distinct=True)
    known = {r["o"] for r in pv.run(names, "accuracy") if isinstance(r["o"], str)}
    triples = ((r["ow"], from_us(r["closed_at"]), float(r["closed_amount"])) for r in rows)
    return score_calls(list(calls), triples, known, as_of)
