"""Typed usage of the report model: ``mypy --strict`` must accept this file (it is
not run). If the report's public types change in a way that breaks user code, this
file stops type-checking."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import salesstages as ss
from salesstages import report as rp


def use(events: Iterable[ss.Event], pipeline: ss.Pipeline) -> None:
    as_of = datetime(2026, 3, 15, tzinfo=UTC)
    report: rp.Report = rp.build_report(
        list(events), pipeline, as_of=as_of, by="owner", period="2026-Q1", target=1e6, limit=20
    )
    schema: str = report.schema
    assert schema == rp.SCHEMA
    warnings: tuple[str, ...] = report.warnings
    funnel: rp.Section = report.section("funnel")
    maybe: rp.Section | None = report.get("coverage")
    columns: tuple[rp.Column, ...] = funnel.columns
    rows: list[dict[str, str | int | float | bool | None]] = funnel.to_records()
    reached: list[str | int | float | bool | None] = funnel.column("reached")
    chart: rp.Chart | None = funnel.chart
    total: int | None = report.section("stalled").total
    data: dict[str, Any] = report.to_dict()
    Path("r.json").write_text(json.dumps(data), encoding="utf-8")
    text: str = rp.render_text(report) + rp.render_csv(report) + rp.render_html(report)
    full = rp.build_report(list(events), pipeline, limit=None)
    deals: str = rp.render_deals_csv(rp.deal_lists(full))
    del warnings, maybe, columns, rows, reached, chart, total, text, deals
