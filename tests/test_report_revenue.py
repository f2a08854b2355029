"""The report's "Recurring revenue" sections (issue 25): shown in every format when a
won deal carries arr, with the figures of metrics.arr, revenue_movement, retention,
cohort_retention and accounts; absent otherwise."""

from __future__ import annotations

import json
from pathlib import Path

from _cli_data import Runner
from salesstages.io import write_jsonl
from salesstages.report import build_report, render_csv, render_html, render_text
from test_report_model import SCHEMA_FILE, validate
from test_revenue import AS_OF, LOG, P, at, won_deal

IDS = ("recurring-revenue", "arr-movement", "arr-cohorts", "renewals-due")


def test_the_sections_carry_the_figures() -> None:
    """ARR now 15,000; this quarter (2027-Q2 so far) nothing moved; over the last twelve
    months NRR 15,000 / 16,000; bolt's contract is due 2027-11-01, beyond 90 days."""
    report = build_report(LOG, P, as_of=AS_OF)
    ids = [s.id for s in report.sections]
    assert all(i in ids for i in IDS)
    summary = {r["figure"]: r["value"] for r in report.section("recurring-revenue").records()}
    assert summary["arr"] == 15_000.0
    assert summary["nrr"] == 15_000 / 16_000  # acme 10,000 → 9,000; bolt 6,000 → 6,000
    movement = {r["line"]: r["amount"] for r in report.section("arr-movement").records()}
    assert movement["opening"] == movement["closing"] == 15_000.0
    assert report.section("renewals-due").records() == []
    soon = build_report(LOG, P, as_of=at("2027-09-01"))
    assert soon.section("renewals-due").records() == [
        {"account": "bolt", "renewal_due": "2027-11-01", "arr": 6_000.0}
    ]


def test_every_format_lays_the_sections_out() -> None:
    """Text, CSV, HTML and JSON (valid against the schema) all show them."""
    report = build_report(LOG, P, as_of=AS_OF)
    assert "Recurring revenue" in render_text(report)
    assert "arr-movement" in render_csv(report)
    html = render_html(report)
    assert "Recurring revenue" in html
    assert 'data-chart="arr-movement"' in html
    schema = json.loads(Path(SCHEMA_FILE).read_text(encoding="utf-8"))
    validate(report.to_dict(), schema, schema)


def test_no_section_without_arr() -> None:
    """A log whose won deals carry no arr has no recurring-revenue section."""
    log = won_deal("Z", "2026-01-01", "2026-01-02", amount=100)
    ids = [s.id for s in build_report(log, P).sections]
    assert not any(i in ids for i in IDS)


def test_the_cli_adds_the_bowtie_with_a_success_log(tmp_path: Path, run: Runner) -> None:
    """``report --success-log FILE --success-pipeline customer_success`` adds the bow-tie
    section (both funnels around the win) in every format."""
    from test_bowtie import SALES, SUCCESS

    sales, success = tmp_path / "sales.jsonl", tmp_path / "success.jsonl"
    write_jsonl(SALES, sales)
    write_jsonl(SUCCESS, success)
    pipeline = tmp_path / "plain.json"
    pipeline.write_text(json.dumps(P.to_dict()), encoding="utf-8")
    status, out, err = run(
        "report", str(sales), "-p", str(pipeline), "-f", "json", "--as-of", "2027-04-15", "--force",
        "--success-log", str(success), "--success-pipeline", "customer_success",
    )  # fmt: skip
    assert status == 0, err
    sections = {s["id"]: s for s in json.loads(out)["sections"]}
    rows = sections["bowtie"]["rows"]
    assert rows[0][0] == "sales"
    knot = next(r for r in rows if r[0] == "knot")
    assert knot[4] == 2 / 3  # A1, B1 won, L2 lost (tests/test_bowtie.py)
    status, _, err = run(
        "report", str(sales), "-p", str(pipeline), "--success-log", str(success),
    )  # fmt: skip
    assert status == 2
    assert "--success-pipeline" in err
