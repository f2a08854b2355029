""":func:`~salesstages.forecast.categories` and :func:`~salesstages.forecast.coverage`
on an Ibis table's own backend (CONTRACT §10, §14, §17).

One query: the deal pivot joined with each deal's latest ``close_date`` and
``forecast_category`` settings (from its ``opened`` event and the updates
carrying them), grouped by category. Close dates are compared as the ISO
``YYYY-MM-DD`` strings the API writes; a value of another shape (a log written
by other tools) counts as no close date.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from ..._time import to_utc
from ..._values import FORECAST_CATEGORIES
from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import ibis, to_us
from ...metrics._ibis._pivots import KEY_COLUMNS, Pivots, key_value
from ...metrics._planning import Tally, first_day_on_or_after
from ...metrics._types import Keyed
from .. import _planning as python
from .._planning import CATEGORY_ORDER, Coverage, _coverage

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["categories", "coverage"]

_TICK: Final = timedelta(microseconds=1)


def _at_closing(
    events: Any, pipeline: Any, as_of: datetime | None, hi: datetime, **kw: Any
) -> Pivots:
    """The pivots as they stood at the closing instant ``min(hi, as_of⁺)``."""
    last = hi - _TICK
    cut = last if as_of is None else min(to_utc(as_of, "as_of"), last)
    return Pivots(events, pipeline, cut, **kw)


def _latest(pv: Pivots, key: str, name: str) -> Any:
    """Per deal, the string value of attribute ``key`` after its last setting."""
    k = pv.kept
    sel = k.filter((k.kind == "opened") | ((k.kind == "updated") & pv.json.present(k.data, key)))
    last = sel.group_by(l_deal="deal_id").aggregate(l_seq=sel.seq.max())
    j = sel.join(last, [sel.deal_id == last.l_deal, sel.seq == last.l_seq])
    return j.select(**{f"{name}_deal": j.deal_id, name: pv.json.string(j.data, key)})


def _rows(pv: Pivots, lo: datetime, hi: datetime) -> list[dict[str, Any]]:
    """(key columns,) category, count and amount: the open deals closing in the period
    by category, and ``"closed"``: the deals won in it."""
    d = pv.deals_with("amount")
    # a won deal's amount at its win, amount changes at that instant first (as movement)
    am = pv.amounts
    w = d.filter(d.outcome == "won").select(w_deal="deal_id", w_at="closed_at")
    j = am.join(w, [am.deal_id == w.w_deal, am.at_us <= w.w_at])
    j = j.mutate(o=ibis.row_number().over(group_by=j.deal_id, order_by=[j.at_us, j.seq]))
    wa = j.group_by(wa_deal="deal_id").aggregate(won_amount=j.amt.argmax(j.o))
    d = d.left_join(wa, d.deal_id == wa.wa_deal)
    cd = _latest(pv, "close_date", "cd")
    fc = _latest(pv, "forecast_category", "fc")
    d = d.left_join(cd, d.deal_id == cd.cd_deal)
    d = d.left_join(fc, d.deal_id == fc.fc_deal)
    first = first_day_on_or_after(lo).isoformat()
    stop = first_day_on_or_after(hi).isoformat()
    defaults = {s.name: s.forecast_category for s in pv.pipeline.open_stages}
    branches = [(d.stage == stage, cat) for stage, cat in defaults.items() if cat]
    default = ibis.cases(*branches, else_="pipeline") if branches else ibis.literal("pipeline")
    own = d.fc
    category = ibis.ifelse(own.notnull() & own.isin(FORECAST_CATEGORIES), own, default)
    in_period = (d.cd.length() == 10) & (d.cd >= first) & (d.cd < stop)
    is_open = (d.outcome == "open") & in_period
    is_won = (d.outcome == "won") & (d.closed_at >= to_us(lo)) & (d.closed_at < to_us(hi))
    rows = d.filter(is_open | is_won).select(
        *pv.group,
        category=ibis.ifelse(is_won, "closed", category),
        value=ibis.ifelse(is_won, d.won_amount.coalesce(0.0), d.amount),
    )
    agg = rows.group_by([*pv.group, "category"]).aggregate(n=rows.count(), total=rows.value.sum())
    return pv.run(agg, "sum")


def _empty() -> dict[str, Tally]:
    return Keyed("category", dict.fromkeys(CATEGORY_ORDER, Tally(0, 0.0)))


@table_kernel(python.categories)
def categories(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    as_of: datetime | None = None,
) -> dict[str, Tally]:
    """:func:`salesstages.forecast.categories` on the table's backend (``start`` and
    ``end`` checked, aware datetimes)."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    pv = _at_closing(events, pipeline, as_of, end)
    out = _empty()
    if pv.as_of_us is None:
        return out
    for r in _rows(pv, start, end):
        out[r["category"]] = Tally(int(r["n"]), float(r["total"] or 0.0))
    return out


@table_kernel(python.coverage)
def coverage(
    events: Table,
    pipeline: Pipeline,
    *,
    start: date | datetime,
    end: date | datetime,
    target: Any,
    as_of: datetime | None = None,
    by: str | None = None,
) -> Coverage | dict[Hashable, Coverage]:
    """:func:`salesstages.forecast.coverage` on the table's backend (``start`` and
    ``end`` checked, aware datetimes; ``target`` checked: one number without ``by``,
    a dict of numbers by segment with it)."""
    assert isinstance(start, datetime)
    assert isinstance(end, datetime)
    if by is None:
        return _coverage(categories(events, pipeline, start=start, end=end, as_of=as_of), target)
    goals: dict[Hashable, float] = target
    pv = _at_closing(events, pipeline, as_of, end, by=by)
    per: dict[Hashable, dict[str, Tally]] = {}
    if pv.as_of_us is not None:
        for r in _rows(pv, start, end):
            key = key_value({c: r[c] for c in KEY_COLUMNS}, by)
            per.setdefault(key, _empty())[r["category"]] = Tally(
                int(r["n"]), float(r["total"] or 0.0)
            )
    return Keyed(by, {k: _coverage(per.get(k, _empty()), goal) for k, goal in goals.items()})
