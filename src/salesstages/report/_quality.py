"""The report's data-quality section: what the data cannot show, named first.

:func:`quality_section` builds the section's rows (``code``, ``message``,
``count``, ``examples``) from :func:`salesstages.metrics.data_quality` (of
the fold, or of an Ibis table on its backend), and the small hooks below
render it in every format: the text report prints it first when it is not
empty, CSV gives one row per finding, HTML a section of its own, JSON the
list as it is.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import metrics
from .._text import terminal
from ..metrics._quality import Finding

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from .._replay import Problem

__all__ = [
    "amount_win_rate_row",
    "funnel_imputed",
    "imputed_note",
    "quality_csv_rows",
    "quality_html",
    "quality_section",
    "quality_text",
    "stalled_note",
]


def _row(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "message": f.message, "count": f.count, "examples": list(f.examples)}


def quality_section(
    data: Any,
    pipeline: Pipeline,
    as_of: datetime,
    *,
    problems: Sequence[Problem] | None,
    torn_tail: int,
) -> list[dict[str, Any]]:
    """The ``data_quality`` rows of the report: :func:`salesstages.metrics.data_quality`
    of the fold (``data`` a :class:`~salesstages.metrics.Histories`) or of the Ibis
    table, on its backend. On a table the pipeline's rules are checked only when
    ``problems`` are given (the CLI checks them where it reads the events in Python):
    otherwise a ``not_checked`` row says so."""
    kw: dict[str, Any] = {"problems": problems or (), "torn_tail": torn_tail}
    if not isinstance(data, metrics.Histories):
        kw["as_of"] = as_of
    rows = [_row(f) for f in metrics.data_quality(data, pipeline, **kw)]
    if problems is None and not isinstance(data, metrics.Histories):
        rows.append(
            {
                "code": "not_checked",
                "message": "on this engine the pipeline's rules are not checked (use "
                "--engine python, or `salesstages check`)",
                "count": 0,
                "examples": [],
            }
        )
    return rows


def funnel_imputed(rows: list[dict[str, Any]], entered: Mapping[str, int], policy: str) -> None:
    """Mark each funnel row with ``entered`` (deals that entered the stage) and
    ``imputed`` (the part of ``reached`` that the ``"imputed"`` policy added)."""
    for r in rows:
        n = entered.get(r["stage"], 0)
        r["entered"] = n
        r["imputed"] = max(r["reached"] - n, 0) if policy == "imputed" else 0


def imputed_note(row: Mapping[str, Any]) -> str:
    """`` (12 imputed)`` or `` (all imputed)`` after a funnel row's reached count."""
    n = row.get("imputed") or 0
    if not n:
        return ""
    return " (all imputed)" if n >= row["reached"] else f" ({n:,} imputed)"


def stalled_note(report: Mapping[str, Any]) -> str:
    """What an empty stalled list means: none stalled, or not measured at all."""
    if any(
        s["rot_after_days"] is not None
        for s in report["pipeline"]["stages"]
        if s["outcome"] == "open"
    ):
        return "none"
    return (
        "not measured: no stage has rot_after, so no deal can show as stalled "
        f"({report['counts']['open']:,} open deals)"
    )


def amount_win_rate_row(report: Mapping[str, Any], rate: str) -> list[str] | None:
    """The text report's "win rate (amount)" row when the amounts make it meaningless
    (lost deals closed at 0, or closed deals without an amount); else ``None``."""
    codes = {r["code"] for r in report.get("data_quality") or []}
    if "lost_zero_amount" in codes:
        why = "lost deals closed at 0"
    elif "closed_without_amount" in codes:
        why = "closed deals without an amount"
    else:
        return None
    return ["win rate (amount)", "n/a", f"not meaningful: {why} (see Data quality; {rate})"]


def quality_text(report: Mapping[str, Any]) -> list[str]:
    """The text report's first section, or nothing when there is nothing to say."""
    rows = report.get("data_quality") or []
    if not rows:
        return []
    title = f"Data quality ({len(rows):,} finding{'s' if len(rows) != 1 else ''})"
    lines = ["", title, "=" * len(title)]
    for r in rows:
        lines.append(terminal(f"- {r['message']}{_examples(r)}"))
    return lines


def _examples(r: Mapping[str, Any]) -> str:
    """`` (e.g. A, B)``, or nothing when the message names every example already."""
    shown = [x for x in r["examples"] if x not in r["message"]]
    return f" (e.g. {', '.join(r['examples'])})" if shown else ""


def quality_csv_rows(report: Mapping[str, Any]) -> Iterable[tuple[Any, ...]]:
    """One CSV row per finding: its count under its code."""
    for r in report.get("data_quality") or []:
        yield ("data_quality", "", r["code"], "count", r["count"])
        yield ("data_quality", "", r["code"], "message", r["message"])


def quality_html(report: Mapping[str, Any]) -> str:
    """The HTML report's data-quality section (empty when there is nothing to say)."""
    rows = report.get("data_quality") or []
    if not rows:
        return ""
    items = "".join(
        f"<li><code>{html.escape(r['code'])}</code> {html.escape(r['message'])}"
        + (f" <small>{html.escape(_examples(r).strip())}</small>" if _examples(r) else "")
        + "</li>"
        for r in rows
    )
    return (
        '<section class="wide" id="data-quality"><h2>Data quality</h2>'
        "<p>What the data cannot show: read the figures below with these in mind.</p>"
        f"<ul>{items}</ul></section>"
    )
