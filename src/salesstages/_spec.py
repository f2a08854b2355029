"""What the command line reads: pipeline specs, event files and dates.

Every failure raises :class:`CliError` (or a library error) with one line that
says what is wrong and what to do; the command line prints it and exits 2.
"""

from __future__ import annotations

import importlib
import json
import os
import sqlite3
import sys
import tomllib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from ._errors import DataError, PipelineError, SalesStagesError
from ._events import Event
from ._pipeline import Pipeline

__all__ = [
    "PRESETS",
    "CliError",
    "EventSource",
    "is_store",
    "load_events",
    "load_mapping",
    "load_pipeline",
    "parse_as_of",
]

#: Preset names a SPEC may give, each with the function that builds it.
PRESETS: Final = ("inbound_b2b", "classic_b2b", "modern_b2b")
_PIPELINE_SUFFIXES: Final = (".json", ".toml", ".yaml", ".yml")
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_SPEC_HELP: Final = (
    "give a preset name (" + ", ".join(PRESETS) + "), a module:attribute, "
    "or a .json/.toml/.yaml file in Pipeline.to_dict form"
)


class CliError(SalesStagesError, ValueError):
    """A command-line input is wrong; the message says what to do instead."""


# ------------------------------------------------------------------ pipelines
def _read_document(path: Path, what: str) -> Any:
    """Parse a JSON, TOML or YAML file safely (never runs code)."""
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{what} file {str(path)!r} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {what} file {str(path)!r}: {exc}") from None
    try:
        if suffix == ".json":
            return json.loads(text)
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError:
                raise CliError(
                    f"reading {str(path)!r} needs PyYAML; install it with "
                    "pip install 'salesstages[yaml]', or use a .json or .toml file"
                ) from None
            return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"not valid TOML: {exc}", path=str(path)) from None
    except CliError:
        raise
    except Exception as exc:  # yaml.YAMLError; yaml is optional so it is not named here
        raise DataError(f"not valid YAML: {' '.join(str(exc).split())}", path=str(path)) from None
    raise CliError(
        f"cannot tell the format of {what} file {str(path)!r}; name it .json, .toml, .yaml or .yml"
    )


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
        document = _read_document(path, "pipeline")
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
        from . import presets

        builder: Callable[[], Pipeline] = getattr(presets, spec)
        return builder()
    if ":" in spec:
        return _import_spec(spec)
    raise CliError(f"unknown pipeline {spec!r}; {_SPEC_HELP}")


def load_mapping(path_text: str) -> dict[str, Any]:
    """An importer's mapping from a JSON, TOML or YAML file (a table at the top)."""
    document = _read_document(Path(path_text), "mapping")
    if not isinstance(document, dict):
        raise CliError(
            f"mapping file {path_text!r} must hold a table/object at the top, "
            f"not {type(document).__name__}"
        )
    return document


# --------------------------------------------------------------------- events
class EventSource:
    """An events file or store, read lazily; ``kind`` is ``jsonl`` (the interchange
    format of :func:`salesstages.io.write_jsonl`), ``jsonl-store`` (a
    :class:`JsonlStore` file), ``csv`` or ``sqlite``."""

    def __init__(self, path_text: str, *, complete: bool = True) -> None:
        self.complete = complete
        path = Path(path_text)
        if not path.exists():
            raise CliError(
                f"events file {path_text!r} does not exist; give a JSONL or CSV events "
                "file or a SQLite store (see `salesstages import` to make one)"
            )
        if path.is_dir():
            raise CliError(f"{path_text!r} is a folder; give an events file or a SQLite store")
        self.path = path
        self.kind = _sniff(path)

    def __iter__(self) -> Iterator[Event]:
        if self.kind == "sqlite":
            return _read_sqlite(self.path)
        if self.kind == "csv":
            return _read_csv(self.path, self.complete)
        if self.kind == "jsonl-store":
            return _read_jsonl_store(self.path)
        return _read_jsonl(self.path, self.complete)

    def read(self) -> list[Event]:
        """Every event, in file order."""
        return list(self)


def _sniff(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(64)
    if head.startswith(_SQLITE_MAGIC):
        return "sqlite"
    suffix = path.suffix.lower()
    if suffix in (".db", ".sqlite", ".sqlite3") and not head:
        raise CliError(f"{str(path)!r} is empty, not a SQLite store")
    if suffix == ".csv":
        return "csv"
    first = head.lstrip()[:1]
    if first == b"[":  # JsonlStore writes each event (or batch) as a JSON array
        return "jsonl-store"
    if first == b"{" or not first or suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"  # an empty file: no events
    return "csv"


def load_events(path_text: str, *, complete: bool = True) -> list[Event]:
    """Every event of a JSONL or CSV events file, or of a SQLite store.

    With ``complete=True`` a file whose deals have gaps in ``seq`` is refused
    (see :func:`salesstages.io.read_jsonl`); ``check`` reads with ``False`` so
    that it can list the gaps as problems.
    """
    return EventSource(path_text, complete=complete).read()


def is_store(path: Path) -> bool:
    """True when the SQLite file has the store's tables (checked read-only, so a
    foreign database is never changed)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            names = {
                row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        finally:
            conn.close()
    except sqlite3.DatabaseError:  # not a SQLite database at all
        return False
    return {"events", "deals"} <= names


def _read_sqlite(path: Path) -> Iterator[Event]:
    from ._stores import SqliteStore

    if not is_store(path):
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


def _read_jsonl_store(path: Path) -> Iterator[Event]:
    from ._stores import JsonlStore

    yield from JsonlStore(path, fsync=False).events()


def _read_jsonl(path: Path, complete: bool) -> Iterator[Event]:
    from .io import read_jsonl

    yield from read_jsonl(path, complete=complete)


def _read_csv(path: Path, complete: bool) -> Iterator[Event]:
    from .io import read_csv

    yield from read_csv(path, complete=complete)


# ---------------------------------------------------------------------- dates
def parse_as_of(text: str) -> datetime:
    """``--as-of``: an ISO date (the end of that day, UTC) or date-time (UTC unless it has
    an offset)."""
    value = text.strip()
    try:
        if len(value) == 10:
            d = date.fromisoformat(value)
            return datetime.combine(d, time.max, tzinfo=UTC)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--as-of {text!r} is not a date; write it as 2026-03-31 or 2026-03-31T17:00+02:00"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def days(td: timedelta | None) -> float | None:
    """A duration in days (a float), or None."""
    return None if td is None else td / timedelta(days=1)
