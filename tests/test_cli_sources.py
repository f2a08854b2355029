"""``salesstages report`` on columnar and database sources, with either engine."""

from __future__ import annotations

import json
import math
import socket
from pathlib import Path
from typing import Any

import pytest

import salesstages.metrics._ibis
from _cli_data import Runner, cli_error, demo_events, write_demo_files
from salesstages.cli import main
from salesstages.io import EventSource, _sources, write_parquet
from salesstages.io._sources import redact
from salesstages.report._model import records

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo quarter as JSONL, CSV, SQLite, Parquet and two DuckDB files, written once."""
    folder = tmp_path_factory.mktemp("sources")
    paths = write_demo_files(folder)
    paths["parquet"] = folder / "events.parquet"
    write_parquet(demo_events(), paths["parquet"])
    duckdb = pytest.importorskip("duckdb")
    paths["duckdb"] = folder / "warehouse.duckdb"
    with duckdb.connect(str(paths["duckdb"])) as con:
        # data as DuckDB's JSON type and at as TIMESTAMPTZ, as a warehouse would hold them
        con.execute(
            'CREATE TABLE events AS SELECT deal_id, seq, "at", kind, stage, name, '
            f"CAST(data AS JSON) AS data FROM read_parquet('{paths['parquet']}')"
        )
        con.execute("CREATE TABLE stage_changes AS SELECT * FROM events")
        con.execute("CREATE TABLE no_kind AS SELECT * EXCLUDE (kind) FROM events")
    return paths


def _report(run: Runner, *argv: str) -> dict[str, Any]:
    """The JSON report of ``report *argv`` (asserting it succeeded)."""
    status, out, err = run("report", *argv, "--pipeline", "inbound_b2b", "--format", "json")
    assert status == 0, err
    report: dict[str, Any] = json.loads(out)
    return report


def _without_source(report: dict[str, Any]) -> dict[str, Any]:
    """The report minus what names the input or the engine (``source``, the summary line
    naming it, ``engine``), the data-quality section's ``not_checked`` row (a table on
    its engine is not read in Python, so the pipeline's rules are not checked, and the
    row says so), and the per-deal lists' amounts (listed from the fold only)."""
    out = {k: v for k, v in report.items() if k not in ("source", "summary", "engine")}
    sections = []
    for section in report["sections"]:
        s = dict(section)
        names = [c["name"] for c in s["columns"]]
        if s["id"] == "data-quality":
            s["rows"] = [r for r in s["rows"] if r[0] != "not_checked"]
            s["title"] = s["lead"] = None
        if s["id"] in ("stalled", "slipping"):
            i = names.index("amount")
            s["rows"] = [[*r[:i], None, *r[i + 1 :]] for r in s["rows"]]
        sections.append(s)
    out["sections"] = sections
    return out


def _events(report: dict[str, Any]) -> int:
    (counts,) = records(report, "counts")
    return int(counts["events"])


# ------------------------------------------------------------ the python engine
@pytest.mark.parametrize(
    ("kind", "extra", "source"),
    [
        ("parquet", (), "events.parquet"),
        ("duckdb", (), "warehouse.duckdb table events"),
        ("duckdb", ("--table", "stage_changes"), "warehouse.duckdb table stage_changes"),
    ],
)
@pytest.mark.parametrize("options", [(), ("--as-of", "2026-02-15", "--by", "lead_source")])
def test_python_engine_reports_exactly_what_the_jsonl_gives(
    files: dict[str, Path],
    run: Runner,
    kind: str,
    extra: tuple[str, ...],
    source: str,
    options: tuple[str, ...],
) -> None:
    """The report of a Parquet file or DuckDB table, read in Python, equals the JSONL's."""
    expected = _report(run, str(files["jsonl"]), *options)
    got = _report(run, str(files[kind]), *extra, "--engine", "python", *options)
    assert got["source"] == source
    assert _without_source(got) == _without_source(expected)
    if not options:
        assert _events(got) == len(demo_events())


def test_check_and_plot_read_the_new_sources_too(files: dict[str, Path], run: Runner) -> None:
    """``check`` reads a DuckDB table (with --table) and a Parquet file like any log."""
    status, out, _ = run("check", str(files["duckdb"]), "--table", "events", "-p", "inbound_b2b")
    assert status == 0
    assert out.startswith(f"No problems: {len(demo_events()):,} events of 150 deals")
    status, out, _ = run("check", str(files["parquet"]), "-p", "inbound_b2b")
    assert (status, out.split(":")[0]) == (0, "No problems")


def test_default_engine_is_python_until_the_ibis_engine_exists(
    files: dict[str, Path], run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without --engine a Parquet report runs (duckdb when its engine exists, else python)."""
    if not hasattr(salesstages.metrics._ibis, "funnel"):
        report = _report(run, str(files["parquet"]))
        assert _events(report) == len(demo_events())
    monkeypatch.setattr(_sources, "ibis_available", lambda: False)
    report = _report(run, str(files["parquet"]))  # no Ibis: always the python engine
    assert _events(report) == len(demo_events())


@pytest.mark.parametrize(
    ("kind", "engine"),
    [
        ("parquet", "duckdb"),
        ("duckdb", "duckdb"),
        ("jsonl", "python"),
        ("csv", "python"),
        ("sqlite", "python"),
    ],
)
def test_default_engine_follows_the_source(files: dict[str, Path], kind: str, engine: str) -> None:
    """Columnar and database sources default to duckdb when Ibis is installed, logs to python."""
    pytest.importorskip("ibis")
    assert EventSource(str(files[kind])).default_engine() == engine
    assert EventSource("postgresql://u@h/db").default_engine() == "duckdb"


def test_default_engine_without_ibis_is_python(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Ibis and DuckDB every source defaults to the python engine."""
    monkeypatch.setattr(_sources, "ibis_available", lambda: False)
    assert EventSource(str(files["parquet"])).default_engine() == "python"
    assert EventSource("postgresql://u@h/db").default_engine() == "python"


# --------------------------------------------------------- Ibis tables (plumbing)
@pytest.mark.parametrize(
    ("kind", "table"),
    [
        ("parquet", None),
        ("duckdb", None),
        ("duckdb", "stage_changes"),
        ("jsonl", None),
        ("sqlite", None),
    ],
)
def test_each_source_opens_as_an_ibis_table_with_the_canonical_columns(
    files: dict[str, Path], kind: str, table: str | None
) -> None:
    """Every file source becomes an Ibis table with the seven columns and every event."""
    pytest.importorskip("ibis")
    with EventSource(str(files[kind]), table=table) as source:
        t = source.ibis_table()
        assert list(t.columns) == ["deal_id", "seq", "at", "kind", "stage", "name", "data"]
        assert t.count().execute() == len(demo_events())
        assert t.schema()["at"].is_timestamp()
        # 150 deals opened, each with exactly one opened event
        assert t.filter(t.kind == "opened").count().execute() == 150


@pytest.mark.parametrize(
    ("kind", "extra"),
    [("parquet", ()), ("duckdb", ()), ("duckdb", ("--table", "stage_changes")), ("jsonl", ())],
)
@pytest.mark.parametrize("options", [(), ("--as-of", "2026-02-15", "--by", "lead_source")])
def test_duckdb_engine_agrees_with_the_python_engine(
    files: dict[str, Path],
    run: Runner,
    kind: str,
    extra: tuple[str, ...],
    options: tuple[str, ...],
) -> None:
    """The duckdb engine's report matches the python engine's: counts exactly, numbers closely."""
    expected = _report(run, str(files["jsonl"]), "--engine", "python", *options)
    got = _report(run, str(files[kind]), *extra, "--engine", "duckdb", *options)
    _assert_close(_without_source(got), _without_source(expected), "report")
    assert (got["engine"], expected["engine"]) == ("duckdb", "python")
    assert records(expected, "data-quality"), "the demo log has gaps to name"
    # the rules are checked on the table too: the same findings, no "not_checked" row
    assert [r["code"] for r in records(got, "data-quality")] == [
        r["code"] for r in records(expected, "data-quality")
    ]


def _assert_close(got: Any, expected: Any, where: str) -> None:
    """Equal structures, floats within 1e-9 relative (durations in days: 1 µs ≈ 1.2e-11 d)."""
    if isinstance(expected, dict):
        assert isinstance(got, dict), where
        assert sorted(got) == sorted(expected), where
        for key in expected:
            _assert_close(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list), where
        assert len(got) == len(expected), where
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            _assert_close(g, e, f"{where}[{i}]")
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert isinstance(got, int | float), where
        assert math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-10), (where, got, expected)
    else:
        assert got == expected, where


# ------------------------------------------------------------------- bad input
def test_a_duckdb_file_without_the_table_lists_its_tables(
    files: dict[str, Path], run: Runner
) -> None:
    """A missing --table is one error line listing the file's tables."""
    err = cli_error(
        run(
            "report",
            str(files["duckdb"]),
            "--table",
            "deals",
            "-p",
            "inbound_b2b",
            "--engine",
            "python",
        )
    )
    assert "has no table 'deals'" in err
    assert "its tables: events, no_kind, stage_changes" in err


def test_a_table_missing_a_column_is_named_with_its_type(
    files: dict[str, Path], run: Runner
) -> None:
    """A DuckDB table without ``kind`` is refused naming the column and the expected type."""
    err = cli_error(
        run(
            "report",
            str(files["duckdb"]),
            "--table",
            "no_kind",
            "-p",
            "inbound_b2b",
            "--engine",
            "python",
        )
    )
    assert "warehouse.duckdb table no_kind, field 'kind': the table lacks the column" in err
    assert "expected string" in err


def test_table_is_refused_for_a_single_log(files: dict[str, Path], run: Runner) -> None:
    """``--table`` on a Parquet file is one error line saying to drop it."""
    err = cli_error(run("report", str(files["parquet"]), "--table", "x", "-p", "inbound_b2b"))
    assert "drop --table" in err


def test_a_corrupt_parquet_file_is_one_error_line(tmp_path: Path, run: Runner) -> None:
    """A file with Parquet's magic but nothing valid after it is a DataError naming the file."""
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 20)
    err = cli_error(run("report", str(path), "-p", "inbound_b2b", "--engine", "python"))
    assert "broken.parquet: not a Parquet file" in err


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_an_unreachable_database_is_one_line_without_the_password(run: Runner, engine: str) -> None:
    """A PostgreSQL URL nobody answers gives one line naming the URL (password hidden), exit 2."""
    pytest.importorskip("ibis")
    pytest.importorskip("psycopg")
    port = _closed_port()
    url = f"postgresql://sales:s3cr3t-pw@127.0.0.1:{port}/crm"
    err = cli_error(
        run("report", url, "--table", "events", "-p", "inbound_b2b", "--engine", engine)
    )
    assert f"cannot connect to postgresql://sales:***@127.0.0.1:{port}/crm (" in err
    assert "s3cr3t-pw" not in err


def test_a_postgres_source_without_ibis_names_the_extra(
    run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without Ibis a postgresql:// source fails naming the postgres extra."""
    import sys

    monkeypatch.setitem(sys.modules, "ibis", None)
    err = cli_error(
        run("report", "postgresql://u@127.0.0.1/db", "-p", "inbound_b2b", "--engine", "python")
    )
    assert "pip install 'salesstages[postgres]'" in err


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://ann:pw@db.example:5432/crm", "postgresql://ann:***@db.example:5432/crm"),
        ("postgresql://ann@db.example/crm", "postgresql://ann@db.example/crm"),
        ("postgres://:pw@h/crm?sslmode=require", "postgres://:***@h/crm?sslmode=require"),
        (
            "postgresql://h/crm?user=ann&password=pw&sslmode=require",
            "postgresql://h/crm?user=ann&password=***&sslmode=require",
        ),
    ],
)
def test_redact_hides_passwords_only(url: str, shown: str) -> None:
    """A URL is shown with its password replaced, everything else kept."""
    assert redact(url) == shown


def test_report_help_documents_sources_engines_and_table(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``report --help`` names every kind of SOURCE, --table and both engines with the default."""
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for text in (
        "SOURCE",
        "Parquet",
        "DuckDB file",
        "postgresql:// URL",
        "--table NAME",
        "--engine {python,duckdb}",
        "Default: duckdb for Parquet, DuckDB and PostgreSQL sources",
    ):
        assert text in out, text


# ------------------------------------------------------------- a real PostgreSQL
@pytest.mark.slow
def test_report_of_a_postgres_table_equals_the_jsonl(
    request: pytest.FixtureRequest, files: dict[str, Path], run: Runner
) -> None:
    """A PostgreSQL table (a throw-away server) reports, in Python, what the JSONL gives."""
    try:
        server = request.getfixturevalue("pg_server")
    except pytest.FixtureLookupError:
        pytest.skip("needs the pg_server fixture (tests/_services.py), not on this branch yet")
    import psycopg

    url = f"postgresql://{server.user}@127.0.0.1:{server.port}/test"
    with psycopg.connect(server.conninfo("test"), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE cli_events (deal_id text, seq bigint, at timestamptz, kind text, "
            "stage text, name text, data jsonb)"
        )
        with conn.cursor().copy(
            "COPY cli_events (deal_id, seq, at, kind, stage, name, data) FROM STDIN"
        ) as copy:
            for e in demo_events():
                d = e.to_dict()
                copy.write_row(
                    (
                        d["deal_id"],
                        d["seq"],
                        d["at"],
                        d["kind"],
                        d["stage"],
                        d["name"],
                        json.dumps(d["data"]),
                    )
                )
    try:
        expected = _report(run, str(files["jsonl"]))
        got = _report(run, url, "--table", "cli_events", "--engine", "python")
        assert got["source"] == f"{url} table cli_events"
        assert _without_source(got) == _without_source(expected)
        if hasattr(salesstages.metrics._ibis, "funnel"):
            ibis_report = _report(run, url, "--table", "cli_events", "--engine", "duckdb")
            _assert_close(_without_source(ibis_report), _without_source(expected), "report")
    finally:
        with psycopg.connect(server.conninfo("test"), autocommit=True) as conn:
            conn.execute("DROP TABLE cli_events")
