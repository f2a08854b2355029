"""The report's "Recurring revenue" sections (issue 25, contract §19), shown when any
won deal carries ``arr``: ARR now, this quarter's movement as a waterfall (opening →
closing), NRR / GRR / logo retention of the trailing twelve months, the cohort heat
map's cells, and the renewals due in the next 90 days.

:func:`revenue_figures` computes them (on the fold or on an Ibis table, through the
public metrics); :func:`revenue_sections` words them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from .. import metrics
from ..metrics._contracts import TICK
from ..metrics._revenue_types import period_start
from ._model import Cell, Chart, Column, Section

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["revenue_figures", "revenue_sections"]

_YEAR: Final = timedelta(days=365)
_DUE: Final = timedelta(days=90)
_ADDS: Final = ("new", "reactivation", "expansion")
_LEVELS: Final = ("opening", "closing")


def revenue_figures(data: Any, pipeline: Pipeline, as_of: datetime) -> dict[str, Any] | None:
    """The recurring-revenue figures at ``as_of``, or ``None`` when no won deal carries
    ``arr`` (no account ever had ARR)."""
    accounts = metrics.accounts(data, pipeline, as_of=as_of)
    if not any(a.status != "never_active" for a in accounts):
        return None
    quarter = period_start(as_of, "quarter")
    move = metrics.revenue_movement(data, pipeline, start=quarter, end=as_of + TICK, as_of=as_of)
    year = metrics.retention(
        data, pipeline, start=as_of + TICK - _YEAR, end=as_of + TICK, as_of=as_of
    )
    today = as_of.date()
    due = [
        a
        for a in accounts
        if a.renewal_due is not None and today <= a.renewal_due <= (as_of + _DUE).date()
    ]
    return {
        "arr": sum(a.arr for a in accounts),
        "active": sum(1 for a in accounts if a.status == "active"),
        "churned": sum(1 for a in accounts if a.status == "churned"),
        "movement": {
            "start": quarter.isoformat(),
            "end": move.closing_at.isoformat(),
            "rows": move.to_records(),
            "quick_ratio": move.quick_ratio,
        },
        "retention": {
            "nrr": year.nrr,
            "grr": year.grr,
            "logo_retention": year.logo_retention,
            "accounts": year.accounts,
            "reason": year.reason,
        },
        "cohorts": [
            c.to_records()[0] for c in metrics.cohort_retention(data, pipeline, as_of=as_of)
        ],
        "renewals": [
            {"account": a.account, "renewal_due": str(a.renewal_due), "arr": a.arr}
            for a in sorted(due, key=lambda a: (str(a.renewal_due), a.account))
        ],
    }


def _summary(r: Mapping[str, Any]) -> Section:
    ret = r["retention"]
    rows: list[tuple[Cell, ...]] = [
        ("arr", "ARR now", r["arr"], "money"),
        ("active", "paying accounts", r["active"], "count"),
        ("churned", "churned accounts", r["churned"], "count"),
        ("nrr", "net revenue retention, last 12 months", ret["nrr"], "rate"),
        ("grr", "gross revenue retention, last 12 months", ret["grr"], "rate"),
        ("logo_retention", "logo retention, last 12 months", ret["logo_retention"], "rate"),
    ]
    return Section(
        id="recurring-revenue",
        title="Recurring revenue",
        columns=(
            Column("figure", "figure id", show=False),
            Column("label", "figure"),
            Column("value", "value", kind_from="kind", missing="n/a"),
            Column("kind", "kind", show=False),
        ),
        rows=rows,
        key=("figure",),
        notes=(
            "ARR: the sum of arr over won deals whose contract covers the day "
            "(contract_start <= day < contract_end); retention over the accounts that had "
            "ARR twelve months ago" + (f" ({ret['reason']})" if ret["reason"] else "") + ".",
        ),
    )


def _movement(r: Mapping[str, Any]) -> Section:
    mv = r["movement"]
    chart_rows: list[tuple[Cell, ...]] = []
    rows: list[tuple[Cell, ...]] = []
    for row in mv["rows"]:
        line, count, amount = row["line"], row["count"], float(row["amount"])
        step = "total" if line in _LEVELS else "increase" if line in _ADDS else "decrease"
        label = line if line in _LEVELS else ("+ " if line in _ADDS else "− ") + line
        rows.append((line, label, count, amount))
        chart_rows.append((label, amount if step != "decrease" else -amount, step))
    quick = mv["quick_ratio"]
    return Section(
        id="arr-movement",
        title=f"ARR movement {mv['start'][:10]} to {mv['end'][:16].replace('T', ' ')} UTC",
        columns=(
            Column("line", "line id", show=False),
            Column("label", ""),
            Column("accounts", "accounts", "count"),
            Column("amount", "ARR", "money"),
        ),
        rows=rows,
        key=("line",),
        notes=(
            "closing = opening + new + reactivation + expansion − contraction − churn; "
            "quick ratio " + ("n/a (nothing lost)" if quick is None else f"{quick:.2f}") + ".",
        ),
        chart=Chart(
            kind="waterfall",
            name="arr-movement",
            title=f"ARR from {mv['start'][:10]} to {mv['end'][:10]}",
            label="line",
            values=("amount",),
            legend=("ARR (opening, closing)", "increase", "decrease"),
            axes=("movement line", "ARR"),
            unit="amount",
            step="step",
            columns=(
                Column("line", "line"),
                Column("amount", "ARR", "money"),
                Column("step", "step"),
            ),
            rows=chart_rows,
        ),
    )


def _cohorts(r: Mapping[str, Any]) -> Section:
    return Section(
        id="arr-cohorts",
        title="Net ARR retained by cohort (quarters)",
        columns=(
            Column("cohort", "cohort"),
            Column("periods_since", "quarters since", "count"),
            Column("accounts", "accounts", "count"),
            Column("arr_start", "starting ARR", "money"),
            Column("net_retained", "net retained", "rate"),
            Column("gross_retained", "gross retained", "rate"),
            Column("logos_retained", "logos retained", "count"),
        ),
        rows=[
            (
                c["cohort"],
                c["periods_since"],
                c["accounts"],
                c["arr_start"],
                c["net_retained"],
                c["gross_retained"],
                c["logos_retained"],
            )
            for c in r["cohorts"]
        ],
        key=("cohort", "periods_since"),
        empty="no account has had ARR yet",
        wide=True,
    )


def _renewals(r: Mapping[str, Any]) -> Section:
    return Section(
        id="renewals-due",
        title=f"Renewals due in the next 90 days ({len(r['renewals']):,})",
        columns=(
            Column("account", "account"),
            Column("renewal_due", "due", "date"),
            Column("arr", "ARR", "money"),
        ),
        rows=[(x["account"], x["renewal_due"], x["arr"]) for x in r["renewals"]],
        key=("account",),
        empty="no contract comes due in the next 90 days",
    )


def revenue_sections(r: Mapping[str, Any] | None) -> list[Section]:
    """The recurring-revenue sections (none when ``r`` is ``None``)."""
    if r is None:
        return []
    return [_summary(r), _movement(r), _cohorts(r), _renewals(r)]


def bowtie_figures(
    data: Any,
    pipeline: Pipeline,
    success_events: Any,
    success_pipeline: Pipeline,
    as_of: datetime | None,
) -> dict[str, Any]:
    """The bow-tie's rows (:meth:`salesstages.metrics.BowTie.to_records`)."""
    tie = metrics.bowtie(
        data, pipeline, success_events=success_events, success_pipeline=success_pipeline,
        as_of=as_of,
    )  # fmt: skip
    return {"rows": tie.to_records()}


_PARTS: Final = {
    "sales": "sales funnel",
    "knot": "the win (new business)",
    "success": "success funnel",
    "after": "after the win",
}
_KINDS: Final = {"time_to_first_impact": "days"}


def bowtie_sections(b: Mapping[str, Any] | None) -> list[Section]:
    """The bow-tie section: the sales funnel, the knot, the success funnel and the
    figures after the win, left to right (none when ``b`` is ``None``)."""
    if b is None:
        return []
    rows: list[tuple[Cell, ...]] = [
        (
            r["part"],
            _PARTS[r["part"]],
            r["step"],
            r["count"],
            r["value"],
            _KINDS.get(r["step"], "rate"),
        )
        for r in b["rows"]
    ]
    return [
        Section(
            id="bowtie",
            title="The bow-tie: both funnels around the win",
            columns=(
                Column("part", "part id", show=False),
                Column("part_label", "part"),
                Column("step", "step"),
                Column("count", "deals or accounts", "count"),
                Column("value", "rate or days", kind_from="kind"),
                Column("kind", "kind", show=False),
            ),
            rows=rows,
            key=("part", "step"),
            notes=(
                "Funnel rows: reached and the rate to the next step; the win: closed "
                "new-business deals and their win rate; after the win: median days from the "
                "first win to first impact, renewal and expansion rates, NRR and GRR of the "
                "last twelve months.",
            ),
            wide=True,
        )
    ]
