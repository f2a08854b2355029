"""The report's accountable-forecast sections (issue 27): "Trends", "Calibration" and,
with calls, "Forecast calls", in the typed model and on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _helpers import plain_pipeline
from salesstages.cli import main
from salesstages.forecast import Call
from salesstages.io import write_jsonl
from salesstages.report import build_report, render_html, render_text
from test_calls import at
from test_calls import log as calls_log
from test_trend import log as trend_log


def test_trends_and_calibration_sections() -> None:
    report = build_report(trend_log(), plain_pipeline())
    trends = report.section("trends")
    rows = {r["period"]: r for r in trends.records()}
    assert list(rows) == ["2026-01", "2026-02", "2026-03"]
    # hand figures of test_trend: February created 3 (280), won 230 in 2 deals, win rate 2/3
    feb = rows["2026-02"]
    assert (feb["created"], feb["created_amount"], feb["won_count"], feb["won"]) == (3, 280, 2, 230)
    assert feb["win_rate"] == pytest.approx(2 / 3)
    assert feb["cycle"] == 24
    assert feb["win_rate_significant"] is False
    assert trends.chart is not None
    assert trends.chart.name == "trends"
    cal = report.section("calibration")
    assert cal.chart is not None
    assert cal.chart.kind == "intervals"
    suggested = report.section("suggested-probabilities")
    assert [r["stage"] for r in suggested.records()] == ["a", "b", "c"]
    assert "forecast-calls" not in [s.id for s in report.sections]
    html = render_html(report)
    assert 'data-chart="trends"' in html
    assert 'data-chart="calibration"' in html


def test_calibration_without_known_outcomes_says_why() -> None:
    """A plain pipeline has no probabilities, but more to the point: one month of log
    has no first-of-month date, so no pair: the section says so, never a 0."""
    report = build_report(calls_log()[:3], plain_pipeline())
    cal = report.section("calibration")
    assert cal.rows == ()
    assert "no deal open" in cal.empty
    assert "Brier score – over 0" in render_text(report)


def test_forecast_calls_sections() -> None:
    calls = [
        Call("ana", "2026-Q1", "commit", 200, at(8)),  # ana won 240 in Q1: error -40
        Call("bob", "2026-Q1", "commit", 100, at(1)),  # bob won 50: error +50
    ]
    report = build_report(calls_log(), plain_pipeline(), calls=calls)
    owners = report.section("forecast-calls").records()
    assert [(r["key"], r["bias"]) for r in owners] == [("ana", -40), ("bob", 50)]
    weeks = report.section("forecast-calls-by-week").records()
    assert [(r["key"], r["calls"]) for r in weeks] == [("1", 1), ("2", 1)]


def test_report_calls_option(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.jsonl"
    write_jsonl(calls_log(), log)
    calls = tmp_path / "calls.csv"
    calls.write_text(
        "owner,period,category,amount,at\nana,2026-Q1,commit,200,2026-01-09\n", encoding="utf-8"
    )
    args = ["report", str(log), "-p", "_helpers:plain_pipeline", "-f", "json"]
    assert main([*args, "--calls", str(calls)]) == 0
    doc = json.loads(capsys.readouterr().out)
    (section,) = [s for s in doc["sections"] if s["id"] == "forecast-calls"]
    assert section["rows"][0][:2] == ["ana", 1]
    calls.write_text("owner,period,category,amount,at\nana,2026-Q1,maybe,1,2026-01-09\n")
    assert main([*args, "--calls", str(calls)]) == 2
    err = capsys.readouterr().err
    assert "line 2" in err
    assert "category" in err
    # --out may not overwrite the calls file (an input)
    assert main([*args, "--calls", str(calls), "--out", str(calls)]) == 2
