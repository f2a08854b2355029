"""The report's "what moves deals forward" section, in every format.

:func:`actions_section` builds its part of the report dict from
:func:`salesstages.metrics.action_conversion` (within :data:`WITHIN` of the
first entry into each stage), and :func:`actions_sections` words it as the
report's sections. Per stage, the activities are ranked by lift (how
much likelier the deals that recorded one were to advance than the rest); each
carries its counts and the 95 % Wilson interval of its ``rate_with``.

Activities that the pipeline's entry criteria ask for (``meeting_accepted``
before discovery …) are recorded by every deal that moves on, so their lift is
large by construction: the JSON and CSV keep them, marked ``"criterion":
true``, and the section every format shows leaves them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .._pipeline import Pipeline
from .._stats import wilson_interval
from ..metrics._actions import ActionRow, action_conversion
from ..metrics._engine import Events
from ._model import Cell, Chart, Column, Section
from ._style import AXES

__all__ = [
    "LEVEL",
    "TOP",
    "WITHIN",
    "actions_note",
    "actions_section",
    "actions_sections",
    "empty_actions",
]

#: How long after entering a stage a deal may take to advance and still count.
WITHIN: Final = timedelta(days=30)
#: How many activities per stage the text, HTML and plot forms show (JSON and CSV: all).
TOP: Final = 3
LEVEL: Final = 0.95
_DAY: Final = timedelta(days=1)


def empty_actions() -> dict[str, Any]:
    """The section of a report with no events."""
    return {"within_days": WITHIN / _DAY, "level": LEVEL, "stages": []}


def actions_section(data: Events, pipeline: Pipeline, as_of: datetime) -> dict[str, Any]:
    """The section, from a fold or an Ibis table: per open stage with activities, its
    rows ranked by lift (highest first, ``None`` last, then by name)."""
    labels = {s.name: s.title for s in pipeline.stages}
    asked = criterion_activities(pipeline)
    stages: dict[str, list[ActionRow]] = {}
    for r in action_conversion(data, pipeline, horizon=WITHIN, as_of=as_of):
        stages.setdefault(r.stage, []).append(r)
    out = []
    for stage, rows in stages.items():
        rows.sort(key=lambda r: (r.lift is None, -(r.lift or 0.0), r.activity))
        first = rows[0]
        deals = first.deals_with + first.deals_without
        out.append(
            {
                "stage": stage,
                "label": labels[stage],
                "deals": deals,
                "advanced": first.advanced_with + first.advanced_without,
                "activities": [_row(r, r.activity in asked) for r in rows],
            }
        )
    return {**empty_actions(), "stages": out}


def criterion_activities(pipeline: Pipeline) -> frozenset[str]:
    """The activities any stage's entry criteria ask for (read from their ``steps()``)."""
    names: set[str] = set()
    for s in pipeline.stages:
        steps = getattr(s.entry, "steps", None)
        if callable(steps):
            names.update(st.name for st in steps() if st.kind == "activity")
    return frozenset(names)


def _row(r: ActionRow, criterion: bool) -> dict[str, Any]:
    low, high = (
        wilson_interval(r.advanced_with, r.deals_with, LEVEL) if r.deals_with else (None, None)
    )
    return {
        "activity": r.activity,
        "deals_with": r.deals_with,
        "advanced_with": r.advanced_with,
        "deals_without": r.deals_without,
        "advanced_without": r.advanced_without,
        "rate_with": r.rate_with,
        "rate_with_low": low,
        "rate_with_high": high,
        "rate_without": r.rate_without,
        "lift": r.lift,
        "criterion": criterion,
    }


def _title(section: Mapping[str, Any] | None) -> str:
    if section is None:
        return "What moves deals forward"
    return f"What moves deals forward (advanced within {section['within_days']:g} days)"


def _top(section: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(stage, activity) pairs the short section shows: the ``TOP`` with a lift,
    entry criteria's activities left out."""
    for s in section["stages"]:
        shown = [a for a in s["activities"] if a["lift"] is not None and not a["criterion"]]
        for a in shown[:TOP]:
            yield s, a


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _lift(x: float | None) -> str:
    return "–" if x is None else f"×{x:.2f}"


_NUMBERS: Final = (
    Column("deals_with", "deals with", "count", show=False),
    Column("advanced_with", "advanced with", "count", show=False),
    Column("deals_without", "deals without", "count", show=False),
    Column("advanced_without", "advanced without", "count", show=False),
    Column("rate_with", "rate with", "rate", show=False),
    Column("rate_with_low", "rate with, low", "rate", show=False),
    Column("rate_with_high", "rate with, high", "rate", show=False),
    Column("rate_without", "rate without", "rate", show=False),
    Column("lift_value", "lift", "ratio", show=False),
)


def _numbers(a: Mapping[str, Any]) -> tuple[Cell, ...]:
    return (
        a["deals_with"],
        a["advanced_with"],
        a["deals_without"],
        a["advanced_without"],
        a["rate_with"],
        a["rate_with_low"],
        a["rate_with_high"],
        a["rate_without"],
        a["lift"],
    )


def actions_note(most: int, level: float) -> str:
    """The note under the short section, when a stage shows up to ``most`` activities."""
    shown = (
        "the activity with the largest lift"
        if most == 1
        else f"up to {TOP} activities with the largest lift"
    )
    return (
        f"Per stage, {shown}: deals that recorded it during their first visit to the stage "
        "(with: advanced/deals) against the rest (without); advanced = entered a later "
        "stage or won; lift = the ratio of the two rates. Activities an entry criterion asks "
        "for are left out (every deal that moves records them). A lift is an association, "
        "not proof the activity caused it. The chart's bar is the share that advanced with "
        f"the activity (whisker: {level:.0%} Wilson interval), the tick the share of "
        "the other deals."
    )


def actions_sections(section: Mapping[str, Any] | None) -> list[Section]:
    """The short section every format shows (per stage, the activities with the
    largest lift, entry criteria's left out) and every activity's figures (JSON and
    CSV). ``section`` is ``None`` when the engine did not compute it."""
    chart = Chart(
        kind="intervals",
        name="actions",
        title=_title(section),
        label="name",
        values=("rate_with", "rate_with_low", "rate_with_high", "rate_without"),
        legend=("advanced with the activity", "95% interval", "advanced without it"),
        axes=AXES["actions"],
        unit="share",
        note="note",
        tip="tip",
        empty="not computed on this engine" if section is None else "no activities recorded",
        columns=(
            Column("name", "stage · activity"),
            Column("rate_with", "advanced with", "rate"),
            Column("rate_with_low", "low", "rate"),
            Column("rate_with_high", "high", "rate"),
            Column("rate_without", "advanced without", "rate"),
            Column("note", "note"),
            Column("tip", "tip"),
        ),
        rows=[
            (
                f"{s['label']} · {a['activity']}",
                a["rate_with"],
                a["rate_with_low"],
                a["rate_with_high"],
                a["rate_without"],
                f"{_lift(a['lift'])} · {a['deals_with']:,} deals",
                f"{s['label']} · {a['activity']}: {a['advanced_with']}/{a['deals_with']} "
                f"advanced with it ({_pct(a['rate_with'])}, 95% CI {_pct(a['rate_with_low'])}–"
                f"{_pct(a['rate_with_high'])}), {a['advanced_without']}/{a['deals_without']} "
                f"without ({_pct(a['rate_without'])}); lift {_lift(a['lift'])}",
            )
            for s, a in (_top(section) if section is not None else ())
        ],
    )
    if section is None:
        return [
            Section(
                id="actions",
                title=_title(None),
                empty="not computed on a warehouse table",
                chart=chart,
            )
        ]
    top = list(_top(section))
    most = max((sum(1 for t in top if t[0] is s) for s in section["stages"]), default=0)
    short = Section(
        id="actions",
        title=_title(section),
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("activity", "activity"),
            Column("with", "with"),
            Column("advanced_ci", "advanced (95% CI)"),
            Column("without", "without"),
            Column("advanced", "advanced"),
            Column("lift", "lift"),
            *_NUMBERS,
        ),
        rows=[
            (
                s["stage"],
                s["label"],
                a["activity"],
                f"{a['advanced_with']:,}/{a['deals_with']:,}",
                f"{_pct(a['rate_with'])} ({_pct(a['rate_with_low'])}–{_pct(a['rate_with_high'])})",
                f"{a['advanced_without']:,}/{a['deals_without']:,}",
                _pct(a["rate_without"]),
                _lift(a["lift"]),
                *_numbers(a),
            )
            for s, a in top
        ],
        key=("stage", "activity"),
        notes=(actions_note(most, section["level"]),),
        empty="no activities recorded",
        chart=chart,
        wide=True,
    )
    full = Section(
        id="action-conversion",
        title=f"Every activity, advanced within {section['within_days']:g} days",
        columns=(
            Column("stage", "stage"),
            Column("activity", "activity"),
            Column("deals", "deals in the stage", "count"),
            Column("advanced", "of them advanced", "count"),
            Column("criterion", "asked by an entry criterion", "flag"),
            *_NUMBERS,
        ),
        rows=[
            (s["stage"], a["activity"], s["deals"], s["advanced"], a["criterion"], *_numbers(a))
            for s in section["stages"]
            for a in s["activities"]
        ],
        key=("stage", "activity"),
        formats=("json", "csv"),
    )
    return [short, full]
