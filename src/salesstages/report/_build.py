"""Building the pipeline report: every figure computed once, then worded once.

:func:`build_report` computes the figures with :mod:`salesstages.metrics` and
:mod:`salesstages.forecast` into an internal dict (durations in days, money in
the deals' own currency, instants in ISO 8601 UTC, rates in [0, 1] or
``None``), and :mod:`._sections`, :mod:`._period_sections`, :mod:`._actions`
and :mod:`._quality` word it as the typed :class:`~._model.Report` every
renderer lays out.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Hashable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import attrs

from .. import forecast, metrics
from .._pipeline import Pipeline
from ..forecast._backtest import _backtest_folded
from ..forecast._calls import Call
from ..metrics._engine import Events, is_ibis_table
from . import _forecast_sections as fsec
from . import _sections as sec
from ._accountable import accountable_figures, accountable_sections
from ._actions import actions_section, actions_sections, empty_actions
from ._format import fmt
from ._model import SCHEMA, Report, Section
from ._paths import empty_paths, paths_figures, paths_sections
from ._period import Period, build_planning
from ._period_sections import planning_sections
from ._quality import funnel_imputed, quality_rows, quality_section
from ._revenue import bowtie_sections, revenue_figures, revenue_sections

if TYPE_CHECKING:
    from .._replay import Problem

#: How many deals the report lists (stalled, slipping) by default: those with the
#: largest amounts; the full lists are in the API and ``--deals-csv``.
LIMIT: Final = 50
_DAY: Final = timedelta(days=1)
#: The funnel's policies for skipped stages (see :func:`salesstages.metrics.funnel`).
Skips = Literal["touched", "imputed", "ordered"]
_Durations = dict[str, metrics.DurationStats]


def _days(td: timedelta | None) -> float | None:
    return None if td is None else td / _DAY


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _jsonable(value: object) -> str | int | float | bool | None:
    """A segment key as a JSON scalar (anything else as its text)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _stats(s: metrics.DurationStats) -> dict[str, Any]:
    return {
        "count": s.count,
        "open_count": s.open_count,
        "mean_days": _days(s.mean),
        "median_days": _days(s.median),
        "p90_days": _days(s.p90),
        "min_days": _days(s.min),
        "max_days": _days(s.max),
    }


def _ratio(r: metrics.Ratio) -> dict[str, Any]:
    return {"numerator": r.numerator, "denominator": r.denominator, "rate": r.rate}


def _funnel_rows(rows: Sequence[metrics.FunnelRow], labels: Mapping[str, str]) -> list[Any]:
    return [
        {
            "stage": r.stage,
            "label": labels[r.stage],
            "reached": r.reached,
            "conversion_rate": r.conversion_rate,
            "win_rate": r.win_rate,
        }
        for r in rows
    ]


def backtest_dates(
    first: datetime, as_of: datetime, horizon: timedelta, *, count: int = 6
) -> list[datetime]:
    """Up to ``count`` dates one horizon apart (their windows do not overlap), the last
    one horizon before ``as_of`` (a full window, §17), none before one horizon of
    history; empty when the log is shorter than two horizons."""
    start = first + horizon
    end = as_of - horizon
    if end <= start:
        return []
    dates = [end - horizon * i for i in range(count)]
    return sorted(d for d in dates if d >= start)


def build_report(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
    skips: Skips = "imputed",
    horizon: timedelta = timedelta(days=30),
    source: str | None = None,
    problems: Sequence[Problem] | None = None,
    torn_tail: int = 0,
    period: Period | str | None = None,
    target: float | Mapping[str, float] | None = None,
    target_by: str = "owner",
    limit: int | None = LIMIT,
    calls: Sequence[Call] | None = None,
) -> Report:
    """Every figure of the report, worded, as a typed :class:`~._model.Report`
    (its JSON form: schema :data:`~._model.SCHEMA`, ``report.to_dict()``).

    The ``data_quality`` section lists what the data cannot show (see
    :func:`salesstages.metrics.data_quality`); ``problems`` (from
    :meth:`Pipeline.check <salesstages.Pipeline.check>`, which the report does
    not run itself) and ``torn_tail`` (bytes of a torn last line skipped when
    reading) add to it.

    ``as_of`` defaults to the latest event; later events are ignored. ``by``
    adds a ``segments`` section keyed by that attribute's value at opening.
    ``events`` may also be a :class:`~salesstages.metrics.Histories` (folded at
    the report's ``as_of``) or an Ibis table, computed on its own backend.

    ``period`` (``"2026-Q1"``, ``"2026-03"``, ``"2026"`` or a :class:`Period`) adds
    the ``planning`` section: forecast categories, coverage against ``target``
    (one amount, or a mapping from each ``target_by`` value to its target),
    movement from the period's start to ``as_of`` and the slipping deals.

    ``calls`` (:class:`~salesstages.forecast.Call` records, e.g. from
    :func:`salesstages.io.read_calls`) adds the forecast calls' scores by owner and
    by week; the trends by month and the calibration of the stage probabilities
    are always there.

    ``limit`` caps the lists of deals (stalled, slipping) to those with the
    largest amounts (``None``: no cap); the section's ``total`` says how many
    there are.

    The log is folded once; the backtest's dates are rewound from that fold.
    On an Ibis table the report holds a :func:`~salesstages.metrics.session` for
    its own calls (one scan, pivots computed once), dropped when it returns.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 (or None for every deal), got {limit!r}")
    figures = compute(
        events,
        pipeline,
        as_of=as_of,
        by=by,
        skips=skips,
        horizon=horizon,
        source=source,
        problems=problems,
        torn_tail=torn_tail,
        period=period,
        target=target,
        target_by=target_by,
        calls=calls,
    )
    return assemble(figures, limit=limit)


def compute(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    by: str | None = None,
    skips: Skips = "imputed",
    horizon: timedelta = timedelta(days=30),
    source: str | None = None,
    problems: Sequence[Problem] | None = None,
    torn_tail: int = 0,
    period: Period | str | None = None,
    target: float | Mapping[str, float] | None = None,
    target_by: str = "owner",
    calls: Sequence[Call] | None = None,
) -> dict[str, Any]:
    """The report's figures, unworded, as an internal dict (see the module docstring)."""
    with metrics.session(events) if is_ibis_table(events) else contextlib.nullcontext():
        report = _build_report(
            events, pipeline, as_of, by, skips, horizon, source, problems, torn_tail
        )
        data, moment = report.get("_data"), _as_of(report)
        report["revenue"] = (
            None if data is None or moment is None else revenue_figures(data, pipeline, moment)
        )
        report["accountable"] = (
            None if data is None else _finite(accountable_figures(data, pipeline, moment, calls))
        )
        planned = None
        if period is not None:
            planned = build_planning(
                report.pop("_data"),
                pipeline,
                _as_of(report),
                period,
                target=target,
                target_by=target_by,
            )
        data = report.pop("_data", None)
        report["engine"] = _engine(data)
        report["planning"] = _finite(planned)
        return report


def _engine(data: Any) -> str:
    """``python`` for a fold, else the Ibis backend's name."""
    if data is None or isinstance(data, metrics.Histories):
        return "python"
    try:
        return str(data.get_backend().name)
    except Exception:
        return "ibis"


def assemble(f: dict[str, Any], *, limit: int | None = LIMIT) -> Report:
    """The typed report from its figures: every section worded, in order."""
    limit = limit or max(len(f["stalled"]), len((f.get("planning") or {}).get("slippage", ())), 1)
    lead, tail, warnings = planning_sections(f, f.get("planning"), limit)
    c = f["counts"]
    sections: list[Section] = [
        sec.headline_section(f),
        quality_section(f["data_quality"]),
        *lead,
        sec.funnel_section(f),
        *sec.time_in_stage_sections(f),
        sec.win_rate_section(f),
        *sec.segment_sections(f),
        sec.snapshot_section(f),
        sec.stalled_section(f, limit),
        *tail,
        sec.lost_reasons_section(f),
        *revenue_sections(f.get("revenue")),
        *bowtie_sections(f.get("bowtie")),
        *fsec.forecast_sections(f),
        fsec.time_to_close_section(f, _daily(f["time_to_close"]["curve"])),
        *fsec.backtest_sections(f),
        *actions_sections(f.get("actions")),
        *paths_sections(f.get("paths")),
        *accountable_sections(f.get("accountable")),
        sec.counts_section(f),
        sec.pipeline_section(f),
    ]
    source = f.get("source")
    as_of = f["as_of"]
    return Report(
        title=f"Pipeline report: {f['pipeline']['name']}",
        pipeline=f["pipeline"]["name"],
        as_of=as_of,
        source=source,
        by=f.get("by"),
        engine=f["engine"],
        generator=f["generator"],
        summary=(
            f"As of {fmt(as_of, 'time')}" + (f" · source {source}" if source else ""),
            f"{c['deals']:,} deals ({c['open']:,} open, {c['won']:,} won, {c['lost']:,} lost) "
            f"from {c['events']:,} events",
        ),
        warnings=tuple(warnings),
        sections=tuple(sections),
    )


def _daily(curve: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """A survival curve with at most one point a day: the last point of each day
    (the curve's value at the end of that day)."""
    out: dict[int, Mapping[str, Any]] = {}
    for p in curve:
        out[math.floor(p["days"])] = p
    return list(out.values())


def _build_report(
    events: Events,
    pipeline: Pipeline,
    as_of: datetime | None,
    by: str | None,
    skips: Skips,
    horizon: timedelta,
    source: str | None,
    problems: Sequence[Problem] | None = None,
    torn_tail: int = 0,
) -> dict[str, Any]:
    from .. import __version__

    labels = {s.name: s.title for s in pipeline.stages}
    data: Any
    if is_ibis_table(events):
        from ..metrics._ibis._facts import report_facts

        facts = _Facts(**report_facts(events, pipeline, as_of))
        data = people = events
    else:
        if not isinstance(events, metrics.Histories | list | tuple):
            events = list(events)  # the fold would list them anyway; the team reads them too
        people = None if isinstance(events, metrics.Histories) else events
        data = (
            events
            if isinstance(events, metrics.Histories)
            else metrics.histories(events, pipeline, as_of=as_of)
        )
        facts = _facts(data)
    as_of = facts.as_of
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "generator": f"salesstages {__version__}",
        "source": source,
        "pipeline": {
            "name": pipeline.name,
            "stages": [
                {
                    "name": s.name,
                    "label": s.title,
                    "outcome": s.outcome,
                    "probability": s.probability,
                    "rot_after_days": _days(s.rot_after),
                    "substates": list(s.substates),
                }
                for s in pipeline.stages
            ],
        },
        "as_of": _iso(as_of),
        "by": by,
    }
    report["_data"] = data  # the fold, for the period view (taken out by compute)
    if as_of is None or facts.first is None:  # no events at all, or none by as_of
        report.update(_empty_sections(pipeline, labels, skips))
        report["data_quality"] = _log_rows(problems, torn_tail)
        return report
    first = facts.first
    kw: dict[str, Any] = {"as_of": as_of}
    wr = cast(metrics.Ratio, metrics.win_rate(data, pipeline, **kw))
    wr_value = cast(metrics.Ratio, metrics.win_rate(data, pipeline, by_value=True, **kw))
    funnel = cast(list[metrics.FunnelRow], metrics.funnel(data, pipeline, skips=skips, **kw))
    durations = cast(_Durations, metrics.stage_durations(data, pipeline, **kw))
    durations_all = cast(
        _Durations, metrics.stage_durations(data, pipeline, include_open=True, **kw)
    )
    open_ages = facts.open_median_ages
    snap = metrics.snapshot(data, pipeline, as_of=as_of)
    cycle_won = cast(
        metrics.DurationStats, metrics.sales_cycle(data, pipeline, outcome="won", **kw)
    )
    cycle_lost = cast(
        metrics.DurationStats, metrics.sales_cycle(data, pipeline, outcome="lost", **kw)
    )
    velocity = cast(float, metrics.velocity(data, pipeline, **kw))
    survival = forecast.time_to_close(data, pipeline, **kw)
    model = forecast.markov(data, pipeline, **kw)
    report.update(
        {
            "period": {"first_event": _iso(first), "last_event": _iso(facts.last)},
            "counts": {"events": facts.events, **facts.outcomes},
            "funnel": {"policy": skips, "rows": _funnel_rows(funnel, labels)},
            "time_in_stage": [
                {
                    "stage": name,
                    "label": labels[name],
                    **_stats(durations[name]),
                    "current_median_days": _days(durations_all[name].median),
                    "open_median_age_days": _days(open_ages.get(name)),
                }
                for name in durations
            ],
            "time_in_substate": _substates(data, pipeline, as_of, labels),
            "win_rate": {"deals": _ratio(wr), "amount": _ratio(wr_value)},
            "sales_cycle": {"won": _stats(cycle_won), "lost": _stats(cycle_lost)},
            "snapshot": [
                {"stage": k, "label": labels[k], "count": v.count, "amount": v.amount}
                for k, v in snap.items()
            ],
            "stalled": [
                {
                    "deal_id": s.deal_id,
                    "stage": s.stage,
                    "idle_days": _days(s.idle),
                    "amount": _amount(data, s.deal_id),
                }
                for s in metrics.stalled(data, pipeline, **kw)
            ],
            "lost_reasons": [
                {"reason": reason, "deals": n, "amount": amount}
                for reason, n, amount in metrics.lost_reasons(data, pipeline, **kw)
            ],
            "velocity_per_day": velocity,
            "forecast": {
                "weighted": forecast.weighted(data, pipeline, **kw),
                "markov": forecast.markov_forecast(data, pipeline, model=model, **kw),
                "conditional": forecast.conditional_forecast(data, pipeline, **kw),
                "conditional_within_horizon": forecast.conditional_forecast(
                    data, pipeline, horizon=horizon, **kw
                ),
                "weighted_within_horizon": forecast.weighted(data, pipeline, horizon=horizon, **kw),
                "markov_within_horizon": forecast.markov_forecast(
                    data, pipeline, model=model, horizon=horizon, **kw
                ),
                "horizon_days": _days(horizon),
                "markov_support": [
                    {
                        "stage": s,
                        "label": labels[s],
                        "moves": n,
                        "win_probability": model.win_probability.get(s),
                    }
                    for s, n in model.support.items()
                ],
                "markov_win_probability": [
                    {
                        "stage": s,
                        "label": labels[s],
                        "win_probability": model.win_probability[s],
                        "expected_moves": model.expected_moves[s],
                    }
                    for s in model.stages
                ],
            },
            "time_to_close": {
                "deals": survival.deals,
                "censored": survival.censored,
                "median_days": _days(survival.median),
                "level": survival.level,
                "curve": [
                    {"days": _days(t), "survival": s, "lower": lo, "upper": hi}
                    for t, s, lo, hi in zip(
                        survival.times,
                        survival.survival,
                        survival.lower,
                        survival.upper,
                        strict=True,
                    )
                ],
            },
            "backtest": _backtest(data, pipeline, first, as_of, horizon),
            "segments": _segments(data, pipeline, by, as_of, skips, labels) if by else None,
            "actions": actions_section(data, pipeline, as_of),
            "paths": paths_figures(data, people, pipeline, as_of),
        }
    )
    touched = cast(list[metrics.FunnelRow], metrics.funnel(data, pipeline, skips="touched", **kw))
    entered = {r.stage: r.reached for r in touched}
    funnel_imputed(report["funnel"]["rows"], entered, skips)
    report["data_quality"] = quality_rows(
        data, pipeline, as_of, problems=problems, torn_tail=torn_tail
    )
    finite: dict[str, Any] = _finite(report)
    return finite


def _log_rows(problems: Sequence[Problem] | None, torn_tail: int) -> list[dict[str, Any]]:
    """The data-quality rows of a report with no events: only the reading and the check."""
    from ..metrics._quality import log_findings

    return [
        {"code": f.code, "message": f.message, "count": f.count, "examples": list(f.examples)}
        for f in log_findings(problems or (), torn_tail)
    ]


def _as_of(report: Mapping[str, Any]) -> datetime | None:
    text = report.get("as_of")
    return None if text is None else datetime.fromisoformat(text)


def _finite(value: Any) -> Any:
    """The report with infinite or NaN floats (e.g. a velocity over zero-length cycles)
    replaced by None, so that it is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def _empty_sections(pipeline: Pipeline, labels: Mapping[str, str], skips: Skips) -> dict[str, Any]:
    zero = _stats(
        metrics.DurationStats(
            count=0, open_count=0, mean=None, median=None, p90=None, min=None, max=None
        )
    )
    none_ratio = {"numerator": 0, "denominator": 0, "rate": None}
    return {
        "period": {"first_event": None, "last_event": None},
        "counts": {"events": 0, "deals": 0, "open": 0, "won": 0, "lost": 0},
        "funnel": {
            "policy": skips,
            "rows": [
                {
                    "stage": s.name,
                    "label": s.title,
                    "reached": 0,
                    "conversion_rate": None,
                    "win_rate": None,
                }
                for s in pipeline.open_stages
            ],
        },
        "time_in_stage": [
            {
                "stage": s.name,
                "label": s.title,
                **zero,
                "current_median_days": None,
                "open_median_age_days": None,
            }
            for s in pipeline.open_stages
        ],
        "time_in_substate": [],
        "win_rate": {"deals": none_ratio, "amount": none_ratio},
        "sales_cycle": {"won": zero, "lost": zero},
        "snapshot": [
            {"stage": s.name, "label": labels[s.name], "count": 0, "amount": 0.0}
            for s in pipeline.open_stages
        ],
        "stalled": [],
        "lost_reasons": [],
        "velocity_per_day": 0.0,
        "forecast": {
            "weighted": 0.0,
            "markov": 0.0,
            "conditional": 0.0,
            "conditional_within_horizon": 0.0,
            "weighted_within_horizon": 0.0,
            "markov_within_horizon": 0.0,
            "horizon_days": None,
            "markov_support": [
                {"stage": s.name, "label": s.title, "moves": 0, "win_probability": None}
                for s in pipeline.open_stages
            ],
            "markov_win_probability": [],
        },
        "time_to_close": {
            "deals": 0,
            "censored": 0,
            "median_days": None,
            "level": 0.95,
            "curve": [],
        },
        "backtest": None,
        "segments": None,
        "actions": empty_actions(),
        "paths": empty_paths(),
    }


@attrs.frozen(kw_only=True)
class _Facts:
    """What the report says about the log itself, besides the metrics."""

    as_of: datetime | None
    first: datetime | None
    last: datetime | None
    events: int
    outcomes: dict[str, int]
    open_median_ages: dict[str, timedelta]


def _facts(hist: metrics.Histories) -> _Facts:
    """The report's facts about the log, from its fold (no pass over the events)."""
    deals = hist.deals.values()
    outcomes = {"deals": len(hist.deals), "open": 0, "won": 0, "lost": 0}
    ages: dict[str, list[timedelta]] = {}
    as_of = hist.as_of
    for h in deals:
        outcomes[h.outcome] += 1
        if h.outcome == "open":
            ages.setdefault(h.stage, []).append(as_of - h.entries[-1][0])  # type: ignore[operator]
    return _Facts(
        as_of=as_of,
        first=min((h.opened_at for h in deals), default=None),
        last=max((h.last_at for h in deals), default=None),
        events=sum(h.events for h in deals),
        outcomes=outcomes,
        open_median_ages={stage: _median(xs) for stage, xs in ages.items()},
    )


def _amount(data: Any, deal_id: str) -> float | None:
    """An open deal's amount now, from the fold (``None`` on a table, or without one)."""
    if not isinstance(data, metrics.Histories):
        return None
    h = data.deals.get(deal_id)
    amount = None if h is None else h.attributes.get("amount")
    try:
        return None if amount is None else float(amount)
    except (TypeError, ValueError):
        return None


def _median(durations: list[timedelta]) -> timedelta:
    """The median of some durations, to the microsecond."""
    return timedelta(seconds=statistics.median(d.total_seconds() for d in durations))


def _substates(
    data: Any, pipeline: Pipeline, as_of: datetime, labels: Mapping[str, str]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in pipeline.open_stages:
        if not s.substates:
            continue
        stats = metrics.substate_durations(data, pipeline, stage=s.name, as_of=as_of)
        for sub in s.substates:
            rows.append(
                {"stage": s.name, "label": labels[s.name], "substate": sub, **_stats(stats[sub])}
            )
    return rows


def _backtest(
    data: Any, pipeline: Pipeline, first: datetime, as_of: datetime, horizon: timedelta
) -> dict[str, Any] | None:
    """The backtest section: from the report's own fold (each date's view rewound
    from it), or on the table's engine when ``data`` is a table."""
    dates = backtest_dates(first, as_of, horizon)
    if not dates:
        return None
    if isinstance(data, metrics.Histories):
        bt = _backtest_folded(data, pipeline, dates, horizon)
    else:
        bt = forecast.backtest(data, pipeline, dates=dates, horizon=horizon, as_of=as_of)
    return {
        "horizon_days": _days(bt.horizon),
        "quantity": f"amount won within {_days(bt.horizon):g} days of each date",
        "rows": [
            {
                "at": _iso(r.at),
                "open_deals": r.open_deals,
                "open_amount": r.open_amount,
                "actual": r.actual,
                "won_new": r.won_new,
                "forecasts": dict(r.forecasts),
                "window_days": _days(r.window),
                "partial": r.partial,
                "notes": list(r.notes),
            }
            for r in bt.rows
        ],
        "errors": [
            {
                "method": e.method,
                "bias": e.bias,
                "mae": e.mae,
                "rmse": e.rmse,
                "mape": e.mape,
                "count": e.count,
            }
            for e in bt.errors.values()
        ],
        "overlapping": bt.overlapping,
    }


def _segments(
    data: Any,
    pipeline: Pipeline,
    by: str,
    as_of: datetime,
    skips: Skips,
    labels: Mapping[str, str],
) -> list[dict[str, Any]]:
    kw: dict[str, Any] = {"as_of": as_of, "by": by}
    wr = cast(Mapping[Hashable, metrics.Ratio], metrics.win_rate(data, pipeline, **kw))
    wr_value = cast(
        Mapping[Hashable, metrics.Ratio], metrics.win_rate(data, pipeline, by_value=True, **kw)
    )
    cycle = cast(
        Mapping[Hashable, metrics.DurationStats], metrics.sales_cycle(data, pipeline, **kw)
    )
    fun = cast(
        Mapping[Hashable, list[metrics.FunnelRow]],
        metrics.funnel(data, pipeline, skips=skips, **kw),
    )
    vel = cast(Mapping[Hashable, float], metrics.velocity(data, pipeline, **kw))
    out: list[dict[str, Any]] = []
    for key, ratio in wr.items():
        first = fun[key][0].reached if fun.get(key) else 0
        out.append(
            {
                "value": _jsonable(key),
                "deals": first,
                "win_rate": _ratio(ratio),
                "win_rate_amount": _ratio(wr_value[key]),
                "sales_cycle_won": _stats(cycle[key]),
                "velocity_per_day": vel.get(key, 0.0),
                "funnel": _funnel_rows(fun.get(key, []), labels),
            }
        )
    return out


def deal_lists(report: Report) -> list[Section]:
    """The report's per-deal lists (stalled, slipping): its sections keyed by deal."""
    return [s for s in report.sections if s.key == ("deal_id",)]
