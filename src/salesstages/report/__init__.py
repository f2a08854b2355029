"""The pipeline report: every figure in one JSON-ready dict, and its text, CSV,
HTML and chart forms.

:func:`build_report` computes the figures with :mod:`salesstages.metrics` and
:mod:`salesstages.forecast` and returns a plain dict in the stable schema
:data:`SCHEMA` (documented in ``docs/cli.md``). Every renderer reads that dict,
so the formats never disagree: :func:`render_text` (the terminal report),
:func:`render_csv` (one row per figure), :func:`render_html` (one
self-contained page with inline SVG charts) and :func:`save_charts` (PNG or
SVG files; needs ``pip install 'salesstages[plot]'``). ``salesstages report``
on the command line is these functions put together.

Example::

    from salesstages.report import build_report, render_html

    report = build_report(store.events(), pipeline, by="owner")
    Path("report.html").write_text(render_html(report), encoding="utf-8")
"""

from __future__ import annotations

from ._build import SCHEMA, build_report
from ._html import render_html
from ._plot import save_charts
from ._render import render_csv, render_text

__all__ = ["SCHEMA", "build_report", "render_csv", "render_html", "render_text", "save_charts"]


def __dir__() -> list[str]:
    return list(__all__)
