"""``salesstages export``: any event source the command line reads, written as Parquet."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from _cli_data import Runner, cli_error, demo_events, write_demo_files
from salesstages.cli import _import, main
from salesstages.io import read_parquet, write_jsonl

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo quarter as JSONL, CSV, a SQLite store and a JSONL store, written once."""
    return write_demo_files(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("kind", ["jsonl", "csv", "sqlite", "jsonl-store"])
def test_export_writes_every_event_of_each_source(
    files: dict[str, Path], tmp_path: Path, run: Runner, kind: str
) -> None:
    """Exporting a JSONL, CSV, SQLite or JsonlStore source gives back the same events."""
    out = tmp_path / "events.parquet"
    status, stdout, err = run("export", str(files[kind]), "--out", str(out))
    assert status == 0, err
    events = demo_events()
    back = list(read_parquet(out))
    key = lambda e: (e.deal_id, e.seq)  # noqa: E731 - stores return deals in their own order
    assert sorted(back, key=key) == sorted(events, key=key)
    deals = len({e.deal_id for e in events})  # 150 simulated deals
    assert stdout == (
        f"Exported {len(events):,} events of {deals} deals from {files[kind].name}: {out}\n"
    )
    assert err == ""  # no progress bar when standard error is not a terminal


def test_export_of_a_parquet_file_copies_it(
    files: dict[str, Path], tmp_path: Path, run: Runner
) -> None:
    """A Parquet source is a source too: exporting it writes an equal log elsewhere."""
    first, second = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert run("export", str(files["jsonl"]), "-o", str(first))[0] == 0
    assert run("export", str(first), "-o", str(second))[0] == 0
    assert list(read_parquet(second)) == list(read_parquet(first))


def test_export_shows_a_progress_bar_on_a_terminal(
    files: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On a terminal the export draws a ``\\r`` progress bar on standard error, ending at 100%."""
    monkeypatch.setattr(_import, "PROGRESS_AFTER", 0.0)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    out = tmp_path / "events.parquet"
    assert main(["export", str(files["sqlite"]), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("\rexporting to events.parquet ")
    last = err.rsplit("\r", 1)[-1]
    assert last.startswith(f"exporting to events.parquet [{'#' * 30}] 100%")
    assert last.endswith("\n")


def test_export_from_a_duckdb_table(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """``--table`` names the events table of a DuckDB file to export."""
    duckdb = pytest.importorskip("duckdb")
    parquet = tmp_path / "a.parquet"
    assert run("export", str(files["jsonl"]), "-o", str(parquet))[0] == 0
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TABLE stage_changes AS SELECT * FROM read_parquet('{parquet}')")
    out = tmp_path / "b.parquet"
    status, stdout, err = run("export", str(db), "--table", "stage_changes", "-o", str(out))
    assert status == 0, err
    assert "from warehouse.duckdb table stage_changes" in stdout
    assert list(read_parquet(out)) == demo_events()


def test_export_refuses_another_suffix(files: dict[str, Path], tmp_path: Path, run: Runner) -> None:
    """``--out`` must name a .parquet file; the message points to ``import`` for JSONL and CSV."""
    err = cli_error(run("export", str(files["jsonl"]), "--out", str(tmp_path / "x.jsonl")))
    assert "must end in .parquet" in err
    assert not (tmp_path / "x.jsonl").exists()


def test_export_refuses_a_missing_folder(
    files: dict[str, Path], tmp_path: Path, run: Runner
) -> None:
    """A target in a folder that does not exist is refused before anything is read."""
    err = cli_error(run("export", str(files["jsonl"]), "--out", str(tmp_path / "no" / "x.parquet")))
    assert "the folder does not exist" in err


def test_export_refuses_to_overwrite_its_source(tmp_path: Path, run: Runner) -> None:
    """Exporting a Parquet file onto itself is refused, and the file stays intact."""
    path = tmp_path / "events.parquet"
    assert run("export", str(_jsonl(tmp_path)), "-o", str(path))[0] == 0
    err = cli_error(run("export", str(path), "-o", str(path)))
    assert "itself; writing there would destroy it" in err
    assert list(read_parquet(path)) == demo_events(5)


def _jsonl(folder: Path) -> Path:
    """A five-deal JSONL log in ``folder``."""
    path = folder / "small.jsonl"
    write_jsonl(demo_events(5), path)
    return path


def test_export_names_a_missing_source(tmp_path: Path, run: Runner) -> None:
    """A source that does not exist is one error line naming it."""
    err = cli_error(run("export", str(tmp_path / "nope.jsonl"), "-o", str(tmp_path / "x.parquet")))
    assert "nope.jsonl' does not exist" in err


def test_export_of_a_bad_log_names_the_line_and_writes_nothing(tmp_path: Path, run: Runner) -> None:
    """A malformed JSONL source fails naming file, line and field, and leaves no output."""
    source = tmp_path / "bad.jsonl"
    source.write_text(
        '{"deal_id": "A", "seq": 0, "at": "2024-01-01T00:00:00", "kind": "opened"}\n',
        encoding="utf-8",
    )
    err = cli_error(run("export", str(source), "-o", str(tmp_path / "x.parquet")))
    assert "bad.jsonl, line 1, field 'at'" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]


def test_export_refuses_table_for_a_file_source(
    files: dict[str, Path], tmp_path: Path, run: Runner
) -> None:
    """``--table`` only applies to databases; on a JSONL file it is one error line."""
    err = cli_error(
        run("export", str(files["jsonl"]), "--table", "t", "-o", str(tmp_path / "x.parquet"))
    )
    assert "--table applies to a DuckDB file or a postgresql:// URL" in err


def test_export_without_pyarrow_names_the_extra(
    files: dict[str, Path], tmp_path: Path, run: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pyarrow the export fails with one line naming the install command."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    err = cli_error(run("export", str(files["jsonl"]), "-o", str(tmp_path / "x.parquet")))
    assert "pip install 'salesstages[duckdb]'" in err


def test_export_help_names_the_sources(capsys: pytest.CaptureFixture[str]) -> None:
    """``export --help`` lists the sources it reads and the --table and --out options."""
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    out = capsys.readouterr().out
    for text in ("Parquet", "SQLite store", "DuckDB file", "postgresql://", "--table", "--out"):
        assert text in out
