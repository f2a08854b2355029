"""The pipeline report: every figure computed once, worded once, as a typed model,
and laid out as text, CSV, HTML, JSON and chart files.

:func:`build_report` computes the figures with :mod:`salesstages.metrics` and
:mod:`salesstages.forecast` and returns a :class:`Report`: an ordered list of
:class:`Section` records, each a table (:class:`Column` and rows), the words
about it (title, notes) and an optional :class:`Chart` naming the columns it
draws. Every renderer lays those sections out by column kind and chart kind,
so the formats never disagree: :func:`render_text` (the terminal report),
:func:`render_csv` (one row per figure), :func:`render_html` (one
self-contained page with inline SVG charts), :meth:`Report.to_dict` (JSON,
schema :data:`SCHEMA`, see ``docs/reference/report-schema.json``) and
:func:`save_charts` (PNG or SVG files; needs ``pip install
'salesstages[plot]'``). ``salesstages report`` on the command line is these
functions put together.

Example::

    from salesstages.report import build_report, render_html

    report = build_report(store.events(), pipeline, by="owner")
    report.section("funnel").records()[0]["reached"]
    Path("report.html").write_text(render_html(report), encoding="utf-8")
"""

from __future__ import annotations

from ._build import LIMIT, build_report, deal_lists
from ._html import render_html
from ._model import SCHEMA, Chart, Column, Mark, Report, Section
from ._plot import save_charts
from ._text import render_csv, render_deals_csv, render_text

__all__ = [
    "LIMIT",
    "SCHEMA",
    "Chart",
    "Column",
    "Mark",
    "Report",
    "Section",
    "build_report",
    "deal_lists",
    "render_csv",
    "render_deals_csv",
    "render_html",
    "render_text",
    "save_charts",
]


def __dir__() -> list[str]:
    return list(__all__)
