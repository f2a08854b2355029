"""The JSON report stays small on a log with many deals (issue 24).

The log has the shape of ``benchmarks/many_deals.py`` (a high-volume inbound
team: about 5.3 events a deal, most deals lost early, a third still open) at
100k events. The issue's target is 1 MB at 1M events; scaled linearly, 100 KB
here. It rests on the report's lean outputs (curves at most one point a day,
per-deal lists capped to the top deals), written as the command line writes it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from salesstages._simulate import simulate
from salesstages.presets import inbound_b2b
from salesstages.report import build_report

pytestmark = pytest.mark.slow

#: benchmarks/many_deals.py's SHAPE and EVENTS_PER_DEAL.
SHAPE = {"days": 180, "loss_rate": 3.0, "mean_stage_days": 35, "reopen_rate": 0.1}
EVENTS = 100_000
#: 1 MB at 1M events, scaled to this log.
LIMIT = 1_000_000 * EVENTS // 1_000_000


@pytest.fixture(scope="module")
def report_json() -> tuple[int, str]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    log = simulate(inbound_b2b(), deals=round(EVENTS / 5.33), start=start, seed=2, **SHAPE)
    report = build_report(log, inbound_b2b()).to_dict()
    return len(log), json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False)


def test_the_log_has_the_benchmark_shape(report_json: tuple[int, str]) -> None:
    events, _ = report_json
    assert 0.9 * EVENTS <= events <= 1.1 * EVENTS


def test_json_report_size(report_json: tuple[int, str]) -> None:
    _, text = report_json
    size = len(text.encode("utf-8"))
    assert size <= LIMIT, f"{size:,} bytes (limit {LIMIT:,})"
