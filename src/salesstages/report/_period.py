"""The report's period view (issue 14): forecast categories, coverage against a
target, the pipeline's movement since the period began, and the slipping deals.

:func:`build_planning` computes the period view's figures from the fold the
report already made; :mod:`._period_sections` words them as the report's
sections. A period is
written ``2026-Q1``, ``2026-03`` or ``2026`` (:func:`parse_period`), or given by
its first and last day (:func:`period_between`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs

from .. import forecast, metrics
from .._errors import DataError
from .._pipeline import Pipeline
from ..forecast._planning import coverage_totals
from ..metrics._engine import is_ibis_table

__all__ = [
    "MOVEMENT_LINES",
    "Period",
    "build_planning",
    "parse_period",
    "period_between",
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
    from ..io._common import csv_table, parse_number

    name = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"the targets file is not UTF-8 text ({exc})", path=name) from None
    except OSError as exc:  # no such file, a folder, no permission
        raise DataError(
            f"cannot read the targets file ({exc.strerror or exc}); check the path", path=name
        ) from None
    # the importers' CSV reader: a cell over 128 KiB or a broken quote is a DataError
    header, body = csv_table(name, text) if text.strip() else ([], iter(()))
    numbered = [(line, cells) for line, cells in body if isinstance(cells, list)]
    rows = [header]
    if not header or len(rows[0]) != 2 or rows[0][1].strip().lower() != "target":
        raise DataError(
            "a targets file has two columns, the attribute and 'target', e.g. 'owner,target'",
            path=name,
            line=1,
        )
    attribute = rows[0][0].strip()
    if not attribute:
        raise DataError("the first column must name the attribute, e.g. 'owner'", path=name, line=1)
    targets: dict[str, float] = {}
    for line, row in numbered:
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
        "reason": c.reason,
    }


def _segments(data: Any, pipeline: Pipeline, as_of: datetime | None, by: str) -> list[Any]:
    """The values attribute ``by`` takes at opening, over the deals of ``data``."""
    if not is_ibis_table(data):
        return [h.opened_attributes[by] for h in data.deals.values() if by in h.opened_attributes]
    from ..metrics._ibis._pivots import Pivots, key_value

    pv = Pivots(data, pipeline, as_of, by=by)
    if pv.as_of_us is None:
        return []
    return [key_value(r, by) for r in pv.keys(pv.deals_with())]


def _amount_of(data: Any, deal_id: str) -> float | None:
    """An open deal's amount now, from the fold (``None`` on a table, or without one)."""
    if is_ibis_table(data):
        return None
    h = data.deals.get(deal_id)
    amount = None if h is None else h.attributes.get("amount")
    try:
        return None if amount is None else float(amount)
    except (TypeError, ValueError):
        return None


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
    coverage = coverage_by = coverage_all = None
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
            # each segment, the targeted segments together, and all deals of the period
            # against the sum of the targets (the table's rows, issue 22)
            per, targeted, everyone = coverage_totals(
                hist, pipeline, start=start, end=end, target=keyed, by=target_by, **kw
            )
            names = {seen.get(str(k), k): str(k) for k in target}
            coverage_by = {
                "attribute": target_by,
                "rows": [{"segment": names[k], **_coverage(c)} for k, c in per.items()],
            }
            coverage = _coverage(targeted)
            coverage_all = _coverage(everyone)
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
        "coverage_all": coverage_all,
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
                "amount": _amount_of(hist, s.deal_id),
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
