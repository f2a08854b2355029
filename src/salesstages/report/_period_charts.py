"""The period view drawn: the movement waterfall and the coverage bullet chart, as
inline SVG for the HTML report and with matplotlib for ``salesstages plot``, and
the period view's HTML section (:mod:`._period` computes and writes it as text)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ._period import (
    _ADDS,
    _CATEGORY_LABELS,
    MOVEMENT_NOTE,
    SLIPPING_NOTE,
    _coverage_cells,
    _left_out,
    _no_slips,
)
from ._style import (
    AXES,
    BLUE,
    COVERAGE_KEYS,
    GRID,
    INK,
    MOVEMENT_KEYS,
    MUTED,
    nice_ticks,
    tick_label,
)

__all__ = ["bullet_chart", "coverage_plot", "movement_plot", "planning_html", "waterfall_chart"]


_MOVEMENT_LABELS: Final = {
    "opening": "opening",
    "closing": "closing",
    **{line: f"+ {line}" for line in _ADDS},
    **{line: f"− {line}" for line in ("decreased", "won", "lost")},
}


def _waterfall_bars(report: Mapping[str, Any]) -> list[tuple[str, float, float, str, float]]:
    """The waterfall's bars, in both renderers: ``(label, low, high, key, value)``
    with ``key`` one of :data:`~._style.MOVEMENT_KEYS` (total, increase, decrease)."""
    level = 0.0
    bars: list[tuple[str, float, float, str, float]] = []
    for r in report["planning"]["movement"]["rows"]:
        line, amount = r["line"], float(r["amount"])
        label = _MOVEMENT_LABELS.get(line, line)
        if line in ("opening", "closing"):
            bars.append((label, min(0.0, amount), max(0.0, amount), "total", amount))
            level = amount
        elif line in _ADDS:
            bars.append((label, level, level + amount, "increase", amount))
            level += amount
        else:
            bars.append((label, level - amount, level, "decrease", -amount))
            level -= amount
    return bars


def _signed(value: float, key: str, money: Any) -> str:
    """A bar's value label: a level as is, a rise with ``+``, a fall with ``−``."""
    if key == "total":
        return str(money(value))
    return ("+" if value >= 0 else "−") + str(money(abs(value)))


def _movement_title(report: Mapping[str, Any]) -> str:
    mv = report["planning"]["movement"]
    return f"Open pipeline from {mv['start'][:10]} to {mv['end'][:10]}"


def waterfall_chart(report: Mapping[str, Any]) -> str:
    """The movement as a waterfall: opening, each rise and fall floating, closing."""
    from ._html import _W, _axis_title, _legend, _money, _rect, _svg, _text

    bars = _waterfall_bars(report)
    ticks = nice_ticks(
        max((hi for _, _, hi, _, _ in bars), default=0.0),
        min((lo for _, lo, _, _, _ in bars), default=0.0),
    )
    low, top = ticks[0], ticks[-1]
    x0, y0, ph = 76.0, 30.0, 220.0
    step = (_W - x0 - 10) / max(len(bars), 1)

    def py(v: float) -> float:
        return y0 + ph * (top - v) / (top - low)

    body = [_legend(x0, 14, [(label, colour, "box") for label, colour in MOVEMENT_KEYS.values()])]
    for t in ticks:
        body.append(
            f'<line x1="{x0}" y1="{py(t):.1f}" x2="{_W - 10}" y2="{py(t):.1f}" stroke="{GRID}"/>'
        )
        body.append(
            _text(
                x0 - 6, py(t) + 4, tick_label(t, ticks, "amount"), anchor="end", size=10, fill=MUTED
            )
        )
    body.append(_axis_title(16, y0 + ph / 2, AXES["movement"][1], vertical=True))
    for i, (label, lo, hi, key, value) in enumerate(bars):
        x = x0 + i * step + 6
        w = step - 12
        colour = MOVEMENT_KEYS[key][1]
        body.append(
            _rect(x, py(hi), w, max(py(lo) - py(hi), 1.0), colour, f"{label}: {value:,.0f}")
        )
        body.append(
            _text(x + w / 2, py(hi) - 4, _signed(value, key, _money), anchor="middle", size=11)
        )
        body.append(_text(x + w / 2, y0 + ph + 16, label, anchor="middle", size=11, fill=MUTED))
    return _svg("movement", _movement_title(report), y0 + ph + 26, body)


def _coverage_items(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    pl = report["planning"]
    return [("all", pl["coverage"])] + [
        (str(r["segment"]), r) for r in (pl["coverage_by"] or {}).get("rows", [])
    ]


def _coverage_ticks(items: list[tuple[str, Mapping[str, Any]]]) -> list[float]:
    return nice_ticks(
        max((max(c["target"], c["won"] + c["open_amount"]) for _, c in items), default=0.0)
    )


def _ratio(c: Mapping[str, Any]) -> str:
    return "–" if c["coverage"] is None else f"{c['coverage']:.2f}×"


def bullet_chart(report: Mapping[str, Any]) -> str:
    """Coverage as bullet bars: won (green), open pipeline after it (light), the target
    as a dark mark; one bar for the whole period and one per segment with a target."""
    from ._html import _W, _axis_title, _legend, _rect, _svg, _text, _x_grid

    items = _coverage_items(report)
    ticks = _coverage_ticks(items)
    top = ticks[-1]
    label_w, x0, bar_h, gap = 120.0, 130.0, 18.0, 14.0
    width = _W - x0 - 80
    scale = width / top
    won, opened, target = (COVERAGE_KEYS[k] for k in ("won", "open", "target"))
    body: list[str] = [
        _legend(
            x0, 14, [(won[0], won[1], "box"), (opened[0], opened[1], "box"), (*target, "tick")]
        ),
        _text(x0 + width + 36, 40, "coverage", anchor="middle", size=10, fill=MUTED),
    ]
    y0 = 50.0
    rows_end = y0 + (bar_h + gap) * len(items) - gap
    body += _x_grid(x0, width, ticks, top, y0 - 6, rows_end + 6, "amount")
    body.append(_axis_title(x0 + width / 2, rows_end + 36, AXES["coverage"][0]))
    y = y0
    for label, c in items:
        body.append(_rect(x0, y, c["won"] * scale, bar_h, won[1], f"{label}: won {c['won']:,.0f}"))
        body.append(
            _rect(
                x0 + c["won"] * scale,
                y + 4,
                c["open_amount"] * scale,
                bar_h - 8,
                opened[1],
                f"{label}: open {c['open_amount']:,.0f}",
            )
        )
        tx = x0 + c["target"] * scale
        body.append(
            f'<line x1="{tx:.1f}" y1="{y - 5:.1f}" x2="{tx:.1f}" y2="{y + bar_h + 5:.1f}" '
            f'stroke="{target[1]}" stroke-width="3"><title>{label}: target '
            f"{c['target']:,.0f}</title></line>"
        )
        body.append(_text(label_w, y + 13, label, anchor="end"))
        body.append(
            _text(x0 + width + 36, y + 13, _ratio(c), anchor="middle", weight="bold", fill=BLUE)
        )
        y += bar_h + gap
    return _svg("coverage", "Coverage: won and open against the target", rows_end + 44, body)


def movement_plot(ax: Any, report: Mapping[str, Any]) -> None:
    """The waterfall drawn with matplotlib, for ``salesstages plot``."""
    bars = _waterfall_bars(report)
    xs = list(range(len(bars)))
    ax.bar(
        xs,
        [hi - lo for _, lo, hi, _, _ in bars],
        bottom=[lo for _, lo, _, _, _ in bars],
        color=[MOVEMENT_KEYS[key][1] for _, _, _, key, _ in bars],
    )
    for label, colour in MOVEMENT_KEYS.values():
        ax.bar([0], [0], color=colour, label=label)
    ticks = nice_ticks(
        max((hi for _, _, hi, _, _ in bars), default=0.0),
        min((lo for _, lo, _, _, _ in bars), default=0.0),
    )
    from ._html import _money

    for x, (_, _, hi, key, value) in zip(xs, bars, strict=True):
        ax.text(x, hi, _signed(value, key, _money), ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_xticks(xs, [label for label, *_ in bars], fontsize=8)
    ax.set_yticks(ticks, [tick_label(t, ticks, "amount") for t in ticks])
    ax.set_ylim(ticks[0], ticks[-1])
    ax.set_xlabel("movement line")
    ax.set_ylabel(AXES["movement"][1])
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, fontsize=8)
    ax.set_title(_movement_title(report))


def coverage_plot(ax: Any, report: Mapping[str, Any]) -> None:
    """The bullet chart of coverage drawn with matplotlib, for ``salesstages plot``."""
    items = _coverage_items(report)
    ticks = _coverage_ticks(items)
    won, opened, target = (COVERAGE_KEYS[k] for k in ("won", "open", "target"))
    ys = list(range(len(items)))[::-1]
    ax.barh(ys, [c["won"] for _, c in items], height=0.4, color=won[1], label=won[0])
    ax.barh(
        ys,
        [c["open_amount"] for _, c in items],
        left=[c["won"] for _, c in items],
        height=0.2,
        color=opened[1],
        label=opened[0],
    )
    ax.scatter(
        [c["target"] for _, c in items],
        ys,
        marker="|",
        s=300,
        linewidths=3,
        color=target[1],
        label=target[0],
        zorder=3,
    )
    for y, (_, c) in zip(ys, items, strict=True):
        ax.text(ticks[-1] * 1.02, y, _ratio(c), va="center", fontsize=9, color=BLUE, weight="bold")
    ax.set_yticks(ys, [label for label, _ in items])
    ax.set_ylim(-1.0, len(items))  # thin bars, also for the whole period alone
    ax.set_xticks(ticks, [tick_label(t, ticks, "amount") for t in ticks])
    ax.set_xlim(ticks[0], ticks[-1] * 1.12)
    ax.set_xlabel(AXES["coverage"][0] + " (right: coverage = open / remaining target)")
    handles, names = ax.get_legend_handles_labels()
    order = [names.index(label) for label, _ in COVERAGE_KEYS.values()]
    ax.legend(
        [handles[i] for i in order],
        [names[i] for i in order],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.18),
        ncols=3,
        fontsize=8,
        markerscale=0.5,
    )
    ax.set_title("Coverage: won and open against the target")


def planning_html(report: Mapping[str, Any]) -> tuple[list[str], int]:
    """The period view's HTML sections and how many charts they draw."""
    from ._html import STALLED_SHOWN, _section, _table
    from ._render import _num, _pct

    pl = report.get("planning")
    if not pl:
        return [], 0
    per = pl["period"]
    charts = 0
    cats = _table(
        ["category", "deals", "amount"],
        [
            [
                _CATEGORY_LABELS.get(r["category"], r["category"]),
                f"{r['count']:,}",
                _num(r["amount"]),
            ]
            for r in pl["categories"]
        ],
    )
    sections = []
    if pl["coverage"] is not None:
        cov_rows = [["all", *_coverage_cells(pl["coverage"], _num, _pct)]] + [
            [str(r["segment"]), *_coverage_cells(r, _num, _pct)]
            for r in (pl["coverage_by"] or {}).get("rows", [])
        ]
        cov_table = _table(
            ["", "target", "won", "attainment", "remaining", "open", "coverage"], cov_rows
        )
        sections.append(
            _section(
                f"Coverage {per['label']}",
                bullet_chart(report) + cov_table,
                "Coverage = open amount (commit + best case + pipeline, closing in the period) "
                "/ the target still to win."
                + _left_out(report)
                + "".join(f" Warning: {w}." for w in pl["warnings"]),
                cats,
            )
        )
        charts += 1
    else:
        sections.append(
            _section(
                f"Forecast categories {per['label']}",
                cats,
                "Open deals whose close date falls in the period, by category; closed = won in "
                f"it.{_left_out(report)} With a target, the page adds coverage.",
            )
        )
    mv = pl["movement"]
    sections.append(
        _section(
            f"Movement since {mv['start'][:10]}",
            waterfall_chart(report),
            MOVEMENT_NOTE,
            _table(
                ["", "count", "amount"],
                [[r["line"], f"{r['count']:,}", _num(r["amount"])] for r in mv["rows"]],
            ),
        )
    )
    charts += 1
    slips = pl["slippage"]
    headers = ["deal", "pushes", "days slipped", "first close", "close", "overdue"]
    rows = [
        [
            s["deal_id"],
            str(s["pushes"]),
            f"{s['days_slipped']:+d}",
            s["first_close_date"],
            s["close_date"],
            "yes" if s["overdue"] else "",
        ]
        for s in slips
    ]
    shown = _table(headers, rows[:STALLED_SHOWN])
    if len(rows) > STALLED_SHOWN:  # every deal in the page, the rest behind a fold
        shown += (
            f'<details class="more"><summary>Show the other {len(rows) - STALLED_SHOWN:,} '
            f"slipping deals</summary>{_table(headers, rows[STALLED_SHOWN:])}</details>"
        )
    sections.append(
        _section(
            f"Slipping deals ({len(slips):,})",
            shown,
            SLIPPING_NOTE if slips else _no_slips(report),
        )
    )
    return sections, charts
