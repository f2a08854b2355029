"""The report's period view (issue 14): forecast categories, coverage against a
target, the pipeline's movement since the period began, and the slipping deals.

:func:`build_planning` computes the ``"planning"`` section of the report dict
from the fold the report already made; :func:`planning_text`,
:func:`planning_csv_rows` and :func:`planning_html` render it. A period is
written ``2026-Q1``, ``2026-03`` or ``2026`` (:func:`parse_period`), or given by
its first and last day (:func:`period_between`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs

from .. import forecast, metrics
from .._errors import DataError
from .._pipeline import Pipeline
from .._text import terminal
from ..metrics._engine import is_ibis_table
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

__all__ = [
    "MOVEMENT_LINES",
    "Period",
    "build_planning",
    "coverage_plot",
    "movement_plot",
    "parse_period",
    "period_between",
    "planning_csv_rows",
    "planning_html",
    "planning_text",
    "read_targets",
]

#: The lines of the movement table, in the order a waterfall draws them.
MOVEMENT_LINES: Final = (
    "opening",
    "created",
    "reopened",
    "increased",
    "decreased",
    "won",
    "lost",
    "closing",
)
_ADDS: Final = frozenset({"created", "reopened", "increased"})
_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{2})")
_YEAR = re.compile(r"(\d{4})")
_DAY: Final = timedelta(days=1)
#: A period wide enough to hold every close date (to count the open deals with one).
_EVER: Final = (datetime(1900, 1, 1, tzinfo=UTC), datetime(2200, 1, 1, tzinfo=UTC))


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@attrs.frozen
class Period:
    """A period of whole days: ``start`` (included) to ``end`` (excluded), midnight UTC.

    Attributes:
        label: How the period was written (``2026-Q1``) or its first and last day.
        start: Midnight UTC of its first day.
        end: Midnight UTC of the day after its last day.
    """

    label: str
    start: datetime
    end: datetime


def _month_start(year: int, month: int) -> date:
    return date(year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def parse_period(text: str) -> Period:
    """A period written ``2026-Q1`` (a quarter), ``2026-03`` (a month) or ``2026`` (a year).

    Raises:
        DataError: The text is none of these; the message names it.
    """
    value = text.strip() if isinstance(text, str) else ""
    try:
        if m := _QUARTER.fullmatch(value):
            year, q = int(m[1]), int(m[2])
            first = date(year, 3 * q - 2, 1)
            after = _month_start(year, 3 * q + 1)
            label = f"{year}-Q{q}"
        elif m := _MONTH.fullmatch(value):
            year, month = int(m[1]), int(m[2])
            first = date(year, month, 1)
            after = _month_start(year, month + 1)
            label = f"{year}-{month:02d}"
        elif _YEAR.fullmatch(value):
            year = int(value)
            first, after = date(year, 1, 1), date(year + 1, 1, 1)
            label = str(year)
        else:
            raise ValueError(value)
    except ValueError:
        raise DataError(
            f"period {text!r} is not a period; write a quarter (2026-Q1), a month (2026-03) "
            "or a year (2026), or give --from and --to",
            field="period",
        ) from None
    return Period(label, _midnight(first), _midnight(after))


def period_between(first: str | date, last: str | date) -> Period:
    """The period from day ``first`` to day ``last``, both included (ISO dates).

    Raises:
        DataError: Either is not an ISO date, or ``last`` is before ``first``.
    """
    days: list[date] = []
    for what, value in (("from", first), ("to", last)):
        if isinstance(value, date):
            days.append(value)
            continue
        try:
            days.append(date.fromisoformat(str(value).strip()))
        except ValueError:
            raise DataError(
                f"--{what} {value!r} is not a date; write it as 2026-01-01", field=what
            ) from None
    lo, hi = days
    if hi < lo:
        raise DataError(
            f"--to {hi.isoformat()} is before --from {lo.isoformat()}; the period runs from "
            "its first day to its last",
            field="to",
        )
    return Period(f"{lo.isoformat()} – {hi.isoformat()}", _midnight(lo), _midnight(hi) + _DAY)


def read_targets(path: str | Path) -> tuple[str, dict[str, float]]:
    """A CSV of targets: a header naming the attribute and ``target`` (``owner,target``),
    then one row per segment. Returns the attribute and the targets by segment.

    Raises:
        DataError: The file is not such a table, or a target is not a number >= 0
            (the message names the file, the line and the value).
    """
    import csv

    from ..io._common import parse_number

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the targets file is not UTF-8 text ({exc})", path=name) from None
    rows = list(csv.reader(text.splitlines()))
    if not rows or len(rows[0]) != 2 or rows[0][1].strip().lower() != "target":
        raise DataError(
            "a targets file has two columns, the attribute and 'target', e.g. 'owner,target'",
            path=name,
            line=1,
        )
    attribute = rows[0][0].strip()
    if not attribute:
        raise DataError("the first column must name the attribute, e.g. 'owner'", path=name, line=1)
    targets: dict[str, float] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            raise DataError(f"expected 2 cells, got {len(row)}", path=name, line=line)
        key, raw = row[0].strip(), row[1].strip()
        try:
            value = float(parse_number(raw))
        except (DataError, ValueError):
            raise DataError(
                f"target {raw!r} for {key!r} is not a number", path=name, line=line, field="target"
            ) from None
        if not value >= 0 or value == float("inf"):
            raise DataError(
                f"target {raw!r} for {key!r} must be a finite number >= 0",
                path=name,
                line=line,
                field="target",
            )
        if key in targets:
            raise DataError(f"{attribute} {key!r} appears twice", path=name, line=line)
        targets[key] = value
    return attribute, targets


# ---------------------------------------------------------------------- build
def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _coverage(c: forecast.Coverage) -> dict[str, Any]:
    return {
        "target": c.target,
        "won": c.won,
        "remaining": c.remaining,
        "open_amount": c.open_amount,
        "coverage": c.coverage,
        "attainment": c.attainment,
    }


def _total(parts: list[forecast.Coverage]) -> forecast.Coverage:
    """The coverage of several segments taken together."""
    target = sum(c.target for c in parts)
    won = sum(c.won for c in parts)
    open_amount = sum(c.open_amount for c in parts)
    remaining = max(target - won, 0.0)
    return forecast.Coverage(
        target=target,
        won=won,
        remaining=remaining,
        open_amount=open_amount,
        coverage=open_amount / remaining if remaining > 0 else None,
        attainment=won / target if target > 0 else None,
    )


def _segments(data: Any, pipeline: Pipeline, as_of: datetime | None, by: str) -> list[Any]:
    """The values attribute ``by`` takes at opening, over the deals of ``data``."""
    if not is_ibis_table(data):
        return [h.opened_attributes[by] for h in data.deals.values() if by in h.opened_attributes]
    from ..metrics._ibis._pivots import Pivots, key_value

    pv = Pivots(data, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return []
    return [key_value(r, by) for r in pv.keys(pv.deals_with())]


def build_planning(
    data: Any,
    pipeline: Pipeline,
    as_of: datetime | None,
    period: Period | str,
    *,
    target: float | Decimal | Mapping[str, float | Decimal] | None = None,
    target_by: str = "owner",
) -> dict[str, Any]:
    """The report's ``"planning"`` section for ``period``, from the report's fold
    ``data`` (a :class:`~salesstages.metrics.Histories` at ``as_of``).

    ``target`` is one amount for the whole period, or a mapping from each value
    of ``target_by`` (at opening) to its target; then ``"coverage"`` adds up
    those segments (their targets, won and open amounts), and segments the log
    does not have are listed under ``"warnings"``.
    """
    if isinstance(period, str):
        period = parse_period(period)
    hist = data  # a Histories folded at as_of, or an Ibis table (then as_of is passed)
    kw: dict[str, Any] = {"as_of": as_of} if is_ibis_table(data) else {}
    start, end = period.start, period.end
    moved_to = max(as_of, start) if as_of is not None else start
    mv = metrics.movement(hist, pipeline, start, moved_to)
    cats = forecast.categories(hist, pipeline, start, end, **kw)
    # every open deal with a close date, whenever it falls: the text names the rest
    dated = forecast.categories(hist, pipeline, _EVER[0], _EVER[1], **kw)
    warnings: list[str] = []
    coverage = coverage_by = None
    if target is not None:
        if isinstance(target, Mapping):
            seen = {str(v): v for v in _segments(hist, pipeline, as_of, target_by)}
            missing = [k for k in target if str(k) not in seen]
            if missing:
                warnings.append(
                    f"the targets name {target_by} values the log does not have: "
                    + ", ".join(repr(str(k)) for k in missing)
                    + "; their coverage counts no deals"
                )
            keyed = {seen.get(str(k), k): v for k, v in target.items()}
            per = forecast.coverage(hist, pipeline, start, end, target=keyed, by=target_by, **kw)
            names = {seen.get(str(k), k): str(k) for k in target}
            coverage_by = {
                "attribute": target_by,
                "rows": [{"segment": names[k], **_coverage(c)} for k, c in per.items()],
            }
            coverage = _coverage(_total(list(per.values())))
        else:
            coverage = _coverage(forecast.coverage(hist, pipeline, start, end, target=target, **kw))
    return {
        "period": {"label": period.label, "start": _iso(start), "end": _iso(end)},
        "categories": [
            {"category": k, "count": n, "amount": amount} for k, (n, amount) in cats.items()
        ],
        "open_with_close_date": sum(n for k, (n, _) in dated.items() if k != "closed"),
        "coverage": coverage,
        "coverage_by": coverage_by,
        "movement": {
            "start": _iso(start),
            "end": _iso(moved_to),
            "rows": [
                {"line": line, "count": getattr(mv, line).count, "amount": getattr(mv, line).amount}
                for line in MOVEMENT_LINES
            ],
        },
        "slippage": [
            {
                "deal_id": s.deal_id,
                "pushes": s.pushes,
                "days_slipped": s.days_slipped,
                "first_close_date": s.first_close_date.isoformat(),
                "close_date": s.close_date.isoformat(),
                "overdue": s.overdue,
            }
            for s in metrics.slippage(hist, pipeline, **kw)
        ],
        "warnings": warnings,
    }


# ----------------------------------------------------------------------- text
_CATEGORY_LABELS: Final = {
    "closed": "closed (won)",
    "commit": "commit",
    "best_case": "best case",
    "pipeline": "pipeline",
    "omitted": "omitted",
}


def _last_day(iso_end: str) -> str:
    return (datetime.fromisoformat(iso_end) - _DAY).date().isoformat()


def planning_text(report: Mapping[str, Any]) -> list[str]:
    """The period view as text lines (empty without a ``"planning"`` section)."""
    from ._build import TEXT_LIMIT
    from ._render import _num, _pct, _title, table

    pl = report.get("planning")
    if not pl:
        return []
    per = pl["period"]
    parts = [
        "",
        _title(f"Period {per['label']} ({per['start'][:10]} to {_last_day(per['end'])})"),
        table(
            ["forecast category", "deals", "amount"],
            [
                [
                    _CATEGORY_LABELS.get(r["category"], r["category"]),
                    f"{r['count']:,}",
                    _num(r["amount"]),
                ]
                for r in pl["categories"]
            ],
        ),
        "Open deals whose close date falls in the period, by category; closed = won in it."
        + _left_out(report),
    ]
    cov = pl["coverage"]
    if cov is not None:
        parts += [
            "",
            _title("Coverage"),
            table(
                ["", "target", "won", "attainment", "remaining", "open", "coverage"],
                [
                    ["all", *_coverage_cells(cov, _num, _pct)],
                    *(
                        [terminal(r["segment"]), *_coverage_cells(r, _num, _pct)]
                        for r in (pl["coverage_by"] or {}).get("rows", [])
                    ),
                ],
            ),
            "coverage = open (commit + best case + pipeline, closing in the period) / remaining "
            "(target - won)",
        ]
    mv = pl["movement"]
    parts += [
        "",
        _title(f"Movement {mv['start'][:10]} to {mv['end'][:16].replace('T', ' ')} UTC"),
        table(
            ["", "count", "amount"],
            [
                [
                    (
                        "+ "
                        if r["line"] in _ADDS
                        else "- "
                        if r["line"] not in ("opening", "closing")
                        else ""
                    )
                    + r["line"],
                    f"{r['count']:,}",
                    _num(r["amount"]),
                ]
                for r in mv["rows"]
            ],
        ),
        MOVEMENT_NOTE,
    ]
    slips = pl["slippage"]
    parts += ["", _title(f"Slipping deals ({len(slips):,})")]
    if slips:
        parts.append(SLIPPING_NOTE)
        parts.append(
            table(
                ["deal", "pushes", "days slipped", "first close", "close", "overdue"],
                [
                    [
                        s["deal_id"],
                        str(s["pushes"]),
                        f"{s['days_slipped']:+d}",
                        s["first_close_date"],
                        s["close_date"],
                        "yes" if s["overdue"] else "",
                    ]
                    for s in slips[:TEXT_LIMIT]
                ],
            )
        )
        if len(slips) > TEXT_LIMIT:
            parts.append(f"… and {len(slips) - TEXT_LIMIT:,} more in --format json")
    else:
        parts.append(_no_slips(report))
    for w in pl["warnings"]:
        parts.append(f"warning: {terminal(w)}")
    return parts


#: What each line of the movement table counts (its "count" column).
MOVEMENT_NOTE: Final = (
    "count: deals for opening, created and closing; moves for reopened, won and lost (a deal "
    "lost, reopened and lost again counts twice, so lost may exceed the lost deals at the top); "
    "amount changes for increased and decreased. Counts: opening + created + reopened - won "
    "- lost = closing; amounts: the same + increased - decreased."
)
#: What the slipping deals' columns mean.
SLIPPING_NOTE: Final = (
    "Open deals whose close date moved later (pushes: how many times; days slipped: close date "
    "now - first close date) or has passed (overdue)."
)


def _open_deals(report: Mapping[str, Any]) -> int:
    return int(report.get("counts", {}).get("open", 0))


def _deals(n: int) -> str:
    return f"{n:,} open deal{'' if n == 1 else 's'}"


def _left_out(report: Mapping[str, Any]) -> str:
    """`` Left out: 123 open deals closing outside the period; 5 open deals without a
    close date.`` (or nothing when every open deal is in the table)."""
    pl = report["planning"]
    dated = pl.get("open_with_close_date")
    if dated is None:
        return ""
    in_period = sum(r["count"] for r in pl["categories"] if r["category"] != "closed")
    outside = dated - in_period
    undated = max(_open_deals(report) - dated, 0)
    parts = [f"{_deals(outside)} closing outside the period"] if outside else []
    if undated:
        parts.append(f"{_deals(undated)} without a close date")
    return f" Left out: {'; '.join(parts)}." if parts else ""


def _no_slips(report: Mapping[str, Any]) -> str:
    """What an empty list of slipping deals means: none slipped, or not measurable."""
    dated = report["planning"].get("open_with_close_date")
    if dated == 0 and _open_deals(report):
        return f"not measured: no open deal has a close_date ({_open_deals(report):,} open)"
    return "No open deal has had its close date pushed or passed."


def _coverage_cells(c: Mapping[str, Any], num: Any, pct: Any) -> list[str]:
    ratio = "–" if c["coverage"] is None else f"{c['coverage']:.2f}×"
    return [
        num(c["target"]),
        num(c["won"]),
        pct(c["attainment"]),
        num(c["remaining"]),
        num(c["open_amount"]),
        ratio,
    ]


# ------------------------------------------------------------------------ csv
def planning_csv_rows(report: Mapping[str, Any]) -> Iterable[tuple[Any, ...]]:
    """The period view as ``section, segment, item, metric, value`` rows."""
    pl = report.get("planning")
    if not pl:
        return
    per = pl["period"]
    yield ("period", "", "", "label", per["label"])
    yield ("period", "", "", "start", per["start"])
    yield ("period", "", "", "end", per["end"])
    for r in pl["categories"]:
        yield ("forecast_category", "", r["category"], "count", r["count"])
        yield ("forecast_category", "", r["category"], "amount", r["amount"])
    if pl["coverage"] is not None:
        for m, v in pl["coverage"].items():
            yield ("coverage", "", "", m, v)
    for r in (pl["coverage_by"] or {}).get("rows", []):
        for m, v in r.items():
            if m != "segment":
                yield ("coverage", r["segment"], "", m, v)
    for r in pl["movement"]["rows"]:
        yield ("movement", "", r["line"], "count", r["count"])
        yield ("movement", "", r["line"], "amount", r["amount"])
    for s in pl["slippage"]:
        for m in ("pushes", "days_slipped", "first_close_date", "close_date", "overdue"):
            yield ("slippage", "", s["deal_id"], m, s[m])
    for w in pl["warnings"]:
        yield ("warning", "", "", "planning", w)


# ----------------------------------------------------------------------- html
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
