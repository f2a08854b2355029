"""The forecasts' wording: the forecast of the open pipeline, the Markov chain
behind it, time to close, and the backtest, as the report's sections (the
figures come from :mod:`._build`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._format import fmt
from ._model import Cell, Chart, Column, Mark, Section
from ._sections import FIGURE, UNIT, no_amount, no_amount_lines, value_column
from ._style import AXES

__all__ = ["backtest_sections", "forecast_sections", "time_to_close_section"]


def _d(x: float | None) -> str:
    return fmt(x, "days")


def _hindsight_lines(f: Mapping[str, Any]) -> list[str]:
    """A warning under the backtest when every open deal lacks an amount while closed
    deals have one: the amounts were likely written at closing (a CRM export's final
    values), so the past forecasts saw them in hindsight."""
    c = f["counts"]
    closed = c["won"] + c["lost"]
    codes = {r["code"]: r["count"] for r in f.get("data_quality") or []}
    if "amounts_look_final" in codes:
        return [
            "The amounts look like final values written when each deal closed (see Data "
            "quality): the past forecasts above already knew them, so this backtest is not a "
            "fair test of the methods."
        ]
    n = no_amount(f)
    if not n or n < c["open"] or not closed or codes.get("closed_without_amount", 0) >= closed:
        return []
    return [
        "Every open deal lacks an amount while closed deals have one: if the amounts are "
        "final values written at closing (as in a CRM export), the past forecasts above already "
        "knew them, so this backtest is not a fair test of the methods."
    ]


def _final_amount_lines(f: Mapping[str, Any]) -> list[str]:
    """Beside the forecast: the amounts look like final values (issue 22's hindsight
    check, ``amounts_look_final``), whatever the as-of time."""
    if not any(r["code"] == "amounts_look_final" for r in f.get("data_quality") or []):
        return []
    return [
        "The amounts look like final values written when each deal closed (see Data "
        "quality): a forecast as of a past date already knows what the deals closed at."
    ]


def forecast_sections(f: Mapping[str, Any]) -> list[Section]:
    fc = f["forecast"]
    within = f"won within {_d(fc['horizon_days'])}"
    rows: list[tuple[Cell, ...]] = [
        ("weighted", "weighted", fc["weighted"], "Σ amount × stage probability"),
        ("markov", "markov", fc["markov"], "Σ amount × P(win | stage), from observed moves"),
        (
            "conditional",
            "conditional",
            fc["conditional"],
            "Σ amount × P(win | stage, days in stage)",
        ),
        (
            "conditional_within_horizon",
            "conditional, horizon",
            fc["conditional_within_horizon"],
            f"the same, {within}",
        ),
        (
            "weighted_within_horizon",
            "weighted, horizon",
            fc["weighted_within_horizon"],
            f"weighted, {within}",
        ),
        (
            "markov_within_horizon",
            "markov, horizon",
            fc["markov_within_horizon"],
            f"markov, {within}",
        ),
    ]
    support = fc.get("markov_support") or []
    lines = []
    if support:
        shown = ", ".join(
            f"{r['label']} {r['moves']:,}"
            + (
                " (no estimate: configured probability used)"
                if r["win_probability"] is None
                else ""
            )
            for r in support
        )
        lines.append(f"Markov support (moves observed out of each stage): {shown}")
    forecast = Section(
        id="forecast",
        title="Forecast of the open pipeline",
        columns=(
            Column("method", "method id", show=False),
            Column("name", "method"),
            Column("amount", "amount", "money"),
            Column("meaning", "meaning"),
        ),
        rows=rows,
        key=("method",),
        notes=(*lines, *no_amount_lines(f, "every figure above"), *_final_amount_lines(f)),
    )
    probs = {r["stage"]: r for r in fc["markov_win_probability"]}
    markov = Section(
        id="markov",
        title="Markov chain of the stages",
        columns=(
            Column("stage", "stage id", show=False),
            Column("label", "stage"),
            Column("moves", "moves observed", "count"),
            Column("win_probability", "P(win)", "rate"),
            Column("expected_moves", "expected moves", "count"),
        ),
        rows=[
            (
                r["stage"],
                r["label"],
                r["moves"],
                r["win_probability"],
                probs.get(r["stage"], {}).get("expected_moves"),
            )
            for r in support
        ],
        key=("stage",),
        formats=("json", "csv"),
    )
    return [forecast, markov]


def time_to_close_section(f: Mapping[str, Any], points: Sequence[Mapping[str, Any]]) -> Section:
    """Time to close: its figures, and the Kaplan–Meier curve (``points``, at most one a
    day) as its chart."""
    ttc = f["time_to_close"]
    sc = f["sales_cycle"]
    median = ttc["median_days"]
    return Section(
        id="time-to-close",
        title="Time to close (Kaplan–Meier, open deals censored)",
        columns=(FIGURE, value_column(), UNIT),
        rows=[
            ("deals", ttc["deals"], "count"),
            ("still open (censored)", ttc["censored"], "count"),
            ("median time to close", median, "days"),
            ("median won cycle", sc["won"]["median_days"], "days"),
            ("median lost cycle", sc["lost"]["median_days"], "days"),
        ],
        key=("figure",),
        notes=(
            "Kaplan–Meier estimate, opened → closed (won or lost); open deals are censored. "
            f"Band: {ttc['level']:.0%} confidence. The curve keeps the last point of each "
            "day (the exact one: forecast.time_to_close).",
        ),
        chart=Chart(
            kind="survival",
            name="time-to-close",
            title="Time to close: share of deals still open",
            label="days",
            values=("survival", "lower", "upper"),
            legend=("share still open", f"{ttc['level']:.0%} confidence band"),
            axes=AXES["time-to-close"],
            unit="days",
            marks=(
                Mark(0.5, "half closed", "muted"),
                *(
                    ()
                    if median is None
                    else (Mark(median, "median time to close", "red", f"median {_d(median)}"),)
                ),
            ),
            columns=(
                Column("days", "days", "days"),
                Column("survival", "still open", "rate"),
                Column("lower", "lower", "rate"),
                Column("upper", "upper", "rate"),
            ),
            rows=[(p["days"], p["survival"], p["lower"], p["upper"]) for p in points],
        ),
    )


def backtest_sections(f: Mapping[str, Any]) -> list[Section]:
    bt = f["backtest"]
    hindsight = _hindsight_lines(f)
    amounts = no_amount_lines(f, "the forecasts")
    if bt is None:
        empty = Section(
            id="backtest",
            title="Forecast backtest",
            columns=(Column("at", "as of", "date"), Column("actual", "actual", "money")),
            empty="not enough history (needs at least two horizons of events)",
            chart=Chart(
                kind="grouped",
                name="backtest",
                title="Forecast backtest",
                label="at",
                values=("actual",),
                axes=AXES["backtest"],
                unit="amount",
                colour_by="series",
                empty="Not enough history for a backtest",
            ),
        )
        return [empty]
    methods = [e["method"] for e in bt["errors"]]
    horizon = _d(bt["horizon_days"])
    rows = bt["rows"]
    table = Section(
        id="backtest",
        title="Forecast backtest",
        columns=(
            Column("at", "as of", "date"),
            Column("open_deals", "open deals", "count"),
            Column("open_amount", "open amount", "money", show=False),
            Column("actual", "actual", "money"),
            Column("won_new", "won, opened after", "money", show=False),
            *(Column(m, m, "money") for m in methods),
            Column("window_days", "window", "days", show=False),
            Column("partial", "partial window", "flag", show=any(r.get("partial") for r in rows)),
            Column("notes", "notes", show=False),
        ),
        rows=[
            (
                r["at"],
                r["open_deals"],
                r["open_amount"],
                r["actual"],
                r["won_new"],
                *(r["forecasts"][m] for m in methods),
                r.get("window_days", bt["horizon_days"]),
                bool(r.get("partial")),
                " ".join(r.get("notes") or ()),
            )
            for r in rows
        ],
        key=("at",),
        lead=(
            f"Every figure: the {bt['quantity']}, forecast (from the amounts known then) or "
            "actual.",
        ),
        notes=(
            "As of each date, each method forecast the amount the deals open then would win "
            "within the horizon, from their amounts as of that date; the chart compares it with "
            "what they actually won within the horizon. A method without an estimate on a date "
            "(–) has no bar and is not scored there.",
            *(f"{str(r['at'])[:10]}: {' '.join(r['notes'])}" for r in rows if r.get("notes")),
            *amounts,
            *hindsight,
        ),
        chart=Chart(
            kind="grouped",
            name="backtest",
            title=f"Forecast backtest: amount won within {horizon} vs forecasts",
            label="at",
            values=("actual", *methods),
            legend=("actually won", *methods),
            axes=AXES["backtest"],
            unit="amount",
            colour_by="series",
        ),
    )
    errors = Section(
        id="backtest-errors",
        title="Forecast backtest: errors",
        columns=(
            Column("method", "method"),
            Column("bias", "bias", "money"),
            Column("mae", "MAE", "money"),
            Column("rmse", "RMSE", "money"),
            Column("mape", "MAPE", "rate"),
            Column("count", "dates scored", "count"),
        ),
        rows=[
            (e["method"], e["bias"], e["mae"], e["rmse"], e["mape"], e.get("count"))
            for e in bt["errors"]
        ],
        key=("method",),
        notes=(
            f"horizon {horizon}; best method first (lowest mean absolute error), each over the "
            "dates with a full window where it had an estimate (dates scored)"
            + (
                "; the dates lie less than one horizon apart, so their windows overlap and the "
                "errors are not independent."
                if bt.get("overlapping")
                else "."
            ),
        ),
    )
    return [table, errors]
