"""The report's period view (issue 14): --period/--from/--to, --target/--targets,
and the planning section in JSON, text, CSV and HTML."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from _cli_data import Runner, cli_error, demo_events
from salesstages import DataError, MemoryStore, forecast, metrics
from salesstages.cli import simulate_quarter
from salesstages.io import write_jsonl
from salesstages.presets import inbound_b2b
from salesstages.report import Report, build_report, render_csv, render_html, render_text
from salesstages.report._model import records
from salesstages.report._period import (
    MOVEMENT_LINES,
    Period,
    parse_period,
    period_between,
    read_targets,
)

MID_MARCH = datetime(2026, 3, 15, 23, 59, tzinfo=UTC)


def _utc(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "label", "start", "end"),
    [
        ("2026-Q1", "2026-Q1", _utc(2026, 1, 1), _utc(2026, 4, 1)),
        ("2026q4", "2026-Q4", _utc(2026, 10, 1), _utc(2027, 1, 1)),
        ("2026-03", "2026-03", _utc(2026, 3, 1), _utc(2026, 4, 1)),
        ("2026-12", "2026-12", _utc(2026, 12, 1), _utc(2027, 1, 1)),
        (" 2026 ", "2026", _utc(2026, 1, 1), _utc(2027, 1, 1)),
    ],
)
def test_parse_period(text: str, label: str, start: datetime, end: datetime) -> None:
    """Quarters, months and years become [first day, day after the last) at midnight UTC."""
    assert parse_period(text) == Period(label, start, end)


@pytest.mark.parametrize("text", ["2026-Q5", "2026-13", "2026-00", "Q1 2026", "next quarter", ""])
def test_bad_period_is_a_data_error_naming_it(text: str) -> None:
    """A period that does not parse is a DataError that quotes it."""
    with pytest.raises(DataError) as info:
        parse_period(text)
    assert repr(text) in str(info.value)


def test_period_between_includes_the_last_day() -> None:
    """--from/--to take both days; a reversed pair or a bad date is refused naming it."""
    assert period_between("2026-01-01", "2026-03-31") == Period(
        "2026-01-01 – 2026-03-31", _utc(2026, 1, 1), _utc(2026, 4, 1)
    )
    assert period_between(date(2026, 2, 1), date(2026, 2, 1)).end == _utc(2026, 2, 2)
    with pytest.raises(DataError, match="2026-02-01 is before --from 2026-03-01"):
        period_between("2026-03-01", "2026-02-01")
    with pytest.raises(DataError, match="'31/03/2026'"):
        period_between("2026-01-01", "31/03/2026")


def test_read_targets(tmp_path: Path) -> None:
    """A targets CSV gives the attribute and each segment's target."""
    path = tmp_path / "targets.csv"
    path.write_text("owner,target\nana,400000\nben,250000.5\n\n", encoding="utf-8")
    assert read_targets(path) == ("owner", {"ana": 400000.0, "ben": 250000.5})


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("owner,target\nana,-5\n", ("line 2", "'-5'", ">= 0")),
        ("owner,target\nana,lots\n", ("line 2", "'lots'", "not a number")),
        ("owner,target\nana,1\nana,2\n", ("line 3", "'ana' appears twice")),
        ("owner,amount\nana,1\n", ("line 1", "owner,target")),
        ("owner,target\nana\n", ("line 2", "expected 2 cells")),
    ],
)
def test_bad_targets_file(tmp_path: Path, text: str, words: tuple[str, ...]) -> None:
    """A bad targets file is a DataError naming the file, the line and the value."""
    path = tmp_path / "targets.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as info:
        read_targets(path)
    assert "targets.csv" in str(info.value)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def _rows(report: Report, id: str) -> list[dict[str, Any]]:
    return report.section(id).records()


def _quarter() -> tuple[MemoryStore, Report]:
    """The demo's simulated quarter, and the report built on it for 2026-Q1 as of March 15."""
    store = MemoryStore()
    simulate_quarter(store)
    report = build_report(
        store.events(), inbound_b2b(), as_of=MID_MARCH, period="2026-Q1", target=4_000_000
    )
    return store, report


@pytest.fixture(scope="module")
def quarter() -> tuple[MemoryStore, Report]:
    """The demo quarter's store and its period report, built once."""
    return _quarter()


def test_planning_section_agrees_with_the_functions(quarter: tuple[MemoryStore, Report]) -> None:
    """The planning section holds exactly what categories, coverage, movement and
    slippage return on the same log."""
    store, report = quarter
    p = inbound_b2b()
    events = list(store.events())
    q1 = (date(2026, 1, 1), date(2026, 4, 1))
    cats = forecast.categories(events, p, start=q1[0], end=q1[1], as_of=MID_MARCH)
    assert [(r["category"], r["deals"], r["amount"]) for r in _rows(report, "period")] == [
        (k, n, a) for k, (n, a) in cats.items()
    ]
    cov = forecast.coverage(events, p, start=q1[0], end=q1[1], target=4_000_000, as_of=MID_MARCH)
    (all_,) = _rows(report, "coverage")
    assert all_["segment"] == "all"
    assert all_["coverage"] == cov.coverage
    assert all_["won"] == cov.won == cats["closed"][1]
    mv = metrics.movement(events, p, start=q1[0], end=MID_MARCH)
    movement = _rows(report, "movement")
    assert [r["line"] for r in movement] == list(MOVEMENT_LINES)
    assert {r["line"]: (r["count"], r["amount"]) for r in movement} == {
        line: tuple(getattr(mv, line)) for line in MOVEMENT_LINES
    }
    slips = metrics.slippage(events, p, as_of=MID_MARCH)
    assert [s["deal_id"] for s in _rows(report, "slipping")] == [s.deal_id for s in slips]
    assert report.section("period").title == "Period 2026-Q1 (2026-01-01 to 2026-03-31)"
    json.dumps(report.to_dict(), allow_nan=False)


def test_demo_quarter_shows_plausible_figures(quarter: tuple[MemoryStore, Report]) -> None:
    """The simulated quarter fills every new section: each category, pushes and
    overdue deals, a movement that adds up, and coverage of the same order as the target."""
    _, report = quarter
    assert all(r["deals"] > 0 for r in _rows(report, "period"))
    slips = _rows(report, "slipping")
    assert sum(s["pushes"] > 0 for s in slips) >= 10
    assert any(s["overdue"] for s in slips)
    assert any(s["pushes"] >= 2 for s in slips)
    rows = {r["line"]: r for r in _rows(report, "movement")}
    assert all(rows[k]["count"] > 0 for k in MOVEMENT_LINES if k != "opening")
    (coverage,) = _rows(report, "coverage")
    assert 0.5 < coverage["coverage"] < 3.0
    assert 0.3 < coverage["attainment"] < 1.0


def test_renderers_show_the_period_view(quarter: tuple[MemoryStore, Report]) -> None:
    """Text, CSV and HTML carry the period view; HTML draws the waterfall and the bullet chart."""
    _, report = quarter
    text = render_text(report)
    for title in ("Period 2026-Q1 (2026-01-01 to 2026-03-31)", "Coverage", "Slipping deals ("):
        assert title in text
    assert "Movement 2026-01-01 to 2026-03-15 23:59 UTC" in text
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    sections = {r[0] for r in rows}
    assert {"period", "coverage", "movement", "slipping"} <= sections
    html = render_html(report)
    assert 'data-chart="movement"' in html
    assert 'data-chart="coverage"' in html
    # with the team (issue 26), trends and calibration (issue 27) charts
    assert html.count('<svg class="chart"') == 11
    assert 'data-charts="11"' in html


def test_no_period_no_planning(quarter: tuple[MemoryStore, Report]) -> None:
    """Without a period the section is null and no renderer shows it."""
    store, _ = quarter
    report = build_report(store.events(), inbound_b2b(), as_of=MID_MARCH)
    assert not {"period", "coverage", "movement", "slipping"} & set(report.ids)
    assert "Slipping deals" not in render_text(report)
    assert 'data-chart="movement"' not in render_html(report)


def test_targets_per_owner_warn_about_unknown_owners(quarter: tuple[MemoryStore, Report]) -> None:
    """Targets per owner give one coverage row each; an owner the log lacks is kept
    (with nothing won or open) and named in a warning; 'all' adds the rows up."""
    store, _ = quarter
    report = build_report(
        store.events(),
        inbound_b2b(),
        as_of=MID_MARCH,
        period="2026-Q1",
        target={"ana": 400_000, "zed": 100_000},
    )
    by = {r["segment"]: r for r in _rows(report, "coverage")}
    assert list(by) == ["targeted owners", "ana", "zed", "all owners"]
    assert (by["zed"]["won"], by["zed"]["open_amount"]) == (0.0, 0.0)
    assert report.warnings == (
        "the targets name owner values the log does not have: 'zed'; their coverage counts no deals",
    )
    assert by["targeted owners"]["target"] == 500_000  # 400,000 + 100,000
    assert by["targeted owners"]["won"] == by["ana"]["won"]
    # all owners: the whole quarter against the same 500,000 (every owner's wins, not
    # only ana's and zed's), as the single-target report gives it
    whole = build_report(
        store.events(), inbound_b2b(), as_of=MID_MARCH, period="2026-Q1", target=500_000
    )
    (alone,) = _rows(whole, "coverage")
    assert {k: v for k, v in by["all owners"].items() if k != "segment"} == {
        k: v for k, v in alone.items() if k != "segment"
    }
    assert by["all owners"]["won"] > by["ana"]["won"]
    text = render_text(report)
    assert "coverage n/a for zed: no open deal has a close date in the period" in text


# ------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CLI tests' simulated quarter as a JSONL file."""
    path = tmp_path_factory.mktemp("period") / "events.jsonl"
    write_jsonl(demo_events(), path)
    return path


def test_cli_period_report(log: Path, run: Runner) -> None:
    """report --period --target prints the period view; JSON carries the planning section."""
    status, out, err = run(
        "report", str(log), "-p", "inbound_b2b", "--period", "2026-Q1", "--target", "1e6",
        "--as-of", "2026-03-15", "-f", "json",
    )  # fmt: skip
    assert (status, err) == (0, "")
    report = json.loads(out)
    (coverage,) = records(report, "coverage")
    assert coverage["target"] == 1_000_000.0
    titles = {s["id"]: s["title"] for s in report["sections"]}
    assert titles["movement"] == "Movement 2026-01-01 to 2026-03-15 23:59 UTC"


def test_cli_from_to_and_targets_file(log: Path, run: Runner, tmp_path: Path) -> None:
    """--from/--to and --targets work; owners the log lacks are warned about on stderr."""
    targets = tmp_path / "t.csv"
    targets.write_text("owner,target\nana,100000\nnobody,5\n", encoding="utf-8")
    status, out, err = run(
        "report", str(log), "-p", "inbound_b2b", "--from", "2026-03-01", "--to", "2026-03-31",
        "--targets", str(targets),
    )  # fmt: skip
    assert status == 0
    assert "Period 2026-03-01 – 2026-03-31" in out
    assert err == (
        "salesstages: warning: the targets name owner values the log does not have: "
        "'nobody'; their coverage counts no deals\n"
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--period", "2026-Q7"), "'2026-Q7' is not a period"),
        (("--period", "2026-Q1", "--target", "lots"), "--target 'lots' is not a number"),
        (("--period", "2026-Q1", "--target", "-1"), "--target '-1' must be a finite number"),
        (("--target", "5"), "need a period"),
        (("--period", "2026-Q1", "--from", "2026-01-01", "--to", "2026-02-01"), "not both"),
        (("--from", "2026-01-01"), "go together"),
        (("--from", "2026-02-01", "--to", "2026-01-01"), "before --from"),
    ],
)
def test_cli_bad_period_options_exit_2(
    log: Path, run: Runner, args: tuple[str, ...], words: str
) -> None:
    """Each bad period option exits 2 with one line naming the value."""
    err = cli_error(run("report", str(log), "-p", "inbound_b2b", *args))
    assert words in err


def test_cli_bad_targets_file_exits_2(log: Path, run: Runner, tmp_path: Path) -> None:
    """A targets file with a negative target exits 2 naming the file and line."""
    targets = tmp_path / "t.csv"
    targets.write_text("owner,target\nana,-3\n", encoding="utf-8")
    err = cli_error(
        run(
            "report",
            str(log),
            "-p",
            "inbound_b2b",
            "--period",
            "2026-Q1",
            "--targets",
            str(targets),
        )
    )
    assert "t.csv, line 2" in err
    assert "'-3'" in err


def test_cli_period_view_on_parquet_runs_on_duckdb(log: Path, run: Runner, tmp_path: Path) -> None:
    """A Parquet log reported through DuckDB gives the period view of the Python engine."""
    pytest.importorskip("ibis")
    from _engines import assert_same, close_all
    from salesstages.io import read_jsonl, write_parquet

    parquet = tmp_path / "events.parquet"
    write_parquet(list(read_jsonl(log)), parquet)
    targets = tmp_path / "t.csv"
    targets.write_text("owner,target\nana,100000\nnobody,5\n", encoding="utf-8")
    args = ("-p", "inbound_b2b", "--period", "2026-Q1", "--as-of", "2026-03-15")
    args += ("--targets", str(targets), "-f", "json")
    try:
        s1, ibis_out, err = run("report", str(parquet), *args, "--engine", "duckdb")
        s2, py_out, _ = run("report", str(parquet), *args, "--engine", "python")
    finally:
        close_all()
    assert (s1, s2) == (0, 0)
    assert "'nobody'" in err
    planning = ("period", "coverage", "movement", "slipping")
    ibis_report, py_report = json.loads(ibis_out), json.loads(py_out)
    for id in planning:  # a deal's amount is listed from the fold only
        drop = {"amount"} if id == "slipping" else set()
        assert_same(
            [{k: v for k, v in r.items() if k not in drop} for r in records(ibis_report, id)],
            [{k: v for k, v in r.items() if k not in drop} for r in records(py_report, id)],
        )
