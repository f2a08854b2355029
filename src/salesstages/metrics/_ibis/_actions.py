""":func:`salesstages.metrics.action_conversion` on an Ibis table.

Three small aggregates run on the backend (per open stage: the deals whose
first visit started by ``as_of`` and how many advanced; per stage and
activity: the deals that recorded it in that first visit and how many of
them advanced; the activities recorded in each stage in any visit) and the
rows are assembled by the same code as the pure-Python engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

from .. import _actions as python
from .._actions import ActionRow, rows_from_counts
from .._engine import table_kernel
from ._columns import ibis
from ._pivots import Pivots

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["action_conversion"]

_US: Final = timedelta(microseconds=1)


@table_kernel(python.action_conversion)
def action_conversion(
    events: Table,
    pipeline: Pipeline,
    *,
    horizon: timedelta,
    as_of: datetime | None = None,
) -> list[ActionRow]:
    """:func:`salesstages.metrics.action_conversion` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    window = horizon // _US
    e = pv.entries
    w = ibis.window(group_by="deal_id", order_by="seq")
    ent = e.select(
        "deal_id",
        "seq",
        "at_us",
        "stage",
        pos=pv.position(e.stage),
        nxt=e.seq.lead().over(w),
    )
    opens = ent.filter(ent.stage.isin(pv.opens))
    first = opens.group_by(["deal_id", "stage"]).aggregate(f_seq=opens.seq.min())
    right = ent.select(d2="deal_id", s2="seq", f_at="at_us", f_pos="pos", f_next="nxt")
    fv = first.join(right, [first.deal_id == right.d2, first.f_seq == right.s2]).select(
        "deal_id", "stage", "f_seq", "f_at", "f_pos", "f_next"
    )
    later = ent.select(l_deal="deal_id", l_seq="seq", l_at="at_us", l_pos="pos")
    moved = (
        fv.join(
            later,
            [
                fv.deal_id == later.l_deal,
                later.l_seq > fv.f_seq,
                later.l_at <= fv.f_at + window,
                later.l_pos > fv.f_pos,
            ],
        )
        .select(m_deal="deal_id", m_stage="stage")
        .distinct()
    )
    flagged = fv.left_join(moved, [fv.deal_id == moved.m_deal, fv.stage == moved.m_stage]).select(
        fv.deal_id, fv.stage, fv.f_seq, fv.f_next, adv=ibis.ifelse(moved.m_deal.isnull(), 0, 1)
    )
    k = pv.kept
    acts = k.filter((k.kind == "activity") & k.name.notnull()).select(
        a_deal="deal_id", a_seq="seq", a_name="name"
    )
    in_first = (
        flagged.join(
            acts,
            [
                flagged.deal_id == acts.a_deal,
                acts.a_seq > flagged.f_seq,
                flagged.f_next.isnull() | (acts.a_seq < flagged.f_next),
            ],
        )
        .select("deal_id", "stage", "adv", "a_name")
        .distinct()
    )
    visits = opens.select(v_deal="deal_id", v_seq="seq", v_stage="stage", v_next="nxt")
    recorded = (
        visits.join(
            acts,
            [
                visits.v_deal == acts.a_deal,
                acts.a_seq > visits.v_seq,
                visits.v_next.isnull() | (acts.a_seq < visits.v_next),
            ],
        )
        .select(stage="v_stage", name="a_name")
        .distinct()
    )
    totals = pv.run(
        flagged.group_by("stage").aggregate(n=flagged.count(), a=flagged.adv.sum()), "aggregate"
    )
    counts = pv.run(
        in_first.group_by(["stage", "a_name"]).aggregate(n=in_first.count(), a=in_first.adv.sum()),
        "aggregate",
    )
    deals = {r["stage"]: int(r["n"]) for r in totals}
    advanced = {r["stage"]: int(r["a"] or 0) for r in totals}
    with_: dict[str, dict[str, list[int]]] = {}
    for r in pv.run(recorded, "distinct"):
        with_.setdefault(r["stage"], {})[r["name"]] = [0, 0]
    for r in counts:
        with_.setdefault(r["stage"], {})[r["a_name"]] = [int(r["n"]), int(r["a"] or 0)]
    return rows_from_counts(list(pv.opens), deals, advanced, with_)
