"""The ``import`` command, its progress line, and every command on the Maven CRM data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from _cli_data import MAVEN, Runner, write_maven_spec
from salesstages.cli import _import, main
from salesstages.cli._import import Progress
from salesstages.io import read_csv, read_jsonl
from salesstages.presets import classic_b2b
from salesstages.report._model import records

TABLE = """\
id,created,date_meeting,date_demo,date_quote,status,closed,amount,owner,reason
A-1,2026-01-05,2026-01-07,2026-01-12,,Won,2026-02-01,12000,ana,
A-2,2026-01-06,2026-01-09,,,Lost,2026-01-20,5000,ben,price
A-3,2026-01-08,,,,Open,,7000,ana,
A-4,,,,,Open,,1000,ben,
A-5,2026-01-10,2026-01-11,not a date,,Open,,3000,chloe,
"""

MAPPING = {
    "id_column": "id",
    "opened_column": "created",
    "stage_columns": {
        "date_meeting": "meeting_booked",
        "date_demo": "demo_completed",
        "date_quote": "quote_requested",
    },
    "status_column": "status",
    "status_map": {"Won": "closed_won", "Lost": "closed_lost", "Open": "lead_generated"},
    "close_column": "closed",
    "amount_column": "amount",
    "attribute_columns": ["owner"],
    "lost_reason_column": "reason",
    "tz": "Europe/Paris",
}

SALESFORCE = """\
OpportunityId,CreatedDate,StageName,Amount,CloseDate
006A,2026-01-05T09:00:00.000+0000,Prospecting,1000,2026-03-01
006A,2026-01-09T09:00:00.000+0000,Demo,1000,2026-03-01
006A,2026-01-20T09:00:00.000+0000,Demo,1500,2026-03-01
006A,2026-02-10T09:00:00.000+0000,Closed Won,1500,2026-02-10
006B,2026-01-06T09:00:00.000+0000,Prospecting,800,2026-03-01
006B,2026-01-07T09:00:00.000+0000,Retired Stage,800,2026-03-01
"""


@pytest.fixture
def table(tmp_path: Path) -> tuple[Path, Path]:
    """A small stage-date table and its JSON mapping onto the classic preset."""
    source = tmp_path / "deals.csv"
    source.write_text(TABLE, encoding="utf-8")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(MAPPING), encoding="utf-8")
    return source, mapping


def test_import_stage_table_to_jsonl(tmp_path: Path, table: tuple[Path, Path], run: Runner) -> None:
    """A stage-date table imports leniently: events written, problems summarised by rule."""
    source, mapping = table
    out = tmp_path / "events.jsonl"
    problems = tmp_path / "problems.csv"
    status, stdout, stderr = run(
        "import", "stage-table", str(source), "-p", "classic_b2b", "-m", str(mapping),
        "-o", str(out), "--problems", str(problems),
    )  # fmt: skip
    assert status == 0, stderr
    assert "Imported 5 rows of deals.csv into 4 deals" in stdout
    assert "3 problems (kept what could be kept): date 1, no_dates 1, status_mismatch 1" in stderr
    assert "no_dates, e.g. line 5" in stderr
    events = read_jsonl(out)
    deals = classic_b2b().replay(events)
    assert sorted(deals) == ["A-1", "A-2", "A-3", "A-5"]
    assert deals["A-1"].outcome == "won"
    assert deals["A-2"].events[-1].data["reason"] == "price"
    assert deals["A-1"].events[0].at.utcoffset() is not None
    assert deals["A-1"].events[0].at.hour == 23  # midnight in Paris is 23:00 UTC
    assert problems.read_text(encoding="utf-8").splitlines()[0] == "deal_id,row,rule,message"


def test_import_to_csv_then_report(tmp_path: Path, table: tuple[Path, Path], run: Runner) -> None:
    """``--out x.csv`` writes the canonical CSV, which ``report`` and ``check`` read."""
    source, mapping = table
    out = tmp_path / "events.csv"
    status, _, _ = run(
        "import",
        "stage-table",
        str(source),
        "-p",
        "classic_b2b",
        "-m",
        str(mapping),
        "-o",
        str(out),
    )
    assert status == 0
    assert len(read_csv(out)) > 0
    status, text, _ = run("report", str(out), "-p", "classic_b2b", "-f", "json")
    assert status == 0
    assert records(json.loads(text), "counts")[0]["deals"] == 4
    assert run("check", str(out), "-p", "classic_b2b")[0] == 0


def test_import_strict_stops_at_first_problem(
    tmp_path: Path, table: tuple[Path, Path], run: Runner
) -> None:
    """``--strict`` exits 2 with one line at the first problem and writes nothing."""
    source, mapping = table
    out = tmp_path / "events.jsonl"
    status, _, err = run(
        "import", "stage-table", str(source), "-p", "classic_b2b", "-m", str(mapping),
        "-o", str(out), "--strict",
    )  # fmt: skip
    assert status == 2
    assert err.count("\n") == 1
    assert "deals.csv" in err
    assert not out.exists()


def test_import_salesforce_history(tmp_path: Path, run: Runner) -> None:
    """A Salesforce OpportunityHistory export imports with a YAML stage map, unknown stages reported."""
    source = tmp_path / "history.csv"
    source.write_text(SALESFORCE, encoding="utf-8")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(
        "stage_map:\n  Prospecting: lead_generated\n  Demo: demo_completed\n"
        "  Closed Won: closed_won\n",
        encoding="utf-8",
    )
    out = tmp_path / "events.jsonl"
    status, stdout, stderr = run(
        "import", "salesforce", str(source), "-p", "classic_b2b", "-m", str(mapping), "-o", str(out)
    )
    assert status == 0
    assert "into 2 deals" in stdout
    assert "unknown_stage 1" in stderr
    deals = classic_b2b().replay(read_jsonl(out))
    assert deals["006A"].outcome == "won"
    assert deals["006A"].attributes["amount"] == 1500


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"id_column": "id", "stage_columns": {}, "colour": "red"}, "unknown key(s) colour"),
        ({"stage_columns": {}}, "lacks id_column"),
        ({"id_column": "id", "stage_columns": {}, "tz": "Mars/Base"}, "not a time zone"),
        ({"id_column": "id", "stage_columns": {"date_demo": "nowhere"}}, "nowhere"),
        ({"id_column": "nope", "stage_columns": {}}, "nope"),
    ],
)
def test_import_bad_mapping(
    tmp_path: Path,
    table: tuple[Path, Path],
    run: Runner,
    mapping: dict[str, object],
    expected: str,
) -> None:
    """A mapping with a wrong key, a missing key, a bad zone or a bad name exits 2 with one line."""
    source, _ = table
    path = tmp_path / "m.json"
    path.write_text(json.dumps(mapping), encoding="utf-8")
    status, _, err = run(
        "import", "stage-table", str(source), "-p", "classic_b2b", "-m", str(path),
        "-o", str(tmp_path / "e.jsonl"),
    )  # fmt: skip
    assert status == 2
    assert err.count("\n") == 1
    assert expected in err


def test_import_needs_mapping_and_known_suffix(
    tmp_path: Path, table: tuple[Path, Path], run: Runner
) -> None:
    """Without ``--mapping``, with an unknown ``--out`` suffix or a missing file: exit 2, one line."""
    source, mapping = table
    base = ["import", "stage-table", str(source), "-p", "classic_b2b"]
    status, _, err = run(*base, "-o", str(tmp_path / "e.jsonl"))
    assert (status, "needs --mapping" in err) == (2, True)
    status, _, err = run(*base, "-m", str(mapping), "-o", str(tmp_path / "e.parquet"))
    assert (status, "must end in .jsonl or .csv" in err) == (2, True)
    status, _, err = run(
        "import", "stage-table", str(tmp_path / "none.csv"), "-p", "classic_b2b",
        "-m", str(mapping), "-o", str(tmp_path / "e.jsonl"),
    )  # fmt: skip
    assert (status, "does not exist" in err) == (2, True)


def test_progress_draws_a_bar_after_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    """The progress line stays silent for quick work and shows a bar once work takes longer."""
    quick = io.StringIO()
    with Progress("quick", out=quick, force=True):
        pass
    assert quick.getvalue() == ""
    monkeypatch.setattr(_import, "PROGRESS_AFTER", 0.0)
    slow = io.StringIO()
    with Progress("writing x", out=slow, force=True) as progress:
        progress.update(50, 100)
        progress._draw()
    text = slow.getvalue()
    assert "writing x [" in text
    assert "50%" in text
    assert text.endswith("\n")


def test_progress_is_off_when_not_a_terminal() -> None:
    """Without a terminal (and without ``force``) the progress line never shows."""
    out = io.StringIO()
    progress = Progress("x", out=out)
    assert progress.enabled is False


# ------------------------------------------------------------------------ Maven
maven = pytest.mark.skipif(
    not (MAVEN / "sales_pipeline.csv").is_file(), reason="the shared Maven data set is absent"
)


@pytest.fixture(scope="module")
def maven_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The Maven CRM opportunities imported once: (events file, pipeline file)."""
    folder = tmp_path_factory.mktemp("maven")
    pipeline, mapping = write_maven_spec(folder)
    out = folder / "events.jsonl"
    status = main(
        [
            "import", "stage-table", str(MAVEN / "sales_pipeline.csv"), "-p", str(pipeline),
            "-m", str(mapping), "-o", str(out),
        ]
    )  # fmt: skip
    assert status == 0
    return out, pipeline


@maven
def test_maven_import_report_check_diagram(
    maven_events: tuple[Path, Path], tmp_path: Path, run: Runner
) -> None:
    """On the Maven data every command works: report (all formats), check and diagram."""
    events, pipeline = maven_events
    status, text, _ = run(
        "report", str(events), "-p", str(pipeline), "-f", "json", "--by", "product"
    )
    assert status == 0
    report = json.loads(text)
    (counts,) = records(report, "counts")
    assert {k: counts[k] for k in ("deals", "open", "won", "lost")} == {
        "deals": 8300,  # 8,800 rows less the 500 prospecting rows without any date
        "open": 1589,
        "won": 4238,
        "lost": 2473,
    }
    assert len(records(report, "segments")) == 7
    assert records(report, "backtest")
    html = tmp_path / "maven.html"
    assert run("report", str(events), "-p", str(pipeline), "-f", "html", "-o", str(html))[0] == 0
    # six, plus issue 27's trends and calibration and issue 26's team chart
    assert html.read_text(encoding="utf-8").count('<svg class="chart"') == 9
    status, text, _ = run("check", str(events), "-p", str(pipeline))
    assert (status, text.startswith("No problems")) == (0, True)
    status, text, _ = run("diagram", "-p", str(pipeline), "-f", "dot")
    assert (status, '"engaging" -> "won";' in text) == (0, True)
