"""The report's data-quality section: what the data cannot show, named first.

:func:`quality_rows` computes the findings (``code``, ``message``,
``count``, ``examples``) with :func:`salesstages.metrics.data_quality` (of
the fold, or of an Ibis table on its backend); :func:`quality_section` words
them as the report's first section (shown only when it is not empty).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import metrics
from ..metrics._quality import Finding
from ._model import Column, Section

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from .._replay import Problem

__all__ = ["funnel_imputed", "quality_rows", "quality_section"]


def _row(f: Finding) -> dict[str, Any]:
    return {"code": f.code, "message": f.message, "count": f.count, "examples": list(f.examples)}


def quality_rows(
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


def _examples(r: Mapping[str, Any]) -> str:
    """`` (e.g. A, B)``, or nothing when the message names every example already."""
    shown = [x for x in r["examples"] if x not in r["message"]]
    return f" (e.g. {', '.join(r['examples'])})" if shown else ""


def quality_section(rows: Sequence[Mapping[str, Any]]) -> Section:
    """The data-quality section: one row per finding, said as one line each."""
    n = len(rows)
    return Section(
        id="data-quality",
        title=f"Data quality ({n:,} finding{'s' if n != 1 else ''})",
        columns=(
            Column("code", "code"),
            Column("finding", "finding"),
            Column("count", "count", "count", show=False),
            Column("examples", "examples", show=False),
            Column("message", "message", show=False),
        ),
        rows=[
            (
                r["code"],
                f"{r['message']}{_examples(r)}",
                r["count"],
                ", ".join(str(x) for x in r["examples"]),
                r["message"],
            )
            for r in rows
        ],
        key=("code",),
        lead=("What the data cannot show: read the figures below with these in mind.",)
        if rows
        else (),
        wide=True,
    )
