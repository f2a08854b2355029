"""The report's charts as PNG or SVG files, drawn with matplotlib (``salesstages[plot]``).

Used by ``salesstages plot``; the HTML report does not need it (its charts are
inline SVG built in pure Python). matplotlib is imported only when a chart is
drawn, and a missing install raises an :class:`ImportError` that names
``pip install 'salesstages[plot]'``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from importlib import import_module
from pathlib import Path
from typing import Any, Final

from ._actions import actions_plot
from ._html import _SERIES, _money
from ._render import _segment_name

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


def _funnel(ax: Any, report: Mapping[str, Any]) -> None:
    rows = report["funnel"]["rows"]
    labels = [r["label"] for r in rows]
    values = [r["reached"] for r in rows]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, values, color="#2563eb")
    ax.set_yticks(ys, labels)
    for y, r in zip(ys, rows, strict=True):
        rate = r["conversion_rate"]
        note = f"{r['reached']:,}" + ("" if rate is None else f"  → {rate:.0%}")
        ax.text(r["reached"], y, " " + note, va="center", fontsize=8)
    ax.set_xlabel("deals reaching the stage (→ conversion to the next)")
    ax.set_title("Funnel")


def _time_in_stage(ax: Any, report: Mapping[str, Any]) -> None:
    rows = list(report["time_in_stage"])
    rows += [{**r, "label": f"{r['label']} / {r['substate']}"} for r in report["time_in_substate"]]
    ys = list(range(len(rows)))[::-1]
    ax.barh(ys, [r["p90_days"] or 0 for r in rows], color="#93c5fd", label="90th percentile")
    ax.barh(ys, [r["median_days"] or 0 for r in rows], color="#2563eb", label="median")
    ax.set_yticks(ys, [r["label"] for r in rows])
    ax.set_xlabel("days")
    ax.legend(loc="lower right")
    ax.set_title("Time in stage")


def _win_rate(ax: Any, report: Mapping[str, Any]) -> None:
    if report.get("segments"):
        pairs = [(_segment_name(s["value"]), s["win_rate"]["rate"]) for s in report["segments"]]
        title = f"Win rate by {report['by']}"
    else:
        pairs = [(r["label"], r["win_rate"]) for r in report["funnel"]["rows"]]
        title = "Win rate of deals that reached each stage"
    ys = list(range(len(pairs)))[::-1]
    ax.barh(ys, [100 * (p or 0) for _, p in pairs], color="#16a34a")
    ax.set_yticks(ys, [name for name, _ in pairs])
    overall = report["win_rate"]["deals"]["rate"]
    if overall is not None:
        ax.axvline(100 * overall, color="#1f2937", linestyle="--", label="overall")
        ax.legend(loc="lower right")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% won of closed deals")
    ax.set_title(title)


def _survival(ax: Any, report: Mapping[str, Any]) -> None:
    curve = report["time_to_close"]["curve"]
    xs = [0.0, *(p["days"] for p in curve)]
    ax.step(xs, [1.0, *(p["survival"] for p in curve)], where="post", color="#2563eb")
    ax.fill_between(
        xs,
        [1.0, *(p["lower"] for p in curve)],
        [1.0, *(p["upper"] for p in curve)],
        step="post",
        color="#bfdbfe",
        alpha=0.7,
    )
    median = report["time_to_close"]["median_days"]
    if median is not None:
        ax.axvline(median, color="#dc2626", linestyle="--", label=f"median {median:.1f} d")
        ax.legend()
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("days since the deal was opened")
    ax.set_ylabel("share of deals still open")
    ax.set_title("Time to close (Kaplan–Meier)")


def _backtest(ax: Any, report: Mapping[str, Any]) -> None:
    bt = report["backtest"]
    ax.set_title("Forecast backtest")
    if bt is None:
        ax.text(0.5, 0.5, "Not enough history for a backtest", ha="center", transform=ax.transAxes)
        return
    methods = [e["method"] for e in bt["errors"]]
    series = ["actual", *methods]
    rows = bt["rows"]
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        values = [r["actual"] if name == "actual" else r["forecasts"][name] for r in rows]
        xs = [j + i * width for j in range(len(rows))]
        label = "actually won" if name == "actual" else name
        ax.bar(xs, values, width, label=label, color=_SERIES[i % len(_SERIES)])
    ax.set_xticks(
        [j + 0.4 - width / 2 for j in range(len(rows))], [r["at"][:10] for r in rows], fontsize=8
    )
    ax.yaxis.set_major_formatter(lambda value, _pos: _money(value))
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


def save_charts(
    report: Mapping[str, Any], folder: str | os.PathLike[str], *, fmt: str = "png"
) -> list[Path]:
    """Draw each chart of ``report`` into ``folder`` (created when missing) as
    ``<chart>.<fmt>``; return the paths written."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    figure = _figure_class()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, draw in CHARTS.items():
        fig = figure(figsize=(8, 4.5), layout="constrained")
        draw(fig.add_subplot(), report)
        path = out / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=120)
        paths.append(path)
    return paths
