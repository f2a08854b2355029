"""Helpers shared by the Ibis metrics: aggregates of durations, rows to records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .._types import DurationStats, Ratio
from ._columns import EPOCH, ibis
from ._pivots import KEY_COLUMNS, Pivots

__all__ = [
    "aggregate_by",
    "as_int",
    "columns",
    "duration_stats",
    "ratio",
    "stats_aggregate",
    "td",
    "with_keys",
]


def td(us: float) -> timedelta:
    """Microseconds (an exact int, or a float from a percentile) as a timedelta."""
    if isinstance(us, int):
        return timedelta(microseconds=us)
    return timedelta(microseconds=round(us))


def aggregate_by(table: Any, group: list[str], **metrics: Any) -> Any:
    """``table`` aggregated by ``group`` (no grouping when it is empty)."""
    return table.group_by(group).aggregate(**metrics) if group else table.aggregate(**metrics)


def as_int(value: Any) -> int:
    return 0 if value is None else int(value)


def stats_aggregate(table: Any, dur: Any, keep: Any, open_flag: Any) -> dict[str, Any]:
    """The aggregate columns of :func:`duration_stats` over ``dur`` where ``keep``."""
    return {
        "n": ibis.ifelse(keep, 1, 0).sum(),
        "open_n": open_flag.sum(),
        "total": dur.sum(where=keep),
        "lo": dur.min(where=keep),
        "hi": dur.max(where=keep),
        "p50": dur.quantile(0.5, where=keep),
        "p90": dur.quantile(0.9, where=keep),
    }


def duration_stats(row: dict[str, Any] | None) -> DurationStats:
    """A :class:`DurationStats` from one row of :func:`stats_aggregate`."""
    n = 0 if row is None else as_int(row["n"])
    open_n = 0 if row is None else as_int(row["open_n"])
    if row is None or n == 0:
        return DurationStats(
            count=0, open_count=open_n, mean=None, median=None, p90=None, min=None, max=None
        )
    return DurationStats(
        count=n,
        open_count=open_n,
        mean=td(int(row["total"])) / n,
        median=td(float(row["p50"])),
        p90=td(float(row["p90"])),
        min=td(int(row["lo"])),
        max=td(int(row["hi"])),
    )


def columns(table: Any, *, times: tuple[str, ...], durations: tuple[str, ...]) -> list[list[Any]]:
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


def with_keys(pv: Pivots, table: Any, deals: Any) -> Any:
    """``table`` (with a ``deal_id``) with the deal's ``by=`` key columns."""
    if pv.by is None:
        return table
    keys = deals.select(kd="deal_id", **{c: deals[c] for c in KEY_COLUMNS})
    joined = table.join(keys, table.deal_id == keys.kd)
    return joined.drop("kd")


def ratio(num: float, den: float) -> Ratio:
    return Ratio(numerator=num, denominator=den, rate=num / den if den else None)
