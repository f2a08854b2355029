"""The funnel and conversions on an Ibis table: the twin of ``metrics/_funnel.py``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .._common import check_by, check_choice, check_stage, check_substate_stage
from .._funnel import _SKIPS, funnel_from_counts
from .._types import Ratio
from ._columns import ibis
from ._common import aggregate_by, as_int, ratio
from ._durations import _substate_rows
from ._pivots import KEY_COLUMNS, Pivots, grouped

__all__ = ["conversion", "funnel"]


def funnel(
    events: Any,
    pipeline: Any,
    *,
    skips: str = "imputed",
    by: str | None = None,
    as_of: datetime | None = None,
    stage: str | None = None,
) -> Any:
    """:func:`salesstages.metrics.funnel` on the table's backend."""
    check_choice("skips", skips, _SKIPS)
    check_by(by)
    if stage is not None:
        stage, substates = check_substate_stage(pipeline, stage)
    pv = Pivots(events, pipeline, as_of, by=by)
    names = list(pv.opens) if stage is None else list(substates)
    n = len(names)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: funnel_from_counts(_zero_counts(n), names, skips))
    d = pv.deals_with()
    keys = pv.keys(d)
    if stage is not None:
        d = _substate_levels(pv, d, stage, names)
    counts: dict[tuple[Any, ...], dict[str, list[int]]] = {}
    if skips == "touched":
        agg = d.group_by(["outcome", *pv.group]).aggregate(
            **{f"f{i}": d[f"f{i}"].sum() for i in range(n + 1)}
        )
        for r in pv.run(agg, "sum"):
            c = counts.setdefault(pv.key_of(r), _zero_counts(n))
            row = c[r["outcome"]]
            for i in range(n + 1):
                row[i] += as_int(r[f"f{i}"])
    else:
        if skips == "imputed":
            level = d.top
        else:  # ordered: the first level not entered
            level = ibis.literal(n + 1)
            for i in range(n, -1, -1):
                level = ibis.ifelse(d[f"f{i}"] == 1, level, i)
        d = d.mutate(level=level)
        agg = d.group_by(["outcome", "level", *pv.group]).aggregate(deals=d.count())
        for r in pv.run(agg, "count"):
            c = counts.setdefault(pv.key_of(r), _zero_counts(n))
            c[r["outcome"]][int(r["level"])] += int(r["deals"])
    results = {k: funnel_from_counts(c, names, skips) for k, c in counts.items()}
    return grouped(by, keys, results, lambda: funnel_from_counts(_zero_counts(n), names, skips))


def _substate_levels(pv: Pivots, d: Any, stage: str, names: list[str]) -> Any:
    """The deals that entered ``stage``, with the funnel columns over its sub-states:
    ``f0 … f<n-1>`` (entered sub-state i in any visit), ``f<n>`` (entered a later open
    stage or a won stage after its first entry), ``top`` (1 + the highest), the
    deal's ``outcome`` and key columns."""
    n = len(names)
    p = pv.pipeline
    index = p.index(stage)
    beyond = [
        s.name for s in p.stages if s.outcome == "won" or (s.is_open and p.index(s.name) > index)
    ]
    e = pv.entries
    first = e.filter(e.stage == stage).group_by("deal_id").aggregate(first_seq=e.seq.min())
    later = e.select(l_deal="deal_id", l_seq="seq", l_stage="stage")
    moved = (
        first.join(
            later,
            [
                first.deal_id == later.l_deal,
                later.l_seq > first.first_seq,
                later.l_stage.isin(beyond),
            ],
        )
        .select(t_deal="deal_id", pos=ibis.literal(n, type="int64"))
        .distinct()
    )
    sv = _substate_rows(pv)
    sv = sv.filter(sv.stage == stage)
    subs = sv.select(
        t_deal="deal_id",
        pos=sv.substate.substitute({name: i for i, name in enumerate(names)}, else_=-1).cast(
            "int64"
        ),
    )
    touched = subs.union(moved, distinct=True)
    flags = touched.group_by("t_deal").aggregate(
        top=(touched.pos + 1).max(),
        **{f"f{i}": ibis.ifelse(touched.pos == i, 1, 0).max() for i in range(n + 1)},
    )
    entered = first.select(s_deal="deal_id")
    lvl = entered.left_join(flags, entered.s_deal == flags.t_deal)
    lvl = lvl.select(
        "s_deal",
        top=lvl.top.coalesce(0),
        **{f"f{i}": lvl[f"f{i}"].coalesce(0) for i in range(n + 1)},
    )
    # the deal pivot's own top and f… are the stage funnel's: carry only the rest
    d = d.select("deal_id", "outcome", *(KEY_COLUMNS if pv.by is not None else ()))
    return d.join(lvl, d.deal_id == lvl.s_deal).drop("deal_id", "s_deal")


def _zero_counts(n: int) -> dict[str, list[int]]:
    return {"won": [0] * (n + 2), "lost": [0] * (n + 2), "open": [0] * (n + 2)}


def conversion(
    events: Any,
    pipeline: Any,
    from_stage: str,
    to_stage: str,
    *,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Any:
    """:func:`salesstages.metrics.conversion` on the table's backend."""
    a = check_stage(pipeline, from_stage, "from_stage")
    b = check_stage(pipeline, to_stage, "to_stage")
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: ratio(0, 0))
    e = pv.entries
    per = e.group_by(c_deal="deal_id").aggregate(
        first=e.seq.min(where=e.stage == a), last=e.seq.max(where=e.stage == b)
    )
    d = pv.deals_with()
    j = d.left_join(per, d.deal_id == per.c_deal)
    agg = aggregate_by(
        j,
        pv.group,
        entered=ibis.ifelse(j.first.notnull(), 1, 0).sum(),
        converted=ibis.ifelse(j.first.notnull() & (j.last > j.first), 1, 0).sum(),
    )
    results = {
        pv.key_of(r): Ratio(
            numerator=as_int(r["converted"]),
            denominator=as_int(r["entered"]),
            rate=as_int(r["converted"]) / as_int(r["entered"]) if as_int(r["entered"]) else None,
        )
        for r in pv.run(agg, "sum")
    }
    return grouped(by, pv.keys(d), results, lambda: ratio(0, 0))
