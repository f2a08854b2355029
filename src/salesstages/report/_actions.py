"""The report's "what moves deals forward" section, in every format.

:func:`actions_section` builds its part of the report dict from
:func:`salesstages.metrics.action_conversion` (within :data:`WITHIN` of the
first entry into each stage); :func:`actions_text`, :func:`actions_csv`,
:func:`actions_svg` and :func:`actions_plot` render it for the text, CSV,
HTML and ``plot`` forms. Per stage, the activities are ranked by lift (how
much likelier the deals that recorded one were to advance than the rest); each
carries its counts and the 95 % Wilson interval of its ``rate_with``.

Activities that the pipeline's entry criteria ask for (``meeting_accepted``
before discovery …) are recorded by every deal that moves on, so their lift is
large by construction: the JSON and CSV keep them, marked ``"criterion":
true``, and the short forms leave them out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from .._pipeline import Pipeline
from .._stats import wilson_interval
from ..metrics._actions import ActionRow, action_conversion
from ..metrics._engine import Events
from ._style import AXES, BLUE, INK, LIGHT_BLUE, MUTED, nice_ticks, tick_label

__all__ = [
    "TOP",
    "WITHIN",
    "actions_csv",
    "actions_plot",
    "actions_section",
    "actions_svg",
    "actions_text",
    "empty_actions",
]

#: How long after entering a stage a deal may take to advance and still count.
WITHIN: Final = timedelta(days=30)
#: How many activities per stage the text, HTML and plot forms show (JSON and CSV: all).
TOP: Final = 3
_LEVEL: Final = 0.95
_DAY: Final = timedelta(days=1)


def empty_actions() -> dict[str, Any]:
    """The section of a report with no events."""
    return {"within_days": WITHIN / _DAY, "level": _LEVEL, "stages": []}


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
        wilson_interval(r.advanced_with, r.deals_with, _LEVEL) if r.deals_with else (None, None)
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


def title(section: Mapping[str, Any]) -> str:
    """The section's title, naming its window."""
    return f"What moves deals forward (advanced within {section['within_days']:g} days)"


def _top(section: Mapping[str, Any]) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(stage, activity) pairs shown in the short forms: the ``TOP`` with a lift,
    entry criteria's activities left out."""
    for s in section["stages"]:
        shown = [a for a in s["activities"] if a["lift"] is not None and not a["criterion"]]
        for a in shown[:TOP]:
            yield s, a


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


def _lift(x: float | None) -> str:
    return "–" if x is None else f"×{x:.2f}"


def actions_text(section: Mapping[str, Any] | None) -> list[str]:
    """The section's lines for the text report (a title, a table, a note)."""
    from ._render import _title, table

    if section is None:
        return ["", _title("What moves deals forward"), "not computed on a warehouse table"]
    lines = ["", _title(title(section))]
    rows = [
        [
            s["label"],
            a["activity"],
            f"{a['advanced_with']:,}/{a['deals_with']:,}",
            f"{_pct(a['rate_with'])} ({_pct(a['rate_with_low'])}–{_pct(a['rate_with_high'])})",
            f"{a['advanced_without']:,}/{a['deals_without']:,}",
            _pct(a["rate_without"]),
            _lift(a["lift"]),
        ]
        for s, a in _top(section)
    ]
    if not rows:
        return [*lines, "no activities recorded"]
    lines.append(
        table(
            ["stage", "activity", "with", "advanced (95% CI)", "without", "advanced", "lift"],
            rows,
            left=2,
        )
    )
    most = max(sum(1 for t in _top(section) if t[0] is s) for s in section["stages"])
    shown = (
        "the activity with the largest lift"
        if most == 1
        else f"up to {TOP} activities with the largest lift"
    )
    lines.append(
        f"Per stage, {shown}: deals that recorded it during their first visit to the stage "
        "(with: advanced/deals) against the rest (without); advanced = entered a later stage or "
        "won; lift = the ratio of the two rates. Activities an entry criterion asks for are left "
        "out (every deal that moves records them). A lift is an association, not proof the "
        "activity caused it."
    )
    return lines


def actions_csv(section: Mapping[str, Any] | None) -> Iterable[tuple[Any, ...]]:
    """The section's CSV rows (``section, segment, item, metric, value``): every activity."""
    if section is None:
        return
    yield ("actions", "", "", "within_days", section["within_days"])
    for s in section["stages"]:
        for a in s["activities"]:
            item = f"{s['stage']}/{a['activity']}"
            for key, value in a.items():
                if key != "activity":
                    yield ("actions", "", item, key, value)


#: The chart's legend, in both renderers: ``(label, colour, mark)``.
_LEGEND: Final = (
    ("advanced with the activity", LIGHT_BLUE, "box"),
    ("95% interval", BLUE, "line"),
    ("advanced without it", INK, "tick"),
)


def actions_svg(section: Mapping[str, Any] | None) -> str:
    """The HTML chart: per stage, the top activities' advance rate with (bar, with its
    95 % interval as a whisker) against the rate without (a dark tick)."""
    from ._html import _W, _axis_title, _e, _legend, _rect, _svg, _text, _x_grid

    items = list(_top(section)) if section else []
    label_w, bar_x, axis_w, row_h = 250, 260, _W - 260 - 140, 26
    y0 = 30.0
    rows_end = y0 + row_h * max(len(items), 1)
    ticks = nice_ticks(1.0)
    body: list[str] = [_legend(bar_x, 14, _LEGEND)]
    body += _x_grid(bar_x, axis_w, ticks, 1.0, y0 - 4, rows_end + 4, "share")
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, AXES["actions"][0]))
    if not items:
        note = "no activities recorded" if section is not None else "not computed on this engine"
        body.append(_text(bar_x + 8, y0 + 14, note, fill=MUTED))
    for i, (s, a) in enumerate(items):
        y = y0 + i * row_h
        label = f"{s['label']} · {a['activity']}"
        body.append(_text(label_w, y + 15, label, anchor="end"))
        rate = a["rate_with"] or 0.0
        tip = (
            f"{label}: {a['advanced_with']}/{a['deals_with']} advanced with it "
            f"({_pct(a['rate_with'])}, 95% CI {_pct(a['rate_with_low'])}–"
            f"{_pct(a['rate_with_high'])}), {a['advanced_without']}/{a['deals_without']} "
            f"without ({_pct(a['rate_without'])}); lift {_lift(a['lift'])}"
        )
        body.append(_rect(bar_x, y + 4, max(axis_w * rate, 1.0), 12, LIGHT_BLUE, tip))
        lo, hi = a["rate_with_low"] or 0.0, a["rate_with_high"] or 0.0
        body.append(
            f'<line x1="{bar_x + axis_w * lo:.1f}" y1="{y + 10:.1f}" '
            f'x2="{bar_x + axis_w * hi:.1f}" y2="{y + 10:.1f}" stroke="{BLUE}" stroke-width="2"/>'
        )
        if a["rate_without"] is not None:
            x = bar_x + axis_w * a["rate_without"]
            body.append(
                f'<line x1="{x:.1f}" y1="{y + 1:.1f}" x2="{x:.1f}" y2="{y + 19:.1f}" '
                f'stroke="{INK}" stroke-width="3"><title>{_e(tip)}</title></line>'
            )
        body.append(
            _text(
                bar_x + axis_w + 8,
                y + 15,
                f"{_lift(a['lift'])} · {a['deals_with']:,} deals",
            )
        )
    name = title(section) if section else "What moves deals forward"
    return _svg("actions", name, rows_end + 42, body)


def actions_plot(ax: Any, report: Mapping[str, Any]) -> None:
    """The same chart drawn with matplotlib, for ``salesstages plot``: the same legend,
    round ticks and axis title."""
    section = report.get("actions")
    items = list(_top(section)) if section else []
    ax.set_title(title(section) if section else "What moves deals forward")
    ticks = nice_ticks(1.0)
    ax.set_xticks(ticks, [tick_label(t, ticks, "share") for t in ticks])
    ax.set_xlim(0.0, 1.25)  # room on the right for the lifts
    ax.set_xlabel(AXES["actions"][0])
    bar, whisker, tick = _LEGEND
    if not items:
        note = "No activities recorded" if section is not None else "Not computed on this engine"
        ax.text(0.5, 0.5, note, ha="center", transform=ax.transAxes)
    ys = list(range(len(items)))[::-1]
    rates = [a["rate_with"] or 0.0 for _, a in items]
    ax.barh(ys, rates, height=0.6, color=bar[1], label=bar[0])
    for y, (_, a) in zip(ys, items, strict=True):
        lo, hi = a["rate_with_low"], a["rate_with_high"]
        if lo is not None and hi is not None:
            ax.plot([lo, hi], [y, y], color=whisker[1], linewidth=2)
    ax.plot([], [], color=whisker[1], linewidth=2, label=whisker[0])
    without = [
        (y, a["rate_without"])
        for y, (_, a) in zip(ys, items, strict=True)
        if a["rate_without"] is not None
    ]
    ax.scatter(
        [x for _, x in without],
        [y for y, _ in without],
        marker="|",
        s=200,
        linewidths=3,
        color=tick[1],
        label=tick[0],
        zorder=3,
    )
    ax.set_yticks(ys, [f"{s['label']} · {a['activity']}" for s, a in items], fontsize=8)
    for y, (_, a) in zip(ys, items, strict=True):
        ax.text(1.02, y, f"{_lift(a['lift'])} · {a['deals_with']:,}", va="center", fontsize=8)
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(label) for label, _, _ in _LEGEND if label in names]
    ax.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncols=3,
        fontsize=8,
        markerscale=0.6,
    )
