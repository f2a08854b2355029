"""``io.open_events``: every kind of source the command line opens, from Python."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from _cli_data import demo_events, write_demo_files
from salesstages import DataError, Event, StoreUnavailableError
from salesstages import metrics as m
from salesstages.io import EventSource, SourceError, open_events, write_parquet
from salesstages.io import _sources as sources
from salesstages.presets import inbound_b2b

pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo quarter in every file kind: JSONL, CSV, both stores, Parquet, DuckDB."""
    folder = tmp_path_factory.mktemp("io_sources")
    paths = write_demo_files(folder)
    paths["parquet"] = folder / "events.parquet"
    write_parquet(demo_events(), paths["parquet"])
    duckdb = pytest.importorskip("duckdb")
    paths["duckdb"] = folder / "warehouse.duckdb"
    with duckdb.connect(str(paths["duckdb"])) as con:
        con.execute(
            'CREATE TABLE stage_changes AS SELECT deal_id, seq, "at", kind, stage, name, '
            f"CAST(data AS JSON) AS data FROM read_parquet('{paths['parquet']}')"
        )
    return paths


def _key(events: list[Event]) -> list[tuple[str, int]]:
    return sorted((e.deal_id, e.seq) for e in events)


KINDS = ["jsonl", "csv", "sqlite", "jsonl-store", "parquet", "duckdb"]


@pytest.mark.parametrize("kind", KINDS)
def test_python_engine_reads_every_event(files: dict[str, Path], kind: str) -> None:
    """``engine="python"`` gives the very events written, from every kind of file."""
    table = "stage_changes" if kind == "duckdb" else None
    got = open_events(files[kind], table=table, engine="python")
    assert isinstance(got, list)
    want = demo_events()
    assert len(got) == len(want)
    assert sorted(got, key=lambda e: (e.deal_id, e.seq)) == sorted(
        want, key=lambda e: (e.deal_id, e.seq)
    )


@pytest.mark.parametrize("kind", KINDS)
def test_duckdb_engine_gives_a_table_with_the_same_figures(
    files: dict[str, Path], kind: str
) -> None:
    """``engine="duckdb"`` gives an Ibis table; a metric on it equals the events' figure."""
    pytest.importorskip("ibis")
    table = "stage_changes" if kind == "duckdb" else None
    t: Any = open_events(str(files[kind]), table=table, engine="duckdb")
    assert list(t.columns) == ["deal_id", "seq", "at", "kind", "stage", "name", "data"]
    assert t.count().execute() == len(demo_events())
    p = inbound_b2b()
    assert m.win_rate(t, p) == m.win_rate(demo_events(), p)


@pytest.mark.parametrize(
    ("kind", "columnar"),
    [("jsonl", False), ("csv", False), ("sqlite", False), ("parquet", True), ("duckdb", True)],
)
def test_auto_picks_the_engine_by_source(
    files: dict[str, Path], kind: str, columnar: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``auto``: a table for Parquet and DuckDB (with Ibis installed), events otherwise."""
    table = "stage_changes" if kind == "duckdb" else None
    if sources.ibis_available():
        got = open_events(files[kind], table=table)
        assert isinstance(got, list) is not columnar
    monkeypatch.setattr(sources, "ibis_available", lambda: False)
    if kind != "duckdb":  # without Ibis every source is read into Python
        assert isinstance(open_events(files[kind], table=table), list)


def test_source_object_names_counts_and_closes(files: dict[str, Path]) -> None:
    with EventSource(files["duckdb"], table="stage_changes") as source:
        assert source.kind == "duckdb"
        assert source.name == "warehouse.duckdb table stage_changes"
        assert source.count() is None
    with EventSource(files["parquet"]) as source:
        assert (source.kind, source.count()) == ("parquet", len(demo_events()))
    assert EventSource(files["sqlite"]).count() == len(demo_events())
    assert EventSource(files["jsonl-store"]).kind == "jsonl-store"
    assert EventSource("postgresql://ann:pw@db.example/crm").name == (
        "postgresql://ann:***@db.example/crm table events"
    )


def test_a_torn_jsonl_store_is_read_with_a_warning(tmp_path: Path, files: dict[str, Path]) -> None:
    path = tmp_path / "store.jsonl"
    path.write_bytes(files["jsonl-store"].read_bytes() + b'[{"deal_id": "X"')
    source = EventSource(path)
    assert len(source.read()) == len(demo_events())
    assert source.torn_tail == len(b'[{"deal_id": "X"')
    assert "skipped its torn last line" in source.warnings[0]


# ------------------------------------------------------------------ bad input
def test_missing_file_folder_and_empty_store(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"events file '.*none\.jsonl' does not exist"):
        open_events(tmp_path / "none.jsonl")
    with pytest.raises(SourceError, match="is a folder"):
        open_events(tmp_path)
    (tmp_path / "empty.db").write_bytes(b"")
    with pytest.raises(SourceError, match="is empty, not a SQLite store"):
        open_events(tmp_path / "empty.db")


def test_table_only_for_databases(files: dict[str, Path]) -> None:
    with pytest.raises(SourceError, match=r"table= applies to a DuckDB file .* drop table="):
        open_events(files["jsonl"], table="events")
    with pytest.raises(SourceError, match=r"--table applies to .* drop --table"):
        EventSource(files["jsonl"], table="events", table_option="--table")


def test_missing_duckdb_table_lists_the_tables(files: dict[str, Path]) -> None:
    with pytest.raises(SourceError, match=r"no table 'events'; .* \(its tables: stage_changes\)"):
        open_events(files["duckdb"], engine="python")


def test_unknown_engine_and_bad_source_type(files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"engine must be one of auto, python, duckdb; got 'x'"):
        open_events(files["jsonl"], engine="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="source must be a path or a URL, got bytes"):
        open_events(os.fsencode(files["jsonl"]))  # type: ignore[arg-type]


def test_binary_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\x01\x02" * 30)
    with pytest.raises(DataError, match="a binary file, neither text nor a SQLite store"):
        open_events(path)


def test_unreachable_server_hides_the_password() -> None:
    pytest.importorskip("ibis")
    pytest.importorskip("psycopg")
    url = "postgresql://sales:s3cr3t@127.0.0.1:1/crm"
    with pytest.raises(StoreUnavailableError) as info:
        open_events(url, table="events", engine="python")
    assert "cannot connect to postgresql://sales:***@127.0.0.1:1/crm" in str(info.value)
    assert "s3cr3t" not in str(info.value)


# ----------------------------------------------------------------- PostgreSQL
def test_postgres_table_both_engines(request: pytest.FixtureRequest, pg_table: str) -> None:
    """A ``postgresql://`` URL with ``table=``: the events, or a table on the server."""
    pytest.importorskip("ibis")
    server = request.getfixturevalue("pg_server")
    import psycopg

    url = f"postgresql://{server.user}@127.0.0.1:{server.port}/test"
    events = demo_events()[:400]
    with psycopg.connect(server.conninfo("test"), autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {pg_table} (deal_id text, seq bigint, at timestamptz, kind text, "
            "stage text, name text, data jsonb)"
        )
        with conn.cursor().copy(
            f"COPY {pg_table} (deal_id, seq, at, kind, stage, name, data) FROM STDIN"
        ) as copy:
            for e in events:
                d = e.to_dict()
                copy.write_row(
                    (d["deal_id"], d["seq"], d["at"], d["kind"], d["stage"], d["name"],
                     json.dumps(d["data"]))
                )  # fmt: skip
    try:
        got = open_events(url, table=pg_table, engine="python")
        assert isinstance(got, list)
        assert _key(got) == _key(events)
        t: Any = open_events(url, table=pg_table)  # auto: the table stays on the server
        assert not isinstance(t, list)
        p = inbound_b2b()
        assert m.win_rate(t, p) == m.win_rate(events, p)
        t._find_backend().disconnect()
        with pytest.raises(SourceError, match=r"has no table 'nope'; name the events table"):
            open_events(url, table="nope", engine="python")
    finally:
        with psycopg.connect(server.conninfo("test"), autocommit=True) as conn:
            conn.execute(f"DROP TABLE {pg_table}")
