"""The report's "Paths", "Conformance" and "Team" sections (contract §20).

:func:`paths_figures` computes their part of the report dict from
:func:`salesstages.metrics.paths`, :func:`~salesstages.metrics.conformance` and
:func:`~salesstages.metrics.scorecard`; :func:`paths_sections` words it as typed
sections. The scorecard reads the owner's changes, which a folded log does not
keep: it needs the events (or a table); without them, or when no deal has an
owner, the "Team" section says why it is empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .. import metrics
from .._errors import SalesStagesError
from .._pipeline import Pipeline
from ..metrics._engine import Events
from ._model import Chart, Column, Section

__all__ = ["ATTRIBUTE", "TOP_PATHS", "empty_paths", "paths_figures", "paths_sections"]

#: How many paths the report lists.
TOP_PATHS: Final = 10
#: Who the "Team" section credits.
ATTRIBUTE: Final = "owner"
_DAY: Final = timedelta(days=1)


def _days(td: timedelta | None) -> float | None:
    return None if td is None else td / _DAY


def _json(value: object) -> str | int | float | bool | None:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def empty_paths() -> dict[str, Any]:
    """The figures of a report with no events."""
    return {
        "paths": {"distinct": 0, "rows": []},
        "conformance": {
            "rate": None,
            "closed": 0,
            "conforming": 0,
            "deviations": [],
            "by_month": [],
        },
        "team": {"attribute": ATTRIBUTE, "rows": [], "reason": "no events"},
    }


def paths_figures(
    data: Events, people: Events | None, pipeline: Pipeline, as_of: datetime
) -> dict[str, Any]:
    """The figures: the top paths, conformance to the main path, the owners' scorecard
    (``people``: the events or the table, ``None`` when only a fold is at hand)."""
    labels = {s.name: s.title for s in pipeline.stages}
    every = metrics.paths(data, pipeline, as_of=as_of)
    conf = metrics.conformance(data, pipeline, as_of=as_of)
    return {
        "paths": {
            "distinct": len(every),
            "rows": [
                {
                    "path": list(r.path),
                    "label": " → ".join(labels[s] for s in r.path),
                    "deals": r.deals,
                    "share": r.share,
                    "won": r.won,
                    "lost": r.lost,
                    "open": r.open,
                    "win_rate": r.win_rate.rate,
                    "median_cycle_days": _days(r.median_cycle),
                }
                for r in every[:TOP_PATHS]
            ],
        },
        "conformance": {
            "rate": conf.rate,
            "closed": conf.closed,
            "conforming": conf.conforming,
            "deviations": [
                {
                    "deviation": d.deviation,
                    "deals": d.deals,
                    "share": d.share,
                    "win_rate_with": d.win_rate_with,
                    "win_rate_without": d.win_rate_without,
                    "cycle_with_days": _days(d.cycle_with),
                    "cycle_without_days": _days(d.cycle_without),
                }
                for d in conf.deviations
            ],
            "by_month": [
                {"month": m, "conforming": r.numerator, "closed": r.denominator, "rate": r.rate}
                for m, r in conf.by_month.items()
            ],
        },
        "team": _team(people, pipeline, as_of, labels),
    }


def _team(
    people: Events | None, pipeline: Pipeline, as_of: datetime, labels: Mapping[str, str]
) -> dict[str, Any]:
    if people is None:
        return {
            "attribute": ATTRIBUTE,
            "rows": [],
            "reason": "needs the events: a folded log does not keep the owners' changes",
        }
    try:
        card = metrics.scorecard(people, pipeline, attribute=ATTRIBUTE, as_of=as_of)
    except SalesStagesError as e:
        return {"attribute": ATTRIBUTE, "rows": [], "reason": str(e)}
    return {
        "attribute": ATTRIBUTE,
        "reason": None,
        "rows": [
            {
                "owner": _json(r.owner),
                "stage": r.stage,
                "label": labels[r.stage],
                "entered": r.entered,
                "advanced": r.advanced,
                "rate": r.rate,
                "low": r.low,
                "high": r.high,
                "shrunk": r.shrunk,
                "rank": r.rank,
                "team_rate": r.team_rate,
                "differs": r.differs,
                "median_days": _days(r.median_time),
                "team_median_days": _days(r.team_median_time),
            }
            for r in card
        ],
    }


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def paths_sections(f: Mapping[str, Any] | None) -> list[Section]:
    """The "Paths", "Conformance" (and its months) and "Team" sections."""
    if f is None:
        return []
    return [_paths(f["paths"]), *_conformance(f["conformance"]), _team_section(f["team"])]


def _paths(p: Mapping[str, Any]) -> Section:
    return Section(
        id="paths",
        title=f"Paths (top {TOP_PATHS} of {p['distinct']:,})",
        columns=(
            Column("path", "path"),
            Column("deals", "deals", "count"),
            Column("share", "share", "rate"),
            Column("won", "won", "count", show=False),
            Column("lost", "lost", "count", show=False),
            Column("open", "open", "count"),
            Column("win_rate", "win rate", "rate"),
            Column("median_cycle_days", "median cycle", "days"),
        ),
        rows=[
            (
                r["label"],
                r["deals"],
                r["share"],
                r["won"],
                r["lost"],
                r["open"],
                r["win_rate"],
                r["median_cycle_days"],
            )
            for r in p["rows"]
        ],
        key=("path",),
        notes=(
            "A deal's path: the stages it entered, in order (a loop, or a lost deal won "
            "back, shows a stage twice). Win rate: won ÷ closed deals of the path; median "
            "cycle: creation to latest closing of its closed deals.",
        ),
        empty="no deals",
        wide=True,
    )


def _conformance(c: Mapping[str, Any]) -> list[Section]:
    rate = c["rate"]
    lead = (
        f"{_pct(rate)} of closed deals followed the main path "
        f"({c['conforming']:,} of {c['closed']:,})"
        if rate is not None
        else "no closed deals yet"
    )
    main = Section(
        id="conformance",
        title="Conformance to the main path",
        lead=(lead,),
        columns=(
            Column("deviation", "deviation"),
            Column("deals", "deals", "count"),
            Column("share", "share", "rate"),
            Column("win_rate_with", "won with it", "rate"),
            Column("win_rate_without", "won without", "rate"),
            Column("cycle_with_days", "cycle with", "days"),
            Column("cycle_without_days", "cycle without", "days"),
        ),
        rows=[
            (
                d["deviation"],
                d["deals"],
                d["share"],
                d["win_rate_with"],
                d["win_rate_without"],
                d["cycle_with_days"],
                d["cycle_without_days"],
            )
            for d in c["deviations"]
        ],
        key=("deviation",),
        notes=(
            "Closed deals replayed against the main path (each stage to the next, the last "
            "to won, any stage to lost, sub-states in order): opened_late (first stage not "
            "the first), skipped, regressed, reopened, not_allowed (any other move it "
            "forbids, such as winning early), substate_order. Cycles are medians.",
        ),
        empty="no closed deals",
        wide=True,
    )
    months = Section(
        id="conformance-by-month",
        title="Conformance by the month deals were created",
        columns=(
            Column("month", "month"),
            Column("closed", "closed deals", "count"),
            Column("conforming", "followed the main path", "count"),
            Column("rate", "rate", "rate"),
        ),
        rows=[(m["month"], m["closed"], m["conforming"], m["rate"]) for m in c["by_month"]],
        key=("month",),
        empty="no closed deals",
    )
    return [main, months]


def _team_section(t: Mapping[str, Any]) -> Section:
    rows = t["rows"]
    chart = Chart(
        kind="intervals",
        name="team",
        title=f"Stage conversion by {t['attribute']}, ranked by shrunk rate",
        label="name",
        values=("rate", "low", "high", "team_rate"),
        legend=("advanced (raw rate)", "95% interval", "the team's rate in the stage"),
        axes=("share of visits that advanced", ""),
        unit="share",
        note="note",
        tip="tip",
        empty=t["reason"] or "no visits",
        columns=(
            Column("name", "stage · owner"),
            Column("rate", "advanced", "rate"),
            Column("low", "low", "rate"),
            Column("high", "high", "rate"),
            Column("team_rate", "team", "rate"),
            Column("note", "note"),
            Column("tip", "tip"),
        ),
        rows=[
            (
                f"{r['label']} · {r['owner']}",
                r["rate"],
                r["low"],
                r["high"],
                r["team_rate"],
                f"#{r['rank']} · shrunk {_pct(r['shrunk'])}",
                f"{r['owner']} in {r['label']}: {r['advanced']}/{r['entered']} advanced "
                f"({_pct(r['rate'])}, 95% CI {_pct(r['low'])}–{_pct(r['high'])}), team "
                f"{_pct(r['team_rate'])}"
                + ("" if r["differs"] else ": not different from the team"),
            )
            for r in rows
        ],
    )
    return Section(
        id="team",
        title=f"Team: stage conversion by {t['attribute']}",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("rank", "rank", "count"),
            Column("owner", t["attribute"]),
            Column("visits", "advanced/visits"),
            Column("rate", "rate", "rate"),
            Column("low", "low", "rate"),
            Column("high", "high", "rate"),
            Column("shrunk", "shrunk", "rate"),
            Column("team_rate", "team", "rate"),
            Column("verdict", "vs the team"),
            Column("median_days", "median days", "days"),
            Column("team_median_days", "team median days", "days"),
        ),
        rows=[
            (
                r["stage"],
                r["label"],
                r["rank"],
                r["owner"],
                f"{r['advanced']:,}/{r['entered']:,}",
                r["rate"],
                r["low"],
                r["high"],
                r["shrunk"],
                r["team_rate"],
                ("above" if r["low"] > r["team_rate"] else "below")
                if r["differs"]
                else "not different from the team",
                r["median_days"],
                r["team_median_days"],
            )
            for r in rows
        ],
        key=("stage", "owner"),
        notes=(
            "Each stage visit is credited to the owner at its entry; advanced = left to a "
            "later stage or won. Shrunk: the rate pulled toward the team's by the "
            "beta-binomial prior (few visits are pulled most); ranked by it. An owner is "
            "'not different from the team' when the team's rate lies in their 95% Wilson "
            "interval.",
        ),
        empty=t["reason"] or "no visits",
        chart=chart,
        wide=True,
    )
