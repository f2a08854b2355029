"""The duration metrics on an Ibis table: the twin of ``metrics/_durations.py``."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final, Literal

from .. import _durations as python
from .._engine import table_kernel
from .._types import DurationStats, Keyed, SubstateVisit, Visit, _fast_init
from ._columns import from_us, ibis
from ._common import columns, duration_stats, stats_aggregate, td, with_keys
from ._pivots import Pivots, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["stage_durations", "substate_durations", "substate_visits", "visits"]


_DEAL_ID: Final = attrgetter("deal_id")
_make_visit = _fast_init(Visit)


@table_kernel(python.visits)
def visits(events: Table, pipeline: Pipeline, *, as_of: datetime | None = None) -> list[Visit]:
    """:func:`salesstages.metrics.visits` on the table's backend (by deal id, then time)."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    v = pv.visits.order_by(["deal_id", "seq"])
    table = pv.arrow(
        v.select("deal_id", "stage", "at_us", "next_at", "next_stage", "dur"), "window functions"
    )
    make = _make_visit
    cols = columns(table, times=("at_us", "next_at"), durations=("dur",))
    out = [
        make(d, s, at, nxt, ns, dur, nxt is None)
        for d, s, at, nxt, ns, dur in zip(*cols, strict=True)
    ]
    out.sort(key=_DEAL_ID)  # stable: each deal's visits stay in order
    return out


@table_kernel(python.stage_durations)
def stage_durations(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    per: Literal["visit", "deal"] = "visit",
    by: str | None = None,
) -> dict[str, DurationStats] | dict[Hashable, dict[str, DurationStats]]:
    """:func:`salesstages.metrics.stage_durations` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    names = pv.opens
    results: dict[tuple[Any, ...], dict[str, DurationStats]] = {}
    deals = pv.deals_with()
    if pv.as_of_us is not None:
        v = with_keys(pv, pv.visits, deals)
        if per == "deal":
            # each deal's cumulative time per stage; the stage it is in now is "open"
            v = v.group_by(["deal_id", "stage", *pv.group]).aggregate(
                dur=v.dur.sum(), is_open=v.is_open.max()
            )
        keep = (v.is_open == 0) if not include_open else v.dur.notnull()
        agg = v.group_by(["stage", *pv.group]).aggregate(
            **stats_aggregate(v, v.dur, keep, v.is_open)
        )
        for r in pv.run(agg, "percentile_cont"):
            results.setdefault(pv.key_of(r), {})[r["stage"]] = duration_stats(r)

    def fill(found: dict[str, DurationStats] | None = None) -> dict[str, DurationStats]:
        found = found or {}
        return Keyed("stage", {n: found.get(n) or duration_stats(None) for n in names})

    full = {k: fill(v) for k, v in results.items()}
    keys = pv.keys(deals) if pv.as_of_us is not None else []
    return grouped(by, keys, full, fill)


@table_kernel(python.substate_durations)
def substate_durations(
    events: Table,
    pipeline: Pipeline,
    *,
    stage: str,
    as_of: datetime | None = None,
    include_open: bool = False,
    by: str | None = None,
) -> dict[str, DurationStats] | dict[Hashable, dict[str, DurationStats]]:
    """:func:`salesstages.metrics.substate_durations` on the table's backend."""
    name, substates = stage, pipeline.stage(stage).substates
    pv = Pivots(events, pipeline, as_of, by=by)

    def fill(found: dict[str, DurationStats] | None = None) -> dict[str, DurationStats]:
        found = found or {}
        return Keyed("substate", {s: found.get(s) or duration_stats(None) for s in substates})

    if pv.as_of_us is None:
        return grouped(by, [], {}, fill)
    deals = pv.deals_with()
    sv = _substate_rows(pv)
    sv = with_keys(pv, sv.filter(sv.stage == name), deals)
    keep = (sv.is_open == 0) if not include_open else sv.dur.notnull()
    agg = sv.group_by(["substate", *pv.group]).aggregate(
        **stats_aggregate(sv, sv.dur, keep, sv.is_open)
    )
    results: dict[tuple[Any, ...], dict[str, DurationStats]] = {}
    for r in pv.run(agg, "percentile_cont"):
        results.setdefault(pv.key_of(r), {})[r["substate"]] = duration_stats(r)
    return grouped(by, pv.keys(deals), {k: fill(v) for k, v in results.items()}, fill)


def _substate_rows(pv: Pivots) -> Any:
    """One row per sub-state visit: ``deal_id, stage, substate, at_us, is_open, dur``."""
    k = pv.kept
    both = k.filter(k.kind.isin(("stage_entered", "substate_entered")))
    w = ibis.window(group_by="deal_id", order_by="seq")
    cum = ibis.window(group_by="deal_id", order_by="seq", preceding=None, following=0)
    both = both.select(
        "deal_id",
        "seq",
        "kind",
        "at_us",
        "stage",
        "name",
        entry=ibis.ifelse(both.kind == "stage_entered", 1, 0).sum().over(cum),
        next_at=both.at_us.lead().over(w),
    )
    entries = both.filter(both.kind == "stage_entered").select(
        e_deal="deal_id", e_entry="entry", e_stage="stage"
    )
    subs = both.filter((both.kind == "substate_entered") & (both.entry > 0))
    subs = subs.join(entries, [subs.deal_id == entries.e_deal, subs.entry == entries.e_entry])
    as_of = ibis.literal(pv.as_of_us or 0, type="int64")
    return subs.select(
        "deal_id",
        "at_us",
        stage=subs.e_stage,
        substate=subs.name,
        is_open=ibis.ifelse(subs.next_at.isnull(), 1, 0),
        dur=subs.next_at.coalesce(as_of) - subs.at_us,
    )


@table_kernel(python.substate_visits)
def substate_visits(
    events: Table, pipeline: Pipeline, *, stage: str | None = None, as_of: datetime | None = None
) -> list[SubstateVisit]:
    """:func:`salesstages.metrics.substate_visits` on the table's backend (by deal, then time)."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    sv = _substate_rows(pv)
    if stage is not None:
        sv = sv.filter(sv.stage == stage)
    out: list[SubstateVisit] = []
    for r in pv.run(sv.order_by(["deal_id", "at_us"]), "window functions"):
        start = from_us(r["at_us"])
        dur = td(int(r["dur"]))
        is_open = bool(r["is_open"])
        out.append(
            SubstateVisit(
                deal_id=r["deal_id"],
                stage=r["stage"],
                substate=r["substate"],
                entered_at=start,
                exited_at=None if is_open else start + dur,
                duration=dur,
                is_open=is_open,
            )
        )
    return out
