"""What the report says about the log itself (counts, first and last event, open
ages), computed on an Ibis table's backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from ._checks import check_events

if TYPE_CHECKING:
    from ..._pipeline import Pipeline

__all__ = ["report_facts"]


def _utc(value: Any) -> datetime | None:
    """A timestamp from the backend as an aware UTC datetime (naive means UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def report_facts(table: Any, pipeline: Pipeline, as_of: datetime | None) -> dict[str, Any]:
    """``as_of`` (the latest event when ``None``), the first and last event, the
    number of events and of deals by outcome, and the median age of the open
    visits per stage, as the pure-Python report computes them from its fold."""
    import ibis

    from ._pivots import Pivots

    check_events(table)  # before any figure: the read rules, once per table
    t = table
    if as_of is None:
        as_of = _utc(t.at.max().to_pyarrow().as_py())
        if as_of is None:
            return {
                "as_of": None,
                "first": None,
                "last": None,
                "events": 0,
                "outcomes": {"deals": 0, "open": 0, "won": 0, "lost": 0},
                "open_median_ages": {},
            }
    else:
        as_of = as_of.astimezone(UTC)
    kept = t.filter(t.at <= ibis.literal(as_of))
    row = kept.aggregate(n=kept.count(), first=kept.at.min(), last=kept.at.max()).to_pyarrow()
    n, first, last = (row[c][0].as_py() for c in ("n", "first", "last"))
    # each deal's latest stage entry, from the entries pivot the metrics share
    pv = Pivots(table, pipeline, as_of)
    e = pv.entries
    latest = e.filter(e.next_at.isnull())
    age_us = ibis.literal(pv.as_of_us or 0, type="int64") - latest.at_us
    per_stage = pv.run(
        latest.mutate(age_us=age_us)
        .group_by("stage")
        .aggregate(deals=lambda x: x.count(), median_us=lambda x: x.age_us.quantile(0.5)),
        "quantile",
    )
    outcome = {s.name: s.outcome for s in pipeline.stages}
    outcomes = {"deals": 0, "open": 0, "won": 0, "lost": 0}
    ages: dict[str, timedelta] = {}
    for r in per_stage:
        kind = outcome.get(r["stage"], "open")
        outcomes[kind] += r["deals"]
        outcomes["deals"] += r["deals"]
        if kind == "open":
            ages[r["stage"]] = timedelta(microseconds=round(r["median_us"]))
    return {
        "as_of": as_of,
        "first": _utc(first),
        "last": _utc(last),
        "events": n,
        "outcomes": outcomes,
        "open_median_ages": ages,
    }
