"""The period view's wording (issue 14): the figures :func:`._period.build_planning`
computes become the report's sections here: forecast categories, coverage against
the target, the movement since the period began, and the slipping deals."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from ._format import fmt
from ._model import Cell, Chart, Column, Section
from ._sections import cap
from ._style import AXES, COVERAGE_KEYS, MOVEMENT_KEYS

__all__ = ["MOVEMENT_NOTE", "SLIPPING_NOTE", "period_outside", "planning_sections"]

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
_CATEGORY_LABELS: Final = {
    "closed": "closed (won)",
    "commit": "commit",
    "best_case": "best case",
    "pipeline": "pipeline",
    "omitted": "omitted",
}
_ADDS: Final = frozenset({"created", "reopened", "increased"})
_LEVELS: Final = frozenset({"opening", "closing"})
_DAY: Final = timedelta(days=1)


def _last_day(iso_end: str) -> str:
    return (datetime.fromisoformat(iso_end) - _DAY).date().isoformat()


def _deals(n: int) -> str:
    return f"{n:,} open deal{'' if n == 1 else 's'}"


def period_outside(f: Mapping[str, Any], per: Mapping[str, str]) -> str | None:
    """Why the period has nothing to show (it has not started at the report's as-of
    time, or it ended before the first event), said of "the period"; ``None`` when
    it has something to show."""
    as_of, first = f.get("as_of"), f["period"]["first_event"]
    if as_of is not None and as_of < per["start"]:
        return (
            f"has not started at the report's as-of time ({fmt(as_of, 'time')}): "
            "nothing to show for it yet."
        )
    if first is not None and per["end"] <= first:
        return f"ended before the first event ({fmt(first, 'time')}): the log has nothing for it."
    if first is None:
        return "has no event: the log has none by the report's as-of time."
    return None


def _left_out(f: Mapping[str, Any], pl: Mapping[str, Any]) -> str:
    """`` Left out: 123 open deals closing outside the period; 5 open deals without a
    close date.`` (or nothing when every open deal is in the table)."""
    dated = pl.get("open_with_close_date")
    if dated is None:
        return ""
    in_period = sum(r["count"] for r in pl["categories"] if r["category"] != "closed")
    outside = dated - in_period
    undated = max(int(f["counts"]["open"]) - dated, 0)
    parts = [f"{_deals(outside)} closing outside the period"] if outside else []
    if undated:
        parts.append(f"{_deals(undated)} without a close date")
    return f" Left out: {'; '.join(parts)}." if parts else ""


def _categories(f: Mapping[str, Any], pl: Mapping[str, Any]) -> Section:
    per = pl["period"]
    return Section(
        id="period",
        title=f"Period {per['label']} ({per['start'][:10]} to {_last_day(per['end'])})",
        columns=(
            Column("category", "category id", show=False),
            Column("label", "forecast category"),
            Column("deals", "deals", "count"),
            Column("amount", "amount", "money"),
        ),
        rows=[
            (
                r["category"],
                _CATEGORY_LABELS.get(r["category"], r["category"]),
                r["count"],
                r["amount"],
            )
            for r in pl["categories"]
        ],
        key=("category",),
        notes=(
            "Open deals whose close date falls in the period, by category; closed = won in it."
            + _left_out(f, pl),
        ),
    )


def _unknown(c: Mapping[str, Any]) -> str | None:
    """Why a coverage has no value, or ``None`` when it has one: the engine's reason
    (``Coverage.reason``), or, from an engine without one, ``None`` or 0 with no open
    amount when no open deal closes in the period, or nothing remains to win."""
    if c.get("reason"):
        return str(c["reason"])
    if c["remaining"] <= 0:
        return "the target is met, nothing remains to win"
    if c["coverage"] is None or c["open_amount"] == 0:
        return "no open deal with an amount has a close date in the period"
    return None


def _coverage(f: Mapping[str, Any], pl: Mapping[str, Any]) -> Section | None:
    cov = pl["coverage"]
    if cov is None:
        return None
    per = pl["period"]
    by = pl["coverage_by"]
    items: list[tuple[str, Mapping[str, Any]]]
    if by is None:
        items = [("all", cov)]
    else:
        attribute = by["attribute"]
        items = [
            (f"targeted {attribute}s", cov),
            *((str(r["segment"]), r) for r in by["rows"]),
            (f"all {attribute}s", pl["coverage_all"]),
        ]
    reasons: dict[str, list[str]] = {}
    rows: list[tuple[Cell, ...]] = []
    chart_rows: list[tuple[Cell, ...]] = []
    for label, c in items:
        why = _unknown(c)
        ratio = None if why is not None else c["coverage"]
        if why is not None:
            reasons.setdefault(why, []).append(label)
        rows.append(
            (label, c["target"], c["won"], c["attainment"], c["remaining"], c["open_amount"], ratio)
        )
        chart_rows.append(
            (label, c["won"], c["open_amount"], c["target"], fmt(ratio, "ratio", "n/a"))
        )
    notes = [
        "coverage = open (commit + best case + pipeline, closing in the period) / remaining "
        "(target - won)"
        + (
            f"; the {by['attribute']}s' own rows add up to the targeted {by['attribute']}s, "
            f"and all {by['attribute']}s is the whole period against the sum of the targets"
            if by is not None
            else ""
        ),
        *(f"coverage n/a for {', '.join(who)}: {why}." for why, who in reasons.items()),
    ]
    won, opened, target = (COVERAGE_KEYS[k] for k in ("won", "open", "target"))
    return Section(
        id="coverage",
        title=f"Coverage {per['label']}",
        columns=(
            Column("segment", ""),
            Column("target", "target", "money"),
            Column("won", "won", "money"),
            Column("attainment", "attainment", "rate"),
            Column("remaining", "remaining", "money"),
            Column("open_amount", "open", "money"),
            Column("coverage", "coverage", "ratio", missing="n/a"),
        ),
        rows=rows,
        key=("segment",),
        notes=tuple(notes),
        chart=Chart(
            kind="bullet",
            name="coverage",
            title="Coverage: won and open against the target",
            label="segment",
            values=("won", "open", "target"),
            legend=(won[0], opened[0], target[0]),
            axes=AXES["coverage"],
            unit="amount",
            note="coverage",
            columns=(
                Column("segment", ""),
                Column("won", "won", "money"),
                Column("open", "open", "money"),
                Column("target", "target", "money"),
                Column("coverage", "coverage"),
            ),
            rows=chart_rows,
        ),
    )


def _movement(pl: Mapping[str, Any]) -> Section:
    mv = pl["movement"]
    names = {
        line: ("+ " if line in _ADDS else "" if line in _LEVELS else "- ") + line
        for line in (r["line"] for r in mv["rows"])
    }
    chart_rows: list[tuple[Cell, ...]] = []
    for r in mv["rows"]:
        line, amount = r["line"], float(r["amount"])
        step = "total" if line in _LEVELS else "increase" if line in _ADDS else "decrease"
        label = line if line in _LEVELS else ("+ " if line in _ADDS else "− ") + line
        chart_rows.append((label, amount if step != "decrease" else -amount, step))
    return Section(
        id="movement",
        title=f"Movement {mv['start'][:10]} to {mv['end'][:16].replace('T', ' ')} UTC",
        columns=(
            Column("line", "line id", show=False),
            Column("label", ""),
            Column("count", "count", "count"),
            Column("amount", "amount", "money"),
        ),
        rows=[(r["line"], names[r["line"]], r["count"], r["amount"]) for r in mv["rows"]],
        key=("line",),
        notes=(MOVEMENT_NOTE,),
        chart=Chart(
            kind="waterfall",
            name="movement",
            title=f"Open pipeline from {mv['start'][:10]} to {mv['end'][:10]}",
            label="line",
            values=("amount",),
            legend=tuple(label for label, _ in MOVEMENT_KEYS.values()),
            axes=("movement line", AXES["movement"][1]),
            unit="amount",
            step="step",
            columns=(
                Column("line", "line"),
                Column("amount", "amount", "money"),
                Column("step", "step"),
            ),
            rows=chart_rows,
        ),
    )


def _slipping(f: Mapping[str, Any], pl: Mapping[str, Any], limit: int) -> Section:
    slips = pl["slippage"]
    open_deals = int(f["counts"]["open"])
    measured = not (pl.get("open_with_close_date") == 0 and open_deals)
    rows = [
        (
            s["deal_id"],
            s["pushes"],
            s["days_slipped"],
            s["first_close_date"],
            s["close_date"],
            s["overdue"],
            s.get("amount"),
        )
        for s in slips
    ]
    kept = cap(rows, 6, limit)
    notes: tuple[str, ...] = ()
    if len(kept) < len(rows):
        notes = (
            f"… and {len(rows) - len(kept):,} more: the {len(kept):,} with the largest amounts "
            f"are listed; the full list of {len(rows):,} slipping deals is in the deals CSV "
            "export.",
        )
    return Section(
        id="slipping",
        title=f"Slipping deals ({len(slips):,})" if measured else "Slipping deals",
        columns=(
            Column("deal_id", "deal"),
            Column("pushes", "pushes", "count"),
            Column("days_slipped", "days slipped", "signed"),
            Column("first_close_date", "first close", "date"),
            Column("close_date", "close", "date"),
            Column("overdue", "overdue", "flag"),
            Column("amount", "amount", "money"),
        ),
        rows=kept,
        key=("deal_id",),
        lead=(SLIPPING_NOTE,) if rows else (),
        notes=notes,
        empty="No open deal has had its close date pushed or passed."
        if measured
        else f"not measured: no open deal has a close_date ({open_deals:,} open)",
        total=len(rows),
    )


def _unmeasured(f: Mapping[str, Any], pl: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(state, sentence)`` when the period's movement is not measured: it has not
    started at the as-of time (``not_started``), it ended before the first event
    (``before_data``), or the log has no event (``no_data``); ``None`` otherwise. The
    engines say so themselves (``Movement.period``); a figures dict without that
    falls back on the dates."""
    mv = pl["movement"]
    state, note = mv.get("state"), mv.get("note")
    if state is None:
        outside = period_outside(f, pl["period"])
        if outside is None:
            return None
        per = pl["period"]
        name = f"the period {per['start'][:10]} to {_last_day(per['end'])}"
        return ("not_started" if "not started" in outside else "before_data"), f"{name} {outside}"
    if state in ("ended", "in_progress") or note is None:
        return None
    return str(state), str(note)


def planning_sections(
    f: Mapping[str, Any], pl: Mapping[str, Any] | None, limit: int
) -> tuple[list[Section], list[Section], list[str]]:
    """The period view's sections: those that lead the report (categories, coverage,
    movement), those that follow the stalled deals (slipping), and its warnings.

    A period whose movement is not measured says so in one line (and a warning)
    instead of a table of zeros: a period not started yet keeps its forecast
    categories and coverage (the deals expected to close in it), a period before the
    data or a log without events shows that line alone."""
    if pl is None:
        return [], [], []
    per = pl["period"]
    warnings = list(pl["warnings"])
    title = f"Period {per['label']} ({per['start'][:10]} to {_last_day(per['end'])})"
    unmeasured = _unmeasured(f, pl)
    if unmeasured is not None:
        state, note = unmeasured
        line = note[:1].upper() + note[1:] + ("" if note.endswith(".") else ".")
        warnings.append(note)
        if state != "not_started":
            return [Section(id="period", title=title, empty=line)], [], warnings
        mv = pl["movement"]
        movement = Section(id="movement", title=f"Movement from {mv['start'][:10]}", empty=line)
        lead = [_categories(f, pl)]
        coverage = _coverage(f, pl)
        return (
            [*lead, *([coverage] if coverage else []), movement],
            [_slipping(f, pl, limit)],
            warnings,
        )
    lead = [_categories(f, pl)]
    coverage = _coverage(f, pl)
    if coverage is not None:
        lead.append(coverage)
    lead.append(_movement(pl))
    return lead, [_slipping(f, pl, limit)], warnings
