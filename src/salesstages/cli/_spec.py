"""What the command line reads: pipeline specs, event files and dates.

Every failure raises :class:`CliError` (or a library error) with one line that
says what is wrong and what to do; the command line prints it and exits 2.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import sqlite3
import sys
import tomllib
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from .._errors import DataError, PipelineError, SalesStagesError
from .._events import Event
from .._pipeline import Pipeline
from .._redact import redact, scrub

__all__ = [
    "ENGINES",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_STAGES",
    "PRESETS",
    "CliError",
    "EventSource",
    "add_as_of",
    "as_of_arg",
    "check_as_of",
    "day_arg",
    "ibis_available",
    "is_store",
    "load_events",
    "load_mapping",
    "load_pipeline",
    "parse_as_of",
    "parse_day",
    "redact",
]

#: Preset names a SPEC may give, each with the function that builds it.
PRESETS: Final = ("inbound_b2b", "classic_b2b", "modern_b2b")
_PIPELINE_SUFFIXES: Final = (".json", ".toml", ".yaml", ".yml")
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_SQLITE_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
_PARQUET_MAGIC: Final = b"PAR1"
_DUCKDB_MAGIC: Final = b"DUCK"  # at byte 8, after the header's checksum
_URL_SCHEMES: Final = ("postgresql://", "postgres://")
#: The engines ``report --engine`` runs: the pure-Python reference, or Ibis on
#: DuckDB (on PostgreSQL itself for a ``postgresql://`` source).
ENGINES: Final = ("python", "duckdb")
#: Sources whose default engine is ``duckdb`` when Ibis and DuckDB are installed.
_COLUMNAR: Final = ("parquet", "duckdb", "postgres")
_DUCKDB_EXTRA: Final = "pip install 'salesstages[duckdb]'"
_POSTGRES_EXTRA: Final = "pip install 'salesstages[postgres]'"
_SPEC_HELP: Final = (
    "give a preset name (" + ", ".join(PRESETS) + "), a module:attribute, "
    "or a .json/.toml/.yaml file in Pipeline.to_dict form"
)


class CliError(SalesStagesError, ValueError):
    """A command-line input is wrong; the message says what to do instead."""


# ------------------------------------------------------------------ pipelines
#: Limits of a pipeline or mapping file (CONTRACT section 12): its size in bytes, how
#: deeply its values nest (the top-level table is level 1) and, for a pipeline, the
#: number of stages. YAML aliases and anchors are refused too.
MAX_FILE_BYTES: Final = 1 << 20
MAX_NESTING: Final = 64
MAX_STAGES: Final = 500

ErrorFactory = Callable[[str], SalesStagesError]


def _read_document(path: Path, what: str, error: ErrorFactory) -> Any:
    """Parse a JSON, TOML or YAML file safely (never runs code), within the limits.

    Every problem with the file's content raises ``error(message)``.
    """
    suffix = path.suffix.lower()
    if suffix not in _PIPELINE_SUFFIXES:
        if not path.exists():
            raise CliError(f"{what} file {str(path)!r} does not exist; check the path")
        raise CliError(
            f"cannot tell the format of {what} file {str(path)!r}; "
            "name it .json, .toml, .yaml or .yml"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"{what} file {str(path)!r} does not exist; check the path") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} file {str(path)!r}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(
            f"larger than {MAX_FILE_BYTES // (1 << 20)} MiB, the limit of a {what} file; "
            "a pipeline definition is a few kilobytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(f"line {line}: not UTF-8 text; save the file as UTF-8") from None
    too_deep = f"nests deeper than {MAX_NESTING} levels, the limit of a {what} file; flatten it"
    try:
        if suffix == ".json":
            document = json.loads(text)
        elif suffix == ".toml":
            document = tomllib.loads(text)
        else:
            document = _load_yaml(text, path, error, too_deep)
    except json.JSONDecodeError as exc:
        raise error(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}") from None
    except RecursionError:
        raise error(too_deep) from None
    if _depth(document) > MAX_NESTING:
        raise error(too_deep)
    return document


def _depth(value: object) -> int:
    """How deeply ``value`` nests (a scalar is 0, ``{}`` or ``[]`` is 1), without recursion."""
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break  # deep enough to refuse: no need to walk the rest
        todo.extend((c, level + 1) for c in children)
    return deepest


def _load_yaml(text: str, path: Path, error: ErrorFactory, too_deep: str) -> Any:
    """YAML with the safe loader, after a pass over its parse events that refuses
    aliases and anchors (so an alias bomb fails at its first anchor) and nesting
    deeper than :data:`MAX_NESTING`."""
    try:
        import yaml
    except ImportError:
        raise CliError(
            f"reading {str(path)!r} needs PyYAML; install it with "
            "pip install 'salesstages[yaml]', or use a .json or .toml file"
        ) from None
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        level = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark is not None else "?"
                raise error(
                    f"line {line}: uses a YAML anchor or alias (&name / *name), which a "
                    f"pipeline file may not; write each value out"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                level += 1
                if level > MAX_NESTING:
                    raise error(too_deep)
            elif isinstance(event, yaml.CollectionEndEvent):
                level -= 1
        return yaml.load(text, Loader=loader)  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {' '.join(str(exc).split())}") from None


def _from_object(obj: object, spec: str) -> Pipeline:
    if isinstance(obj, Pipeline):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, Pipeline):
            return made
        raise CliError(
            f"{spec!r} returned {type(made).__name__}, not a Pipeline; "
            "point SPEC at a Pipeline or a function returning one"
        )
    raise CliError(
        f"{spec!r} is a {type(obj).__name__}, not a Pipeline; "
        "point SPEC at a Pipeline or a function returning one"
    )


def _import_spec(spec: str) -> Pipeline:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"pipeline {spec!r} is not module:attribute; {_SPEC_HELP}")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # like `python -m`, let a module beside the user be found
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CliError(
            f"cannot import module {module_name!r} for pipeline {spec!r} ({exc}); "
            "run from the folder that holds it or install it"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(
                f"module {module_name!r} has no attribute {attribute!r}; "
                "check the name after the colon"
            ) from None
    return _from_object(obj, spec)


def load_pipeline(spec: str) -> Pipeline:
    """The pipeline a SPEC names: a pipeline file, a preset name or ``module:attribute``.

    A file is parsed as data (JSON, TOML, or YAML with ``yaml.safe_load``) and
    built with :meth:`Pipeline.from_dict`, so loading it never runs code. Only
    ``module:attribute`` imports Python, which the user asked for by naming it.
    """
    path = Path(spec)
    if path.suffix.lower() in _PIPELINE_SUFFIXES or path.is_file():

        def error(message: str) -> PipelineError:
            return PipelineError(f"pipeline file {spec!r}: {message}")

        document = _read_document(path, "pipeline", error)
        stages = document.get("stages") if isinstance(document, dict) else None
        if isinstance(stages, list) and len(stages) > MAX_STAGES:
            raise error(
                f"defines {len(stages):,} stages, more than the {MAX_STAGES} a pipeline file "
                "may hold; split the pipeline, or build it in Python"
            )
        try:
            return Pipeline.from_dict(document)
        except PipelineError as exc:
            raise PipelineError(f"pipeline file {spec!r}: {exc}") from None
        except (TypeError, ValueError, KeyError) as exc:
            raise PipelineError(
                f"pipeline file {spec!r} is not in Pipeline.to_dict form ({exc}); "
                "write one with `salesstages diagram`'s --format json or Pipeline.to_dict()"
            ) from None
    if spec in PRESETS:
        from .. import presets

        builder: Callable[[], Pipeline] = getattr(presets, spec)
        return builder()
    if ":" in spec:
        return _import_spec(spec)
    raise CliError(f"unknown pipeline {spec!r}; {_SPEC_HELP}")


def load_mapping(path_text: str) -> dict[str, Any]:
    """An importer's mapping from a JSON, TOML or YAML file (a table at the top)."""
    path = Path(path_text)
    document = _read_document(path, "mapping", lambda m: DataError(m, path=str(path)))
    if not isinstance(document, dict):
        raise CliError(
            f"mapping file {path_text!r} must hold a table/object at the top, "
            f"not {type(document).__name__}"
        )
    return document


# --------------------------------------------------------------------- events
class EventSource:
    """An events file, store or database table, read lazily.

    ``kind`` is ``jsonl`` (the interchange format of
    :func:`salesstages.io.write_jsonl`), ``jsonl-store`` (a :class:`JsonlStore`
    file), ``csv``, ``sqlite``, ``parquet`` (the canonical table of
    :func:`salesstages.io.write_parquet`), ``duckdb`` (a DuckDB database file;
    ``table`` names the table, default ``events``) or ``postgres`` (a
    ``postgresql://`` URL; ``table`` likewise).
    """

    def __init__(self, text: str, *, complete: bool = True, table: str | None = None) -> None:
        self.complete = complete
        self.text = text
        self.path: Path | None = None
        if text.startswith(_URL_SCHEMES):
            self.kind = "postgres"
        else:
            path = Path(text)
            if not path.exists():
                raise CliError(
                    f"events file {redact(text)!r} does not exist; give a JSONL, CSV or Parquet "
                    "events file, a SQLite store, a DuckDB file or a postgresql:// URL "
                    "(see `salesstages import` to make one)"
                )
            if path.is_dir():
                raise CliError(
                    f"{redact(text)!r} is a folder; give an events file or a SQLite store"
                )
            self.path = path
            self.kind = _sniff(path)
        if table is not None and self.kind not in ("duckdb", "postgres"):
            raise CliError(
                f"--table applies to a DuckDB file or a postgresql:// URL; {redact(text)!r} is a "
                f"{self.kind} source, which holds one log: drop --table"
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
            return _read_duckdb(self._file, self.table)
        if self.kind == "postgres":
            return _read_postgres(self.text, self.table)
        return _read_jsonl(self._file, self.complete)

    def _read_jsonl_store(self) -> Iterator[Event]:
        from .._stores import JsonlStore

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
        from .._stores.sqlite import integrity_check

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
            from .._stores import SqliteStore

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
            return _postgres_table(con, self.text, self.table)
        if self.kind == "duckdb":
            _check_duckdb_table(self._file, self.table)
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
        from ..io import to_arrow

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
            raise CliError(f"{str(path)!r} is empty, not a SQLite store")
        if b"\x00" in head:  # binary, without the SQLite header: a damaged store
            return "sqlite"
    if b"\x00" in head:
        raise DataError(
            "a binary file, neither text nor a SQLite store, a Parquet or a DuckDB file (it "
            "does not start like one); if it is a SQLite store, its header is damaged: "
            "restore it from a backup (UTF-16 text: save it as UTF-8)",
            path=str(path),
        )
    if suffix == ".csv":
        return "csv"
    first = head.lstrip()[:1]
    if first == b"[":  # JsonlStore writes each event (or batch) as a JSON array
        return "jsonl-store"
    if first == b"{" or not first or suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"  # an empty file: no events
    return "csv"


def load_events(path_text: str, *, complete: bool = True, table: str | None = None) -> list[Event]:
    """Every event of a JSONL, CSV or Parquet events file, a SQLite store, or a
    DuckDB or PostgreSQL table.

    With ``complete=True`` a file whose deals have gaps in ``seq`` is refused
    (see :func:`salesstages.io.read_jsonl`); ``check`` reads with ``False`` so
    that it can list the gaps as problems.
    """
    return EventSource(path_text, complete=complete, table=table).read()


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
    from .._stores import SqliteStore

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
    from ..io import read_jsonl

    yield from read_jsonl(path, complete=complete)


def _read_csv(path: Path, complete: bool) -> Iterator[Event]:
    from ..io import read_csv

    yield from read_csv(path, complete=complete)


def _read_parquet(path: Path) -> Iterator[Event]:
    from ..io import read_parquet

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
            f"install them with {extra}, or pass --engine python"
        ) from None
    return ibis


def _postgres_connect(ibis: Any, url: str) -> Any:
    try:
        return ibis.connect(url)
    except Exception as exc:  # the driver's own error types (psycopg.OperationalError …)
        raise CliError(
            f"cannot connect to {redact(url)} ({scrub(exc, url)}); check the URL and "
            "that the server is running and lets you in"
        ) from None


def _postgres_table(con: Any, url: str, table: str) -> Any:
    try:
        return con.table(table)
    except Exception as exc:  # Ibis's TableNotFound, or the driver's error
        reason = scrub(exc, url)
        con.disconnect()
        raise CliError(
            f"{redact(url)} has no table {table!r}"
            + (f" ({reason})" if reason != table else "")
            + "; name the events table with --table"
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


def _check_duckdb_table(path: Path, table: str) -> None:
    tables = _duckdb_tables(path)
    if table not in tables:
        known = ", ".join(tables) or "none"
        raise CliError(
            f"DuckDB file {str(path)!r} has no table {table!r}; name the events table with "
            f"--table (its tables: {known})"
        )


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


_CANONICAL: Final = ("deal_id", "seq", "at", "kind", "stage", "name", "data")
_FIELDS_SQL: Final = ", ".join(_quote(c) for c in _CANONICAL)


def _read_duckdb(path: Path, table: str) -> Iterator[Event]:
    import duckdb

    from ..io._arrow import BATCH_SIZE, read_batches

    _check_duckdb_table(path, table)
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


def _read_postgres(url: str, table: str) -> Iterator[Event]:
    from ..io._arrow import BATCH_SIZE, read_batches

    con = _postgres_connect(_ibis("postgres"), url)
    try:
        t = _postgres_table(con, url, table)
        name = f"{redact(url)} table {table}"
        if set(t.columns) >= set(_CANONICAL):
            t = t.select(*_CANONICAL).order_by(["deal_id", "seq"])  # grouped: the fold's fast path
        reader = t.to_pyarrow_batches(chunk_size=BATCH_SIZE)
        yield from read_batches(reader, reader.schema, name)
    finally:
        con.disconnect()


# ---------------------------------------------------------------------- dates
#: The help of every command's ``--as-of`` (see :func:`add_as_of`).
AS_OF_HELP: Final = (
    "as it stood then: now (this moment), today (the end of today, UTC), a date "
    "(2026-03-31, 20260331 or 2026-03-31Z: the end of that day, UTC) or a date-time "
    "(UTC unless it has an offset); default: the last event. A moment before the first "
    "event or more than a day after now is refused unless --force"
)
#: How far after the current time an ``--as-of`` may lie (a clock a little ahead).
AS_OF_SLACK: Final = timedelta(days=1)
_DAY_FORMS: Final = "2026-03-31, 20260331 or 2026-03-31Z"
_BASIC_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")


def add_as_of(parser: Any) -> None:
    """Give a command the ``--as-of`` option, read by :func:`parse_as_of` (every command
    taking ``--as-of`` adds it this way, so they all accept the same values), and
    ``--force``, which accepts an ``--as-of`` outside the log's time (see
    :func:`check_as_of`)."""
    parser.add_argument("--as-of", metavar="WHEN", help=AS_OF_HELP)
    parser.add_argument(
        "--force",
        action="store_true",
        help="accept an --as-of before the first event or more than a day after now",
    )


def as_of_arg(
    text: str | None, *, force: bool = False, now: Callable[[], datetime] | None = None
) -> datetime | None:
    """A command's ``--as-of`` value read by :func:`parse_as_of` (``None`` when absent);
    more than a day after now is refused unless ``force``."""
    if text is None:
        return None
    moment = parse_as_of(text, now=now)
    if not force:
        current = _now(now)
        if moment > current + AS_OF_SLACK:
            raise CliError(
                f"--as-of {text!r} is more than a day after now ({current.isoformat()}): "
                "a report then would show the future as empty; pass --force to accept it"
            )
    return moment


def check_as_of(
    as_of: datetime | None, first_event: datetime | None, *, force: bool = False
) -> None:
    """Refuse an ``--as-of`` before the log's first event (the report would be empty)
    unless ``force``.

    Raises:
        CliError: ``as_of`` lies before ``first_event``.
    """
    if as_of is None or first_event is None or force or as_of >= first_event:
        return
    raise CliError(
        f"--as-of {as_of.isoformat()} is before the first event of the log "
        f"({first_event.isoformat()}): every figure would be empty; pass a later --as-of, "
        "or --force to accept it"
    )


def parse_day(text: str) -> date | None:
    """A bare date in any accepted spelling (``2026-03-31``, ``20260331``,
    ``2026-03-31Z``, surrounding blanks ignored); ``None`` when ``text`` is not one."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1]
    if m := _BASIC_DAY.fullmatch(value):
        value = f"{m[1]}-{m[2]}-{m[3]}"
    if len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def day_arg(text: str, option: str) -> date:
    """``--from``/``--to``: a bare date in any spelling :func:`parse_day` accepts.

    Raises:
        CliError: ``text`` is not a date; the message names the option and the forms.
    """
    day = parse_day(text)
    if day is None:
        raise CliError(f"{option} {text!r} is not a date; write it as {_DAY_FORMS}")
    return day


def _now(now: Callable[[], datetime] | None) -> datetime:
    moment = (now or (lambda: datetime.now(UTC)))()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_as_of(text: str, *, now: Callable[[], datetime] | None = None) -> datetime:
    """``--as-of``: ``now`` (this moment, from ``now()``, default the current UTC time),
    ``today`` (the end of today, UTC), a date in any spelling :func:`parse_day`
    accepts (the end of that day, UTC) or an ISO date-time (UTC unless it has an
    offset). A live pipeline's idle times run to ``now``; the default (the last
    event) understates them."""
    value = text.strip()
    word = value.lower()
    if word in ("now", "today"):
        moment = _now(now)
        if word == "now":
            return moment
        return datetime.combine(moment.date(), time.max, tzinfo=UTC)
    day = parse_day(value)
    if day is not None:
        return datetime.combine(day, time.max, tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--as-of {text!r} is not a date; write it as {_DAY_FORMS}, "
            "2026-03-31T17:00+02:00, now or today"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def days(td: timedelta | None) -> float | None:
    """A duration in days (a float), or None."""
    return None if td is None else td / timedelta(days=1)
