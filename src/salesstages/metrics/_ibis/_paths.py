""":func:`salesstages.metrics.paths`, :func:`~salesstages.metrics.transitions` and
:func:`~salesstages.metrics.rework` on an Ibis table.

Each is one aggregate over the stage-entry pivot: per path (the deal's stages
collected in ``seq`` order) its deals by outcome and the median cycle of its
closed ones; per move (an entry and the deal's next one) its count, deals and
duration statistics; per stage and deal the visits, then per stage. The rows are
assembled by the same code as the pure-Python engine.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import _paths as python
from .._engine import table_kernel
from .._paths import PathCounts, PathRow, Rework, TransitionRow, path_rows, rework_rows
from .._paths import transition_rows as _transition_rows
from ._columns import ibis
from ._common import aggregate_by, as_int, duration_stats, stats_aggregate, td, with_keys
from ._pivots import Pivots, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["paths", "rework", "transitions"]


@table_kernel(python.paths)
def paths(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
    top: int | None = None,
) -> list[PathRow] | dict[Hashable, list[PathRow]]:
    """:func:`salesstages.metrics.paths` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, list)
    e = pv.entries
    per = e.group_by(p_deal="deal_id").aggregate(path=e.stage.collect(order_by=e.seq))
    d = pv.deals_with("opened")
    j = with_keys(pv, per.join(d, per.p_deal == d.deal_id), d)
    closed = j.outcome != "open"
    agg = j.group_by(["path", *pv.group]).aggregate(
        deals=j.count(),
        won=ibis.ifelse(j.outcome == "won", 1, 0).sum(),
        lost=ibis.ifelse(j.outcome == "lost", 1, 0).sum(),
        med=(j.closed_at - j.opened_at).quantile(0.5, where=closed),
    )
    counts: dict[tuple[Any, ...], PathCounts] = {}
    for r in pv.run(agg, "percentile_cont"):
        deals, won, lost = int(r["deals"]), as_int(r["won"]), as_int(r["lost"])
        med = None if r["med"] is None else td(float(r["med"]))
        counts.setdefault(pv.key_of(r), {})[tuple(r["path"])] = (
            deals,
            won,
            lost,
            deals - won - lost,
            med,
        )
    results = {key: path_rows(c, top) for key, c in counts.items()}
    return grouped(by, pv.keys(d), results, list)


@table_kernel(python.transitions)
def transitions(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
) -> list[TransitionRow] | dict[Hashable, list[TransitionRow]]:
    """:func:`salesstages.metrics.transitions` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, list)
    e = pv.entries
    m = e.filter(e.next_stage.notnull())
    d = pv.deals_with()
    m = with_keys(pv, m, d)
    dur = m.next_at - m.at_us
    agg = aggregate_by(
        m,
        ["stage", "next_stage", *pv.group],
        moves=m.count(),
        n_deals=m.deal_id.nunique(),
        **stats_aggregate(m, dur, m.seq >= 0, ibis.ifelse(m.seq < 0, 1, 0)),
    )
    moves: dict[tuple[Any, ...], dict[tuple[str, str], Any]] = {}
    for r in pv.run(agg, "percentile_cont"):
        moves.setdefault(pv.key_of(r), {})[r["stage"], r["next_stage"]] = (
            int(r["moves"]),
            int(r["n_deals"]),
            duration_stats(r),
        )
    results = {key: _transition_rows(pipeline, mv) for key, mv in moves.items()}
    return grouped(by, pv.keys(d), results, list)


@table_kernel(python.rework)
def rework(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> dict[str, Rework]:
    """:func:`salesstages.metrics.rework` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return rework_rows(pipeline, {})
    e = pv.entries
    per = e.group_by(["deal_id", "stage"]).aggregate(v=e.count())
    agg = per.group_by("stage").aggregate(
        entered=per.count(),
        again=ibis.ifelse(per.v > 1, 1, 0).sum(),
        extra=(per.v - 1).sum(),
    )
    counts = {
        r["stage"]: (int(r["entered"]), as_int(r["again"]), as_int(r["extra"]))
        for r in pv.run(agg, "count")
    }
    return rework_rows(pipeline, counts)
