""":func:`salesstages.forecast.next_actions` on an Ibis table.

The deal's state (its stage, and the last activity of its current visit) is
read with two small queries filtered to that deal (none for a live
:class:`~salesstages.Deal`, whose own events say it). One aggregate then
counts, per next activity, the closed deals that recorded it right after that
state in a visit to the stage, and how many of them were won; the advice is
ranked by the same code as the pure-Python engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..._deal import Deal
from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import ibis
from ...metrics._ibis._pivots import Pivots
from .. import _actions as python
from .._actions import (
    ActionAdvice,
    State,
    closed,
    deal_state,
    ranked,
    unknown_deal,
)

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["next_actions"]


@table_kernel(python.next_actions)
def next_actions(
    events: Table,
    pipeline: Pipeline,
    *,
    deal: Deal | str,
    as_of: datetime | None = None,
    min_support: int = 10,
) -> list[ActionAdvice]:
    """:func:`salesstages.forecast.next_actions` on the table's backend."""
    support = min_support
    pv = Pivots(events, pipeline, as_of)
    if isinstance(deal, Deal):
        state = deal_state(pipeline, deal, as_of)
        if pv.as_of_us is None:
            return []
    else:
        state = _state(pv, deal)
    return ranked(_counts(pv, state), support)


def _state(pv: Pivots, deal_id: str) -> State:
    """The state of the deal ``deal_id`` in the table at ``as_of``."""
    if pv.as_of_us is None:
        raise unknown_deal(deal_id, pv.as_of)
    d = pv.deals_with()
    found = pv.run(d.filter(d.deal_id == deal_id).select("stage", "outcome"), "filter")
    if not found:
        raise unknown_deal(deal_id, pv.as_of)
    stage, outcome = found[0]["stage"], found[0]["outcome"]
    if outcome != "open":
        raise closed(deal_id, stage, outcome)
    # the deal's latest stage entry or activity: an activity is the last of the visit
    k = pv.kept
    mine = k.filter(
        (k.deal_id == deal_id)
        & ((k.kind == "stage_entered") | ((k.kind == "activity") & k.name.notnull()))
    )
    last = pv.run(mine.order_by(ibis.desc("seq")).select("kind", "name").limit(1), "filter")
    name = last[0]["name"] if last and last[0]["kind"] == "activity" else None
    return stage, name


def _counts(pv: Pivots, state: State) -> dict[str, tuple[int, int]]:
    """Per next activity: the closed deals behind it and how many of them were won."""
    stage, previous = state
    if pv.as_of_us is None:
        return {}
    e = pv.entries
    w = ibis.window(group_by="deal_id", order_by="seq")
    visits = e.select(v_deal="deal_id", v_seq="seq", v_stage="stage", v_next=e.seq.lead().over(w))
    k = pv.kept
    acts = k.filter((k.kind == "activity") & k.name.notnull()).select(
        a_deal="deal_id", a_seq="seq", a_name="name"
    )
    # each activity in its visit (the deal's latest stage entry before it)
    placed = visits.join(
        acts,
        [
            visits.v_deal == acts.a_deal,
            acts.a_seq > visits.v_seq,
            visits.v_next.isnull() | (acts.a_seq < visits.v_next),
        ],
    ).select("v_deal", "v_seq", "v_stage", "a_seq", "a_name")
    in_visit = ibis.window(group_by=["v_deal", "v_seq"], order_by="a_seq")
    steps = placed.select("v_deal", "v_stage", "a_name", prev=placed.a_name.lag().over(in_visit))
    follows = steps.prev.isnull() if previous is None else steps.prev == previous
    backing = steps.filter((steps.v_stage == stage) & follows).select(
        b_deal="v_deal", name="a_name"
    )
    d = pv.deals_with()
    done = d.filter(d.outcome != "open").select(
        c_deal="deal_id", won=ibis.ifelse(d.outcome == "won", 1, 0)
    )
    behind = (
        backing.join(done, backing.b_deal == done.c_deal).select("b_deal", "name", "won").distinct()
    )
    agg = behind.group_by("name").aggregate(n=behind.count(), w=behind.won.sum())
    return {r["name"]: (int(r["n"]), int(r["w"] or 0)) for r in pv.run(agg, "aggregate")}
