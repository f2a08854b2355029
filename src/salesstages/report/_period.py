"""The report's period view (issue 14): forecast categories, coverage against a
target, the pipeline's movement since the period began, and the slipping deals.

:func:`build_planning` computes the ``"planning"`` section of the report dict
from the fold the report already made; :func:`planning_text`,
:func:`planning_csv_rows` render it, and :mod:`._period_charts` draws it. A period is
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

__all__ = [
    "MOVEMENT_LINES",
    "Period",
    "build_planning",
    "parse_period",
    "period_between",
    "planning_csv_rows",
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
    mv = metrics.movement(hist, pipeline, start=start, end=end, **kw)
    # the movement runs to the period's closing instant, min(end, as_of⁺) (§17)
    status = mv.period
    # (shown as the last instant counted, just before the closing instant)
    closing = status.closing if status is not None and status.closing is not None else start
    moved_to = max(start, closing - timedelta(microseconds=1))
    cats = forecast.categories(hist, pipeline, start=start, end=end, **kw)
    # every open deal with a close date, whenever it falls: the text names the rest
    dated = forecast.categories(hist, pipeline, start=_EVER[0], end=_EVER[1], **kw)
    warnings: list[str] = []
    if status is not None and status.note is not None:
        warnings.append(status.note)
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
            per = forecast.coverage(
                hist, pipeline, start=start, end=end, target=keyed, by=target_by, **kw
            )
            names = {seen.get(str(k), k): str(k) for k in target}
            coverage_by = {
                "attribute": target_by,
                "rows": [{"segment": names[k], **_coverage(c)} for k, c in per.items()],
            }
            coverage = _coverage(_total(list(per.values())))
        else:
            coverage = _coverage(
                forecast.coverage(hist, pipeline, start=start, end=end, target=target, **kw)
            )
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
            "state": None if status is None else status.state,
            "note": None if status is None else status.note,
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
