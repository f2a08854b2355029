"""The report's charts as PNG or SVG files, drawn with matplotlib (``salesstages[plot]``).

Used by ``salesstages plot``; the HTML report does not need it (its charts are
inline SVG built in pure Python). matplotlib is imported only when a chart is
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
from ._actions import actions_plot
from ._period_charts import coverage_plot, movement_plot
from ._render import _segment_name
from ._style import (
    ACTUAL,
    AXES,
    BAND,
    BLUE,
    GREEN,
    INK,
    LIGHT_BLUE,
    MUTED,
    RED,
    method_colour,
    method_name,
    nice_ticks,
    segment_colours,
    tick_label,
)

__all__ = ["save_charts"]

FORMATS: Final = ("png", "svg")


def _figure_class() -> Any:
    try:
        return import_module("matplotlib.figure").Figure
    except ImportError as exc:
        raise ImportError(
            "drawing charts needs matplotlib, which is not installed; install it with "
            "pip install 'salesstages[plot]' (the HTML report needs nothing extra)"
        ) from exc


def _x_ticks(ax: Any, ticks: list[float], kind: Any, *, room: float = 1.0) -> None:
    """The shared round ticks and labels on the x axis; ``room`` > 1 leaves space on
    the right for the labels written after the bars."""
    ax.set_xticks(ticks, [tick_label(t, ticks, kind) for t in ticks])
    ax.set_xlim(ticks[0], ticks[-1] * room)


def _y_ticks(ax: Any, ticks: list[float], kind: Any) -> None:
    ax.set_yticks(ticks, [tick_label(t, ticks, kind) for t in ticks])
    ax.set_ylim(ticks[0], ticks[-1])


def _funnel(ax: Any, report: Mapping[str, Any]) -> None:
    rows = report["funnel"]["rows"]
    won = 0.0
    if rows and rows[-1]["conversion_rate"] is not None:
        won = rows[-1]["reached"] * rows[-1]["conversion_rate"]
    labels = [r["label"] for r in rows] + ["Won"]
    values = [float(r["reached"]) for r in rows] + [float(round(won))]
    colours = [BLUE] * len(rows) + [GREEN]
    ys = list(range(len(values)))[::-1]
    ax.barh(ys[:-1], values[:-1], color=colours[:-1], label=AXES["funnel"][0])
    ax.barh(ys[-1:], values[-1:], color=GREEN, label="won")
    ax.set_yticks(ys, labels)
    for i, (y, value) in enumerate(zip(ys, values, strict=True)):
        rate = rows[i]["conversion_rate"] if i < len(rows) else None
        note = f"{value:,.0f}" + ("" if rate is None else f"  ↓ {rate:.1%} convert")
        ax.text(value, y, " " + note, va="center", fontsize=8, color=INK)
    _x_ticks(ax, nice_ticks(max(values, default=0.0)), "count", room=1.35)
    ax.set_xlabel(AXES["funnel"][0])
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Funnel: deals reaching each stage")


def _time_in_stage(ax: Any, report: Mapping[str, Any]) -> None:
    rows: list[Mapping[str, Any]] = []
    subs: dict[str, list[Mapping[str, Any]]] = {}
    for r in report["time_in_substate"]:
        subs.setdefault(r["stage"], []).append(r)
    for r in report["time_in_stage"]:
        rows.append(r)
        rows += [{**s, "label": f"↳ {s['substate']}"} for s in subs.get(r["stage"], [])]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [r["p90_days"] or 0 for r in rows], color=LIGHT_BLUE, label="90th percentile")
    ax.barh(ys, [r["median_days"] or 0 for r in rows], color=BLUE, label="median")
    ax.set_yticks(ys, [r["label"] for r in rows])
    top = max((r["p90_days"] or r["median_days"] or 0.0 for r in rows), default=0.0)
    _x_ticks(ax, nice_ticks(top), "days")
    ax.set_xlabel(AXES["time-in-stage"][0])
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Time in stage: median and 90th percentile")


def _win_rate(ax: Any, report: Mapping[str, Any]) -> None:
    if report.get("segments"):
        names = [_segment_name(s["value"]) for s in report["segments"]]
        colours = segment_colours(names)
        bars = [
            (name, s["win_rate"]["rate"], colours[name])
            for name, s in zip(names, report["segments"], strict=True)
        ]
        title = f"Win rate by {report['by']}"
    else:
        bars = [(r["label"], r["win_rate"], GREEN) for r in report["funnel"]["rows"]]
        title = "Win rate of deals that reached each stage"
    ys = list(range(len(bars)))[::-1]
    for y, (name, rate, colour) in zip(ys, bars, strict=True):
        label = name if report.get("segments") else None
        ax.barh([y], [rate or 0.0], color=colour, label=label)
        ax.text(
            rate or 0.0,
            y,
            f" {'–' if rate is None else f'{rate:.1%}'}",
            va="center",
            fontsize=8,
            color=INK,
        )
    if not report.get("segments") and bars:
        ax.barh([], [], color=GREEN, label="win rate of the deals that reached the stage")
    ax.set_yticks(ys, [name for name, _, _ in bars])
    overall = report["win_rate"]["deals"]["rate"]
    if overall is not None:
        ax.axvline(overall, color=INK, linestyle="--", label=f"overall {overall:.1%}")
    _x_ticks(ax, nice_ticks(1.0), "share")
    ax.set_xlabel(AXES["win-rate"][0])
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title(title)


def _survival(ax: Any, report: Mapping[str, Any]) -> None:
    ttc = report["time_to_close"]
    curve = ttc["curve"]
    xs = [0.0, *(p["days"] for p in curve)]
    ax.step(
        xs,
        [1.0, *(p["survival"] for p in curve)],
        where="post",
        color=BLUE,
        label="share still open",
    )
    ax.fill_between(
        xs,
        [1.0, *(p["lower"] for p in curve)],
        [1.0, *(p["upper"] for p in curve)],
        step="post",
        color=BAND,
        alpha=0.7,
        label=f"{ttc['level']:.0%} confidence band",
    )
    ax.axhline(0.5, color=MUTED, linestyle="--", linewidth=1, label="half closed")
    median = ttc["median_days"]
    if median is not None:
        ax.axvline(median, color=RED, linestyle="--", label=f"median {median:.1f} d")
    _x_ticks(ax, nice_ticks(max(xs)), "days")
    _y_ticks(ax, nice_ticks(1.0), "share")
    x_title, y_title = AXES["time-to-close"]
    ax.set_xlabel(x_title)
    ax.set_ylabel(y_title)
    ax.legend(fontsize=8)
    ax.set_title("Time to close (Kaplan–Meier)")


def _backtest(ax: Any, report: Mapping[str, Any]) -> None:
    bt = report["backtest"]
    ax.set_title(
        "Forecast backtest"
        if bt is None
        else f"Forecast backtest: amount won within {bt['horizon_days']:g} days"
    )
    if bt is None:
        ax.text(0.5, 0.5, "Not enough history for a backtest", ha="center", transform=ax.transAxes)
        return
    methods = [e["method"] for e in bt["errors"]]
    series = [ACTUAL, *methods]
    rows = bt["rows"]
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        values = [r["actual"] if name == "actual" else r["forecasts"][name] for r in rows]
        values = [math.nan if v is None else v for v in values]  # no estimate: no bar
        xs = [j + i * width for j in range(len(rows))]
        label = method_name(name)
        ax.bar(xs, values, width, label=label, color=method_colour(name))
    ax.set_xticks(
        [j + 0.4 - width / 2 for j in range(len(rows))], [r["at"][:10] for r in rows], fontsize=8
    )
    top = max(
        (max([r["actual"], *(v for v in r["forecasts"].values() if v is not None)]) for r in rows),
        default=1.0,
    )
    _y_ticks(ax, nice_ticks(top), "amount")
    ax.set_xlabel(AXES["backtest"][0])
    ax.set_ylabel(f"amount won within {bt['horizon_days']:g} days")
    ax.legend(fontsize=8)


CHARTS: Final[dict[str, Callable[[Any, Mapping[str, Any]], None]]] = {
    "funnel": _funnel,
    "time-in-stage": _time_in_stage,
    "win-rate": _win_rate,
    "time-to-close": _survival,
    "backtest": _backtest,
    "actions": actions_plot,
}
#: The period view's charts, drawn when the report has one (``--period``); coverage
#: only with a target.
PERIOD_CHARTS: Final[dict[str, Callable[[Any, Mapping[str, Any]], None]]] = {
    "coverage": coverage_plot,
    "movement": movement_plot,
}


def charts_of(report: Mapping[str, Any]) -> dict[str, Callable[[Any, Mapping[str, Any]], None]]:
    """The charts ``report`` has, by file name: :data:`CHARTS`, and the period
    view's when it has one."""
    out = dict(CHARTS)
    planning = report.get("planning")
    if planning:
        out.update(
            (name, draw)
            for name, draw in PERIOD_CHARTS.items()
            if name != "coverage" or planning["coverage"] is not None
        )
    return out


def save_charts(
    report: Mapping[str, Any], folder: str | os.PathLike[str], *, fmt: str = "png"
) -> list[Path]:
    """Draw each chart of ``report`` into ``folder`` (created when missing) as
    ``<chart>.<fmt>``, the period view's too when the report has one; return the
    paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    figure = _figure_class()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, draw in charts_of(report).items():
        fig = figure(figsize=(8, 4.5), layout="constrained")
        draw(fig.add_subplot(), report)
        path = out / f"{name}.{fmt}"
        with atomic_path(path) as tmp:  # a chart file appears whole or not at all
            fig.savefig(tmp, format=fmt, dpi=120)
        paths.append(path)
    return paths
