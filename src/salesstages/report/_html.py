"""The report as one self-contained HTML file with inline SVG charts.

Pure Python: every chart is an ``<svg>`` built here from the report dict (see
:mod:`salesstages.report`), styles are inline, nothing is fetched from the
network. A few lines of inline script only mark, on ``<body>``, how many
charts the browser drew (``data-charts-drawn``), which the browser test reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any, Final

from ._actions import actions_svg
from ._actions import title as actions_title
from ._quality import amount_win_rate_row, imputed_note, quality_html, stalled_note
from ._render import (
    FUNNEL_NOTE,
    _d,
    _hindsight_lines,
    _no_amount,
    _no_amount_lines,
    _num,
    _pct,
    _segment_name,
    _stalled_rule,
    _when,
)
from ._style import (
    ACTUAL,
    AXES,
    BAND,
    BLUE,
    GREEN,
    GRID,
    INK,
    LIGHT_BLUE,
    MUTED,
    RED,
    method_colour,
    method_name,
    nice_ticks,
    segment_colours,
    stage_labels,
    tick_label,
)

__all__ = ["CHARTS", "PERIOD_CHARTS", "render_html"]

#: The charts of a full report, by their ``data-chart`` name, in page order.
CHARTS: Final = ("funnel", "time-in-stage", "win-rate", "time-to-close", "backtest", "actions")
#: The period view's charts (``period=``), drawn first; ``coverage`` only with a target.
PERIOD_CHARTS: Final = ("coverage", "movement")

_W: Final = 760  # chart width in SVG units
_FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_INK: Final = INK
_MUTED: Final = MUTED
_GRID: Final = GRID
_BLUE: Final = BLUE
_LIGHT_BLUE: Final = LIGHT_BLUE
_BAND: Final = BAND
_GREEN: Final = GREEN
_RED: Final = RED


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _text(
    x: float,
    y: float,
    body: str,
    *,
    anchor: str = "start",
    size: int = 12,
    fill: str = _INK,
    weight: str = "normal",
    halo: bool = False,
) -> str:
    ring = ' stroke="#fff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}" font-weight="{weight}"{ring}>{_e(body)}</text>'
    )


def _rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    title = f"<title>{_e(tip)}</title>" if tip else ""
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0.0):.1f}" height="{h:.1f}" '
        f'fill="{fill}" rx="2">{title}</rect>'
    )


def _svg(name: str, label: str, height: float, body: Sequence[str]) -> str:
    return (
        f'<svg class="chart" data-chart="{name}" role="img" aria-label="{_e(label)}" '
        f'viewBox="0 0 {_W} {height:.0f}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="{_e(_FONT)}">'
        f"<title>{_e(label)}</title>" + "".join(body) + "</svg>"
    )


def _money(x: float) -> str:
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2g}M" if abs(x) < 1e7 else f"{x / 1e6:,.0f}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:,.0f}k"
    return f"{x:,.0f}"


def _legend(x: float, y: float, items: Sequence[tuple[str, str, str]]) -> str:
    """A one-line legend from ``(label, colour, mark)``, mark ``box``, ``line``,
    ``dash`` or ``tick`` (a short upright bar); each entry as wide as its label needs."""
    parts: list[str] = []
    for label, colour, mark in items:
        if mark == "box":
            parts.append(_rect(x, y - 9, 12, 10, colour))
        elif mark == "tick":
            parts.append(
                f'<line x1="{x + 6:.1f}" y1="{y - 11:.1f}" x2="{x + 6:.1f}" y2="{y + 2:.1f}" '
                f'stroke="{colour}" stroke-width="3"/>'
            )
        else:
            dash = ' stroke-dasharray="4 3"' if mark == "dash" else ""
            parts.append(
                f'<line x1="{x:.1f}" y1="{y - 4:.1f}" x2="{x + 14:.1f}" y2="{y - 4:.1f}" '
                f'stroke="{colour}" stroke-width="2"{dash}/>'
            )
        parts.append(_text(x + 17, y, label, size=11, fill=_INK))
        x += 17 + 6.2 * len(label) + 18
    return '<g class="legend">' + "".join(parts) + "</g>"


def _axis_title(x: float, y: float, body: str, *, vertical: bool = False) -> str:
    """An axis title: centred under an x axis, or turned up beside a y axis."""
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if vertical else ""
    return (
        f'<text class="axis-label" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" '
        f'font-size="11" fill="{_MUTED}"{turn}>{_e(body)}</text>'
    )


def _x_grid(
    bar_x: float, axis_w: float, ticks: list[float], top: float, y1: float, y2: float, kind: Any
) -> list[str]:
    """Vertical grid lines at ``ticks`` (scaled to ``top``) with their labels below."""
    out: list[str] = []
    for t in ticks:
        x = bar_x + axis_w * t / top
        out.append(
            f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}" stroke="{_GRID}"/>'
        )
        out.append(
            _text(x, y2 + 14, tick_label(t, ticks, kind), anchor="middle", size=10, fill=_MUTED)
        )
    return out


# --------------------------------------------------------------------- charts
def funnel_chart(report: Mapping[str, Any]) -> str:
    """Horizontal bars of deals reaching each stage, conversion rates between them."""
    rows = report["funnel"]["rows"]
    won = 0.0
    if rows and rows[-1]["conversion_rate"] is not None:
        won = rows[-1]["reached"] * rows[-1]["conversion_rate"]
    bars = [(r["label"], float(r["reached"]), _BLUE) for r in rows]
    bars.append(("Won", round(won), _GREEN))
    top = max((b[1] for b in bars), default=0.0) or 1.0
    label_w, bar_x, bar_h, gap = 200, 210, 26, 22
    body: list[str] = [
        _legend(bar_x, 14, [(AXES["funnel"][0], _BLUE, "box"), ("won", _GREEN, "box")])
    ]
    y = 26.0
    for i, (label, value, colour) in enumerate(bars):
        w = (_W - bar_x - 80) * value / top
        body.append(_text(label_w, y + 17, label, anchor="end"))
        body.append(_rect(bar_x, y, max(w, 1.0), bar_h, colour, f"{label}: {value:,.0f} deals"))
        body.append(_text(bar_x + max(w, 1.0) + 6, y + 17, f"{value:,.0f}", weight="bold"))
        if i < len(rows):
            rate = rows[i]["conversion_rate"]
            body.append(
                _text(bar_x + 8, y + bar_h + 15, f"↓ {_pct(rate)} convert", size=11, fill=_MUTED)
            )
        y += bar_h + gap
    return _svg("funnel", "Funnel: deals reaching each stage", y, body)


def time_in_stage_chart(report: Mapping[str, Any]) -> str:
    """Median (dark) and p90 (light) time per stage and sub-state, in days."""
    items: list[tuple[str, float | None, float | None, int, bool]] = []
    subs: dict[str, list[Mapping[str, Any]]] = {}
    for r in report["time_in_substate"]:
        subs.setdefault(r["stage"], []).append(r)
    for r in report["time_in_stage"]:
        items.append((r["label"], r["median_days"], r["p90_days"], r["count"], False))
        for s in subs.get(r["stage"], []):
            items.append((f"↳ {s['substate']}", s["median_days"], s["p90_days"], s["count"], True))
    ticks = nice_ticks(max((p or m or 0.0 for _, m, p, _, _ in items), default=0.0))
    top = ticks[-1]
    label_w, bar_x, axis_w = 200, 210, _W - 210 - 90
    row_h = 24
    y0 = 26.0
    body: list[str] = [
        _legend(bar_x, 14, [("median", _BLUE, "box"), ("90th percentile", _LIGHT_BLUE, "box")])
    ]
    rows_end = y0 + row_h * len(items)
    body += _x_grid(bar_x, axis_w, ticks, top, y0 - 4, rows_end + 4, "days")
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, AXES["time-in-stage"][0]))
    for i, (label, median, p90, count, sub) in enumerate(items):
        y = y0 + i * row_h
        h = 12 if sub else 16
        body.append(
            _text(
                label_w,
                y + 13,
                label,
                anchor="end",
                size=11 if sub else 12,
                fill=_MUTED if sub else _INK,
            )
        )
        if p90 is not None:
            body.append(
                _rect(bar_x, y + 1, axis_w * p90 / top, h, _LIGHT_BLUE, f"{label}: p90 {_d(p90)}")
            )
        if median is not None:
            body.append(
                _rect(
                    bar_x,
                    y + 1,
                    max(axis_w * median / top, 1.0),
                    h,
                    _BLUE,
                    f"{label}: median {_d(median)}",
                )
            )
        end = axis_w * (p90 or median or 0.0) / top
        note = f"{_d(median)} / {_d(p90)}" if count else "no completed visit"
        body.append(_text(bar_x + end + 6, y + 13, note, size=10, fill=_MUTED))
    return _svg("time-in-stage", "Time in stage: median and 90th percentile", rows_end + 42, body)


def win_rate_chart(report: Mapping[str, Any]) -> str:
    """Win rate per segment (``--by``, each in its segment's colour), or per stage reached."""
    bars: list[tuple[str, float | None, str, str]] = []
    legend: list[tuple[str, str, str]] = []
    if report.get("segments"):
        title = f"Win rate by {report['by']}"
        names = [_segment_name(s["value"]) for s in report["segments"]]
        colours = segment_colours(names)
        for name, s in zip(names, report["segments"], strict=True):
            r = s["win_rate"]
            note = f"{_pct(r['rate'])} ({_num(r['numerator'])}/{_num(r['denominator'])})"
            bars.append((name, r["rate"], note, colours[name]))
            legend.append((name, colours[name], "box"))
    else:
        title = "Win rate of deals that reached each stage"
        for row in report["funnel"]["rows"]:
            bars.append((row["label"], row["win_rate"], _pct(row["win_rate"]), _GREEN))
        legend.append(("win rate of the deals that reached the stage", _GREEN, "box"))
    overall = report["win_rate"]["deals"]["rate"]
    if overall is not None:
        legend.append((f"overall {_pct(overall)}", _INK, "dash"))
    label_w, bar_x, axis_w, row_h = 200, 210, _W - 210 - 120, 26
    y0 = 28.0
    rows_end = y0 + row_h * len(bars)
    ticks = nice_ticks(1.0)
    body: list[str] = [_legend(bar_x, 14, legend)]
    body += _x_grid(bar_x, axis_w, ticks, 1.0, y0 - 2, rows_end + 4, "share")
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, AXES["win-rate"][0]))
    if overall is not None:  # under the bars and their labels
        x = bar_x + axis_w * overall
        body.append(
            f'<line x1="{x:.1f}" y1="{y0 - 4:.1f}" x2="{x:.1f}" y2="{rows_end + 4:.1f}" '
            f'stroke="{_INK}" stroke-dasharray="4 3"/>'
        )
    for i, (label, rate, note, colour) in enumerate(bars):
        y = y0 + i * row_h
        body.append(_text(label_w, y + 14, label, anchor="end"))
        w = axis_w * (rate or 0.0)
        body.append(_rect(bar_x, y + 2, max(w, 1.0), 16, colour, f"{label}: {note}"))
        body.append(_text(bar_x + max(w, 1.0) + 6, y + 14, note, size=11, halo=True))
    return _svg("win-rate", title, rows_end + 42, body)


def survival_chart(report: Mapping[str, Any]) -> str:
    """The Kaplan–Meier curve of opened → closed, with its confidence band."""
    ttc = report["time_to_close"]
    curve = ttc["curve"]
    x0, y0, pw, ph = 76.0, 30.0, _W - 100.0, 220.0
    xticks = nice_ticks(max((pt["days"] for pt in curve), default=1.0))
    top = xticks[-1]
    yticks = nice_ticks(1.0)

    def px(days: float) -> float:
        return x0 + pw * days / top

    def py(s: float) -> float:
        return y0 + ph * (1.0 - s)

    legend = [
        ("share still open", _BLUE, "line"),
        (f"{ttc['level']:.0%} confidence band", _BAND, "box"),
        ("half closed", _MUTED, "dash"),
    ]
    if ttc["median_days"] is not None:
        legend.append(("median time to close", _RED, "dash"))
    body: list[str] = [_legend(x0, 14, legend)]
    for s in yticks:
        y = py(s)
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="{_GRID}"/>')
        body.append(
            _text(x0 - 6, y + 4, tick_label(s, yticks, "share"), anchor="end", size=10, fill=_MUTED)
        )
    for d in xticks:
        body.append(
            _text(
                px(d),
                y0 + ph + 16,
                tick_label(d, xticks, "days"),
                anchor="middle",
                size=10,
                fill=_MUTED,
            )
        )
    line = [(0.0, 1.0)]
    upper = [(0.0, 1.0)]
    lower = [(0.0, 1.0)]
    prev, prev_hi, prev_lo = 1.0, 1.0, 1.0
    for pt in curve:
        line += [(pt["days"], prev), (pt["days"], pt["survival"])]
        upper += [(pt["days"], prev_hi), (pt["days"], pt["upper"])]
        lower += [(pt["days"], prev_lo), (pt["days"], pt["lower"])]
        prev, prev_hi, prev_lo = pt["survival"], pt["upper"], pt["lower"]
    if curve:
        band = upper + lower[::-1]
        body.append(
            f'<polygon fill="{_BAND}" opacity="0.7" points="'
            + " ".join(f"{px(d):.1f},{py(s):.1f}" for d, s in band)
            + '"/>'
        )
    body.append(
        f'<polyline fill="none" stroke="{_BLUE}" stroke-width="2" points="'
        + " ".join(f"{px(d):.1f},{py(s):.1f}" for d, s in line)
        + '"/>'
    )
    body.append(
        f'<line x1="{x0}" y1="{py(0.5):.1f}" x2="{x0 + pw}" y2="{py(0.5):.1f}" '
        f'stroke="{_MUTED}" stroke-dasharray="4 3"/>'
    )
    median = ttc["median_days"]
    if median is not None:
        body.append(
            f'<line x1="{px(median):.1f}" y1="{y0}" x2="{px(median):.1f}" y2="{y0 + ph}" '
            f'stroke="{_RED}" stroke-dasharray="4 3"/>'
        )
        body.append(_text(px(median) + 4, y0 + 12, f"median {_d(median)}", size=11, fill=_RED))
    x_title, y_title = AXES["time-to-close"]
    body.append(_axis_title(x0 + pw / 2, y0 + ph + 34, x_title))
    body.append(_axis_title(20, y0 + ph / 2, y_title, vertical=True))
    return _svg("time-to-close", "Time to close: share of deals still open", y0 + ph + 42, body)


def backtest_chart(report: Mapping[str, Any]) -> str:
    """Grouped bars per backtest date: what was won, and each method's forecast."""
    bt = report["backtest"]
    x0, y0, pw, ph = 76.0, 30.0, _W - 96.0, 200.0
    body: list[str] = []
    if bt is None:
        body.append(_rect(x0, y0, pw, ph, "#f9fafb"))
        body.append(
            _text(
                x0 + pw / 2,
                y0 + ph / 2,
                "Not enough history for a backtest",
                anchor="middle",
                fill=_MUTED,
            )
        )
        return _svg("backtest", "Forecast backtest", y0 + ph + 20, body)
    methods = [e["method"] for e in bt["errors"]]
    series = [ACTUAL, *methods]
    rows = bt["rows"]
    ticks = nice_ticks(
        max(
            (
                max([r["actual"], *(v for v in r["forecasts"].values() if v is not None)])
                for r in rows
            ),
            default=1.0,
        )
    )
    top = ticks[-1]
    body.append(_legend(x0, 16, [(method_name(n), method_colour(n), "box") for n in series]))
    for t in ticks:
        y = y0 + ph * (1 - t / top)
        body.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="{_GRID}"/>')
        body.append(
            _text(x0 - 6, y + 4, tick_label(t, ticks, "amount"), anchor="end", size=10, fill=_MUTED)
        )
    x_title, y_title = AXES["backtest"]
    body.append(_axis_title(x0 + pw / 2, y0 + ph + 34, x_title))
    body.append(_axis_title(16, y0 + ph / 2, y_title, vertical=True))
    group = pw / max(1, len(rows))
    bar = min(22.0, group * 0.8 / len(series))
    for j, r in enumerate(rows):
        gx = x0 + j * group + (group - bar * len(series)) / 2
        values = [r["actual"], *(r["forecasts"][m] for m in methods)]
        for i, (name, v) in enumerate(zip(series, values, strict=True)):
            if v is None:  # no estimate: no bar (not a bar of 0)
                continue
            h = ph * v / top
            body.append(
                _rect(
                    gx + i * bar,
                    y0 + ph - h,
                    bar - 2,
                    max(h, 1.0),
                    method_colour(name),
                    f"{r['at'][:10]} {name}: {_money(v)}",
                )
            )
        body.append(
            _text(
                x0 + j * group + group / 2,
                y0 + ph + 16,
                r["at"][:10],
                anchor="middle",
                size=10,
                fill=_MUTED,
            )
        )
    label = f"Forecast backtest: amount won within {_d(bt['horizon_days'])} vs forecasts"
    return _svg("backtest", label, y0 + ph + 42, body)


# ---------------------------------------------------------------------- page
def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    head = "".join(
        f'<th class="{"num" if i >= numeric_from else ""}">{_e(h)}</th>'
        for i, h in enumerate(headers)
    )
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{_e(c)}</td>'
            for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS: Final = "".join(
    (
        f"body{{font-family:{_FONT};color:{_INK};margin:0;background:#f3f4f6}}",
        "main{max-width:1240px;margin:0 auto;padding:24px}",
        "h1{font-size:26px;margin:0 0 4px} h2{font-size:18px;margin:0 0 10px}",
        f".sub{{color:{_MUTED};margin:0 0 18px}}",
        ".kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));",
        "gap:12px;margin-bottom:16px}",
        ".kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0001}",
        f".kpi b{{display:block;font-size:22px}} .kpi span{{color:{_MUTED};font-size:12px}}",
        ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));",
        "gap:16px;align-items:start}",
        ".wide{grid-column:1/-1}",
        ".pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:20px}",
        "@media (max-width:900px){.pair{grid-template-columns:1fr}}",
        "section{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 2px #0001;",
        "min-width:0}",
        "table{border-collapse:collapse;width:100%;font-size:13px;margin:0 0 12px}",
        "th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left}",
        f"th{{color:{_MUTED};font-weight:600}}",
        ".num{text-align:right;font-variant-numeric:tabular-nums}",
        f".note{{color:{_MUTED};font-size:12px}} svg.chart{{display:block;max-width:100%}}",
        f"details.more summary{{color:{BLUE};cursor:pointer;font-size:13px;margin:0 0 8px}}",
        f"footer{{color:{_MUTED};font-size:12px;text-align:center;padding:12px}}",
    )
)

_CHECK_SCRIPT: Final = """<script>
(function(){var n=0,s=document.querySelectorAll('svg.chart');
s.forEach(function(c){var b=c.getBBox();
if(b.width>0&&b.height>0&&c.querySelectorAll('rect,polyline,polygon,line').length>0){n++;}});
document.body.setAttribute('data-charts-drawn',String(n));
document.body.setAttribute('data-charts-total',String(s.length));
function drawn(q){var k=0;document.querySelectorAll(q).forEach(function(e){
var b=e.getBBox();if(b.width>0&&b.height>0){k++;}});return String(k);}
document.body.setAttribute('data-legends-drawn',drawn('svg.chart g.legend'));
document.body.setAttribute('data-axis-labels-drawn',drawn('svg.chart text.axis-label'));})();
</script>"""


#: How many stalled deals the page shows before a "show the others" fold.
STALLED_SHOWN: Final = 20


def _stalled_table(report: Mapping[str, Any]) -> str:
    """The stalled deals, longest idle first, by stage label: the first
    :data:`STALLED_SHOWN` in a table, every other one behind a fold that opens
    in the page."""
    labels = stage_labels(report)
    rows = [
        [s["deal_id"], labels.get(s["stage"], s["stage"]), _d(s["idle_days"])]
        for s in report["stalled"]
    ]
    headers = ["deal", "stage", "idle"]
    html = _table(headers, rows[:STALLED_SHOWN], numeric_from=2)
    rest = rows[STALLED_SHOWN:]
    if rest:
        html += (
            f'<details class="more"><summary>Show the other {len(rest):,} stalled deals'
            f"</summary>{_table(headers, rest, numeric_from=2)}</details>"
        )
    return html


def _section(title: str, inner: str, note: str = "", side: str = "") -> str:
    """A card: a chart (or table) with an optional table beside it and a note below."""
    n = f'<p class="note">{_e(note)}</p>' if note else ""
    if side:
        return (
            f'<section class="wide"><h2>{_e(title)}</h2>'
            f'<div class="pair"><div>{inner}</div><div>{side}</div></div>{n}</section>'
        )
    return f"<section><h2>{_e(title)}</h2>{inner}{n}</section>"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one self-contained HTML page."""
    p = report["pipeline"]
    c = report["counts"]
    wr = report["win_rate"]["deals"]
    fc = report["forecast"]
    ttc = report["time_to_close"]
    kpis = [
        (f"{c['open']:,}", "open deals"),
        (_num(sum(r["amount"] for r in report["snapshot"])), "open pipeline amount")
        if not c["open"] or _no_amount(report) < c["open"]
        else ("–", "open pipeline amount: no open deal has one"),
        (_pct(wr["rate"]), f"win rate ({_num(wr['numerator'])} of {_num(wr['denominator'])})"),
        (_d(report["sales_cycle"]["won"]["median_days"]), "median won cycle"),
        (_num(fc["weighted"]), "weighted forecast")
        if not c["open"] or _no_amount(report) < c["open"]
        else ("–", "weighted forecast: no amounts"),
        (f"{len(report['stalled']):,}", "stalled deals")
        if report["stalled"] or stalled_note(report) == "none"
        else ("–", "stalled deals: not measured (no rot_after)"),
    ]
    kpi_html = "".join(
        f'<div class="kpi"><b>{_e(v)}</b><span>{_e(k)}</span></div>' for v, k in kpis
    )
    funnel_table = _table(
        ["stage", "reached", "conversion", "win rate"],
        [
            [
                r["label"],
                f"{r['reached']:,}{imputed_note(r)}",
                _pct(r["conversion_rate"]),
                _pct(r["win_rate"]),
            ]
            for r in report["funnel"]["rows"]
        ],
    )
    tis_table = _table(
        ["stage", "visits", "median", "p90", "open now"],
        [
            [
                r["label"],
                f"{r['count']:,}",
                _d(r["median_days"]),
                _d(r["p90_days"]),
                f"{r['open_count']:,}",
            ]
            for r in report["time_in_stage"]
        ]
        + [
            [
                f"   ↳ {r['substate']}",
                f"{r['count']:,}",
                _d(r["median_days"]),
                _d(r["p90_days"]),
                f"{r['open_count']:,}",
            ]
            for r in report["time_in_substate"]
        ],
    )
    forecast_table = _table(
        ["method", "amount"],
        [
            ["weighted (Σ amount × stage probability)", _num(fc["weighted"])],
            ["Markov (Σ amount × P(win | stage))", _num(fc["markov"])],
            ["stage-conditional (P(win | stage, days in stage))", _num(fc["conditional"])],
            [
                f"stage-conditional, won within {_d(fc['horizon_days'])}",
                _num(fc["conditional_within_horizon"]),
            ],
            *(
                [f"{name}, won within {_d(fc['horizon_days'])}", _num(fc[key])]
                for name, key in (
                    ("weighted", "weighted_within_horizon"),
                    ("Markov", "markov_within_horizon"),
                )
                if key in fc
            ),
            *(
                [
                    f"Markov support: {r['label']}",
                    f"{r['moves']:,} moves"
                    + (" (no estimate)" if r["win_probability"] is None else ""),
                ]
                for r in fc.get("markov_support", [])
            ),
        ],
    )
    bt = report["backtest"]
    bt_table = (
        _table(
            ["method", "bias", "MAE", "RMSE", "MAPE"],
            [
                [e["method"], _num(e["bias"]), _num(e["mae"]), _num(e["rmse"]), _pct(e["mape"])]
                for e in bt["errors"]
            ],
        )
        if bt
        else ""
    )
    reasons = _table(
        ["reason", "deals", "amount"],
        [[r["reason"], f"{r['deals']:,}", _num(r["amount"])] for r in report["lost_reasons"]],
    )
    stalled = _stalled_table(report)
    charts: dict[str, Callable[[Mapping[str, Any]], str]] = {
        "funnel": funnel_chart,
        "time-in-stage": time_in_stage_chart,
        "win-rate": win_rate_chart,
        "time-to-close": survival_chart,
        "backtest": backtest_chart,
        "actions": lambda r: actions_svg(r.get("actions")),
    }
    svg = {name: fn(report) for name, fn in charts.items()}
    if report.get("segments"):
        win_table = _table(
            [str(report["by"]), "won", "closed", "win rate", "won cycle"],
            [
                [
                    _segment_name(g["value"]),
                    _num(g["win_rate"]["numerator"]),
                    _num(g["win_rate"]["denominator"]),
                    _pct(g["win_rate"]["rate"]),
                    _d(g["sales_cycle_won"]["median_days"]),
                ]
                for g in report["segments"]
            ],
        )
    else:
        sc = report["sales_cycle"]
        win_table = _table(
            ["figure", "value"],
            [
                ["win rate (deals)", _pct(wr["rate"])],
                [
                    "win rate (amount)",
                    "n/a (see Data quality)"
                    if amount_win_rate_row(report, "")
                    else _pct(report["win_rate"]["amount"]["rate"]),
                ],
                ["median won cycle", _d(sc["won"]["median_days"])],
                ["median lost cycle", _d(sc["lost"]["median_days"])],
            ],
        )
    ttc_table = _table(
        ["figure", "value"],
        [
            ["deals", f"{ttc['deals']:,}"],
            ["still open (censored)", f"{ttc['censored']:,}"],
            ["median time to close", _d(ttc["median_days"])],
            ["median won cycle", _d(report["sales_cycle"]["won"]["median_days"])],
            ["median lost cycle", _d(report["sales_cycle"]["lost"]["median_days"])],
        ],
    )
    sections = [
        _section(
            "Funnel",
            svg["funnel"],
            f"Skips policy: {report['funnel']['policy']}. "
            f"{FUNNEL_NOTE[0].upper()}{FUNNEL_NOTE[1:]}",
            funnel_table,
        ),
        _section(
            "Time in stage",
            svg["time-in-stage"],
            "Completed visits, in days; visits still under way are counted under “open now”.",
            tis_table,
        ),
        _section(
            "Win rate" + (f" by {report['by']}" if report.get("segments") else ""),
            svg["win-rate"],
            (
                "Won / (won + lost) by the deals' attribute at opening; "
                if report.get("segments")
                else "Won / (won + lost) among the deals that reached each stage; "
            )
            + "open deals are left out. The dashed line is the overall rate.",
            win_table,
        ),
        _section(
            "Time to close",
            svg["time-to-close"],
            f"Kaplan–Meier estimate, opened → closed (won or lost); open deals are censored. "
            f"Band: {ttc['level']:.0%} confidence.",
            ttc_table,
        ),
        _section(
            "Forecast backtest",
            svg["backtest"],
            "As of each date, each method forecast the amount the deals open then would win "
            "within the horizon, from their amounts as of that date; the bars compare it with "
            "what they actually won within the horizon. Best method first."
            + "".join(
                f" {line}"
                for line in _no_amount_lines(report, "the forecasts") + _hindsight_lines(report)
            ),
            bt_table + forecast_table,
        ),
        _section(
            actions_title(report["actions"])
            if report.get("actions")
            else "What moves deals forward",
            svg["actions"],
            "Per stage, the activities with the largest lift: the bar is the share of deals that "
            "advanced after recording it in their first visit (whisker: 95% Wilson interval), the "
            "tick the share of the other deals; a lift is an association, not proof of cause.",
        ),
        _section("Lost reasons", reasons),
        _section(
            f"Stalled deals ({len(report['stalled']):,})",
            stalled,
            _stalled_rule(report)
            if report["stalled"] or stalled_note(report) == "none"
            else stalled_note(report),
        ),
    ]
    from ._period_charts import planning_html  # the period view (issue 14)

    planned, planned_charts = planning_html(report)
    # The period under review first (coverage, movement), its slipping deals with the
    # stalled ones at the end.
    sections = planned[:-1] + sections + planned[-1:]
    title = f"Pipeline report: {p['name']}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head>"
        f'<body data-charts="{len(charts) + planned_charts}"><main>'
        f"<h1>{_e(title)}</h1>"
        f'<p class="sub">As of {_e(_when(report["as_of"]))} · {c["deals"]:,} deals '
        f"({c['won']:,} won, {c['lost']:,} lost, {c['open']:,} open) "
        f"from {c['events']:,} events</p>"
        f'<div class="kpis">{kpi_html}</div>'
        f"{quality_html(report)}"
        f'<div class="grid">{"".join(sections)}</div>'
        f"<footer>{_e(report['generator'])} · {_e(report['schema'])}</footer>"
        f"</main>{_CHECK_SCRIPT}</body></html>\n"
    )
