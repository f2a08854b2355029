"""The command line's report, check and diagram commands, pipeline specs, and error paths."""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _cli_data import Runner, cli_error, demo_events, write_demo_files
from salesstages import Event, Pipeline
from salesstages.cli import main
from salesstages.cli._spec import parse_as_of
from salesstages.io import write_jsonl
from salesstages.presets import classic_b2b, inbound_b2b
from salesstages.report import SCHEMA, build_report
from salesstages.report._build import backtest_dates
from salesstages.report._html import CHARTS
from salesstages.report._model import records
from salesstages.report._svg import chart_svg
from salesstages.report._text import table


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo quarter as JSONL, CSV and SQLite, written once for the module."""
    return write_demo_files(tmp_path_factory.mktemp("demo"))


# ----------------------------------------------------------------------- report
def test_report_text_has_every_section(files: dict[str, Path], run: Runner) -> None:
    """The text report shows the funnel, durations, win rate, cycle, stalls, reasons and forecasts."""
    status, out, _ = run("report", str(files["jsonl"]), "--pipeline", "inbound_b2b")
    assert status == 0
    for title in (
        "Funnel (skips policy: imputed)",
        "Time in stage (completed visits)",
        "Time in sub-state (completed visits)",
        "Win rate and sales cycle",
        "Open pipeline now",
        "Lost reasons",
        "Forecast of the open pipeline",
        "Time to close (Kaplan–Meier, open deals censored)",
        "Forecast backtest",
    ):
        assert f"{title}\n{'=' * len(title)}" in out
    assert "\nStalled deals (" in out
    assert "Solutions refinement" in out
    assert "By " not in out  # no --by, no segment table


def test_report_tables_are_aligned(files: dict[str, Path], run: Runner) -> None:
    """Every row of the funnel table is as wide as its rule line, columns right-aligned."""
    _, out, _ = run("report", str(files["jsonl"]), "-p", "inbound_b2b")
    block = out.split("Funnel (skips policy: imputed)\n")[1].split("\n\n")[0].splitlines()[1:-1]
    rule = block[1]
    assert set(rule) <= {"-", " "}
    assert all(len(line) == len(rule) for line in block)
    ends = {line.rfind("%") for line in block[2:]}
    assert len(ends) == 1


def test_report_json_schema(files: dict[str, Path], run: Runner) -> None:
    """``--format json`` prints the documented schema with every section and consistent numbers."""
    status, out, _ = run("report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "json")
    assert status == 0
    report = json.loads(out)
    assert report["schema"] == SCHEMA == "salesstages.report/3"
    assert set(report) == {
        "schema",
        "generator",
        "title",
        "pipeline",
        "as_of",
        "source",
        "by",
        "engine",
        "summary",
        "warnings",
        "sections",
    }
    assert [s["id"] for s in report["sections"]] == [
        "headline",
        "data-quality",
        "funnel",
        "time-in-stage",
        "time-in-substate",
        "win-rate",
        "snapshot",
        "stalled",
        "lost-reasons",
        "forecast",
        "markov",
        "time-to-close",
        "backtest",
        "backtest-errors",
        "actions",
        "action-conversion",
        "paths",
        "conformance",
        "conformance-by-month",
        "team",
        "trends",
        "calibration",
        "suggested-probabilities",
        "counts",
        "pipeline",
    ]
    (counts,) = records(report, "counts")
    assert counts["deals"] == 150
    assert counts["open"] + counts["won"] + counts["lost"] == counts["deals"]
    assert records(report, "funnel")[0]["reached"] == 150
    assert report["source"] == "events.jsonl"
    assert report["engine"] == "python"
    assert {r["substate"] for r in records(report, "time-in-substate")} == {
        "delivered",
        "review",
        "negotiation",
        "signing",
    }
    errors = records(report, "backtest-errors")
    assert errors[0]["mae"] <= errors[-1]["mae"]
    (chart,) = [s["chart"] for s in report["sections"] if s["id"] == "time-to-close"]
    curve = [
        dict(zip([c["name"] for c in chart["columns"]], r, strict=True)) for r in chart["rows"]
    ]
    assert all(a["survival"] >= b["survival"] for a, b in itertools.pairwise(curve))
    # at most one point a day (issue 24): the last of each day
    days = [math.floor(p["days"]) for p in curve]
    assert len(days) == len(set(days))


def test_report_same_figures_from_every_events_form(files: dict[str, Path], run: Runner) -> None:
    """The JSON report is the same whichever form the events come in, store files included."""
    reports = []
    for kind in ("jsonl", "csv", "sqlite", "jsonl-store"):
        status, out, _ = run("report", str(files[kind]), "-p", "inbound_b2b", "-f", "json")
        assert status == 0
        report = json.loads(out)
        source = report.pop("source")
        assert report.pop("summary")[0].endswith(f"source {source}")
        reports.append(report)
    assert reports[0] == reports[1] == reports[2] == reports[3]


def test_report_by_adds_segments(files: dict[str, Path], run: Runner) -> None:
    """``--by`` adds a segment per attribute value, whose deals add up to all deals."""
    _, out, _ = run(
        "report", str(files["jsonl"]), "-p", "inbound_b2b", "--by", "region", "-f", "json"
    )
    report = json.loads(out)
    segments = records(report, "segments")
    assert [s["value"] for s in segments] == ["apac", "emea", "latam", "na"]
    assert sum(s["deals"] for s in segments) == records(report, "counts")[0]["deals"]
    _, text, _ = run("report", str(files["jsonl"]), "-p", "inbound_b2b", "--by", "region")
    assert "By region\n=========" in text


def test_report_as_of_ignores_later_events(files: dict[str, Path], run: Runner) -> None:
    """``--as-of`` a date reports the log as it stood at the end of that day."""
    _, out, _ = run(
        "report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "json", "--as-of", "2026-01-31"
    )
    report = json.loads(out)
    assert report["as_of"] == "2026-01-31T23:59:59.999999+00:00"
    (counts,) = records(report, "counts")
    assert counts["last_event"] <= report["as_of"]
    cutoff = datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    opened = {e.deal_id for e in demo_events() if e.kind == "opened" and e.at <= cutoff}
    assert counts["deals"] == len(opened)


def test_report_csv_is_long_and_tidy(files: dict[str, Path], run: Runner) -> None:
    """``--format csv`` is one table of section, item, metric, value."""
    _, out, _ = run(
        "report", str(files["sqlite"]), "-p", "inbound_b2b", "-f", "csv", "--by", "owner"
    )
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["section", "item", "metric", "value"]
    assert all(len(r) == 4 for r in rows)
    sections = {r[0] for r in rows[1:]}
    assert {"funnel", "time-in-stage", "win-rate", "forecast", "backtest", "segments"} <= sections
    assert ["counts", "", "deals", "150"] in rows
    assert ["funnel", "discovery", "reached", "150"] in rows or any(
        r[:3] == ["funnel", "inbound_lead", "reached"] and r[3] == "150" for r in rows
    )


def test_report_html_out_file(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """``--format html --out`` writes one self-contained page with every chart and no network reference."""
    target = tmp_path / "report.html"
    status, out, _ = run(
        "report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "html", "-o", str(target)
    )
    assert status == 0
    assert out == ""
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for name in CHARTS:
        assert f'data-chart="{name}"' in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page
    assert "<link" not in page


def test_report_skips_policy(files: dict[str, Path], run: Runner) -> None:
    """``--skips touched`` counts only deals that entered a stage, never more than imputed."""
    _, a, _ = run("report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "json")
    _, b, _ = run(
        "report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "json", "--skips", "touched"
    )
    imputed, touched = records(json.loads(a), "funnel"), records(json.loads(b), "funnel")
    titles = {s["id"]: s["title"] for s in json.loads(b)["sections"]}
    assert titles["funnel"] == "Funnel (skips policy: touched)"
    pairs = list(zip(imputed, touched, strict=True))
    assert all(t["reached"] <= i["reached"] for i, t in pairs)
    assert any(t["reached"] < i["reached"] for i, t in pairs)


def test_report_on_empty_log(tmp_path: Path, run: Runner) -> None:
    """An empty events file gives a report of zeros, not an error."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    status, out, _ = run("report", str(empty), "-p", "classic_b2b", "-f", "json")
    assert status == 0
    report = json.loads(out)
    assert records(report, "counts")[0]["deals"] == 0
    assert report["as_of"] is None
    status, text, _ = run("report", str(empty), "-p", "classic_b2b", "-f", "html")
    assert status == 0
    assert text.count('<svg class="chart"') == len(CHARTS)


def test_report_as_of_before_the_first_event(files: dict[str, Path], run: Runner) -> None:
    """``--as-of`` before any event is refused (exit 2, one line); with ``--force`` it
    gives an empty report as of that moment."""
    args = ("report", str(files["jsonl"]), "-p", "inbound_b2b", "-f", "json", "--as-of")
    status, out, err = run(*args, "2025-01-01")
    assert (status, out) == (2, "")
    assert "is before the first event of the log" in err
    assert "--force" in err
    status, out, _ = run(*args, "2025-01-01", "--force")
    assert status == 0
    report = json.loads(out)
    assert report["as_of"].startswith("2025-01-01T23:59")
    assert records(report, "counts")[0]["deals"] == 0


def test_report_json_has_no_infinities() -> None:
    """Deals won the moment they opened give an infinite velocity, reported as null in valid JSON."""
    pipeline = classic_b2b()
    t = datetime(2026, 1, 5, tzinfo=UTC)
    events: list[Event] = []
    for i in range(2):
        deal = pipeline.open_deal(f"D-{i}", at=t, amount=1000)
        if i == 0:
            deal.win(at=t)
        events += deal.events
    report = build_report(events, pipeline)
    velocity = {r["figure"]: r["value"] for r in report.section("win-rate").records()}
    assert velocity["velocity"] is None
    json.dumps(report.to_dict(), allow_nan=False)


def test_html_escapes_data(tmp_path: Path) -> None:
    """Text from the data (segment values, deal ids, reasons) is escaped in the HTML page."""
    from salesstages.report import render_html

    pipeline = classic_b2b()
    t = datetime(2026, 1, 5, tzinfo=UTC)
    deal = pipeline.open_deal("<b>D</b>", at=t, owner="<script>alert(1)</script>")
    deal.lose(at=t, reason="<img src=x>")
    page = render_html(build_report(deal.events, pipeline, by="owner"))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x>" not in page
    assert page.count("<script>") == 1  # only the page's own chart check


def test_backtest_dates_need_two_horizons() -> None:
    """Backtest dates lie one horizon apart (windows that do not overlap), from one
    horizon in to one horizon before the end, or are empty."""
    from datetime import timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    dates = backtest_dates(t0, t0 + timedelta(days=90), timedelta(days=30), count=4)
    # from day 30 to day 60, 30 days apart: two dates fit, not four
    assert dates == [t0 + timedelta(days=30), t0 + timedelta(days=60)]
    assert backtest_dates(t0, t0 + timedelta(days=59), timedelta(days=30)) == []


def test_build_report_matches_metrics() -> None:
    """The report's figures are the metrics' figures, durations in days."""
    from salesstages import metrics

    pipeline = inbound_b2b()
    events = demo_events(60)
    report = build_report(events, pipeline)
    stats = metrics.stage_durations(events, pipeline)
    assert isinstance(stats, dict)
    median = stats["discovery"].median
    assert median is not None
    row = next(r for r in report.section("time-in-stage").records() if r["stage"] == "discovery")
    assert row["median_days"] == pytest.approx(median.total_seconds() / 86_400)


def test_table_alignment() -> None:
    """``table`` pads left-aligned and right-aligned columns to the widest cell."""
    text = table(["a", "n"], [["x", "1"], ["long", "100"]])
    assert text.splitlines() == ["a       n", "----  ---", "x       1", "long  100"]


# ------------------------------------------------------------------------ check
def _broken_log(path: Path) -> None:
    """A classic-pipeline log with a move back that the pipeline forbids."""
    t = datetime(2026, 2, 2, 9, tzinfo=UTC)
    pipeline = classic_b2b()
    deal = pipeline.open_deal("D-1", at=t, amount=1000)
    deal.record("meeting_booked", at=t)
    deal.move("meeting_booked", at=t)
    events = list(deal.events)
    events.append(
        Event(deal_id="D-1", seq=len(events), at=t, kind="stage_entered", stage="lead_generated")
    )
    write_jsonl(events, path)


def test_check_clean_log_exits_0(files: dict[str, Path], run: Runner) -> None:
    """``check`` on a valid log says so and exits 0, also re-checking entry criteria."""
    status, out, _ = run("check", str(files["jsonl"]), "-p", "inbound_b2b", "--guards")
    assert status == 0
    assert out.startswith("No problems: ")


def test_check_lists_problems_and_exits_1(tmp_path: Path, run: Runner) -> None:
    """``check`` lists each problem with deal, seq and rule, and exits 1."""
    path = tmp_path / "broken.jsonl"
    _broken_log(path)
    status, out, _ = run("check", str(path), "-p", "classic_b2b")
    assert status == 1
    assert "D-1" in out
    assert "1 problems in 1 deals: " in out
    status, out, _ = run("check", str(path), "-p", "classic_b2b", "-f", "json")
    assert status == 1
    problems = json.loads(out)["problems"]
    assert [(p["deal_id"], p["seq"]) for p in problems] == [("D-1", 4)]


def test_check_reports_a_seq_gap(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """``check`` reads an incomplete log and reports the gap instead of refusing the file."""
    lines = files["jsonl"].read_text(encoding="utf-8").splitlines()
    path = tmp_path / "gap.jsonl"
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n", encoding="utf-8")
    status, out, _ = run("check", str(path), "-p", "inbound_b2b")
    assert status == 1
    assert "problems in 1 deals: " in out


def test_check_limits_the_listing(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """A log with a problem in every deal (each deal's seq 1 left out): ``--limit`` caps
    the table, the summary counts all. (A log of another pipeline is one error line.)"""
    lines = files["jsonl"].read_text(encoding="utf-8").splitlines()
    path = tmp_path / "gaps.jsonl"
    path.write_text(
        "\n".join(line for line in lines if json.loads(line)["seq"] != 1) + "\n", encoding="utf-8"
    )
    status, out, _ = run("check", str(path), "-p", "inbound_b2b", "--limit", "5")
    assert status == 1
    assert "… and " in out
    lines = out.split("\n\n")[0].splitlines()
    assert len(lines) == 2 + 5 + 1  # header, rule, five problems, the "… and N more" line
    assert "problems in 150 deals: " in out


def test_report_refuses_a_seq_gap(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """``report`` refuses a log with a gap in one line naming the file."""
    lines = files["jsonl"].read_text(encoding="utf-8").splitlines()
    path = tmp_path / "gap.jsonl"
    path.write_text("\n".join(lines[:1] + lines[2:]) + "\n", encoding="utf-8")
    err = cli_error(run("report", str(path), "-p", "inbound_b2b"))
    assert "gap.jsonl" in err


# ---------------------------------------------------------------------- diagram
def test_diagram_formats(run: Runner) -> None:
    """``diagram`` prints Mermaid, Graphviz DOT, or the pipeline's JSON definition."""
    status, mermaid, _ = run("diagram", "-p", "inbound_b2b")
    assert status == 0
    assert mermaid == inbound_b2b().to_mermaid()
    _, dot, _ = run("diagram", "-p", "inbound_b2b", "-f", "dot")
    assert dot.startswith('digraph "inbound_b2b" {')
    assert '"formal_proposal" -> "closed_won";' in dot
    assert '"evaluation" -> "discovery" [constraint=false, style=dashed];' in dot
    assert dot.rstrip().endswith("}")
    _, js, _ = run("diagram", "-p", "inbound_b2b", "-f", "json")
    assert Pipeline.from_dict(json.loads(js)) == inbound_b2b()


# ------------------------------------------------------------------------ specs
def test_spec_files_round_trip(tmp_path: Path, run: Runner) -> None:
    """A pipeline written as JSON, TOML or YAML loads as the same pipeline."""
    import tomllib

    import yaml

    d = classic_b2b().to_dict()
    (tmp_path / "p.json").write_text(json.dumps(d), encoding="utf-8")
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(d), encoding="utf-8")
    toml = _to_toml(d)
    assert tomllib.loads(toml) == d
    (tmp_path / "p.toml").write_text(toml, encoding="utf-8")
    expected = classic_b2b().to_mermaid()
    for name in ("p.json", "p.yaml", "p.toml"):
        status, out, _ = run("diagram", "-p", str(tmp_path / name))
        assert status == 0
        assert out == expected


def _to_toml(d: dict[str, object]) -> str:
    """A tiny TOML writer for a pipeline dict (tomllib only reads)."""

    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return repr(v)

    lines = [f"{k} = {value(v)}" for k, v in d.items() if k != "stages"]
    for stage in d["stages"]:  # type: ignore[attr-defined]
        lines.append("\n[[stages]]")
        lines.extend(f"{k} = {value(v)}" for k, v in stage.items())
    return "\n".join(lines) + "\n"


def test_spec_module_attribute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Runner
) -> None:
    """``module:attribute`` finds a Pipeline, or a function returning one, beside the user."""
    (tmp_path / "my_pipes.py").write_text(
        "from salesstages.presets import classic_b2b\n"
        "PIPE = classic_b2b()\n"
        "def build():\n    return classic_b2b()\n"
        "NOT_A_PIPELINE = 3\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_pipes", raising=False)
    for spec in ("my_pipes:PIPE", "my_pipes:build"):
        status, out, _ = run("diagram", "-p", spec)
        assert status == 0
        assert "lead_generated" in out
    assert "is a int, not a Pipeline" in cli_error(run("diagram", "-p", "my_pipes:NOT_A_PIPELINE"))
    assert "has no attribute 'nope'" in cli_error(run("diagram", "-p", "my_pipes:nope"))
    assert "cannot import module 'no_such_mod'" in cli_error(run("diagram", "-p", "no_such_mod:x"))


@pytest.mark.parametrize(
    ("content", "suffix", "expected"),
    [
        ("{not json", ".json", "not valid JSON"),
        ("name = [", ".toml", "not valid TOML"),
        ("a: [1", ".yaml", "not valid YAML"),
        ('{"name": "x", "stages": []}', ".json", "pipeline file"),
        ('{"name": "x", "stages": [], "extra": 1}', ".json", "unknown key"),
        ("!!python/object/apply:os.system ['echo hacked']", ".yaml", "not valid YAML"),
    ],
)
def test_spec_bad_files(
    tmp_path: Path, run: Runner, content: str, suffix: str, expected: str
) -> None:
    """A malformed pipeline file exits 2 with one line naming the file; YAML never runs code."""
    path = tmp_path / f"bad{suffix}"
    path.write_text(content, encoding="utf-8")
    err = cli_error(run("diagram", "-p", str(path)))
    assert expected in err
    assert "bad" in err
    assert "hacked" not in err or "could not determine a constructor" in err


def test_spec_unknown_name(run: Runner) -> None:
    """An unknown preset name says which names and forms are accepted."""
    err = cli_error(run("diagram", "-p", "inbound"))
    assert "unknown pipeline 'inbound'" in err
    assert "inbound_b2b, classic_b2b, modern_b2b" in err


def test_spec_missing_file(tmp_path: Path, run: Runner) -> None:
    """A pipeline file that does not exist is named in one line."""
    err = cli_error(run("diagram", "-p", str(tmp_path / "nope.toml")))
    assert "does not exist" in err


# ----------------------------------------------------------------------- errors
def test_missing_events_file(tmp_path: Path, run: Runner) -> None:
    """A missing EVENTS path exits 2 with one line saying what to give instead."""
    err = cli_error(run("report", str(tmp_path / "none.jsonl"), "-p", "inbound_b2b"))
    assert "does not exist" in err
    assert "salesstages import" in err


def test_malformed_events_name_file_and_line(tmp_path: Path, run: Runner) -> None:
    """A malformed events line exits 2 with one line naming the file and the line."""
    path = tmp_path / "bad.jsonl"
    path.write_text('{"deal_id": "A"}\nnot json\n', encoding="utf-8")
    err = cli_error(run("report", str(path), "-p", "inbound_b2b"))
    assert "bad.jsonl" in err
    assert "line 1" in err


def test_events_against_the_wrong_pipeline(files: dict[str, Path], run: Runner) -> None:
    """Events of another pipeline make ``report`` exit 2 with one line naming the unknown stage."""
    err = cli_error(run("report", str(files["jsonl"]), "-p", "classic_b2b"))
    assert "inbound_lead" in err


def test_not_a_sqlite_store(tmp_path: Path, run: Runner) -> None:
    """A SQLite file that is not a salesstages store is refused in one line."""
    import sqlite3

    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("create table t (x)")
    conn.close()
    err = cli_error(run("report", str(path), "-p", "inbound_b2b"))
    assert "other.db" in err
    assert "without a salesstages store" in err
    with sqlite3.connect(path) as conn:  # left as it was: no store tables added
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert names == {"t"}


def test_bad_as_of_and_by(files: dict[str, Path], run: Runner) -> None:
    """A bad ``--as-of`` or an unknown ``--by`` attribute exits 2 saying what to write."""
    err = cli_error(run("report", str(files["jsonl"]), "-p", "inbound_b2b", "--as-of", "last week"))
    assert "write it as 2026-03-31" in err
    err = cli_error(run("report", str(files["jsonl"]), "-p", "inbound_b2b", "--by", "colour"))
    assert (
        "the deals' attributes are: amount, close_date, forecast_category, lead_source, "
        "owner, region" in err
    )


def test_unwritable_out(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """An ``--out`` in a missing folder exits 2 with one line."""
    err = cli_error(
        run(
            "report", str(files["jsonl"]), "-p", "inbound_b2b", "-o", str(tmp_path / "no" / "r.txt")
        )
    )
    assert "check the folder exists" in err


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    """With ``--debug`` the error propagates (the traceback is shown) instead of exit 2."""
    from salesstages.io import SourceError

    with pytest.raises(SourceError, match="does not exist"):
        main(["--debug", "report", str(tmp_path / "none.jsonl"), "-p", "inbound_b2b"])


def test_parse_as_of_forms() -> None:
    """``--as-of`` takes a date (end of day UTC), a naive date-time (UTC) or one with an offset."""
    assert parse_as_of("2026-03-31") == datetime(2026, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert parse_as_of("2026-03-31T10:00") == datetime(2026, 3, 31, 10, tzinfo=UTC)
    assert parse_as_of("2026-03-31T10:00+02:00") == datetime(2026, 3, 31, 8, tzinfo=UTC)
    assert parse_as_of("2026-03-31T10:00Z") == datetime(2026, 3, 31, 10, tzinfo=UTC)


def test_every_chart_is_well_formed_svg() -> None:
    """Each chart of the HTML report is well-formed SVG with shapes in it, segmented or not."""
    import xml.etree.ElementTree as ET

    events = demo_events(80)
    for by in (None, "owner"):
        report = build_report(events, inbound_b2b(), by=by)
        charted = [s for s in report.sections if s.chart is not None]
        assert [s.chart.name for s in charted if s.chart] == list(CHARTS)
        for section in charted:
            assert section.chart is not None
            root = ET.fromstring(chart_svg(section.chart, section))
            assert root.tag == "{http://www.w3.org/2000/svg}svg"
            shapes = [el for el in root.iter() if el.tag.split("}")[1] in ("rect", "polyline")]
            assert shapes, section.id


def test_open_median_age_counts_only_visits_still_under_way() -> None:
    """The text column "open median age" is the median age of open visits, not of all visits."""
    from datetime import timedelta

    from salesstages import Pipeline, Stage
    from salesstages.report import build_report

    p = Pipeline(
        "p", [Stage("a"), Stage("b"), Stage("won", outcome="won"), Stage("lost", outcome="lost")]
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    done = p.open_deal("done", at=t0)
    done.move("b", at=t0 + timedelta(days=1))
    done.win(at=t0 + timedelta(days=2))
    stuck = p.open_deal("stuck", at=t0)
    late = p.open_deal("late", at=t0 + timedelta(days=20))
    report = build_report([*done.events, *stuck.events, *late.events], p)
    rows = {r["stage"]: r for r in report.section("time-in-stage").records()}
    # as_of = day 20 (the last event): open visits of 'a' are 20 d (stuck) and 0 d (late) → median 10 d
    assert rows["a"]["open_median_age_days"] == pytest.approx(10.0)
    # 'b' has no open visit
    assert rows["b"]["open_median_age_days"] is None
