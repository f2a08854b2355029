""":func:`salesstages.metrics.handovers` and :func:`~salesstages.metrics.scorecard` on
an Ibis table.

The attribute's settings (``opened`` and ``updated`` events carrying it) are read
into the ``by=`` key columns (string, boolean, integer, float); each stage entry
is matched to the last setting before it (an as-of join on ``seq``), each setting
to the stage visit it happened in. Aggregates per (from, to, stage), per (stage,
owner), per stage and per owner travel back; the rows are built by the same code
as the pure-Python engine.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from .. import _people as python
from .._engine import table_kernel
from .._people import Cells, Handover, Owners, Scorecard, cards, handover_rows
from ._columns import ibis, to_us
from ._common import as_int, td
from ._pivots import KEY_COLUMNS, Pivots, key_value

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["handovers", "scorecard"]

_FROM: Final = tuple(f"p{c[1:]}" for c in KEY_COLUMNS)  # p_s, p_b, … : the value before


def _setters(pv: Pivots, attribute: str) -> Any:
    """Every setting of ``attribute``: ``deal_id, seq, at_us``, the key columns of the
    new value and (``p_*``) of the one before, and ``nsseq`` (the next setting's seq)."""
    k = pv.kept
    s = k.filter(k.kind.isin(["opened", "updated"]) & pv.json.present(k.data, attribute))
    s = s.select("deal_id", "seq", "at_us", **pv.key_columns_of(s.data, attribute))
    w = ibis.window(group_by="deal_id", order_by="seq")
    return s.mutate(
        nsseq=s.seq.lead().over(w),
        **{p: s[c].lag().over(w) for p, c in zip(_FROM, KEY_COLUMNS, strict=True)},
    )


def _entries(pv: Pivots) -> Any:
    e = pv.entries
    w = ibis.window(group_by="deal_id", order_by="seq")
    return e.mutate(nseq=e.seq.lead().over(w))


def _value(row: dict[str, Any], columns: tuple[str, ...], attribute: str) -> Hashable:
    return key_value(dict(zip(KEY_COLUMNS, (row[c] for c in columns), strict=True)), attribute)


@table_kernel(python.handovers)
def handovers(
    events: Table,
    pipeline: Pipeline,
    *,
    attribute: str = "owner",
    as_of: datetime | None = None,
) -> list[Handover]:
    """:func:`salesstages.metrics.handovers` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    pv.check_attribute(attribute, opened=False)
    s = _setters(pv, attribute)
    changed = ibis.literal(False)
    for p, c in zip(_FROM, KEY_COLUMNS, strict=True):
        changed = changed | ~s[p].identical_to(s[c])
    s = s.filter(changed)
    e = _entries(pv).select(
        e_deal="deal_id", e_seq="seq", e_stage="stage", e_next="next_at", e_nseq="nseq"
    )
    j = s.join(
        e,
        [
            s.deal_id == e.e_deal,
            e.e_seq < s.seq,
            e.e_nseq.isnull() | (e.e_nseq > s.seq),
        ],
    )
    j = j.filter(j.e_stage.isin(pv.opens))
    wait = j.e_next - j.at_us
    agg = j.group_by([*_FROM, *KEY_COLUMNS, "e_stage"]).aggregate(
        n=j.count(),
        waiting=ibis.ifelse(j.e_next.isnull(), 1, 0).sum(),
        med=wait.quantile(0.5, where=j.e_next.notnull()),
    )
    facts: list[tuple[Hashable, Hashable, str, timedelta | None]] = []
    for r in pv.run(agg, "percentile_cont"):
        old, new = _value(r, _FROM, attribute), _value(r, KEY_COLUMNS, attribute)
        n, waiting = int(r["n"]), as_int(r["waiting"])
        med = None if r["med"] is None else td(float(r["med"]))
        # the rows' builder takes one wait per change; the median of n - waiting copies
        # of the median is the median, and the waiting ones count as None
        facts.extend([(old, new, r["e_stage"], med)] * (n - waiting))
        facts.extend([(old, new, r["e_stage"], None)] * waiting)
    return handover_rows(pipeline, facts)


@table_kernel(python.scorecard)
def scorecard(
    events: Table,
    pipeline: Pipeline,
    *,
    attribute: str = "owner",
    start: Any = None,
    end: Any = None,
    as_of: datetime | None = None,
    level: float = 0.95,
    prior_strength: float | None = None,
) -> Scorecard:
    """:func:`salesstages.metrics.scorecard` on the table's backend (``start`` and
    ``end`` already aware UTC datetimes or ``None``)."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return Scorecard()
    pv.check_attribute(attribute, opened=False)
    s = _setters(pv, attribute).select(
        s_deal="deal_id", s_seq="seq", s_next="nsseq", **{c: c for c in KEY_COLUMNS}
    )
    e = _entries(pv)
    j = e.left_join(
        s,
        [
            e.deal_id == s.s_deal,
            s.s_seq < e.seq,
            s.s_next.isnull() | (s.s_next > e.seq),
        ],
    )
    owned = j.select(
        "deal_id",
        "seq",
        "stage",
        "at_us",
        "next_at",
        "next_stage",
        *KEY_COLUMNS,
    )
    lo = None if start is None else to_us(start)
    hi = None if end is None else to_us(end)
    v = owned.filter(owned.stage.isin(pv.opens))
    if lo is not None:
        v = v.filter(v.at_us >= lo)
    if hi is not None:
        v = v.filter(v.at_us < hi)
    adv = ibis.ifelse(pv.position(v.next_stage.coalesce("")) > pv.position(v.stage), 1, 0)
    time = v.next_at - v.at_us
    done = v.next_at.notnull()
    per_cell = v.group_by(["stage", *KEY_COLUMNS]).aggregate(
        n=v.count(), a=adv.sum(), med=time.quantile(0.5, where=done)
    )
    per_stage = v.group_by("stage").aggregate(med=time.quantile(0.5, where=done))
    cells: Cells = {}
    for r in pv.run(per_cell, "percentile_cont"):
        owner = _value(r, KEY_COLUMNS, attribute)
        cells[r["stage"], owner] = (int(r["n"]), as_int(r["a"]), _td(r["med"]))
    team = {r["stage"]: _td(r["med"]) for r in pv.run(per_stage, "percentile_cont")}
    # closings: the owner at the deal's last entry, the deal's cycle and amount then
    d = pv.deals_with("opened", "closed_amount")
    d = d.filter(d.outcome != "open")
    if lo is not None:
        d = d.filter(d.closed_at >= lo)
    if hi is not None:
        d = d.filter(d.closed_at < hi)
    last = owned.filter(owned.next_at.isnull()).select("deal_id", *KEY_COLUMNS)
    c = d.join(last, d.deal_id == last.deal_id)
    won = c.outcome == "won"
    per_owner = c.group_by(list(KEY_COLUMNS)).aggregate(
        n=c.count(),
        w=ibis.ifelse(won, 1, 0).sum(),
        med=(c.closed_at - c.opened_at).quantile(0.5, where=won),
        mean=c.closed_amount.mean(where=won),
    )
    owners: Owners = {}
    for r in pv.run(per_owner, "percentile_cont"):
        mean = None if r["mean"] is None else float(r["mean"])
        owners[_value(r, KEY_COLUMNS, attribute)] = (
            int(r["n"]),
            as_int(r["w"]),
            _td(r["med"]),
            mean,
        )
    return cards(pipeline, cells, team, owners, level, prior_strength)


def _td(value: Any) -> timedelta | None:
    return None if value is None else td(float(value))
