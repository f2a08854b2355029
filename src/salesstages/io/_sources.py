"""Opening an event source the way the command line does: files, stores and tables.

:func:`open_events` takes a path or a URL and returns the events (read into
Python) or an Ibis table (computed on its backend); :class:`EventSource` is the
same source as an object that also names it, counts it, says which engine
suits it and what reading it skipped.

What a source is, told from its first bytes (its suffix only decides between
the text forms):

========================= ==========================================================
``jsonl``                 one canonical event a line (:func:`~salesstages.io.write_jsonl`)
``jsonl-store``           a :class:`~salesstages.JsonlStore` file
``csv``                   the canonical CSV (:func:`~salesstages.io.write_csv`)
``sqlite``                a :class:`~salesstages.SqliteStore` file
``parquet``               the canonical table (:func:`~salesstages.io.write_parquet`)
``duckdb``                a DuckDB database file; ``table`` names the table (``events``)
``postgres``              a ``postgresql://`` URL; ``table`` names the table (``events``)
========================= ==========================================================
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sqlite3
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from .._errors import DataError, SalesStagesError
from .._events import Event
from .._redact import redact, scrub
from .._stores import JsonlStore, SqliteStore, StoreUnavailableError
from .._stores.sqlite import integrity_check
from ._arrow import BATCH_SIZE, read_batches, read_parquet, to_arrow
from ._canonical import read_csv, read_jsonl

if TYPE_CHECKING:
    from ibis.expr.types import Table as IbisTable

__all__ = [
    "ENGINES",
    "EventSource",
    "SourceError",
    "ibis_available",
    "is_store",
    "open_events",
]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_SQLITE_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
_PARQUET_MAGIC: Final = b"PAR1"
_DUCKDB_MAGIC: Final = b"DUCK"  # at byte 8, after the header's checksum
_URL_SCHEMES: Final = ("postgresql://", "postgres://")
#: The engines a source is read with: the pure-Python reference (the events, read
#: into Python), or Ibis on DuckDB (on PostgreSQL itself for a ``postgresql://`` URL).
ENGINES: Final = ("python", "duckdb")
#: Sources whose default engine is ``duckdb`` when Ibis and DuckDB are installed.
_COLUMNAR: Final = ("parquet", "duckdb", "postgres")
_DUCKDB_EXTRA: Final = "pip install 'salesstages[duckdb]'"
_POSTGRES_EXTRA: Final = "pip install 'salesstages[postgres]'"


class SourceError(SalesStagesError, ValueError):
    """A source cannot be opened as asked: it does not exist, is a folder, is empty,
    or has no such table; the message says what to give instead."""


def open_events(
    source: str | os.PathLike[str],
    *,
    table: str | None = None,
    engine: Literal["auto", "python", "duckdb"] = "auto",
) -> list[Event] | IbisTable:
    """The events of ``source``: a JSONL, CSV or Parquet file, a SQLite or JSONL
    store, a DuckDB file or a ``postgresql://`` URL (``table`` names the table of
    the last two, default ``events``).

    ``engine="python"`` reads every event into a list; ``engine="duckdb"``
    returns an Ibis table that every metric and forecast computes on its own
    backend (a Parquet file is read by an in-memory DuckDB, a DuckDB file's
    table opened read-only, a PostgreSQL table stays on its server; a JSONL,
    CSV or SQLite source is loaded into an in-memory DuckDB). ``"auto"`` (the
    default) picks ``duckdb`` for Parquet, DuckDB and PostgreSQL when
    ``salesstages[duckdb]`` is installed, ``python`` otherwise. A table's
    connection stays open while the table is in use.

    Raises :class:`SourceError` for a source that cannot be opened,
    :class:`~salesstages.DataError` naming file, row and field for content it
    cannot read, :class:`~salesstages.StoreUnavailableError` for a server it
    cannot reach, and ``ImportError`` naming the extra to install.
    """
    if engine not in ("auto", *ENGINES):
        raise ValueError(f"engine must be one of auto, {', '.join(ENGINES)}; got {engine!r}")
    src = EventSource(source, table=table)
    if engine == "auto":
        engine = "duckdb" if src.default_engine() == "duckdb" else "python"
    if engine == "duckdb":
        return src.ibis_table()  # the table holds its connection; not closed here
    with src:
        return src.read()


class EventSource:
    """An events file, store or database table, read lazily (see :func:`open_events`).

    ``kind`` is ``jsonl`` (the interchange format of
    :func:`salesstages.io.write_jsonl`), ``jsonl-store`` (a :class:`JsonlStore`
    file), ``csv``, ``sqlite``, ``parquet`` (the canonical table of
    :func:`salesstages.io.write_parquet`), ``duckdb`` (a DuckDB database file;
    ``table`` names the table, default ``events``) or ``postgres`` (a
    ``postgresql://`` URL; ``table`` likewise). With ``complete=True`` a JSONL or
    CSV file whose deals have gaps in ``seq`` is refused (see
    :func:`salesstages.io.read_jsonl`); ``False`` reads them, to list the gaps as
    problems. ``table_option`` is how messages name the ``table`` argument (the
    command line says ``--table``).
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        complete: bool = True,
        table: str | None = None,
        table_option: str = "table=",
    ) -> None:
        text = os.fspath(source)
        if not isinstance(text, str):
            raise TypeError(f"source must be a path or a URL, got {type(source).__name__}")
        self.complete = complete
        self.text = text
        self._option = table_option
        self.path: Path | None = None
        if text.startswith(_URL_SCHEMES):
            self.kind = "postgres"
        else:
            path = Path(text)
            if not path.exists():
                raise SourceError(
                    f"events file {redact(text)!r} does not exist; give a JSONL, CSV or Parquet "
                    "events file, a SQLite store, a DuckDB file or a postgresql:// URL "
                    "(see `salesstages import` to make one)"
                )
            if path.is_dir():
                raise SourceError(
                    f"{redact(text)!r} is a folder; give an events file or a SQLite store"
                )
            self.path = path
            self.kind = _sniff(path)
        if table is not None and self.kind not in ("duckdb", "postgres"):
            raise SourceError(
                f"{table_option} applies to a DuckDB file or a postgresql:// URL; "
                f"{redact(text)!r} is "
                f"a {self.kind} source, which holds one log: drop {table_option}"
            )
        self.table = table or "events"
        self._connections: list[Any] = []
        #: What reading the source skipped or doubted, one line each (a torn last line
        #: of a JSON Lines store); the command line prints them as warnings.
        self.warnings: list[str] = []
        #: Bytes of a torn last line skipped when reading (a JSON Lines store), else 0.
        self.torn_tail = 0
        #: Lines of a JSON Lines store read without a checksum (format 1), else 0.
        self.unverified_lines = 0

    @property
    def name(self) -> str:
        """How the source is named in reports and messages (a URL without its password)."""
        if self.path is None:
            return f"{redact(self.text)} table {self.table}"
        if self.kind == "duckdb":
            return f"{self.path.name} table {self.table}"
        return self.path.name

    def __iter__(self) -> Iterator[Event]:
        if self.kind == "sqlite":
            return _read_sqlite(self._file)
        if self.kind == "csv":
            return _read_csv(self._file, self.complete)
        if self.kind == "jsonl-store":
            return self._read_jsonl_store()
        if self.kind == "parquet":
            return _read_parquet(self._file)
        if self.kind == "duckdb":
            return _read_duckdb(self._file, self.table, self._option)
        if self.kind == "postgres":
            return _read_postgres(self.text, self.table, self._option)
        return _read_jsonl(self._file, self.complete)

    def _read_jsonl_store(self) -> Iterator[Event]:
        store = JsonlStore(self._file, fsync=False)
        events = store.events()
        self.unverified_lines = store.unverified_lines
        if store.torn_tail:
            self.torn_tail = store.torn_tail
            self.warnings.append(
                f"{self.name}: skipped its torn last line ({store.torn_tail:,} bytes without "
                "a newline: an append that had not finished, or one a crash cut short)"
            )
        yield from events

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` finds wrong with a SQLite store (empty when
        it says ``ok``, and for any other kind of source)."""
        if self.kind != "sqlite":
            return []
        return integrity_check(self._file)

    @property
    def _file(self) -> Path:
        assert self.path is not None  # only a URL has none
        return self.path

    def read(self) -> list[Event]:
        """Every event, in file order."""
        return list(self)

    def count(self) -> int | None:
        """The number of events when known without reading them (for progress bars)."""
        if self.kind == "sqlite" and self.path is not None and is_store(self.path):
            with SqliteStore(self.path) as store:
                return len(store)
        if self.kind == "parquet":
            pa = _arrow_module("parquet")
            with pa.parquet.ParquetFile(self._file) as f:
                rows: int = f.metadata.num_rows
                return rows
        return None

    def default_engine(self) -> str:
        """``duckdb`` for a columnar or database source when Ibis and DuckDB are
        installed, ``python`` otherwise."""
        if self.kind in _COLUMNAR and ibis_available():
            return "duckdb"
        return "python"

    def ibis_table(self) -> Any:
        """The source as an Ibis table expression with the canonical columns.

        A Parquet file is read by an in-memory DuckDB, a DuckDB file's table is
        opened read-only, a PostgreSQL table stays on its server, and any other
        source is read here and loaded into an in-memory DuckDB (through
        :func:`salesstages.io.to_arrow`).
        """
        with warnings.catch_warnings():
            # Ibis 12 reads schemas with DuckDB 2's deprecated fetch_arrow_table
            warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
            return self._ibis_table()

    def _ibis_table(self) -> Any:
        ibis = _ibis("duckdb" if self.kind != "postgres" else "postgres")
        if self.kind == "postgres":
            con = _postgres_connect(ibis, self.text)
            self._connections.append(con)
            t = _postgres_table(con, self.text, self.table, self._option)
            missing = [c for c in _CANONICAL if c not in t.columns]
            if missing:
                raise SourceError(
                    f"{redact(self.text)} table {self.table!r} is not an events table: it has "
                    f"no column {', '.join(missing)}; name the events table with {self._option}"
                )
            return t
        if self.kind == "duckdb":
            _check_duckdb_table(self._file, self.table, self._option)
            con = ibis.duckdb.connect(str(self._file), read_only=True)
            self._connections.append(con)
            return con.table(self.table)
        con = ibis.duckdb.connect()
        self._connections.append(con)
        if self.kind == "parquet":
            import duckdb

            try:
                return con.read_parquet(self._file)
            except duckdb.Error as exc:  # not Parquet after all, or a damaged file
                raise DataError(
                    f"cannot read the Parquet file ({' '.join(str(exc).split())})",
                    path=str(self._file),
                ) from None
        con.con.register("events", to_arrow(self))
        return con.table("events")

    def close(self) -> None:
        """Close the database connections :meth:`ibis_table` opened."""
        while self._connections:
            self._connections.pop().disconnect()

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sniff(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if head[8:12] == _DUCKDB_MAGIC:
        return "duckdb"
    suffix = path.suffix.lower()
    if suffix in _SQLITE_SUFFIXES:
        if not head:
            raise SourceError(f"{str(path)!r} is empty, not a SQLite store")
        if b"\x00" in head:  # binary, without the SQLite header: a damaged store
            return "sqlite"
    if b"\x00" in head:
        raise DataError(
            "a binary file, neither text nor a SQLite store, a Parquet or a DuckDB file (it "
            "does not start like one); if it is a SQLite store, its header is damaged: "
            "restore it from a backup (UTF-16 text: save it as UTF-8)",
            path=str(path),
        )
    first = head.lstrip()[:1]
    if first == b"[":  # JsonlStore writes each event (or batch) as a JSON array, whatever
        return "jsonl-store"  # the file's name (a CSV header never starts with "[")
    if suffix == ".csv":
        return "csv"
    if first == b"{" or not first or suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"  # an empty file: no events
    return "csv"


def is_store(path: Path) -> bool:
    """True when the SQLite file has the store's tables (checked read-only, so a
    foreign database is never changed); False for a damaged file too."""
    try:
        return {"events", "deals"} <= _sqlite_tables(path)
    except DataError:
        return False


def _sqlite_tables(path: Path) -> set[str]:
    """The tables of a SQLite file, read-only; :class:`DataError` when it does not read."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:  # a damaged (or truncated) file, or not SQLite
        raise DataError(
            f"the SQLite file is damaged ({exc}); restore it from a backup",
            path=str(path),
        ) from None


def _read_sqlite(path: Path) -> Iterator[Event]:
    if not {"events", "deals"} <= _sqlite_tables(path):
        raise DataError(
            "a SQLite file without a salesstages store in it; give a store written by "
            "SqliteStore (or `salesstages demo --db`)",
            path=str(path),
        )
    try:
        store = SqliteStore(path)
    except sqlite3.DatabaseError as exc:
        raise DataError(f"not a salesstages SQLite store ({exc})", path=str(path)) from None
    try:
        yield from store.events()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"cannot read the SQLite store ({exc})", path=str(path)) from None
    finally:
        store.close()


def _read_jsonl(path: Path, complete: bool) -> Iterator[Event]:
    yield from read_jsonl(path, complete=complete)


def _read_csv(path: Path, complete: bool) -> Iterator[Event]:
    yield from read_csv(path, complete=complete)


def _read_parquet(path: Path) -> Iterator[Event]:
    yield from read_parquet(path)


# ------------------------------------------------------- columnar and databases
def ibis_available() -> bool:
    """True when Ibis and DuckDB can be imported (the ``salesstages[duckdb]`` extra)."""
    return all(importlib.util.find_spec(m) is not None for m in ("ibis", "duckdb", "pyarrow"))


def _arrow_module(what: str) -> Any:
    try:
        import pyarrow  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            f"reading a {what} source needs pyarrow; install it with {_DUCKDB_EXTRA}"
        ) from None
    return pyarrow


def _ibis(backend: str) -> Any:
    """Ibis, with the backend's driver importable, or ``ImportError`` naming the extra."""
    extra = _POSTGRES_EXTRA if backend == "postgres" else _DUCKDB_EXTRA
    driver = "psycopg" if backend == "postgres" else "duckdb"
    try:
        import ibis

        importlib.import_module(driver)
    except ImportError as exc:
        raise ImportError(
            f"this source or engine needs ibis-framework and {driver} ({exc.name} is missing); "
            f"install them with {extra}, or read the events in Python (engine python)"
        ) from None
    return ibis


def _postgres_connect(ibis: Any, url: str) -> Any:
    try:
        return ibis.connect(url)
    except Exception as exc:  # the driver's own error types (psycopg.OperationalError …)
        raise StoreUnavailableError(
            f"cannot connect to {redact(url)} ({scrub(exc, url)}); check the URL and "
            "that the server is running and lets you in"
        ) from None


def _postgres_table(con: Any, url: str, table: str, option: str) -> Any:
    try:
        return con.table(table)
    except Exception as exc:  # Ibis's TableNotFound, or the driver's error
        reason = scrub(exc, url)
        con.disconnect()
        raise SourceError(
            f"{redact(url)} has no table {table!r}"
            + (f" ({reason})" if reason != table else "")
            + f"; name the events table with {option}"
        ) from None


def _duckdb_tables(path: Path) -> list[str]:
    try:
        import duckdb
    except ImportError:
        raise ImportError(
            f"reading a DuckDB file needs the duckdb package; install it with {_DUCKDB_EXTRA}"
        ) from None
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise DataError(
            f"cannot open the DuckDB file ({' '.join(str(exc).split())})", path=str(path)
        ) from None
    try:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() ORDER BY table_name"
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


def _check_duckdb_table(path: Path, table: str, option: str) -> None:
    tables = _duckdb_tables(path)
    if table not in tables:
        known = ", ".join(tables) or "none"
        raise SourceError(
            f"DuckDB file {str(path)!r} has no table {table!r}; name the events table with "
            f"{option} (its tables: {known})"
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_CANONICAL: Final = ("deal_id", "seq", "at", "kind", "stage", "name", "data")
_FIELDS_SQL: Final = ", ".join(_quote(c) for c in _CANONICAL)


def _read_duckdb(path: Path, table: str, option: str) -> Iterator[Event]:
    import duckdb

    _check_duckdb_table(path, table, option)
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = {
            str(r[0])
            for r in con.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = ? AND table_schema = current_schema()",
                [table],
            ).fetchall()
        }
        # with a canonical column missing, read them all so that the check names it
        select = _FIELDS_SQL if columns >= set(_CANONICAL) else "*"
        reader: Any = con.sql(f"SELECT {select} FROM {_quote(table)}").to_arrow_reader(BATCH_SIZE)
        yield from read_batches(reader, reader.schema, f"{path.name} table {table}")
    finally:
        con.close()


def _read_postgres(url: str, table: str, option: str) -> Iterator[Event]:
    con = _postgres_connect(_ibis("postgres"), url)
    try:
        t = _postgres_table(con, url, table, option)
        name = f"{redact(url)} table {table}"
        if set(t.columns) >= set(_CANONICAL):
            t = t.select(*_CANONICAL).order_by(["deal_id", "seq"])  # grouped: the fold's fast path
        reader = t.to_pyarrow_batches(chunk_size=BATCH_SIZE)
        yield from read_batches(reader, reader.schema, name)
    finally:
        con.disconnect()
