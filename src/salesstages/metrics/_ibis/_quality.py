""":func:`salesstages.metrics.data_quality` on an Ibis table.

One row per deal is flagged on the backend (no numeric amount now or at its
closing, lost at 0, lost without a reason, older in its stage than any closed
stay there) and counted in one aggregate; only the flagged deals' ids come
back (to pick the sorted examples). The imputed stages come from the engine's
funnels, the median age of the open deals from the one or two middle rows.
The findings are worded by the same code as the pure-Python engine.

The pipeline's rules (``check_problems``) are checked as on events when
``problems`` is not given, by :func:`salesstages.metrics._rules.check_rules`
(six columns of every row, never ``data``); pass ``problems`` to skip that.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from .. import _quality as python
from .._engine import table_kernel
from .._quality import (
    DataQuality,
    Finding,
    amount_findings,
    final_amounts,
    imputed_stages,
    log_findings,
    lost_findings,
    no_rot_after,
    older_findings,
)
from ._columns import ibis
from ._pivots import Pivots
from ._rules import check_rules

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline
    from ..._replay import Problem

__all__ = ["data_quality"]

_DAY_US: Final = 86_400_000_000
#: The per-deal flags, counted in one aggregate and listed when set.
_FLAGS: Final = ("open_missing", "closed_missing", "lost_zero", "no_reason", "older")


@table_kernel(python.data_quality)
def data_quality(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    problems: Sequence[Problem] | None = None,
    torn_tail: int = 0,
) -> DataQuality:
    """:func:`salesstages.metrics.data_quality` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if problems is None:
        problems = check_rules(events, pipeline)
    findings = list(log_findings(problems, torn_tail))
    if pv.as_of_us is not None:
        findings.extend(_deal_findings(pv, events, as_of))
    return DataQuality(findings=tuple(findings))


def _has_value(pv: Pivots, data: Any, key: str) -> Any:
    """1 when ``key`` holds a value other than JSON null, else 0."""
    j = pv.json
    held = (
        j.string(data, key).notnull()
        | j.number(data, key).notnull()
        | j.boolean(data, key).notnull()
        | j.compound(data, key)
    )
    return ibis.ifelse(held, 1, 0)


def _flags(pv: Pivots) -> Any:
    """One row per deal: ``deal_id, outcome, stage, age`` (µs in its stage) and the
    0/1 columns of :data:`_FLAGS`, with ``won_money`` (won with an amount above 0)."""
    k = pv.kept
    e = pv.entries
    closing = e.stage.isin(pv.won + pv.lost)
    per = e.group_by("deal_id").aggregate(
        stage=e.stage.argmax(e.seq),
        entered_at=e.at_us.argmax(e.seq),
        close_seq=e.seq.max(where=closing),
    )
    # the amount attribute: set by every opened event, and by updates carrying it;
    # ``num`` is null unless it is a JSON number (a boolean is not one)
    item = pv.json.present(k.data, "amount")
    am = k.filter((k.kind == "opened") | ((k.kind == "updated") & item))
    am = am.select("deal_id", "seq", num=pv.json.number(am.data, "amount"))
    am = am.select("deal_id", "seq", has=ibis.ifelse(am.num.isnull(), 0, 1), num=am.num)
    now = am.group_by(n_deal="deal_id").aggregate(
        n_has=am.has.argmax(am.seq), n_values=am.num.coalesce(0.0).nunique()
    )
    cs = per.select(c_deal="deal_id", c_seq="close_seq").filter(per.close_seq.notnull())
    before = am.join(cs, [am.deal_id == cs.c_deal, am.seq < cs.c_seq])
    at_close = before.group_by(a_deal="deal_id").aggregate(
        c_has=before.has.argmax(before.seq), c_num=before.num.argmax(before.seq)
    )
    # the reason of the deal's last stage entry (its lost reason while it is lost)
    ent = k.filter(k.kind == "stage_entered")
    ent = ent.select("deal_id", "seq", held=_has_value(pv, ent.data, "reason"))
    why = ent.group_by(r_deal="deal_id").aggregate(r_has=ent.held.argmax(ent.seq))
    # the longest closed stay per open stage, in whole days (as forecast._outlook)
    s = e.filter(e.stage.isin(pv.opens) & e.c_code.notnull())
    s = s.filter(s.next_at.notnull())
    longest = s.group_by(s_stage="stage").aggregate(days=((s.next_at - s.at_us) // _DAY_US).max())
    d = per.left_join(now, per.deal_id == now.n_deal)
    d = d.left_join(at_close, d.deal_id == at_close.a_deal)
    d = d.left_join(why, d.deal_id == why.r_deal)
    d = d.left_join(longest, d.stage == longest.s_stage)
    outcome = pv.outcome(d.stage)
    age = pv.as_of_us - d.entered_at
    is_open = outcome == "open"
    c_has = d.c_has.coalesce(0) == 1
    return d.select(
        "deal_id",
        "stage",
        outcome=outcome,
        age=age,
        open_missing=ibis.ifelse(is_open & (d.n_has.coalesce(0) == 0), 1, 0),
        closed_missing=ibis.ifelse(~is_open & ~c_has, 1, 0),
        lost_zero=ibis.ifelse((outcome == "lost") & c_has & (d.c_num == 0), 1, 0),
        won_money=ibis.ifelse((outcome == "won") & c_has & (d.c_num > 0), 1, 0),
        lost_nonzero=ibis.ifelse((outcome == "lost") & (d.c_num.coalesce(0.0) != 0), 1, 0),
        won_zero=ibis.ifelse((outcome == "won") & ~(d.c_num.coalesce(0.0) > 0), 1, 0),
        changed=ibis.ifelse(d.n_values.coalesce(1) > 1, 1, 0),
        no_reason=ibis.ifelse((outcome == "lost") & (d.r_has.coalesce(0) == 0), 1, 0),
        older=ibis.ifelse(is_open & (age // _DAY_US > d.days.coalesce(-1)), 1, 0),
    )


def _deal_findings(pv: Pivots, events: Any, as_of: datetime | None) -> Iterator[Finding]:
    # the flags depend on as_of itself (ages), not only on the events it keeps
    f = pv.cached(f"quality:{pv.as_of_us}", lambda: _flags(pv))
    agg = f.aggregate(
        n_open=(f.outcome == "open").sum(),
        n_lost=(f.outcome == "lost").sum(),
        n_won=(f.outcome == "won").sum(),
        n=f.count(),
        won_money=f.won_money.max(),
        lost_nonzero=f.lost_nonzero.sum(),
        won_zero=f.won_zero.sum(),
        changed=f.changed.sum(),
        **{name: f[name].sum() for name in _FLAGS},
    )
    got = pv.run(agg, "sum")[0]
    n_open, n_lost, n = (int(got[c] or 0) for c in ("n_open", "n_lost", "n"))
    ids: dict[str, list[str]] = {}
    for name in _FLAGS:
        if got[name]:
            ids[name] = (
                pv.arrow(f.filter(f[name] == 1).select("deal_id"), "filter")
                .column("deal_id")
                .to_pylist()
            )
        else:
            ids[name] = []
    yield from amount_findings(ids["open_missing"], n_open, ids["closed_missing"], n - n_open)
    final = final_amounts(
        *(int(got[c] or 0) for c in ("changed", "n_lost", "lost_nonzero", "n_won", "won_zero"))
    )
    yield from lost_findings(
        ids["lost_zero"], n_lost, bool(got["won_money"]), ids["no_reason"], final
    )
    from .._funnel import funnel  # the public function: typed by its overloads

    reached = funnel(events, pv.pipeline, skips="imputed", as_of=as_of)
    entered = funnel(events, pv.pipeline, skips="touched", as_of=as_of)
    found = imputed_stages(
        pv.pipeline,
        {r.stage: r.reached for r in reached},
        {r.stage: r.reached for r in entered},
    )
    if found:
        yield found
    found = no_rot_after(pv.pipeline, n_open, _median_age(pv, f, n_open))
    if found:
        yield found
    yield from older_findings(ids["older"])


def _median_age(pv: Pivots, f: Any, n_open: int) -> timedelta | None:
    """The median time the open deals have been in their stage (from the middle rows),
    only when the ``no_rot_after`` finding will show it."""
    if not n_open or any(s.rot_after is not None for s in pv.pipeline.open_stages):
        return None
    o = f.filter(f.outcome == "open").select("age")
    # the middle one or two rows by rank (limit with offset leaks a column on PySpark)
    o = o.mutate(rank=ibis.row_number().over(order_by="age"))
    lo = (n_open - 1) // 2
    middle = pv.run(o.filter(o["rank"].between(lo, n_open // 2)).select("age"), "row_number")
    return timedelta(microseconds=statistics.median(float(r["age"]) for r in middle))
