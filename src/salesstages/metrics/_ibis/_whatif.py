""":func:`~salesstages.metrics.what_if` on an Ibis table (CONTRACT §21).

The replay runs on events, in Python, through the same code as the pure-Python
engine; on a table it reads only the events of the deals that made a move (a
second stage entry or a sub-state entry: nothing can stop a deal that never
moved). Every deal's outcome, amount and cycle come from one aggregate on the
backend; :attr:`WhatIf.note` says how many deals were read.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .. import _whatif as _python
from .._engine import table_kernel
from .._whatif import WhatIf, stopped_moves, summarise_groups
from ._pivots import Pivots
from ._read import read_events

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["what_if"]


@table_kernel(_python.what_if)
def what_if(
    events: Table,
    pipeline: Pipeline,
    alternative: Pipeline,
    *,
    as_of: datetime | None = None,
) -> WhatIf:
    """:func:`salesstages.metrics.what_if` on the table: the movers' events read, the
    rest summed up on the backend."""
    pv = Pivots(events, pipeline, as_of)
    k = pv.kept
    moves = k.filter(k.kind.isin(["stage_entered", "substate_entered"]))
    per = moves.group_by("deal_id").aggregate(n=moves.count())
    movers = per.filter(per.n > 1).select("deal_id")
    evs = read_events(pv, deals=movers)
    stopped = stopped_moves(evs, pipeline, alternative)
    d = pv.deals_with("opened", "amount", "closed_amount")
    rows = pv.run(
        d.select("deal_id", "outcome", "closed_at", "opened_at", "amount", "closed_amount"),
        "what_if",
    )
    deals = [
        (
            r["deal_id"],
            r["outcome"],
            float(r["closed_amount"] if r["outcome"] == "won" else r["amount"]),
            timedelta(microseconds=r["closed_at"] - r["opened_at"])
            if r["outcome"] == "won"
            else None,
        )
        for r in rows
    ]
    read = len({e.deal_id for e in evs})
    note = (
        f"read the events of {read:,} of {len(deals):,} deals (those that made a move); "
        "the others were summed up on the table's backend"
    )
    return summarise_groups(deals, stopped, note)
