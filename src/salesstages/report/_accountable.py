"""The report's accountable-forecast sections (issue 27): "Trends" (the five period
measures by month), "Calibration" (the stage probabilities against the outcomes,
and what the history suggests instead) and "Forecast calls" (each owner's calls
scored, when the report is given the calls).

:func:`accountable_figures` computes the figures (on either engine, through the
public functions); :func:`accountable_sections` words them as typed sections.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import forecast, metrics
from ..forecast._calls import Call, CallScores, CallSummary
from ._model import Chart, Column, Mark, Section

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from ..metrics._trend import TrendRow

__all__ = ["accountable_figures", "accountable_sections"]

_MEASURES = ("created", "won", "win_rate", "cycle", "conversion")


def _trend(data: Any, pipeline: Pipeline, as_of: datetime | None) -> list[dict[str, Any]]:
    """One row per month with the five measures and their changes."""
    by_measure: dict[str, list[TrendRow]] = {}
    for m in _MEASURES:
        rows = metrics.trend(data, pipeline, measure=m, as_of=as_of)  # type: ignore[arg-type]
        assert isinstance(rows, list)
        by_measure[m] = rows
    months = sorted({r.period for rows in by_measure.values() for r in rows})
    out = []
    for month in months:
        cell: dict[str, Any] = {"period": month}
        for m, rows in by_measure.items():
            row = next((r for r in rows if r.period == month), None)
            cell[m] = None if row is None else row.value
            cell[f"{m}_change"] = None if row is None else row.change
            cell[f"{m}_significant"] = None if row is None else row.significant
            if m in ("created", "won"):
                cell[f"{m}_amount" if m == "created" else "won_count"] = (
                    None if row is None else (row.amount if m == "created" else row.count)
                )
        out.append(cell)
    return out


def _summary(rows: Sequence[CallSummary]) -> list[dict[str, Any]]:
    return [
        {
            "key": str(r.key),
            "calls": r.calls,
            "median_abs_error": r.median_abs_error,
            "bias": r.bias,
            "median_accuracy": r.median_accuracy,
        }
        for r in rows
    ]


def accountable_figures(
    data: Any, pipeline: Pipeline, as_of: datetime | None, calls: Sequence[Call] | None
) -> dict[str, Any]:
    """The figures of the three sections, unworded (``calls`` None: no calls section)."""
    cal = forecast.calibration(data, pipeline, as_of=as_of)
    out: dict[str, Any] = {
        "trends": _trend(data, pipeline, as_of),
        "calibration": {
            "pairs": cal.pairs,
            "brier": cal.brier,
            "brier_base": cal.brier_base,
            "skill": cal.skill,
            "log_loss": cal.log_loss,
            "reason": cal.reason,
            "rows": [r.to_records()[0] for r in cal.rows],
        },
        "probabilities": [
            {**r.to_records()[0], "label": pipeline.stage(r.stage).label or r.stage}
            for r in forecast.suggest_probabilities(data, pipeline, as_of=as_of)
        ],
        "calls": None,
    }
    if calls is not None:
        scores = forecast.accuracy(data, pipeline, calls=calls, as_of=as_of)
        assert isinstance(scores, CallScores)
        out["calls"] = {
            "count": len(scores),
            "by_owner": _summary(scores.by_owner()),
            "by_week": _summary(scores.by_week()),
        }
    return out


def _trends_section(rows: Sequence[Mapping[str, Any]]) -> Section:
    return Section(
        id="trends",
        title="Trends by month",
        columns=(
            Column("period", "month"),
            Column("created", "created", "count"),
            Column("created_amount", "created amount", "money"),
            Column("won_count", "won", "count"),
            Column("won", "won amount", "money"),
            Column("won_change", "change", "money"),
            Column("win_rate", "win rate", "rate"),
            Column("win_rate_change", "change", "rate"),
            Column("win_rate_significant", "beyond chance", "flag"),
            Column("cycle", "median cycle", "days"),
            Column("cycle_significant", "cycle change beyond chance", "flag", show=False),
            Column("conversion", "first stage → won", "rate"),
            Column("conversion_significant", "conversion change beyond chance", "flag", show=False),
        ),
        rows=[
            (
                r["period"],
                r["created"],
                r["created_amount"],
                r["won_count"],
                r["won"],
                r["won_change"],
                r["win_rate"],
                r["win_rate_change"],
                r["win_rate_significant"],
                r["cycle"],
                r["cycle_significant"],
                r["conversion"],
                r["conversion_significant"],
            )
            for r in rows
        ],
        key=("period",),
        notes=(
            "Each month counts what happened in it (up to the report's as-of in the last "
            "month): deals created (their amount then), won (amount at winning), the win "
            "rate of the deals closed in it, the median cycle (created to won) of the "
            "deals won in it, and the share of the deals entering the first stage in it "
            "that were later won.",
            "'Beyond chance': the change from the previous month passes a two-proportion "
            "test at level 0.95 (rates) or a Mann–Whitney test (cycles; in JSON and CSV).",
        ),
        empty="no deals yet",
        chart=Chart(
            kind="grouped",
            name="trends",
            title="Won amount and amount created by month",
            label="period",
            values=("won", "created_amount"),
            legend=("won", "created"),
            axes=("amount", "month"),
            unit="amount",
            colour_by="series",
        ),
        wide=True,
    )


def _calibration_sections(
    cal: Mapping[str, Any], probabilities: Sequence[Mapping[str, Any]]
) -> list[Section]:
    def num(v: float | None) -> str:
        return "–" if v is None else f"{v:.3f}"

    lead = (
        f"Brier score {num(cal['brier'])} over {cal['pairs']:,} deal-months "
        f"(always predicting the base rate: {num(cal['brier_base'])}; skill "
        f"{num(cal['skill'])}, log loss {num(cal['log_loss'])}).",
    )
    reliability = Section(
        id="calibration",
        title="Calibration of the stage probabilities",
        columns=(
            Column("bin", "predicted"),
            Column("observed", "observed win rate", "rate"),
            Column("low", "low", "rate"),
            Column("high", "high", "rate"),
            Column("mean_predicted", "mean predicted", "rate"),
            Column("count", "deal-months", "count"),
        ),
        rows=[
            (
                f"{r['bin_start']:.0%}–{r['bin_end']:.0%}",
                r["observed"],
                r["low"],
                r["high"],
                r["mean_predicted"],
                r["count"],
            )
            for r in cal["rows"]
        ],
        key=("bin",),
        lead=lead if cal["reason"] is None else (*lead, cal["reason"]),
        notes=(
            "On the first of every month, each open deal whose outcome is known now is "
            "one pair: its stage's configured probability against whether it was won. "
            "Skill 1 is perfect, 0 no better than the base rate, below 0 worse. The bar is "
            "the observed win rate (whisker: 95% Wilson interval), the tick the mean "
            "predicted probability: on a well-calibrated pipeline they meet.",
        ),
        empty=cal["reason"] or "no deal open on the first of a month has a known outcome",
        chart=Chart(
            kind="intervals",
            name="calibration",
            title="Reliability: observed win rate against the predicted probability",
            label="bin",
            values=("observed", "low", "high", "mean_predicted"),
            legend=("observed win rate", "95% interval", "predicted"),
            axes=("win rate", "predicted probability"),
            unit="share",
            marks=(Mark(0.5, "even odds", "muted"),),
        ),
    )
    suggested = Section(
        id="suggested-probabilities",
        title="Stage probabilities: configured and observed",
        columns=(
            Column("stage", "stage", show=False),
            Column("label", "stage"),
            Column("configured", "configured", "rate"),
            Column("observed", "observed", "rate"),
            Column("low", "low", "rate"),
            Column("high", "high", "rate"),
            Column("deals", "closed deals", "count"),
            Column("outside", "outside the interval", "flag"),
        ),
        rows=[
            (
                r["stage"],
                r["label"],
                r["configured"],
                r["observed"],
                r["low"],
                r["high"],
                r["deals"],
                r["outside"],
            )
            for r in probabilities
        ],
        key=("stage",),
        notes=(
            "Observed: the share of the closed deals that entered the stage that were won, "
            "with its 95% Wilson interval; a configured probability outside it is flagged.",
        ),
        empty="no open stages",
    )
    return [reliability, suggested]


def _calls_sections(calls: Mapping[str, Any]) -> list[Section]:
    columns = (
        Column("calls", "calls", "count"),
        Column("median_abs_error", "median |error|", "money"),
        Column("bias", "bias", "money"),
        Column("median_accuracy", "median accuracy", "rate"),
    )

    def rows(key: str) -> list[tuple[Any, ...]]:
        return [
            (r["key"], r["calls"], r["median_abs_error"], r["bias"], r["median_accuracy"])
            for r in calls[key]
        ]

    note = (
        "Each call against what its owner won in the call's period (§17); accuracy = "
        "call / won, error = call − won (bias: the mean error, positive when the calls run "
        "high)."
    )
    return [
        Section(
            id="forecast-calls",
            title="Forecast calls by owner",
            columns=(Column("key", "owner"), *columns),
            rows=rows("by_owner"),
            key=("key",),
            lead=(f"{calls['count']:,} calls scored.",),
            notes=(note,),
            empty="no calls",
        ),
        Section(
            id="forecast-calls-by-week",
            title="Forecast calls by week of the period",
            columns=(Column("key", "week"), *columns),
            rows=rows("by_week"),
            key=("key",),
            notes=("Week 1 is the period's first seven days: the calls sharpen as it goes on.",),
            empty="no calls",
        ),
    ]


def accountable_sections(f: Mapping[str, Any] | None) -> list[Section]:
    """The sections of :func:`accountable_figures`' figures (none when not computed)."""
    if f is None:
        return []
    out = [
        _trends_section(f["trends"]),
        *_calibration_sections(f["calibration"], f["probabilities"]),
    ]
    if f.get("calls") is not None:
        out.extend(_calls_sections(f["calls"]))
    return out
