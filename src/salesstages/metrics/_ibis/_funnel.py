"""The funnel and conversions on an Ibis table: the twin of ``metrics/_funnel.py``."""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from .. import _funnel as python
from .._engine import table_kernel
from .._funnel import funnel_from_counts
from .._types import FunnelRow, Ratio, StageFlow
from ._columns import ibis, to_us
from ._common import aggregate_by, as_int, ratio
from ._durations import _substate_rows
from ._pivots import KEY_COLUMNS, Pivots, grouped

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["conversion", "funnel", "period_conversion", "skips_and_regressions"]


@table_kernel(python.funnel)
def funnel(
    events: Table,
    pipeline: Pipeline,
    *,
    skips: Literal["touched", "imputed", "ordered"] = "imputed",
    by: str | None = None,
    as_of: datetime | None = None,
    stage: str | None = None,
) -> list[FunnelRow] | dict[Hashable, list[FunnelRow]]:
    """:func:`salesstages.metrics.funnel` on the table's backend (arguments checked)."""
    substates = () if stage is None else pipeline.stage(stage).substates
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


@table_kernel(python.conversion)
def conversion(
    events: Table,
    pipeline: Pipeline,
    *,
    from_stage: str,
    to_stage: str,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """:func:`salesstages.metrics.conversion` on the table's backend (arguments checked)."""
    a, b = from_stage, to_stage
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


@table_kernel(python.period_conversion)
def period_conversion(
    events: Table,
    pipeline: Pipeline,
    *,
    stage: str,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
    to_stage: str | None = None,
    by: str | None = None,
) -> Ratio | dict[Hashable, Ratio]:
    """:func:`salesstages.metrics.period_conversion` on the table's backend (``start`` and
    ``end`` checked, aware datetimes): per deal, whether a visit to ``stage`` overlaps
    ``[start, closing instant)`` and whether one of those visits moved forward (into
    ``to_stage``) before the closing instant (contract §17)."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    lo, hi = to_us(start), to_us(end)
    cut = end - timedelta(microseconds=1)
    pv = Pivots(events, pipeline, cut if as_of is None else min(as_of, cut), by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: ratio(0, 0))
    hi = min(hi, pv.as_of_us + 1)
    if hi <= lo:  # as_of lies before the window: nothing in it yet
        return grouped(by, pv.keys(pv.deals_with()), {}, lambda: ratio(0, 0))
    if to_stage is not None:
        forward = [to_stage]
    else:
        opens = list(pv.opens)
        forward = [*pv.won, *opens[opens.index(stage) + 1 :]]
    e = pv.entries
    v = e.filter((e.stage == stage) & (e.at_us < hi))
    present = v.next_at.isnull() | (v.next_at >= lo)
    moved = present & (v.next_at < hi) & v.next_stage.isin(forward)
    per = v.group_by(p_deal="deal_id").aggregate(
        present=ibis.ifelse(present, 1, 0).max(),
        moved=ibis.ifelse(moved.fill_null(False), 1, 0).max(),
    )
    d = pv.deals_with()
    j = d.join(per, d.deal_id == per.p_deal)
    agg = aggregate_by(j, pv.group, present=j.present.sum(), moved=j.moved.sum())
    results = {
        pv.key_of(r): ratio(as_int(r["moved"]), as_int(r["present"])) for r in pv.run(agg, "sum")
    }
    return grouped(by, pv.keys(d), results, lambda: ratio(0, 0))


@table_kernel(python.skips_and_regressions)
def skips_and_regressions(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[StageFlow]:
    """:func:`salesstages.metrics.skips_and_regressions` on the table's backend: each move
    (an entry and the deal's next one) placed by the funnel positions of its two stages."""
    pv = Pivots(events, pipeline, as_of)
    names = list(pv.opens)
    n = len(names)
    counts: dict[str, list[int]] = {
        c: [0] * n
        for c in ("entered", "skipped", "skip_moves", "regressed", "regress_moves", "reopened")
    }
    if pv.as_of_us is not None and n:
        e = pv.entries
        entered = e.filter(e.stage.isin(names))
        for r in pv.run(
            entered.group_by("stage").aggregate(deals=entered.deal_id.nunique()), "count"
        ):
            counts["entered"][names.index(r["stage"])] = int(r["deals"])
        mv = e.filter(e.next_stage.notnull())
        mv = mv.select(
            "deal_id",
            i=pv.position(mv.stage),
            j=pv.position(mv.next_stage),
            from_lost=mv.stage.isin(pv.lost),
        )
        ks = ibis.memtable({"k": list(range(n))}, schema={"k": "int64"})
        over = mv.filter((mv.i >= 0) & (mv.j > mv.i + 1)).cross_join(ks)
        over = over.filter((over.k > over.i) & (over.k < over.j))
        agg = over.group_by("k").aggregate(moves=over.count(), deals=over.deal_id.nunique())
        for r in pv.run(agg, "count"):
            counts["skip_moves"][int(r["k"])] = int(r["moves"])
            counts["skipped"][int(r["k"])] = int(r["deals"])
        back = mv.filter((mv.j >= 0) & (mv.j < mv.i) & (mv.i < n))
        agg = back.group_by("i").aggregate(moves=back.count(), deals=back.deal_id.nunique())
        for r in pv.run(agg, "count"):
            counts["regress_moves"][int(r["i"])] = int(r["moves"])
            counts["regressed"][int(r["i"])] = int(r["deals"])
        again = mv.filter(mv.from_lost & (mv.j >= 0) & (mv.j < n))
        for r in pv.run(again.group_by("j").aggregate(deals=again.deal_id.nunique()), "count"):
            counts["reopened"][int(r["j"])] = int(r["deals"])
    return [
        StageFlow(stage=name, **{c: v[k] for c, v in counts.items()})
        for k, name in enumerate(names)
    ]
