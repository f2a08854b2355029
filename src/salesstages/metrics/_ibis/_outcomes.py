"""The outcome metrics on an Ibis table: the twin of ``metrics/_outcomes.py``.

Each function has the signature of its pure-Python namesake and returns the
same types; the aggregates run on the table's backend and only their rows
travel back.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from .. import _outcomes as python
from .._engine import table_kernel
from .._outcomes import NO_REASON, value_ratio, velocity_value
from .._types import DurationStats, Keyed, LostReason, Ratio, SnapshotRow, Stall
from ._columns import ibis
from ._common import aggregate_by, as_int, duration_stats, ratio, stats_aggregate, td
from ._pivots import NO_KEY, Pivots, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["lost_reasons", "sales_cycle", "snapshot", "stalled", "velocity", "win_rate"]

_US: Final = timedelta(microseconds=1)


def _outcome_counts(
    pv: Pivots, d: Any, *, amount: bool = False, extra: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per key and outcome: deals, with ``amount`` the amount at closing, and more columns."""
    metrics = dict(extra or {})
    if amount:
        metrics["closed_amount"] = d.closed_amount.sum()
    agg = d.group_by(["outcome", *pv.group]).aggregate(deals=d.count(), **metrics)
    return pv.run(agg, "sum")


@table_kernel(python.win_rate)
def win_rate(
    events: Table,
    pipeline: Pipeline,
    *,
    by_value: bool = False,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """:func:`salesstages.metrics.win_rate` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    zero: float = 0.0 if by_value else 0
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: ratio(zero, zero))
    d = pv.deals_with("closed_amount") if by_value else pv.deals_with()
    parts: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in _outcome_counts(pv, d, amount=bool(by_value)):
        value = float(r["closed_amount"] or 0.0) if by_value else int(r["deals"])
        parts.setdefault(pv.key_of(r), {})[r["outcome"]] = value
        if r["outcome"] == "lost":
            parts[pv.key_of(r)]["n_lost"] = int(r["deals"])
    results = {}
    for key, p in parts.items():
        won, lost = p.get("won", zero), p.get("lost", zero)
        if by_value:  # issue 22: lost deals all at 0 give no rate, with the reason
            results[key] = value_ratio(won, lost, int(p.get("n_lost", 0)))
        else:
            results[key] = ratio(won, won + lost)
    return grouped(by, pv.keys(d), results, lambda: ratio(zero, zero))


@table_kernel(python.sales_cycle)
def sales_cycle(
    events: Table,
    pipeline: Pipeline,
    *,
    outcome: Literal["won", "lost"] = "won",
    by: str | None = None,
    as_of: datetime | None = None,
) -> DurationStats | dict[Hashable, DurationStats]:
    """:func:`salesstages.metrics.sales_cycle` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: duration_stats(None))
    d = pv.deals_with("opened")
    dur = d.closed_at - d.opened_at
    keep = d.outcome == outcome
    agg = aggregate_by(
        d, pv.group, **stats_aggregate(d, dur, keep, ibis.ifelse(d.outcome == "open", 1, 0))
    )
    results = {pv.key_of(r): duration_stats(r) for r in pv.run(agg, "percentile_cont")}
    return grouped(by, pv.keys(d), results, lambda: duration_stats(None))


@table_kernel(python.snapshot)
def snapshot(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> dict[str, SnapshotRow]:
    """:func:`salesstages.metrics.snapshot` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    out = Keyed("stage", {name: SnapshotRow(count=0, amount=0.0) for name in pv.opens})
    d = pv.deals_with("amount")
    d = d.filter(d.outcome == "open")
    agg = d.group_by("stage").aggregate(deals=d.count(), amount=d.amount.sum())
    for r in pv.run(agg, "sum"):
        out[r["stage"]] = SnapshotRow(count=int(r["deals"]), amount=float(r["amount"] or 0.0))
    return out


@table_kernel(python.stalled)
def stalled(events: Table, pipeline: Pipeline, *, as_of: datetime | None = None) -> list[Stall]:
    """:func:`salesstages.metrics.stalled` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    rot = {s.name: s.rot_after // _US for s in pipeline.open_stages if s.rot_after is not None}
    if pv.as_of_us is None or not rot:
        return []
    d = pv.deals_with("last")
    d = d.filter((d.outcome == "open") & d.stage.isin(list(rot)))
    idle = pv.as_of_us - d.last_at
    d = d.select("deal_id", "stage", idle=idle, rot=d.stage.substitute(rot, else_=2**62))
    d = d.filter(d.idle > d.rot)
    out = [
        Stall(deal_id=r["deal_id"], stage=r["stage"], idle=td(int(r["idle"])))
        for r in pv.run(d.select("deal_id", "stage", "idle"), "filter")
    ]
    out.sort(key=lambda s: (-s.idle, s.deal_id))
    return out


@table_kernel(python.lost_reasons)
def lost_reasons(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[LostReason]:
    """:func:`salesstages.metrics.lost_reasons` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    d = pv.deals_with("reason", "closed_amount")
    d = d.filter(d.outcome == "lost")
    agg = d.group_by("reason").aggregate(deals=d.count(), amount=d.closed_amount.sum())
    rows = [
        LostReason(
            reason=NO_REASON if r["reason"] in (None, NO_KEY) else str(r["reason"]),
            deals=int(r["deals"]),
            amount=float(r["amount"] or 0.0),
        )
        for r in pv.run(agg, "sum")
    ]
    rows.sort(key=lambda r: (-r.deals, r.reason))
    return rows


@table_kernel(python.velocity)
def velocity(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None, by: str | None = None
) -> float | dict[Hashable, float]:
    """:func:`salesstages.metrics.velocity` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: 0.0)
    d = pv.deals_with("opened", "closed_amount")
    rows = _outcome_counts(pv, d, amount=True, extra={"cycle": (d.closed_at - d.opened_at).sum()})
    parts: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    for r in rows:
        parts.setdefault(pv.key_of(r), {})[r["outcome"]] = r
    results = {}
    for key, p in parts.items():
        won = p.get("won")
        results[key] = velocity_value(
            as_int(p.get("open", {}).get("deals")),
            0 if won is None else int(won["deals"]),
            as_int(p.get("lost", {}).get("deals")),
            0.0 if won is None else float(won["closed_amount"] or 0.0),
            timedelta(0) if won is None else td(int(won["cycle"] or 0)),
        )
    return grouped(by, pv.keys(d), results, lambda: 0.0)
