"""The report's text and CSV forms (:func:`render_text`, :func:`render_csv`),
read from the dict :func:`~salesstages.report.build_report` returns."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from .._text import csv_cell, csv_writer, terminal
from ._actions import actions_csv, actions_text
from ._build import TEXT_LIMIT
from ._quality import (
    amount_win_rate_row,
    imputed_note,
    quality_csv_rows,
    quality_text,
    stalled_note,
)
from ._style import stage_labels


# ----------------------------------------------------------------------- text
def _num(x: float | None, fmt: str = ",.0f") -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return format(x, fmt)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _d(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} d"


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, left: int = 1, align: str = ""
) -> str:
    """An aligned text table: the first ``left`` columns left-aligned, the rest right
    (or, with ``align``, one letter per column: ``l`` or ``r``).

    Every header and cell goes through :func:`salesstages._text.terminal`: control
    characters show as escapes, so a cell is always one line and drives nothing.
    """
    headers = [terminal(h) for h in headers]
    body = [[terminal(c) for c in r] for r in rows]
    align = align or "l" * left + "r" * (len(headers) - left)
    widths = [len(h) for h in headers]
    for r in body:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i])
            for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in body)
    return "\n".join(out)


def _when(iso: str | None) -> str:
    """An ISO timestamp (UTC) as ``2026-04-01 09:58 UTC``."""
    if not iso:
        return "–"
    return iso[:10] + " " + iso[11:16] + " UTC"


def _title(text: str) -> str:
    text = terminal(text)
    return f"{text}\n{'=' * len(text)}"


def _segment_name(value: object) -> str:
    return "(none)" if value is None else str(value)


def render_text(report: Mapping[str, Any]) -> str:
    """The report as aligned text tables, for a terminal.

    Every value from the data (deal ids, stage labels, lost reasons, segment
    values, the pipeline's name) has its control characters escaped
    (:func:`salesstages._text.terminal`), so none can drive the terminal or
    break a row in two.
    """
    p = report["pipeline"]
    c = report["counts"]
    parts = [
        _title(f"Pipeline report: {p['name']}"),
        f"As of {_when(report['as_of'])}"
        + (f" · source {terminal(str(report['source']))}" if report.get("source") else ""),
        f"{c['deals']:,} deals ({c['open']:,} open, {c['won']:,} won, {c['lost']:,} lost) "
        f"from {c['events']:,} events",
        *quality_text(report),
    ]
    f = report["funnel"]
    parts += [
        "",
        _title(f"Funnel (skips policy: {f['policy']})"),
        table(
            ["stage", "reached", "conversion", "win rate"],
            [
                [
                    r["label"],
                    f"{r['reached']:,}" + imputed_note(r),
                    _pct(r["conversion_rate"]),
                    _pct(r["win_rate"]),
                ]
                for r in f["rows"]
            ],
        ),
        FUNNEL_NOTE,
    ]
    parts += [
        "",
        _title("Time in stage (completed visits)"),
        table(
            ["stage", "visits", "median", "p90", "mean", "open now", "open median age"],
            [
                [
                    r["label"],
                    f"{r['count']:,}",
                    _d(r["median_days"]),
                    _d(r["p90_days"]),
                    _d(r["mean_days"]),
                    f"{r['open_count']:,}",
                    _d(r["open_median_age_days"]),
                ]
                for r in report["time_in_stage"]
            ],
        ),
        "visits: stays in the stage that ended (a deal back in it counts again); median, p90 and "
        "mean: their length; open now: deals in the stage at the as-of time, and the median of "
        "their days there so far.",
    ]
    if report["time_in_substate"]:
        parts += [
            "",
            _title("Time in sub-state (completed visits)"),
            table(
                ["stage", "sub-state", "visits", "median", "p90", "open now"],
                [
                    [
                        r["label"],
                        r["substate"],
                        f"{r['count']:,}",
                        _d(r["median_days"]),
                        _d(r["p90_days"]),
                        f"{r['open_count']:,}",
                    ]
                    for r in report["time_in_substate"]
                ],
                left=2,
            ),
        ]
    wr = report["win_rate"]
    sc = report["sales_cycle"]
    parts += [
        "",
        _title("Win rate and sales cycle"),
        table(
            ["figure", "value", "detail"],
            [
                [
                    "win rate (deals)",
                    _pct(wr["deals"]["rate"]),
                    f"{_num(wr['deals']['numerator'])} won of "
                    f"{_num(wr['deals']['denominator'])} closed",
                ],
                amount_win_rate_row(report, _pct(wr["amount"]["rate"]))
                or [
                    "win rate (amount)",
                    _pct(wr["amount"]["rate"]),
                    f"{_num(wr['amount']['numerator'])} won of {_num(wr['amount']['denominator'])}",
                ],
                [
                    "sales cycle, won",
                    _d(sc["won"]["median_days"]),
                    f"median; p90 {_d(sc['won']['p90_days'])}; {sc['won']['count']:,} deals",
                ],
                [
                    "sales cycle, lost",
                    _d(sc["lost"]["median_days"]),
                    f"median; p90 {_d(sc['lost']['p90_days'])}; {sc['lost']['count']:,} deals",
                ],
                [
                    "velocity",
                    _num(report["velocity_per_day"]),
                    "amount per day: open deals × win rate × mean won amount ÷ mean won cycle",
                ],
            ],
            align="lrl",
        ),
    ]
    if report.get("segments"):
        parts += [
            "",
            _title(f"By {report['by']}"),
            table(
                [
                    str(report["by"]),
                    "deals",
                    "won",
                    "closed",
                    "win rate",
                    "won cycle (median)",
                    "velocity (amount/day)",
                ],
                [
                    [
                        _segment_name(s["value"]),
                        f"{s['deals']:,}",
                        _num(s["win_rate"]["numerator"]),
                        _num(s["win_rate"]["denominator"]),
                        _pct(s["win_rate"]["rate"]),
                        _d(s["sales_cycle_won"]["median_days"]),
                        _num(s["velocity_per_day"]),
                    ]
                    for s in report["segments"]
                ],
            ),
        ]
    parts += [
        "",
        _title("Open pipeline now"),
        table(
            ["stage", "deals", "amount"],
            [[r["label"], f"{r['count']:,}", _num(r["amount"])] for r in report["snapshot"]],
        ),
        *_no_amount_lines(report, "the amounts above"),
    ]
    stalled = report["stalled"]
    labels = stage_labels(report)
    parts += ["", _title(f"Stalled deals ({len(stalled):,})")]
    if stalled:
        parts.append(
            table(
                ["deal", "stage", "idle"],
                [
                    [s["deal_id"], labels.get(s["stage"], s["stage"]), _d(s["idle_days"])]
                    for s in stalled[:TEXT_LIMIT]
                ],
                left=2,
            )
        )
        if len(stalled) > TEXT_LIMIT:
            parts.append(f"… and {len(stalled) - TEXT_LIMIT:,} more (all of them in --format json)")
        parts.append(_stalled_rule(report))
    else:
        parts.append(stalled_note(report))
    reasons = report["lost_reasons"]
    parts += ["", _title("Lost reasons")]
    parts.append(
        table(
            ["reason", "deals", "amount"],
            [[r["reason"], f"{r['deals']:,}", _num(r["amount"])] for r in reasons],
        )
        if reasons
        else "none"
    )
    fc = report["forecast"]
    parts += [
        "",
        _title("Forecast of the open pipeline"),
        table(
            ["method", "amount", "meaning"],
            [
                ["weighted", _num(fc["weighted"]), "Σ amount × stage probability"],
                ["markov", _num(fc["markov"]), "Σ amount × P(win | stage), from observed moves"],
                [
                    "conditional",
                    _num(fc["conditional"]),
                    "Σ amount × P(win | stage, days in stage)",
                ],
                [
                    "conditional, horizon",
                    _num(fc["conditional_within_horizon"]),
                    f"the same, won within {_d(fc['horizon_days'])}",
                ],
                *_horizon_rows(fc),
            ],
            align="lrl",
        ),
        *_support_lines(fc),
        *_no_amount_lines(report, "every figure above"),
    ]
    ttc = report["time_to_close"]
    parts += [
        "",
        _title("Time to close (Kaplan–Meier, open deals censored)"),
        f"median {_d(ttc['median_days'])} over {ttc['deals']:,} deals "
        f"({ttc['censored']:,} still open)",
    ]
    bt = report["backtest"]
    parts += ["", _title("Forecast backtest"), *_backtest_quantity(bt)]
    if bt is None:
        parts.append("not enough history (needs at least two horizons of events)")
    else:
        methods = [e["method"] for e in bt["errors"]]
        parts.append(
            table(
                ["as of", "open deals", "actual", *methods],
                [
                    [
                        r["at"][:10],
                        f"{r['open_deals']:,}",
                        _num(r["actual"]),
                        *(_num(r["forecasts"][m]) for m in methods),
                    ]
                    for r in bt["rows"]
                ],
            )
        )
        parts.append("")
        parts.append(
            table(
                ["method", "bias", "MAE", "RMSE", "MAPE"],
                [
                    [
                        e["method"],
                        _num(e["bias"]),
                        _num(e["mae"]),
                        _num(e["rmse"]),
                        _pct(e["mape"]),
                    ]
                    for e in bt["errors"]
                ],
            )
        )
        parts.append(
            f"horizon {_d(bt['horizon_days'])}; best method first (lowest mean absolute error)"
        )
        parts += _hindsight_lines(report)
    parts += actions_text(report.get("actions"))
    from ._period import planning_text  # the period view (issue 14)

    parts += planning_text(report)
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------ csv
CSV_COLUMNS: Final = ("section", "segment", "item", "metric", "value")


def _csv_rows(report: Mapping[str, Any]) -> Iterable[tuple[Any, ...]]:
    yield ("report", "", "", "schema", report["schema"])
    yield ("report", "", "", "pipeline", report["pipeline"]["name"])
    yield ("report", "", "", "as_of", report["as_of"])
    for k, v in report["counts"].items():
        yield ("counts", "", "", k, v)
    yield from quality_csv_rows(report)

    def funnel(segment: str, rows: Iterable[Mapping[str, Any]]) -> Iterable[tuple[Any, ...]]:
        for r in rows:
            for m in ("reached", "conversion_rate", "win_rate"):
                yield ("funnel", segment, r["stage"], m, r[m])
            if "imputed" in r:
                yield ("funnel", segment, r["stage"], "imputed", r["imputed"])

    yield from funnel("", report["funnel"]["rows"])
    for r in report["time_in_stage"]:
        for m, v in r.items():
            if m not in ("stage", "label"):
                yield ("time_in_stage", "", r["stage"], m, v)
    for r in report["time_in_substate"]:
        for m, v in r.items():
            if m not in ("stage", "label", "substate"):
                yield ("time_in_substate", "", f"{r['stage']}/{r['substate']}", m, v)
    for kind, ratio in report["win_rate"].items():
        for m, v in ratio.items():
            yield ("win_rate", "", kind, m, v)
    for outcome, stats in report["sales_cycle"].items():
        for m, v in stats.items():
            yield ("sales_cycle", "", outcome, m, v)
    for r in report["snapshot"]:
        yield ("snapshot", "", r["stage"], "count", r["count"])
        yield ("snapshot", "", r["stage"], "amount", r["amount"])
    for s in report["stalled"]:
        yield ("stalled", "", s["deal_id"], "stage", s["stage"])
        yield ("stalled", "", s["deal_id"], "idle_days", s["idle_days"])
    for r in report["lost_reasons"]:
        yield ("lost_reasons", "", r["reason"], "deals", r["deals"])
        yield ("lost_reasons", "", r["reason"], "amount", r["amount"])
    yield ("velocity", "", "", "per_day", report["velocity_per_day"])
    fc = report["forecast"]
    for m in ("weighted", "markov", "conditional", "conditional_within_horizon", "horizon_days"):
        yield ("forecast", "", "", m, fc[m])
    for m in ("weighted_within_horizon", "markov_within_horizon"):
        if m in fc:
            yield ("forecast", "", "", m, fc[m])
    for r in fc.get("markov_support", []):
        yield ("markov", "", r["stage"], "moves", r["moves"])
    for r in fc["markov_win_probability"]:
        yield ("markov", "", r["stage"], "win_probability", r["win_probability"])
        yield ("markov", "", r["stage"], "expected_moves", r["expected_moves"])
    ttc = report["time_to_close"]
    for m in ("deals", "censored", "median_days"):
        yield ("time_to_close", "", "", m, ttc[m])
    for pt in ttc["curve"]:
        yield ("time_to_close", "", f"{pt['days']:.6f}", "survival", pt["survival"])
    bt = report["backtest"]
    if bt is not None:
        for r in bt["rows"]:
            yield ("backtest", "", r["at"], "actual", r["actual"])
            for m, v in r["forecasts"].items():
                yield ("backtest", "", r["at"], m, v)
        for e in bt["errors"]:
            for m in ("bias", "mae", "rmse", "mape"):
                yield ("backtest_error", "", e["method"], m, e[m])
    for s in report.get("segments") or ():
        seg = _segment_name(s["value"])
        yield ("segment", seg, "", "deals", s["deals"])
        for m, v in s["win_rate"].items():
            yield ("segment_win_rate", seg, "deals", m, v)
        yield (
            "segment",
            seg,
            "",
            "sales_cycle_won_median_days",
            s["sales_cycle_won"]["median_days"],
        )
        yield ("segment", seg, "", "velocity_per_day", s["velocity_per_day"])
        yield from (("segment_" + r[0], seg, *r[2:]) for r in funnel(seg, s["funnel"]))
    yield from actions_csv(report.get("actions"))
    from ._period import planning_csv_rows  # the period view (issue 14)

    yield from planning_csv_rows(report)


def render_csv(report: Mapping[str, Any]) -> str:
    """The report as one long CSV table: ``section, segment, item, metric, value``.

    Text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or CR) get a leading ``'``; see
    :func:`salesstages._text.csv_cell`.
    """
    buf = io.StringIO()
    writer = csv_writer(buf)  # quotes a cell holding a line break
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(report):
        writer.writerow(["" if v is None else csv_cell(v) for v in row])
    return buf.getvalue()


#: What the funnel's columns count.
FUNNEL_NOTE: Final = (
    "reached: deals that entered the stage (imputed: skipped it for a later one, counted as "
    "passing through); conversion: the share of those that reached the next stage (after the "
    "last: won); win rate: won / closed among them."
)


def _stalled_rule(report: Mapping[str, Any]) -> str:
    """The line under the stalled deals naming the rule and each stage's limit."""
    limits = ", ".join(
        f"{s['label']} {s['rot_after_days']:g} d"
        for s in report["pipeline"]["stages"]
        if s["outcome"] == "open" and s["rot_after_days"] is not None
    )
    return (
        "idle: time since the deal's last event of any kind; listed when longer than its "
        f"stage's rot_after ({limits})."
    )


def _no_amount(report: Mapping[str, Any]) -> int:
    """How many open deals have no amount (the data-quality finding's count)."""
    for r in report.get("data_quality") or []:
        if r["code"] == "open_without_amount":
            return int(r["count"])
    return 0


def _no_amount_lines(report: Mapping[str, Any], what: str) -> list[str]:
    """A note that open deals without an amount count as 0 in ``what``."""
    n = _no_amount(report)
    if not n:
        return []
    whole = report["counts"]["open"]
    share = f"all {n:,}" if n >= whole else f"{n:,} of {whole:,}"
    return [
        f"Open deals without an amount ({share}) count as 0 in {what}: a 0 there means no "
        "amount is known, not that nothing is expected (see Data quality)."
    ]


def _hindsight_lines(report: Mapping[str, Any]) -> list[str]:
    """A warning under the backtest when every open deal lacks an amount while closed
    deals have one: the amounts were likely written at closing (a CRM export's final
    values), so the past forecasts saw them in hindsight."""
    c = report["counts"]
    closed = c["won"] + c["lost"]
    undated = {r["code"]: r["count"] for r in report.get("data_quality") or []}
    n = _no_amount(report)
    if not n or n < c["open"] or not closed or undated.get("closed_without_amount", 0) >= closed:
        return []
    return [
        "Every open deal lacks an amount while closed deals have one: if the amounts are "
        "final values written at closing (as in a CRM export), the past forecasts above already "
        "knew them, so this backtest is not a fair test of the methods."
    ]


def _horizon_rows(fc: Mapping[str, Any]) -> list[list[str]]:
    """The weighted and Markov forecasts of the amount won within the horizon."""
    if fc.get("weighted_within_horizon") is None:
        return []
    within = f"won within {_d(fc['horizon_days'])}"
    return [
        ["weighted, horizon", _num(fc["weighted_within_horizon"]), f"weighted, {within}"],
        ["markov, horizon", _num(fc["markov_within_horizon"]), f"markov, {within}"],
    ]


def _support_lines(fc: Mapping[str, Any]) -> list[str]:
    """How many observed moves each stage's Markov estimate rests on."""
    rows = fc.get("markov_support") or []
    if not rows:
        return []
    shown = ", ".join(
        f"{terminal(r['label'])} {r['moves']:,}"
        + (" (no estimate: configured probability used)" if r["win_probability"] is None else "")
        for r in rows
    )
    return [f"Markov support (moves observed out of each stage): {shown}"]


def _backtest_quantity(bt: Mapping[str, Any] | None) -> list[str]:
    """The line under the backtest's title saying what every figure in it is."""
    if bt is None or not bt.get("quantity"):
        return []
    return [
        f"Every figure: the {bt['quantity']}, forecast (from the amounts known then) or actual."
    ]
