"""The report's charts as inline SVG, one drawing per chart kind
(:data:`~._model.ChartKind`), for the HTML page.

A drawing reads its rows and the columns its :class:`~._model.Chart` names, and
takes colours, ticks and tick labels from :mod:`._style`; the labels beside the
bars are the chart's ``note`` column, written when the report was built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any, Final

from ._format import fmt, short_money
from ._model import Cell, Chart, ChartKind, Section, chart_records
from ._style import (
    BAND,
    BLUE,
    COVERAGE_KEYS,
    GREEN,
    GRID,
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

__all__ = ["FONT", "WIDTH", "chart_svg"]

WIDTH: Final = 760  # chart width in SVG units
FONT: Final = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_W: Final = WIDTH
_MARK_COLOURS: Final = {"ink": INK, "muted": MUTED, "red": RED}
Row = dict[str, Cell]


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _num(x: Cell) -> float:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else 0.0


def _opt(x: Cell) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _text(
    x: float,
    y: float,
    body: str,
    *,
    anchor: str = "start",
    size: int = 12,
    fill: str = INK,
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
        f'xmlns="http://www.w3.org/2000/svg" font-family="{_e(FONT)}">'
        f"<title>{_e(label)}</title>" + "".join(body) + "</svg>"
    )


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
        parts.append(_text(x + 17, y, label, size=11, fill=INK))
        x += 17 + 6.2 * len(label) + 18
    return '<g class="legend">' + "".join(parts) + "</g>"


def _legend_wrapped(
    x: float, y: float, items: Sequence[tuple[str, str, str]], width: float
) -> tuple[str, float]:
    """:func:`_legend` wrapped onto as many lines as ``width`` needs (one legend group);
    the extra height the lines below the first take."""
    lines: list[list[tuple[str, str, str]]] = [[]]
    used = 0.0
    for item in items:
        w = 17 + 6.2 * len(item[0]) + 18
        if lines[-1] and used + w > width:
            lines.append([])
            used = 0.0
        lines[-1].append(item)
        used += w
    inner = "".join(
        _legend(x, y + 16 * i, line)[len('<g class="legend">') : -len("</g>")]
        for i, line in enumerate(lines)
    )
    return '<g class="legend">' + inner + "</g>", 16.0 * (len(lines) - 1)


def _axis_title(x: float, y: float, body: str, *, vertical: bool = False) -> str:
    """An axis title: centred under an x axis, or turned up beside a y axis."""
    turn = f' transform="rotate(-90 {x:.1f} {y:.1f})"' if vertical else ""
    return (
        f'<text class="axis-label" x="{x:.1f}" y="{y:.1f}" text-anchor="middle" '
        f'font-size="11" fill="{MUTED}"{turn}>{_e(body)}</text>'
    )


def _x_grid(
    bar_x: float, axis_w: float, ticks: list[float], top: float, y1: float, y2: float, kind: Any
) -> list[str]:
    """Vertical grid lines at ``ticks`` (scaled to ``top``) with their labels below."""
    out: list[str] = []
    for t in ticks:
        x = bar_x + axis_w * t / top
        out.append(f'<line x1="{x:.1f}" y1="{y1:.1f}" x2="{x:.1f}" y2="{y2:.1f}" stroke="{GRID}"/>')
        out.append(
            _text(x, y2 + 14, tick_label(t, ticks, kind), anchor="middle", size=10, fill=MUTED)
        )
    return out


def _y_grid(
    x0: float, pw: float, ticks: list[float], py: Callable[[float], float], kind: Any
) -> list[str]:
    out: list[str] = []
    for t in ticks:
        y = py(t)
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x0 + pw}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(
            _text(x0 - 6, y + 4, tick_label(t, ticks, kind), anchor="end", size=10, fill=MUTED)
        )
    return out


def _empty(chart: Chart, y0: float, ph: float, x0: float = 76.0) -> str:
    pw = _W - x0 - 20
    body = [
        _rect(x0, y0, pw, ph, "#f9fafb"),
        _text(x0 + pw / 2, y0 + ph / 2, chart.empty, anchor="middle", fill=MUTED),
    ]
    return _svg(chart.name, chart.title, y0 + ph + 20, body)


# --------------------------------------------------------------------- kinds
def _funnel(chart: Chart, rows: list[Row]) -> str:
    label, value, rate = chart.label, chart.values[0], chart.values[1]
    top = max((_num(r[value]) for r in rows), default=0.0) or 1.0
    label_w, bar_x, bar_h, gap = 200, 210, 26, 22
    legend = [(chart.legend[0], BLUE, "box"), (chart.legend[1], GREEN, "box")]
    body: list[str] = [_legend(bar_x, 14, legend)]
    y = 26.0
    for i, r in enumerate(rows):
        last = i == len(rows) - 1
        v = _num(r[value])
        w = (_W - bar_x - 80) * v / top
        name = str(r[label])
        body.append(_text(label_w, y + 17, name, anchor="end"))
        body.append(
            _rect(bar_x, y, max(w, 1.0), bar_h, GREEN if last else BLUE, f"{name}: {v:,.0f} deals")
        )
        body.append(_text(bar_x + max(w, 1.0) + 6, y + 17, f"{v:,.0f}", weight="bold"))
        if not last:
            note = f"↓ {fmt(r[rate], 'rate')} convert"
            body.append(_text(bar_x + 8, y + bar_h + 15, note, size=11, fill=MUTED))
        y += bar_h + gap
    return _svg(chart.name, chart.title, y, body)


def _bars(chart: Chart, rows: list[Row]) -> str:
    value = chart.values[0]
    names = [str(r[chart.label]) for r in rows]
    colours = segment_colours(names) if chart.colour_by == "row" else {}
    legend = (
        [(n, colours[n], "box") for n in names]
        if chart.colour_by == "row"
        else [(chart.legend[0], GREEN, "box")]
        if chart.legend
        else []
    )
    legend += [(m.label, _MARK_COLOURS[m.colour], "dash") for m in chart.marks]
    label_w, bar_x, axis_w, row_h = 200, 210, _W - 210 - 120, 26
    legend_svg, extra = _legend_wrapped(bar_x, 14, legend, _W - bar_x - 10)
    y0 = 28.0 + extra
    rows_end = y0 + row_h * len(rows)
    ticks = nice_ticks(1.0)
    body: list[str] = [legend_svg]
    body += _x_grid(bar_x, axis_w, ticks, 1.0, y0 - 2, rows_end + 4, chart.unit)
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, chart.axes[0]))
    for m in chart.marks:  # under the bars and their labels
        x = bar_x + axis_w * m.value
        body.append(
            f'<line x1="{x:.1f}" y1="{y0 - 4:.1f}" x2="{x:.1f}" y2="{rows_end + 4:.1f}" '
            f'stroke="{_MARK_COLOURS[m.colour]}" stroke-dasharray="4 3"/>'
        )
    for i, (name, r) in enumerate(zip(names, rows, strict=True)):
        y = y0 + i * row_h
        note = str(r[chart.note]) if chart.note else ""
        body.append(_text(label_w, y + 14, name, anchor="end"))
        w = axis_w * _num(r[value])
        body.append(
            _rect(bar_x, y + 2, max(w, 1.0), 16, colours.get(name, GREEN), f"{name}: {note}")
        )
        body.append(_text(bar_x + max(w, 1.0) + 6, y + 14, note, size=11, halo=True))
    return _svg(chart.name, chart.title, rows_end + 42, body)


def _ranges(chart: Chart, rows: list[Row]) -> str:
    low, high = chart.values[0], chart.values[1]
    ticks = nice_ticks(max((_opt(r[high]) or _opt(r[low]) or 0.0 for r in rows), default=0.0))
    top = ticks[-1]
    label_w, bar_x, axis_w, row_h = 200, 210, _W - 210 - 90, 24
    y0 = 26.0
    body: list[str] = [
        _legend(bar_x, 14, [(chart.legend[0], BLUE, "box"), (chart.legend[1], LIGHT_BLUE, "box")])
    ]
    rows_end = y0 + row_h * len(rows)
    body += _x_grid(bar_x, axis_w, ticks, top, y0 - 4, rows_end + 4, chart.unit)
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, chart.axes[0]))
    for i, r in enumerate(rows):
        y = y0 + i * row_h
        label = str(r[chart.label])
        sub = bool(chart.minor and r[chart.minor])
        h = 12 if sub else 16
        body.append(
            _text(
                label_w,
                y + 13,
                label,
                anchor="end",
                size=11 if sub else 12,
                fill=MUTED if sub else INK,
            )
        )
        lo, hi = _opt(r[low]), _opt(r[high])
        if hi is not None:
            body.append(
                _rect(
                    bar_x,
                    y + 1,
                    axis_w * hi / top,
                    h,
                    LIGHT_BLUE,
                    f"{label}: {chart.legend[1]} {fmt(hi, 'days')}",
                )
            )
        if lo is not None:
            body.append(
                _rect(
                    bar_x,
                    y + 1,
                    max(axis_w * lo / top, 1.0),
                    h,
                    BLUE,
                    f"{label}: {chart.legend[0]} {fmt(lo, 'days')}",
                )
            )
        end = axis_w * (hi or lo or 0.0) / top
        note = str(r[chart.note]) if chart.note else ""
        body.append(_text(bar_x + end + 6, y + 13, note, size=10, fill=MUTED))
    return _svg(chart.name, chart.title, rows_end + 42, body)


def _survival(chart: Chart, rows: list[Row]) -> str:
    x_col, (s_col, lo_col, hi_col) = chart.label, chart.values[:3]
    x0, y0, pw, ph = 76.0, 30.0, _W - 100.0, 220.0
    xticks = nice_ticks(max((_num(r[x_col]) for r in rows), default=1.0))
    top = xticks[-1]
    yticks = nice_ticks(1.0)

    def px(days: float) -> float:
        return x0 + pw * days / top

    def py(s: float) -> float:
        return y0 + ph * (1.0 - s)

    legend = [(chart.legend[0], BLUE, "line"), (chart.legend[1], BAND, "box")]
    legend += [(m.label, _MARK_COLOURS[m.colour], "dash") for m in chart.marks]
    body: list[str] = [_legend(x0, 14, legend)]
    body += _y_grid(x0, pw, yticks, py, "share")
    for d in xticks:
        body.append(
            _text(
                px(d),
                y0 + ph + 16,
                tick_label(d, xticks, chart.unit),
                anchor="middle",
                size=10,
                fill=MUTED,
            )
        )
    line, upper, lower = [(0.0, 1.0)], [(0.0, 1.0)], [(0.0, 1.0)]
    prev, prev_hi, prev_lo = 1.0, 1.0, 1.0
    for r in rows:
        d, s, hi, lo = _num(r[x_col]), _num(r[s_col]), _num(r[hi_col]), _num(r[lo_col])
        line += [(d, prev), (d, s)]
        upper += [(d, prev_hi), (d, hi)]
        lower += [(d, prev_lo), (d, lo)]
        prev, prev_hi, prev_lo = s, hi, lo
    if rows:
        band = upper + lower[::-1]
        body.append(
            f'<polygon fill="{BAND}" opacity="0.7" points="'
            + " ".join(f"{px(d):.1f},{py(s):.1f}" for d, s in band)
            + '"/>'
        )
    body.append(
        f'<polyline fill="none" stroke="{BLUE}" stroke-width="2" points="'
        + " ".join(f"{px(d):.1f},{py(s):.1f}" for d, s in line)
        + '"/>'
    )
    for m in chart.marks:
        colour = _MARK_COLOURS[m.colour]
        if m.colour == "red":  # a time: upright
            x = px(m.value)
            body.append(
                f'<line x1="{x:.1f}" y1="{y0}" x2="{x:.1f}" y2="{y0 + ph}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
            )
            body.append(_text(x + 4, y0 + 12, m.text, size=11, fill=colour))
        else:  # a share: across
            body.append(
                f'<line x1="{x0}" y1="{py(m.value):.1f}" x2="{x0 + pw}" y2="{py(m.value):.1f}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
            )
    x_title, y_title = chart.axes
    body.append(_axis_title(x0 + pw / 2, y0 + ph + 34, x_title))
    body.append(_axis_title(20, y0 + ph / 2, y_title, vertical=True))
    return _svg(chart.name, chart.title, y0 + ph + 42, body)


def _grouped(chart: Chart, rows: list[Row]) -> str:
    x0, y0, pw, ph = 76.0, 30.0, _W - 96.0, 200.0
    if not rows:
        return _empty(chart, y0, ph, x0)
    series = chart.values
    names = chart.legend or series
    ticks = nice_ticks(max((max(_num(r[v]) for v in series) for r in rows), default=1.0))
    top = ticks[-1]
    body: list[str] = [
        _legend(x0, 16, [(n, method_colour(v), "box") for v, n in zip(series, names, strict=True)])
    ]
    body += _y_grid(x0, pw, ticks, lambda t: y0 + ph * (1 - t / top), chart.unit)
    x_title, y_title = chart.axes
    body.append(_axis_title(x0 + pw / 2, y0 + ph + 34, x_title))
    body.append(_axis_title(16, y0 + ph / 2, y_title, vertical=True))
    group = pw / max(1, len(rows))
    bar = min(22.0, group * 0.8 / len(series))
    for j, r in enumerate(rows):
        gx = x0 + j * group + (group - bar * len(series)) / 2
        at = fmt(r[chart.label], "date")
        for i, name in enumerate(series):
            if _opt(r[name]) is None:  # no estimate: no bar (not a bar of 0)
                continue
            v = _num(r[name])
            h = ph * v / top
            body.append(
                _rect(
                    gx + i * bar,
                    y0 + ph - h,
                    bar - 2,
                    max(h, 1.0),
                    method_colour(name),
                    f"{at} {name}: {short_money(v)}",
                )
            )
        body.append(
            _text(
                x0 + j * group + group / 2, y0 + ph + 16, at, anchor="middle", size=10, fill=MUTED
            )
        )
    return _svg(chart.name, chart.title, y0 + ph + 42, body)


def _intervals(chart: Chart, rows: list[Row]) -> str:
    rate, lo_col, hi_col, other = chart.values[:4]
    label_w, bar_x, axis_w, row_h = 250, 260, _W - 260 - 140, 26
    y0 = 30.0
    rows_end = y0 + row_h * max(len(rows), 1)
    ticks = nice_ticks(1.0)
    marks = (LIGHT_BLUE, "box"), (BLUE, "line"), (INK, "tick")
    body: list[str] = [
        _legend(bar_x, 14, [(n, c, m) for n, (c, m) in zip(chart.legend, marks, strict=True)])
    ]
    body += _x_grid(bar_x, axis_w, ticks, 1.0, y0 - 4, rows_end + 4, chart.unit)
    body.append(_axis_title(bar_x + axis_w / 2, rows_end + 34, chart.axes[0]))
    if not rows:
        body.append(_text(bar_x + 8, y0 + 14, chart.empty, fill=MUTED))
    for i, r in enumerate(rows):
        y = y0 + i * row_h
        label = str(r[chart.label])
        note = str(r[chart.note]) if chart.note else ""
        body.append(_text(label_w, y + 15, label, anchor="end"))
        tip = str(r[chart.tip]) if chart.tip else f"{label}: {fmt(r[rate], 'rate')}"
        body.append(_rect(bar_x, y + 4, max(axis_w * _num(r[rate]), 1.0), 12, LIGHT_BLUE, tip))
        body.append(
            f'<line x1="{bar_x + axis_w * _num(r[lo_col]):.1f}" y1="{y + 10:.1f}" '
            f'x2="{bar_x + axis_w * _num(r[hi_col]):.1f}" y2="{y + 10:.1f}" stroke="{BLUE}" '
            'stroke-width="2"/>'
        )
        without = _opt(r[other])
        if without is not None:
            x = bar_x + axis_w * without
            body.append(
                f'<line x1="{x:.1f}" y1="{y + 1:.1f}" x2="{x:.1f}" y2="{y + 19:.1f}" '
                f'stroke="{INK}" stroke-width="3"><title>{_e(tip)}</title></line>'
            )
        body.append(_text(bar_x + axis_w + 8, y + 15, note))
    return _svg(chart.name, chart.title, rows_end + 42, body)


def waterfall_bars(chart: Chart, rows: list[Row]) -> list[tuple[str, float, float, str, float]]:
    """A waterfall's bars, in both renderers: ``(label, low, high, step, value)``, each
    change floating from the level the bars before it reached."""
    level = 0.0
    bars: list[tuple[str, float, float, str, float]] = []
    for r in rows:
        label, value, step = str(r[chart.label]), _num(r[chart.values[0]]), str(r[chart.step or ""])
        if step == "total":
            bars.append((label, min(0.0, value), max(0.0, value), step, value))
            level = value
        else:
            bars.append((label, min(level, level + value), max(level, level + value), step, value))
            level += value
    return bars


def signed(value: float, step: str) -> str:
    """A waterfall bar's label: a level as is, a rise with ``+``, a fall with ``−``."""
    if step == "total":
        return short_money(value)
    return ("+" if value >= 0 else "−") + short_money(abs(value))


def _waterfall(chart: Chart, rows: list[Row]) -> str:
    bars = waterfall_bars(chart, rows)
    ticks = nice_ticks(
        max((b[2] for b in bars), default=0.0), min((b[1] for b in bars), default=0.0)
    )
    low, top = ticks[0], ticks[-1]
    x0, y0, ph = 76.0, 30.0, 220.0
    step_w = (_W - x0 - 10) / max(len(bars), 1)

    def py(v: float) -> float:
        return y0 + ph * (top - v) / (top - low)

    body = [_legend(x0, 14, [(label, colour, "box") for label, colour in MOVEMENT_KEYS.values()])]
    body += _y_grid(x0, _W - 10 - x0, ticks, py, chart.unit)
    body.append(_axis_title(16, y0 + ph / 2, chart.axes[1], vertical=True))
    for i, (label, lo, hi, step, value) in enumerate(bars):
        x = x0 + i * step_w + 6
        w = step_w - 12
        colour = MOVEMENT_KEYS[step][1]
        body.append(
            _rect(x, py(hi), w, max(py(lo) - py(hi), 1.0), colour, f"{label}: {value:,.0f}")
        )
        body.append(_text(x + w / 2, py(hi) - 4, signed(value, step), anchor="middle", size=11))
        body.append(_text(x + w / 2, y0 + ph + 16, label, anchor="middle", size=11, fill=MUTED))
    return _svg(chart.name, chart.title, y0 + ph + 26, body)


def _bullet(chart: Chart, rows: list[Row]) -> str:
    won_col, open_col, target_col = chart.values[:3]
    ticks = nice_ticks(
        max(
            (max(_num(r[target_col]), _num(r[won_col]) + _num(r[open_col])) for r in rows),
            default=0.0,
        )
    )
    top = ticks[-1]
    label_w, x0, bar_h, gap = 120.0, 130.0, 18.0, 14.0
    width = _W - x0 - 80
    scale = width / top
    won, opened, target = (COVERAGE_KEYS[k][1] for k in ("won", "open", "target"))
    body: list[str] = [
        _legend(
            x0,
            14,
            [
                (chart.legend[0], won, "box"),
                (chart.legend[1], opened, "box"),
                (chart.legend[2], target, "tick"),
            ],
        ),
        _text(x0 + width + 36, 40, str(chart.note), anchor="middle", size=10, fill=MUTED),
    ]
    y0 = 50.0
    rows_end = y0 + (bar_h + gap) * len(rows) - gap
    body += _x_grid(x0, width, ticks, top, y0 - 6, rows_end + 6, chart.unit)
    body.append(_axis_title(x0 + width / 2, rows_end + 36, chart.axes[0]))
    y = y0
    for r in rows:
        label = str(r[chart.label])
        w, o, t = _num(r[won_col]), _num(r[open_col]), _num(r[target_col])
        body.append(_rect(x0, y, w * scale, bar_h, won, f"{label}: won {w:,.0f}"))
        body.append(
            _rect(x0 + w * scale, y + 4, o * scale, bar_h - 8, opened, f"{label}: open {o:,.0f}")
        )
        tx = x0 + t * scale
        body.append(
            f'<line x1="{tx:.1f}" y1="{y - 5:.1f}" x2="{tx:.1f}" y2="{y + bar_h + 5:.1f}" '
            f'stroke="{target}" stroke-width="3"><title>{_e(label)}: target {t:,.0f}</title></line>'
        )
        body.append(_text(label_w, y + 13, label, anchor="end"))
        note = str(r[chart.note]) if chart.note else ""
        body.append(_text(x0 + width + 36, y + 13, note, anchor="middle", weight="bold", fill=BLUE))
        y += bar_h + gap
    return _svg(chart.name, chart.title, rows_end + 44, body)


_DRAW: Final[Mapping[ChartKind, Callable[[Chart, list[Row]], str]]] = {
    "funnel": _funnel,
    "bars": _bars,
    "ranges": _ranges,
    "survival": _survival,
    "grouped": _grouped,
    "intervals": _intervals,
    "waterfall": _waterfall,
    "bullet": _bullet,
}


def chart_svg(chart: Chart, section: Section) -> str:
    """The chart of ``section`` as one ``<svg>`` element."""
    return _DRAW[chart.kind](chart, chart_records(chart, section))
