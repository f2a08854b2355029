"""The metrics of :mod:`salesstages.metrics` on an Ibis table: one small aggregate each.

Each function has the signature of its pure-Python namesake and returns the
same types; the aggregates run on the table's backend and only their rows
travel back (``visits`` returns its rows). See :mod:`._pivots` for the pivots.
"""

from __future__ import annotations

from collections.abc import Hashable
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Any, Final

from ..._errors import SalesStagesError
from ..._time import to_utc
from .._common import check_by, check_choice, check_stage, check_substate_stage
from .._funnel import _SKIPS, funnel_from_counts
from .._history import gc_paused
from .._outcomes import NO_REASON, velocity_value
from .._types import (
    DurationStats,
    Keyed,
    LostReason,
    Ratio,
    SnapshotRow,
    Stall,
    SubstateVisit,
    Visit,
    _fast_init,
)
from .._winloss import check_win_loss, win_loss_result
from ._columns import EPOCH, from_us, ibis
from ._pivots import KEY_COLUMNS, NO_KEY, Pivots, grouped, key_value

__all__ = [
    "conversion",
    "funnel",
    "lost_reasons",
    "sales_cycle",
    "snapshot",
    "stage_durations",
    "stalled",
    "substate_durations",
    "velocity",
    "visits",
    "win_loss",
    "win_rate",
]

_US: Final = timedelta(microseconds=1)
_DEAL_ID: Final = attrgetter("deal_id")
_make_visit = _fast_init(Visit)


def _td(us: float) -> timedelta:
    """Microseconds (an exact int, or a float from a percentile) as a timedelta."""
    if isinstance(us, int):
        return timedelta(microseconds=us)
    return timedelta(microseconds=round(us))


def _agg(table: Any, group: list[str], **metrics: Any) -> Any:
    """``table`` aggregated by ``group`` (no grouping when it is empty)."""
    return table.group_by(group).aggregate(**metrics) if group else table.aggregate(**metrics)


def _int(value: Any) -> int:
    return 0 if value is None else int(value)


# ------------------------------------------------------------- durations
def _stats_aggregate(table: Any, dur: Any, keep: Any, open_flag: Any) -> dict[str, Any]:
    """The aggregate columns of :func:`_duration_stats` over ``dur`` where ``keep``."""
    return {
        "n": ibis.ifelse(keep, 1, 0).sum(),
        "open_n": open_flag.sum(),
        "total": dur.sum(where=keep),
        "lo": dur.min(where=keep),
        "hi": dur.max(where=keep),
        "p50": dur.quantile(0.5, where=keep),
        "p90": dur.quantile(0.9, where=keep),
    }


def _duration_stats(row: dict[str, Any] | None) -> DurationStats:
    """A :class:`DurationStats` from one row of :func:`_stats_aggregate`."""
    n = 0 if row is None else _int(row["n"])
    open_n = 0 if row is None else _int(row["open_n"])
    if row is None or n == 0:
        return DurationStats(
            count=0, open_count=open_n, mean=None, median=None, p90=None, min=None, max=None
        )
    return DurationStats(
        count=n,
        open_count=open_n,
        mean=_td(int(row["total"])) / n,
        median=_td(float(row["p50"])),
        p90=_td(float(row["p90"])),
        min=_td(int(row["lo"])),
        max=_td(int(row["hi"])),
    )


def visits(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> list[Visit]:
    """:func:`salesstages.metrics.visits` on the table's backend (by deal id, then time)."""
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    v = pv.visits.order_by(["deal_id", "seq"])
    table = pv.arrow(
        v.select("deal_id", "stage", "at_us", "next_at", "next_stage", "dur"), "window functions"
    )
    make = _make_visit
    with gc_paused():
        cols = _columns(table, times=("at_us", "next_at"), durations=("dur",))
        out = [
            make(d, s, at, nxt, ns, dur, nxt is None)
            for d, s, at, nxt, ns, dur in zip(*cols, strict=True)
        ]
        out.sort(key=_DEAL_ID)  # stable: each deal's visits stay in order
    return out


def _columns(table: Any, *, times: tuple[str, ...], durations: tuple[str, ...]) -> list[list[Any]]:
    """An Arrow table's columns as Python lists, µs columns converted exactly: ``times``
    to aware UTC datetimes, ``durations`` to timedeltas (Arrow's own conversion of
    zoned timestamps goes through the time zone database for every value)."""
    epoch = EPOCH
    td = timedelta
    out = []
    for name in table.column_names:
        values = table.column(name).to_pylist()
        if name in times:
            values = [None if x is None else epoch + td(0, 0, x) for x in values]
        elif name in durations:
            values = [td(0, 0, x) for x in values]
        out.append(values)
    return out


def _with_keys(pv: Pivots, table: Any, deals: Any) -> Any:
    """``table`` (with a ``deal_id``) with the deal's ``by=`` key columns."""
    if pv.by is None:
        return table
    keys = deals.select(kd="deal_id", **{c: deals[c] for c in KEY_COLUMNS})
    joined = table.join(keys, table.deal_id == keys.kd)
    return joined.drop("kd")


def stage_durations(
    events: Any,
    pipeline: Any,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    per: str = "visit",
    by: str | None = None,
) -> Any:
    """:func:`salesstages.metrics.stage_durations` on the table's backend."""
    check_choice("per", per, ("visit", "deal"))
    pv = Pivots(events, pipeline, as_of, by=by)
    names = pv.opens
    results: dict[tuple[Any, ...], dict[str, DurationStats]] = {}
    deals = pv.deals_with()
    if pv.as_of_us is not None:
        v = _with_keys(pv, pv.visits, deals)
        if per == "deal":
            # each deal's cumulative time per stage; the stage it is in now is "open"
            v = v.group_by(["deal_id", "stage", *pv.group]).aggregate(
                dur=v.dur.sum(), is_open=v.is_open.max()
            )
        keep = (v.is_open == 0) if not include_open else v.dur.notnull()
        agg = v.group_by(["stage", *pv.group]).aggregate(
            **_stats_aggregate(v, v.dur, keep, v.is_open)
        )
        for r in pv.run(agg, "percentile_cont"):
            results.setdefault(pv.key_of(r), {})[r["stage"]] = _duration_stats(r)

    def fill(found: dict[str, DurationStats] | None = None) -> dict[str, DurationStats]:
        found = found or {}
        return Keyed("stage", {n: found.get(n) or _duration_stats(None) for n in names})

    full = {k: fill(v) for k, v in results.items()}
    keys = pv.keys(deals) if pv.as_of_us is not None else []
    return grouped(by, keys, full, fill)


def substate_durations(
    events: Any,
    pipeline: Any,
    stage: str,
    *,
    as_of: datetime | None = None,
    include_open: bool = False,
    by: str | None = None,
) -> Any:
    """:func:`salesstages.metrics.substate_durations` on the table's backend."""
    name, substates = check_substate_stage(pipeline, stage)
    check_by(by)
    pv = Pivots(events, pipeline, as_of, by=by)

    def fill(found: dict[str, DurationStats] | None = None) -> dict[str, DurationStats]:
        found = found or {}
        return Keyed("substate", {s: found.get(s) or _duration_stats(None) for s in substates})

    if pv.as_of_us is None:
        return grouped(by, [], {}, fill)
    deals = pv.deals_with()
    sv = _substate_rows(pv)
    sv = _with_keys(pv, sv.filter(sv.stage == name), deals)
    keep = (sv.is_open == 0) if not include_open else sv.dur.notnull()
    agg = sv.group_by(["substate", *pv.group]).aggregate(
        **_stats_aggregate(sv, sv.dur, keep, sv.is_open)
    )
    results: dict[tuple[Any, ...], dict[str, DurationStats]] = {}
    for r in pv.run(agg, "percentile_cont"):
        results.setdefault(pv.key_of(r), {})[r["substate"]] = _duration_stats(r)
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


def substate_visits(
    events: Any, pipeline: Any, *, stage: str | None = None, as_of: datetime | None = None
) -> list[SubstateVisit]:
    """:func:`salesstages.metrics.substate_visits` on the table's backend (by deal, then time)."""
    if stage is not None:
        check_stage(pipeline, stage, "stage")
    pv = Pivots(events, pipeline, as_of)
    if pv.as_of_us is None:
        return []
    sv = _substate_rows(pv)
    if stage is not None:
        sv = sv.filter(sv.stage == stage)
    out: list[SubstateVisit] = []
    for r in pv.run(sv.order_by(["deal_id", "at_us"]), "window functions"):
        start = from_us(r["at_us"])
        dur = _td(int(r["dur"]))
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


# ---------------------------------------------------------------- funnel
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
                row[i] += _int(r[f"f{i}"])
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


def _ratio(num: float, den: float) -> Ratio:
    return Ratio(numerator=num, denominator=den, rate=num / den if den else None)


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
        return grouped(by, [], {}, lambda: _ratio(0, 0))
    e = pv.entries
    per = e.group_by(c_deal="deal_id").aggregate(
        first=e.seq.min(where=e.stage == a), last=e.seq.max(where=e.stage == b)
    )
    d = pv.deals_with()
    j = d.left_join(per, d.deal_id == per.c_deal)
    agg = _agg(
        j,
        pv.group,
        entered=ibis.ifelse(j.first.notnull(), 1, 0).sum(),
        converted=ibis.ifelse(j.first.notnull() & (j.last > j.first), 1, 0).sum(),
    )
    results = {
        pv.key_of(r): Ratio(
            numerator=_int(r["converted"]),
            denominator=_int(r["entered"]),
            rate=_int(r["converted"]) / _int(r["entered"]) if _int(r["entered"]) else None,
        )
        for r in pv.run(agg, "sum")
    }
    return grouped(by, pv.keys(d), results, lambda: _ratio(0, 0))


# -------------------------------------------------------------- outcomes
def _outcome_counts(
    pv: Pivots, d: Any, *, amount: bool = False, extra: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Per key and outcome: deals, with ``amount`` the amount at closing, and more columns."""
    metrics = dict(extra or {})
    if amount:
        metrics["closed_amount"] = d.closed_amount.sum()
    agg = d.group_by(["outcome", *pv.group]).aggregate(deals=d.count(), **metrics)
    return pv.run(agg, "sum")


def win_rate(
    events: Any,
    pipeline: Any,
    *,
    by_value: bool = False,
    by: str | None = None,
    as_of: datetime | None = None,
) -> Any:
    """:func:`salesstages.metrics.win_rate` on the table's backend."""
    pv = Pivots(events, pipeline, as_of, by=by)
    zero: float = 0.0 if by_value else 0
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: _ratio(zero, zero))
    d = pv.deals_with("closed_amount") if by_value else pv.deals_with()
    parts: dict[tuple[Any, ...], dict[str, float]] = {}
    for r in _outcome_counts(pv, d, amount=bool(by_value)):
        value = float(r["closed_amount"] or 0.0) if by_value else int(r["deals"])
        parts.setdefault(pv.key_of(r), {})[r["outcome"]] = value
    results = {}
    for key, p in parts.items():
        won, lost = p.get("won", zero), p.get("lost", zero)
        results[key] = _ratio(won, won + lost)
    return grouped(by, pv.keys(d), results, lambda: _ratio(zero, zero))


def sales_cycle(
    events: Any,
    pipeline: Any,
    *,
    outcome: str = "won",
    by: str | None = None,
    as_of: datetime | None = None,
) -> Any:
    """:func:`salesstages.metrics.sales_cycle` on the table's backend."""
    check_choice("outcome", outcome, ("won", "lost"))
    pv = Pivots(events, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return grouped(by, [], {}, lambda: _duration_stats(None))
    d = pv.deals_with("opened")
    dur = d.closed_at - d.opened_at
    keep = d.outcome == outcome
    agg = _agg(
        d, pv.group, **_stats_aggregate(d, dur, keep, ibis.ifelse(d.outcome == "open", 1, 0))
    )
    results = {pv.key_of(r): _duration_stats(r) for r in pv.run(agg, "percentile_cont")}
    return grouped(by, pv.keys(d), results, lambda: _duration_stats(None))


def snapshot(events: Any, pipeline: Any, as_of: datetime) -> dict[str, SnapshotRow]:
    """:func:`salesstages.metrics.snapshot` on the table's backend."""
    pv = Pivots(events, pipeline, to_utc(as_of, "as_of"))
    out = Keyed("stage", {name: SnapshotRow(count=0, amount=0.0) for name in pv.opens})
    d = pv.deals_with("amount")
    d = d.filter(d.outcome == "open")
    agg = d.group_by("stage").aggregate(deals=d.count(), amount=d.amount.sum())
    for r in pv.run(agg, "sum"):
        out[r["stage"]] = SnapshotRow(count=int(r["deals"]), amount=float(r["amount"] or 0.0))
    return out


def stalled(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> list[Stall]:
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
        Stall(deal_id=r["deal_id"], stage=r["stage"], idle=_td(int(r["idle"])))
        for r in pv.run(d.select("deal_id", "stage", "idle"), "filter")
    ]
    out.sort(key=lambda s: (-s.idle, s.deal_id))
    return out


def lost_reasons(events: Any, pipeline: Any, *, as_of: datetime | None = None) -> list[LostReason]:
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


def velocity(
    events: Any, pipeline: Any, *, as_of: datetime | None = None, by: str | None = None
) -> Any:
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
            _int(p.get("open", {}).get("deals")),
            0 if won is None else int(won["deals"]),
            _int(p.get("lost", {}).get("deals")),
            0.0 if won is None else float(won["closed_amount"] or 0.0),
            timedelta(0) if won is None else _td(int(won["cycle"] or 0)),
        )
    return grouped(by, pv.keys(d), results, lambda: 0.0)


# -------------------------------------------------------------- win/loss
def win_loss(
    events: Any,
    pipeline: Any,
    by: Any,
    *,
    as_of: datetime | None = None,
    attributes: str = "closing",
    level: float = 0.95,
    min_deals: int = 1,
) -> Any:
    """:func:`salesstages.metrics.win_loss` on the table's backend (``by`` an attribute name).

    Raises:
        SalesStagesError: ``by`` is a bucketing function: it needs every closed
            deal's attributes in Python; run it on events.
    """

    check_win_loss(by, attributes, level, min_deals)
    if callable(by) and not isinstance(by, str):
        raise SalesStagesError(
            "win_loss with a bucketing function needs each closed deal in Python, which the "
            "Ibis engine does not bring back; pass an attribute name, or run it on events "
            "(salesstages.io.read_parquet, or Event.from_dict over the table's rows)"
        )
    if not isinstance(by, str):
        raise ValueError(f"by must be an attribute name or a function, got {by!r}")
    if not by:
        raise ValueError("by must name an attribute, got ''")
    pv = Pivots(events, pipeline, as_of, by=by if attributes == "opened" else None)
    if attributes == "closing":
        pv.check_attribute(by, opened=False)
    counts: dict[Hashable | None, list[int]] = {}
    if pv.as_of_us is not None:
        d = pv.deals_with().filter(lambda t: t.outcome != "open")
        if attributes == "closing":
            d = _with_closing_key(pv, d, by)
        agg = d.group_by(["outcome", *KEY_COLUMNS]).aggregate(deals=d.count())
        for r in pv.run(agg, "count"):
            key = key_value(r, by)
            c = counts.setdefault(key, [0, 0])
            c[0 if r["outcome"] == "won" else 1] += int(r["deals"])
    return win_loss_result(counts, by, 0, level, min_deals)


def _with_closing_key(pv: Pivots, deals: Any, name: str) -> Any:
    """``deals`` with the key columns of attribute ``name`` as of each deal's last
    kept event (the latest ``opened`` event, or a later update carrying it)."""
    k = pv.kept
    item = pv.json.present(k.data, name)
    setters = k.filter((k.kind == "opened") | ((k.kind == "updated") & item))
    setters = setters.mutate(last=setters.seq.max().over(ibis.window(group_by="deal_id")))
    setters = setters.filter(setters.seq == setters.last)
    keys = setters.select(kd="deal_id", **pv.key_columns_of(setters.data, name))
    j = deals.left_join(keys, deals.deal_id == keys.kd)
    return j.select("outcome", *KEY_COLUMNS)
