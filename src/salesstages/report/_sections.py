"""The report's wording: each figure computed by :mod:`._build` becomes a typed
:class:`~._model.Section` here, with its title, columns, notes and chart, once
for every renderer.

The input is the internal dict of figures :func:`._build.compute` returns; the
period view's sections are worded in :mod:`._period_sections`, the "what moves
deals forward" section in :mod:`._actions`, the data-quality one in
:mod:`._quality`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._format import fmt, money
from ._model import Cell, Chart, Column, Mark, Section
from ._segments import capped
from ._style import AXES

__all__ = [
    "FIGURE",
    "FUNNEL_NOTE",
    "UNIT",
    "cap",
    "counts_section",
    "funnel_section",
    "headline_section",
    "lost_reasons_section",
    "no_amount",
    "no_amount_lines",
    "pipeline_section",
    "segment_sections",
    "snapshot_section",
    "stalled_section",
    "time_in_stage_sections",
    "value_column",
    "win_rate_section",
]

#: What the funnel's columns count.
FUNNEL_NOTE: Final = (
    "reached: deals that entered the stage (imputed: skipped it for a later one, counted as "
    "passing through); conversion: the share of those that reached the next stage (after the "
    "last: won); win rate: won / closed among them."
)
_TIME_IN_STAGE_NOTE: Final = (
    "visits: stays in the stage that ended (a deal back in it counts again); median, p90 and "
    "mean: their length; open now: deals in the stage at the as-of time, and the median of "
    "their days there so far."
)
_VELOCITY: Final = "amount per day: open deals × win rate × mean won amount ÷ mean won cycle"
#: The figure tables' columns: a figure, its value (of the kind its ``unit`` names).
FIGURE: Final = Column("figure", "figure")
UNIT: Final = Column("unit", "unit", show=False)


def value_column(label: str = "value", missing: str = "–") -> Column:
    return Column("value", label, "text", kind_from="unit", missing=missing)


def _d(x: float | None) -> str:
    return fmt(x, "days")


def _pct(x: float | None) -> str:
    return fmt(x, "rate")


def _segment_name(value: object) -> str:
    return "(none)" if value is None else str(value)


def no_amount(f: Mapping[str, Any]) -> int:
    """How many open deals have no amount (the data-quality finding's count)."""
    for r in f.get("data_quality") or []:
        if r["code"] == "open_without_amount":
            return int(r["count"])
    return 0


def no_amount_lines(f: Mapping[str, Any], what: str) -> list[str]:
    """A note that open deals without an amount count as 0 in ``what``."""
    n = no_amount(f)
    if not n:
        return []
    whole = f["counts"]["open"]
    share = f"all {n:,}" if n >= whole else f"{n:,} of {whole:,}"
    return [
        f"Open deals without an amount ({share}) count as 0 in {what}: a 0 there means no "
        "amount is known, not that nothing is expected (see Data quality)."
    ]


def cap(rows: Sequence[Sequence[Cell]], amount: int, limit: int) -> list[Sequence[Cell]]:
    """The ``limit`` rows with the largest amount (column ``amount``; rows without
    one last), in their own order; every row when there are no more than ``limit``."""
    if len(rows) <= limit:
        return list(rows)

    def size(i: int) -> float:
        x = rows[i][amount]
        return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else -1.0

    kept = sorted(sorted(range(len(rows)), key=size, reverse=True)[:limit])
    return [rows[i] for i in kept]


def _capped_note(kept: int, total: int, what: str) -> list[str]:
    if kept >= total:
        return []
    return [
        f"… and {total - kept:,} more: the {kept:,} with the largest amounts are listed; "
        f"the full list of {total:,} {what} is in the deals CSV export."
    ]


# --------------------------------------------------------------------- sections
def pipeline_section(f: Mapping[str, Any]) -> Section:
    """The pipeline's stages (JSON and CSV only)."""
    return Section(
        id="pipeline",
        title=f"Pipeline {f['pipeline']['name']}",
        columns=(
            Column("stage", "stage"),
            Column("label", "label"),
            Column("outcome", "outcome"),
            Column("probability", "probability", "rate"),
            Column("rot_after_days", "rot after", "days"),
            Column("substates", "sub-states"),
        ),
        rows=[
            (
                s["name"],
                s["label"],
                s["outcome"],
                s["probability"],
                s["rot_after_days"],
                " ".join(s["substates"]),
            )
            for s in f["pipeline"]["stages"]
        ],
        key=("stage",),
        formats=("json", "csv"),
    )


def counts_section(f: Mapping[str, Any]) -> Section:
    """How many events and deals the report reads (JSON and CSV: the text says it
    in its summary line)."""
    c, per = f["counts"], f["period"]
    return Section(
        id="counts",
        title="Events and deals",
        columns=(
            Column("events", "events", "count"),
            Column("deals", "deals", "count"),
            Column("open", "open", "count"),
            Column("won", "won", "count"),
            Column("lost", "lost", "count"),
            Column("first_event", "first event", "time"),
            Column("last_event", "last event", "time"),
        ),
        rows=[
            (
                c["events"],
                c["deals"],
                c["open"],
                c["won"],
                c["lost"],
                per["first_event"],
                per["last_event"],
            )
        ],
        formats=("json", "csv"),
    )


def _stalled_measured(f: Mapping[str, Any]) -> bool:
    return any(
        s["rot_after_days"] is not None for s in f["pipeline"]["stages"] if s["outcome"] == "open"
    )


def headline_section(f: Mapping[str, Any]) -> Section:
    """The headline figures of the HTML page (its cards)."""
    c = f["counts"]
    wr = f["win_rate"]["deals"]
    no_amounts = bool(c["open"]) and no_amount(f) >= c["open"]
    stalled = f["stalled"]
    rows: list[tuple[Cell, ...]] = [
        ("open deals", c["open"], "count"),
        (
            ("open pipeline amount: no open deal has one", None, "money")
            if no_amounts
            else ("open pipeline amount", sum(r["amount"] for r in f["snapshot"]), "money")
        ),
        (
            f"win rate ({money(wr['numerator'])} of {money(wr['denominator'])})",
            wr["rate"],
            "rate",
        ),
        ("median won cycle", f["sales_cycle"]["won"]["median_days"], "days"),
        (
            ("weighted forecast: no amounts", None, "money")
            if no_amounts
            else ("weighted forecast", f["forecast"]["weighted"], "money")
        ),
        (
            ("stalled deals", len(stalled), "count")
            if _stalled_measured(f)
            else ("stalled deals: not measured (no rot_after)", None, "count")
        ),
    ]
    return Section(
        id="headline",
        title="Headline",
        columns=(FIGURE, value_column(), UNIT),
        rows=rows,
        key=("figure",),
        formats=("html", "json", "csv"),
        wide=True,
        layout="cards",
    )


def funnel_section(f: Mapping[str, Any]) -> Section:
    fu = f["funnel"]
    rows = []
    for r in fu["rows"]:
        n = r.get("imputed") or 0
        note = "" if not n else "all" if n >= r["reached"] else f"{n:,}"
        rows.append(
            (
                r["stage"],
                r["label"],
                r["reached"],
                note,
                r["conversion_rate"],
                r["win_rate"],
                r.get("entered"),
                n,
            )
        )
    chart_rows: list[tuple[Cell, ...]] = [
        (r["label"], r["reached"], r["conversion_rate"]) for r in fu["rows"]
    ]
    last = fu["rows"][-1] if fu["rows"] else None
    won = 0.0
    if last is not None and last["conversion_rate"] is not None:
        won = last["reached"] * last["conversion_rate"]
    chart_rows.append(("Won", round(won), None))
    return Section(
        id="funnel",
        title=f"Funnel (skips policy: {fu['policy']})",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("reached", "reached", "count"),
            Column("imputed_note", "of them imputed"),
            Column("conversion_rate", "conversion", "rate"),
            Column("win_rate", "win rate", "rate"),
            Column("entered", "entered", "count", show=False),
            Column("imputed", "imputed", "count", show=False),
        ),
        rows=rows,
        key=("stage",),
        notes=(FUNNEL_NOTE,),
        chart=Chart(
            kind="funnel",
            name="funnel",
            title="Funnel: deals reaching each stage",
            label="stage",
            values=("reached", "conversion"),
            legend=(AXES["funnel"][0], "won"),
            axes=AXES["funnel"],
            unit="count",
            columns=(
                Column("stage", "stage"),
                Column("reached", "deals", "count"),
                Column("conversion", "convert", "rate"),
            ),
            rows=chart_rows,
        ),
    )


def _stats_cells(r: Mapping[str, Any]) -> tuple[Cell, ...]:
    return (r["median_days"], r["p90_days"], r["mean_days"], r["min_days"], r["max_days"])


def time_in_stage_sections(f: Mapping[str, Any]) -> list[Section]:
    subs: dict[str, list[Mapping[str, Any]]] = {}
    for r in f["time_in_substate"]:
        subs.setdefault(r["stage"], []).append(r)
    chart_rows: list[tuple[Cell, ...]] = []
    for r in f["time_in_stage"]:
        items = [
            (r["label"], r, False),
            *((f"↳ {s['substate']}", s, True) for s in subs.get(r["stage"], [])),
        ]
        for label, x, minor in items:
            note = (
                f"{_d(x['median_days'])} / {_d(x['p90_days'])}"
                if x["count"]
                else "no completed visit"
            )
            chart_rows.append((label, x["median_days"], x["p90_days"], note, minor))
    stats = (
        Column("median_days", "median", "days"),
        Column("p90_days", "p90", "days"),
        Column("mean_days", "mean", "days"),
        Column("min_days", "min", "days", show=False),
        Column("max_days", "max", "days", show=False),
    )
    stage = Section(
        id="time-in-stage",
        title="Time in stage (completed visits)",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("visits", "visits", "count"),
            *stats,
            Column("open_now", "open now", "count"),
            Column("open_median_age_days", "open median age", "days"),
            Column("current_median_days", "median with open visits", "days", show=False),
        ),
        rows=[
            (
                r["stage"],
                r["label"],
                r["count"],
                *_stats_cells(r),
                r["open_count"],
                r["open_median_age_days"],
                r["current_median_days"],
            )
            for r in f["time_in_stage"]
        ],
        key=("stage",),
        notes=(_TIME_IN_STAGE_NOTE,),
        chart=Chart(
            kind="ranges",
            name="time-in-stage",
            title="Time in stage: median and 90th percentile",
            label="stage",
            values=("median", "p90"),
            legend=("median", "90th percentile"),
            axes=AXES["time-in-stage"],
            unit="days",
            note="note",
            minor="substate",
            columns=(
                Column("stage", "stage"),
                Column("median", "median", "days"),
                Column("p90", "p90", "days"),
                Column("note", "note"),
                Column("substate", "sub-state", "flag"),
            ),
            rows=chart_rows,
        ),
    )
    substate = Section(
        id="time-in-substate",
        title="Time in sub-state (completed visits)",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("substate", "sub-state"),
            Column("visits", "visits", "count"),
            *stats[:2],
            Column("open_now", "open now", "count"),
            *stats[2:],
        ),
        rows=[
            (
                r["stage"],
                r["label"],
                r["substate"],
                r["count"],
                r["median_days"],
                r["p90_days"],
                r["open_count"],
                r["mean_days"],
                r["min_days"],
                r["max_days"],
            )
            for r in f["time_in_substate"]
        ],
        key=("stage", "substate"),
    )
    return [stage, substate]


def _amount_rate_row(f: Mapping[str, Any]) -> tuple[Cell, ...]:
    """The "win rate (amount)" row: n/a with the reason when the amounts make it
    meaningless (lost deals closed at 0, or closed deals without an amount)."""
    r = f["win_rate"]["amount"]
    codes = {q["code"] for q in f.get("data_quality") or []}
    why = (
        "lost deals closed at 0"
        if "lost_zero_amount" in codes
        else "closed deals without an amount"
        if "closed_without_amount" in codes
        else None
    )
    if why is None and r["rate"] is None and r["denominator"]:
        why = "every closed deal has amount 0"
    if why is not None:
        shown = f"; {_pct(r['rate'])}" if r["rate"] is not None else ""
        return (
            "win rate (amount)",
            "n/a",
            "text",
            f"not meaningful: {why} (see Data quality{shown})",
        )
    return (
        "win rate (amount)",
        r["rate"],
        "rate",
        f"{money(r['numerator'])} won of {money(r['denominator'])}",
    )


def win_rate_section(f: Mapping[str, Any]) -> Section:
    wr, sc = f["win_rate"], f["sales_cycle"]
    rows: list[tuple[Cell, ...]] = [
        (
            "win rate (deals)",
            wr["deals"]["rate"],
            "rate",
            f"{money(wr['deals']['numerator'])} won of {money(wr['deals']['denominator'])} closed",
        ),
        _amount_rate_row(f),
        *(
            (
                f"sales cycle, {o}",
                sc[o]["median_days"],
                "days",
                f"median; p90 {_d(sc[o]['p90_days'])}; {sc[o]['count']:,} deals",
            )
            for o in ("won", "lost")
        ),
        ("velocity", f["velocity_per_day"], "money", _VELOCITY),
    ]
    overall = wr["deals"]["rate"]
    segments = f.get("segments")
    chart_rows: list[tuple[Cell, ...]]
    if segments:
        title = f"Win rate by {f['by']}"
        chart_rows = [  # sorted by rate, at most 12 named, the rest pooled as "others"
            (name, rate, f"{_pct(rate)} ({money(num)}/{money(den)})")
            for name, rate, num, den in capped(
                [
                    (
                        _segment_name(s["value"]),
                        s["win_rate"]["numerator"],
                        s["win_rate"]["denominator"],
                    )
                    for s in segments
                ]
            )
        ]
        legend: tuple[str, ...] = ()
        colour_by: Any = "row"
        note = f"The chart: won / (won + lost) per {f['by']} at opening; "
    else:
        title = "Win rate of deals that reached each stage"
        chart_rows = [(r["label"], r["win_rate"], _pct(r["win_rate"])) for r in f["funnel"]["rows"]]
        legend = ("win rate of the deals that reached the stage",)
        colour_by = "kind"
        note = "The chart: won / (won + lost) among the deals that reached each stage; "
    return Section(
        id="win-rate",
        title="Win rate and sales cycle",
        columns=(FIGURE, value_column(), UNIT, Column("detail", "detail")),
        rows=rows,
        key=("figure",),
        notes=(note + "open deals are left out; the dashed line is the overall rate.",),
        chart=Chart(
            kind="bars",
            name="win-rate",
            title=title,
            label="name",
            values=("rate",),
            legend=legend,
            axes=AXES["win-rate"],
            unit="share",
            note="note",
            colour_by=colour_by,
            marks=() if overall is None else (Mark(overall, f"overall {_pct(overall)}"),),
            columns=(
                Column("name", f["by"] or "stage"),
                Column("rate", "win rate", "rate"),
                Column("note", "note"),
            ),
            rows=chart_rows,
        ),
    )


def segment_sections(f: Mapping[str, Any]) -> list[Section]:
    segments = f.get("segments")
    if not segments:
        return []
    by = str(f["by"])
    table = Section(
        id="segments",
        title=f"By {by}",
        columns=(
            Column("value", by),
            Column("deals", "deals", "count"),
            Column("won", "won", "count"),
            Column("closed", "closed", "count"),
            Column("win_rate", "win rate", "rate"),
            Column("won_cycle_median_days", "won cycle (median)", "days"),
            Column("velocity_per_day", "velocity (amount/day)", "money"),
            Column("won_amount", "won amount", "money", show=False),
            Column("closed_amount", "closed amount", "money", show=False),
            Column("win_rate_amount", "win rate (amount)", "rate", show=False),
        ),
        rows=[
            (
                _segment_name(s["value"]),
                s["deals"],
                s["win_rate"]["numerator"],
                s["win_rate"]["denominator"],
                s["win_rate"]["rate"],
                s["sales_cycle_won"]["median_days"],
                s["velocity_per_day"],
                s["win_rate_amount"]["numerator"],
                s["win_rate_amount"]["denominator"],
                s["win_rate_amount"]["rate"],
            )
            for s in segments
        ],
        key=("value",),
    )
    funnels = Section(
        id="segment-funnel",
        title=f"Funnel by {by}",
        columns=(
            Column("value", by),
            Column("stage", "stage"),
            Column("reached", "reached", "count"),
            Column("conversion_rate", "conversion", "rate"),
            Column("win_rate", "win rate", "rate"),
        ),
        rows=[
            (
                _segment_name(s["value"]),
                r["stage"],
                r["reached"],
                r["conversion_rate"],
                r["win_rate"],
            )
            for s in segments
            for r in s["funnel"]
        ],
        key=("value", "stage"),
        formats=("json", "csv"),
    )
    return [table, funnels]


def snapshot_section(f: Mapping[str, Any]) -> Section:
    return Section(
        id="snapshot",
        title="Open pipeline now",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("deals", "deals", "count"),
            Column("amount", "amount", "money"),
        ),
        rows=[(r["stage"], r["label"], r["count"], r["amount"]) for r in f["snapshot"]],
        key=("stage",),
        notes=tuple(no_amount_lines(f, "the amounts above")),
    )


def stalled_section(f: Mapping[str, Any], limit: int) -> Section:
    """The stalled deals: the ``limit`` largest by amount, longest idle first."""
    labels = {s["name"]: s["label"] for s in f["pipeline"]["stages"]}
    stalled = f["stalled"]
    rows = [
        (s["deal_id"], labels.get(s["stage"], s["stage"]), s["idle_days"], s["amount"], s["stage"])
        for s in stalled
    ]
    kept = cap(rows, 3, limit)
    measured = _stalled_measured(f)
    limits = ", ".join(
        f"{s['label']} {s['rot_after_days']:g} d"
        for s in f["pipeline"]["stages"]
        if s["outcome"] == "open" and s["rot_after_days"] is not None
    )
    rule = (
        "idle: time since the deal's last event of any kind; listed when longer than its "
        f"stage's rot_after ({limits})."
    )
    return Section(
        id="stalled",
        title=f"Stalled deals ({len(stalled):,})" if measured else "Stalled deals",
        columns=(
            Column("deal_id", "deal"),
            Column("stage_label", "stage"),
            Column("idle_days", "idle", "days"),
            Column("amount", "amount", "money"),
            Column("stage", "stage id", show=False),
        ),
        rows=kept,
        key=("deal_id",),
        notes=(*_capped_note(len(kept), len(rows), "stalled deals"), rule) if rows else (),
        empty="none"
        if measured
        else (
            "not measured: no stage has rot_after, so no deal can show as stalled "
            f"({f['counts']['open']:,} open deals)"
        ),
        total=len(rows),
    )


def lost_reasons_section(f: Mapping[str, Any]) -> Section:
    return Section(
        id="lost-reasons",
        title="Lost reasons",
        columns=(
            Column("reason", "reason"),
            Column("deals", "deals", "count"),
            Column("amount", "amount", "money"),
        ),
        rows=[(r["reason"], r["deals"], r["amount"]) for r in f["lost_reasons"]],
        key=("reason",),
        empty="none",
    )
