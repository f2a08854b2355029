""":func:`salesstages.metrics.conformance` on an Ibis table.

Each move (a stage entry and the deal's next one) gets its deviation code from a
mapping built in Python from the reference (:func:`deviation_codes`); each
sub-state entry is checked against the reference's allowed (stage, previous,
next) sub-states. Per deal the flags are maxima, joined to the deal pivot; one
aggregate over the closed deals gives each deviation's sides (deals, won, median
cycle with and without) and one more the months of opening. The result is built
by the pure-Python engine's :func:`summary_result`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from .. import _conformance as python
from .._conformance import DEVIATIONS, Conformance, Sides, deviation_codes, summary_result
from .._engine import table_kernel
from ._columns import ibis
from ._common import as_int, td
from ._pivots import Pivots

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["conformance"]

_SEP: Final = "\x1f"
_NONE: Final = "\x1e"  # no sub-state yet in the visit


def _cols(name: str) -> str:
    return f"f_{name}"


@table_kernel(python.conformance)
def conformance(
    events: Table,
    pipeline: Pipeline,
    *,
    reference: Pipeline | None = None,
    as_of: datetime | None = None,
) -> Conformance:
    """:func:`salesstages.metrics.conformance` on the table's backend (``reference``
    has been checked, and is the main path when the caller gave none)."""
    ref = python.reference_of(pipeline, reference)
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return summary_result(0, 0, dict.fromkeys(DEVIATIONS, (0, 0, None, 0, 0, None)), {})
    codes = {f"{a}{_SEP}{b}": name for (a, b), name in deviation_codes(pipeline, ref).items()}
    e = pv.entries
    move = (e.stage + _SEP + e.next_stage.coalesce("")).substitute(codes, else_="")
    flags: dict[str, Any] = {
        _cols(n): ibis.ifelse(move == n, 1, 0).max()
        for n in DEVIATIONS
        if n not in ("opened_late", "substate_order")
    }
    per = e.group_by(m_deal="deal_id").aggregate(
        first_stage=e.stage.argmin(e.seq),
        **flags,
    )
    sub = _substate_flags(pv, ref)
    d = pv.deals_with("opened")
    d = d.filter(d.outcome != "open")
    j = d.join(per, d.deal_id == per.m_deal).left_join(sub, d.deal_id == sub.s_deal)
    first = ref.open_stages[0].name
    cols: dict[str, Any] = {
        _cols("opened_late"): ibis.ifelse(j.first_stage != first, 1, 0),
        _cols("substate_order"): j.s_bad.coalesce(0),
        **{c: j[c] for c in flags},
    }
    c = j.select(
        won=ibis.ifelse(j.outcome == "won", 1, 0),
        cyc=j.closed_at - j.opened_at,
        ym=_month(j.opened_at),
        **cols,
    )
    any_flag = sum((c[_cols(n)] for n in DEVIATIONS), ibis.literal(0))
    clean = ibis.ifelse(any_flag == 0, 1, 0)
    measures: dict[str, Any] = {"n": c.count(), "clean": clean.sum()}
    for n in DEVIATIONS:
        f = c[_cols(n)]
        measures[f"nw_{n}"] = f.sum()
        measures[f"ww_{n}"] = (f * c.won).sum()
        measures[f"mw_{n}"] = c.cyc.quantile(0.5, where=f == 1)
        measures[f"wo_{n}"] = ((1 - f) * c.won).sum()
        measures[f"mo_{n}"] = c.cyc.quantile(0.5, where=f == 0)
    row = pv.run(c.aggregate(**measures), "percentile_cont")[0]
    closed = as_int(row["n"])
    if not closed:
        return summary_result(0, 0, dict.fromkeys(DEVIATIONS, (0, 0, None, 0, 0, None)), {})
    sides: dict[Any, Sides] = {}
    for n in DEVIATIONS:
        n_w = as_int(row[f"nw_{n}"])
        sides[n] = (
            n_w,
            as_int(row[f"ww_{n}"]),
            _median(row[f"mw_{n}"]),
            closed - n_w,
            as_int(row[f"wo_{n}"]),
            _median(row[f"mo_{n}"]),
        )
    by_month = c.group_by("ym").aggregate(n=c.count(), clean=clean.sum())
    months = {
        f"{int(r['ym']) // 100:04d}-{int(r['ym']) % 100:02d}": (as_int(r["clean"]), int(r["n"]))
        for r in pv.run(by_month, "month")
    }
    return summary_result(closed, as_int(row["clean"]), sides, months)


def _median(value: Any) -> timedelta | None:
    return None if value is None else td(float(value))


def _month(us: Any) -> Any:
    """``year * 100 + month`` (UTC) of a µs-since-epoch column."""
    ts = (us // 1_000_000).as_timestamp("s")
    return ts.year() * 100 + ts.month()


def _substate_flags(pv: Pivots, ref: Pipeline) -> Any:
    """Per deal with sub-state entries: ``s_bad`` 1 when one of them is not what the
    reference allows next in its visit."""
    allowed = [
        f"{s.name}{_SEP}{prev if prev is not None else _NONE}{_SEP}{nxt}"
        for s in ref.open_stages
        for prev in (None, *s.substates)
        for nxt in ref.substate_targets(s.name, prev)
    ]
    k = pv.kept
    k = k.filter(k.kind.isin(["stage_entered", "substate_entered"]))
    upto = ibis.window(group_by="deal_id", order_by="seq", preceding=None, following=0)
    k = k.mutate(visit=ibis.ifelse(k.kind == "stage_entered", 1, 0).sum().over(upto))
    s = k.filter((k.kind == "substate_entered") & (k.visit > 0))
    w = ibis.window(group_by=["deal_id", "visit"], order_by="seq")
    s = s.mutate(prev=s.name.lag().over(w))
    key = s.stage + _SEP + s.prev.coalesce(_NONE) + _SEP + s.name
    bad = ibis.ifelse(key.isin(allowed), 0, 1) if allowed else ibis.ifelse(s.seq >= 0, 1, 1)
    return s.group_by(s_deal="deal_id").aggregate(s_bad=bad.max())
