"""The report's charts as PNG or SVG files, drawn with matplotlib (``salesstages[plot]``).

Used by ``salesstages plot``; the HTML report does not need it (its charts are
inline SVG built in pure Python, :mod:`._svg`). Each chart kind is drawn the same
way as there, from the same :class:`~._model.Chart`: the same colours, round
ticks, axis titles and legends. matplotlib is imported only when a chart is
drawn, and a missing install raises an :class:`ImportError` that names
``pip install 'salesstages[plot]'``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, Final

from .._files import atomic_path
from ._format import fmt
from ._model import Cell, Chart, ChartKind, Report, chart_records
from ._style import (
    BAND,
    BLUE,
    COVERAGE_KEYS,
    GREEN,
    INK,
    LIGHT_BLUE,
    MOVEMENT_KEYS,
    MUTED,
    RED,
    method_colour,
    nice_ticks,
    segment_colours,
    tick_label,
)
from ._svg import signed, waterfall_bars

__all__ = ["FORMATS", "save_charts"]

FORMATS: Final = ("png", "svg")
_MARK_COLOURS: Final = {"ink": INK, "muted": MUTED, "red": RED}
Row = dict[str, Cell]


def _figure_class() -> Any:
    try:
        return import_module("matplotlib.figure").Figure
    except ImportError as exc:
        raise ImportError(
            "drawing charts needs matplotlib, which is not installed; install it with "
            "pip install 'salesstages[plot]' (the HTML report needs nothing extra)"
        ) from exc


def _num(x: Cell) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def _x_ticks(ax: Any, ticks: list[float], kind: Any, *, room: float = 1.0) -> None:
    """The shared round ticks and labels on the x axis; ``room`` > 1 leaves space on
    the right for the labels written after the bars."""
    ax.set_xticks(ticks, [tick_label(t, ticks, kind) for t in ticks])
    ax.set_xlim(ticks[0], ticks[-1] * room)


def _y_ticks(ax: Any, ticks: list[float], kind: Any) -> None:
    ax.set_yticks(ticks, [tick_label(t, ticks, kind) for t in ticks])
    ax.set_ylim(ticks[0], ticks[-1])


def _funnel(ax: Any, chart: Chart, rows: list[Row]) -> None:
    value, rate = chart.values[0], chart.values[1]
    labels = [str(r[chart.label]) for r in rows]
    values = [_num(r[value]) for r in rows]
    ys = list(range(len(values)))[::-1]
    ax.barh(ys[:-1], values[:-1], color=BLUE, label=chart.legend[0])
    ax.barh(ys[-1:], values[-1:], color=GREEN, label=chart.legend[1])
    ax.set_yticks(ys, labels)
    for i, (y, v) in enumerate(zip(ys, values, strict=True)):
        last = i == len(rows) - 1
        note = f"{v:,.0f}" + ("" if last else f"  ↓ {fmt(rows[i][rate], 'rate')} convert")
        ax.text(v, y, " " + note, va="center", fontsize=8, color=INK)
    _x_ticks(ax, nice_ticks(max(values, default=0.0)), chart.unit, room=1.35)
    ax.set_xlabel(chart.axes[0])
    ax.legend(loc="lower right", fontsize=8)


def _bars(ax: Any, chart: Chart, rows: list[Row]) -> None:
    names = [str(r[chart.label]) for r in rows]
    colours = segment_colours(names) if chart.colour_by == "row" else {}
    ys = list(range(len(rows)))[::-1]
    for y, name, r in zip(ys, names, rows, strict=True):
        rate = _num(r[chart.values[0]])
        label = name if chart.colour_by == "row" else None
        ax.barh([y], [rate], color=colours.get(name, GREEN), label=label)
        note = str(r[chart.note]).split(" ")[0] if chart.note else ""
        ax.text(rate, y, f" {note}", va="center", fontsize=8, color=INK)
    if chart.colour_by != "row" and chart.legend and rows:
        ax.barh([], [], color=GREEN, label=chart.legend[0])
    ax.set_yticks(ys, names)
    for m in chart.marks:
        ax.axvline(m.value, color=_MARK_COLOURS[m.colour], linestyle="--", label=m.label)
    _x_ticks(ax, nice_ticks(1.0), chart.unit)
    ax.set_xlabel(chart.axes[0])
    if chart.colour_by == "row" and len(names) > 6:  # many segments: a legend in rows below
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncol=4)
    else:
        ax.legend(loc="lower right", fontsize=8)


def _ranges(ax: Any, chart: Chart, rows: list[Row]) -> None:
    low, high = chart.values[0], chart.values[1]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [_num(r[high]) for r in rows], color=LIGHT_BLUE, label=chart.legend[1])
    ax.barh(ys, [_num(r[low]) for r in rows], color=BLUE, label=chart.legend[0])
    ax.set_yticks(ys, [str(r[chart.label]) for r in rows])
    top = max((_num(r[high]) or _num(r[low]) for r in rows), default=0.0)
    _x_ticks(ax, nice_ticks(top), chart.unit)
    ax.set_xlabel(chart.axes[0])
    ax.legend(loc="lower right", fontsize=8)


def _survival(ax: Any, chart: Chart, rows: list[Row]) -> None:
    s_col, lo_col, hi_col = chart.values[:3]
    xs = [0.0, *(_num(r[chart.label]) for r in rows)]
    ax.step(
        xs, [1.0, *(_num(r[s_col]) for r in rows)], where="post", color=BLUE, label=chart.legend[0]
    )
    ax.fill_between(
        xs,
        [1.0, *(_num(r[lo_col]) for r in rows)],
        [1.0, *(_num(r[hi_col]) for r in rows)],
        step="post",
        color=BAND,
        alpha=0.7,
        label=chart.legend[1],
    )
    for m in chart.marks:
        colour = _MARK_COLOURS[m.colour]
        if m.colour == "red":
            ax.axvline(m.value, color=colour, linestyle="--", label=m.text or m.label)
        else:
            ax.axhline(m.value, color=colour, linestyle="--", linewidth=1, label=m.label)
    _x_ticks(ax, nice_ticks(max(xs)), chart.unit)
    _y_ticks(ax, nice_ticks(1.0), "share")
    ax.set_xlabel(chart.axes[0])
    ax.set_ylabel(chart.axes[1])
    ax.legend(fontsize=8)


def _grouped(ax: Any, chart: Chart, rows: list[Row]) -> None:
    if not rows:
        ax.text(0.5, 0.5, chart.empty, ha="center", transform=ax.transAxes)
        return
    series = chart.values
    names = chart.legend or series
    width = 0.8 / len(series)
    for i, (name, label) in enumerate(zip(series, names, strict=True)):
        xs = [j + i * width for j in range(len(rows))]
        values = [math.nan if r[name] is None else _num(r[name]) for r in rows]  # no bar
        ax.bar(xs, values, width, label=label, color=method_colour(name))
    ax.set_xticks(
        [j + 0.4 - width / 2 for j in range(len(rows))],
        [fmt(r[chart.label], "date") for r in rows],
        fontsize=8,
    )
    top = max((max(_num(r[v]) for v in series) for r in rows), default=1.0)
    _y_ticks(ax, nice_ticks(top), chart.unit)
    ax.set_xlabel(chart.axes[0])
    ax.set_ylabel(chart.axes[1])
    ax.legend(fontsize=8)


def _intervals(ax: Any, chart: Chart, rows: list[Row]) -> None:
    rate, lo_col, hi_col, other = chart.values[:4]
    ticks = nice_ticks(1.0)
    ax.set_xticks(ticks, [tick_label(t, ticks, chart.unit) for t in ticks])
    ax.set_xlim(0.0, 1.25)  # room on the right for the notes
    ax.set_xlabel(chart.axes[0])
    if not rows:
        ax.text(0.5, 0.5, chart.empty, ha="center", transform=ax.transAxes)
    ys = list(range(len(rows)))[::-1]
    bar, whisker, tick = chart.legend
    ax.barh(ys, [_num(r[rate]) for r in rows], height=0.6, color=LIGHT_BLUE, label=bar)
    for y, r in zip(ys, rows, strict=True):
        if r[lo_col] is not None and r[hi_col] is not None:
            ax.plot([_num(r[lo_col]), _num(r[hi_col])], [y, y], color=BLUE, linewidth=2)
    ax.plot([], [], color=BLUE, linewidth=2, label=whisker)
    without = [(y, _num(r[other])) for y, r in zip(ys, rows, strict=True) if r[other] is not None]
    ax.scatter(
        [x for _, x in without],
        [y for y, _ in without],
        marker="|",
        s=200,
        linewidths=3,
        color=INK,
        label=tick,
        zorder=3,
    )
    ax.set_yticks(ys, [str(r[chart.label]) for r in rows], fontsize=8)
    for y, r in zip(ys, rows, strict=True):
        ax.text(1.02, y, str(r[chart.note]) if chart.note else "", va="center", fontsize=8)
    _legend_below(ax, list(chart.legend), -0.12)


def _legend_below(ax: Any, order: list[str], y: float, markerscale: float = 0.6) -> None:
    handles, names = ax.get_legend_handles_labels()
    keep = [names.index(label) for label in order if label in names]
    ax.legend(
        [handles[i] for i in keep],
        [names[i] for i in keep],
        loc="upper center",
        bbox_to_anchor=(0.5, y),
        ncols=3,
        fontsize=8,
        markerscale=markerscale,
    )


def _waterfall(ax: Any, chart: Chart, rows: list[Row]) -> None:
    bars = waterfall_bars(chart, rows)
    xs = list(range(len(bars)))
    ax.bar(
        xs,
        [hi - lo for _, lo, hi, _, _ in bars],
        bottom=[lo for _, lo, _, _, _ in bars],
        color=[MOVEMENT_KEYS[step][1] for _, _, _, step, _ in bars],
    )
    for label, colour in MOVEMENT_KEYS.values():
        ax.bar([0], [0], color=colour, label=label)
    ticks = nice_ticks(
        max((hi for _, _, hi, _, _ in bars), default=0.0),
        min((lo for _, lo, _, _, _ in bars), default=0.0),
    )
    for x, (_, _, hi, step, value) in zip(xs, bars, strict=True):
        ax.text(x, hi, signed(value, step), ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_xticks(xs, [label for label, *_ in bars], fontsize=8)
    _y_ticks(ax, ticks, chart.unit)
    ax.set_xlabel(chart.axes[0])
    ax.set_ylabel(chart.axes[1])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, fontsize=8)


def _bullet(ax: Any, chart: Chart, rows: list[Row]) -> None:
    won_col, open_col, target_col = chart.values[:3]
    ticks = nice_ticks(
        max(
            (max(_num(r[target_col]), _num(r[won_col]) + _num(r[open_col])) for r in rows),
            default=0.0,
        )
    )
    won, opened, target = (COVERAGE_KEYS[k][1] for k in ("won", "open", "target"))
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [_num(r[won_col]) for r in rows], height=0.4, color=won, label=chart.legend[0])
    ax.barh(
        ys,
        [_num(r[open_col]) for r in rows],
        left=[_num(r[won_col]) for r in rows],
        height=0.2,
        color=opened,
        label=chart.legend[1],
    )
    ax.scatter(
        [_num(r[target_col]) for r in rows],
        ys,
        marker="|",
        s=300,
        linewidths=3,
        color=target,
        label=chart.legend[2],
        zorder=3,
    )
    for y, r in zip(ys, rows, strict=True):
        note = str(r[chart.note]) if chart.note else ""
        ax.text(ticks[-1] * 1.02, y, note, va="center", fontsize=9, color=BLUE, weight="bold")
    ax.set_yticks(ys, [str(r[chart.label]) for r in rows])
    ax.set_ylim(-1.0, len(rows))  # thin bars, also for one row alone
    ax.set_xticks(ticks, [tick_label(t, ticks, chart.unit) for t in ticks])
    ax.set_xlim(ticks[0], ticks[-1] * 1.12)
    ax.set_xlabel(f"{chart.axes[0]} (right: {chart.note})")
    _legend_below(ax, list(chart.legend), -0.18, 0.5)


_DRAW: Final[Mapping[ChartKind, Callable[[Any, Chart, list[Row]], None]]] = {
    "funnel": _funnel,
    "bars": _bars,
    "ranges": _ranges,
    "survival": _survival,
    "grouped": _grouped,
    "intervals": _intervals,
    "waterfall": _waterfall,
    "bullet": _bullet,
}


def draw(ax: Any, chart: Chart, rows: list[Row]) -> None:
    """Draw one chart on a matplotlib axes."""
    _DRAW[chart.kind](ax, chart, rows)
    ax.set_title(chart.title)


def save_charts(report: Report, folder: str | os.PathLike[str], *, fmt: str = "png") -> list[Path]:
    """Draw each chart of ``report`` into ``folder`` (created when missing) as
    ``<chart>.<fmt>``, the period view's too when the report has one; return the
    paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    figure = _figure_class()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for section in report.sections:
        chart = section.chart
        if chart is None:
            continue
        fig = figure(figsize=(8, 4.5), layout="constrained")
        draw(fig.add_subplot(), chart, chart_records(chart, section))
        path = out / f"{chart.name}.{fmt}"
        with atomic_path(path) as tmp:  # a chart file appears whole or not at all
            fig.savefig(tmp, format=fmt, dpi=120)
        paths.append(path)
    return paths
