"""Win/loss analysis on an Ibis table: the twin of ``metrics/_winloss.py``."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from .. import _winloss as python
from .._engine import table_kernel
from .._winloss import WinLoss, add_count, win_loss_result
from ._columns import ibis
from ._pivots import KEY_COLUMNS, Pivots, key_value

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["win_loss"]


@table_kernel(python.win_loss)
def win_loss(
    events: Table,
    pipeline: Pipeline,
    *,
    by: str,
    at: Literal["opening", "closing"] = "opening",
    as_of: datetime | None = None,
    level: float = 0.95,
    min_deals: int = 1,
) -> WinLoss:
    """:func:`salesstages.metrics.win_loss` on the table's backend (``by`` an attribute
    name; the public function refuses a bucketing function before it gets here)."""
    pv = Pivots(events, pipeline, as_of, by=by if at == "opening" else None)
    if at == "closing":
        pv.check_attribute(by, opened=False)
    counts: dict[Hashable, tuple[Hashable | None, list[int]]] = {}
    if pv.as_of_us is not None:
        d = pv.deals_with().filter(lambda t: t.outcome != "open")
        if at == "closing":
            d = _with_closing_key(pv, d, by)
        agg = d.group_by(["outcome", *KEY_COLUMNS]).aggregate(deals=d.count())
        for r in pv.run(agg, "count"):
            add_count(counts, key_value(r, by), r["outcome"] == "won", int(r["deals"]))
    return win_loss_result(counts, by, 0, level, min_deals)


def _with_closing_key(pv: Pivots, deals: Any, name: str) -> Any:
    """``deals`` with the key columns of attribute ``name`` as of each deal's last
    kept event (the latest ``opened`` event, or a later update carrying it)."""
    k = pv.kept
    item = pv.json.present(k.data, name)
    setters = k.filter((k.kind == "opened") | ((k.kind == "updated") & item))
    setters = setters.mutate(last=setters.seq.max().over(ibis.window(group_by="deal_id")))
    setters = setters.filter(setters.seq == setters.last)
    keys = setters.select(kd="deal_id", **pv.key_columns_of(setters.data, name))
    j = deals.left_join(keys, deals.deal_id == keys.kd)
    return j.select("outcome", *KEY_COLUMNS)
