"""The canonical event table: checking its columns and preparing it for the pivots.

A table is checked against the canonical schema before any query runs: a
missing column or a column of the wrong type is refused with a
:class:`~salesstages.DataError` naming the column and the type it must have.
The prepared table adds ``at_us`` (the event time in whole microseconds since
the Unix epoch, UTC) so every duration is integer arithmetic, exact on every
backend, and reads ``data`` as JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

from ..._errors import DataError, SalesStagesError

__all__ = [
    "EPOCH",
    "backend_name",
    "check_columns",
    "from_us",
    "ibis",
    "prepare",
    "prepare_columns",
    "to_us",
]

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_US: Final = timedelta(microseconds=1)
_INSTALL: Final = (
    "the Ibis engine needs the ibis-framework package: pip install 'salesstages[duckdb]' "
    "(or salesstages[postgres], salesstages[spark])"
)


def _import_ibis() -> Any:
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - the test environment has it
        raise ImportError(_INSTALL) from exc
    return ibis


ibis: Any = _import_ibis()


def _all_null(dtype: Any) -> bool:
    """The type of a column holding only nulls (DuckDB's NULL comes through Ibis 12 as
    an unknown type named NULL)."""
    if dtype.is_null():
        return True
    return bool(dtype.is_unknown()) and 'kind="NULL"' in repr(getattr(dtype, "raw_type", ""))


#: Column → (what it must hold, in words; a test on the Ibis dtype).
_COLUMNS: Final[dict[str, tuple[str, Any]]] = {
    "deal_id": ("string", lambda t: t.is_string()),
    "seq": ("integer", lambda t: t.is_integer()),
    "at": ("timestamp (UTC or timezone-aware)", lambda t: t.is_timestamp()),
    "kind": ("string", lambda t: t.is_string()),
    "stage": ("string (null allowed)", lambda t: t.is_string() or _all_null(t)),
    "name": ("string (null allowed)", lambda t: t.is_string() or _all_null(t)),
    "data": ("JSON, or a string holding a JSON object", lambda t: t.is_json() or t.is_string()),
}


def to_us(moment: datetime) -> int:
    """An aware datetime as whole microseconds since the epoch (exact)."""
    return (moment - EPOCH) // _US


def from_us(us: int) -> datetime:
    """Whole microseconds since the epoch back to an aware UTC datetime (exact)."""
    return EPOCH + timedelta(microseconds=int(us))


def backend_name(table: Any) -> str:
    """The name of the backend a table expression runs on (``"duckdb"`` …)."""
    try:
        return str(table._find_backend().name)
    except Exception:  # an unbound table
        return "unbound"


def check_columns(table: Any, *, name: str | None = None) -> None:
    """Refuse (:class:`DataError`, naming the column) a table that lacks a canonical
    column or has one of the wrong type; ``at`` must carry a time zone and hold at
    most microseconds, as events do."""
    schema = table.schema()
    for column, (expected, ok) in _COLUMNS.items():
        if column not in schema:
            raise DataError(
                f"the event table has no column {column!r}; it must hold {expected} "
                f"(canonical columns: {', '.join(_COLUMNS)}; salesstages.io.to_arrow "
                "writes them)",
                path=name,
                field=column,
            )
        dtype = schema[column]
        if column == "at" and "TIMESTAMP" in str(dtype) and "_NS" in str(dtype):
            raise DataError(
                "column 'at' holds nanosecond timestamps, finer than the microseconds events "
                "hold; cast it (for example CAST(at AS TIMESTAMPTZ)), or read it with "
                "--engine python",
                path=name,
                field=column,
            )
        if not ok(dtype):
            raise DataError(
                f"column {column!r} is {dtype}; it must hold {expected}; cast it in the "
                "query that builds the table",
                path=name,
                field=column,
            )
    at = schema["at"]
    # Spark's TIMESTAMP is an instant in the session's zone, typed without one
    if at.timezone is None and backend_name(table) != "pyspark":
        raise DataError(
            f"column 'at' is {at}, without a time zone, which events do not hold; store "
            "the times as UTC (for example CAST(at AS TIMESTAMPTZ) or a tz='UTC' Arrow type)",
            path=name,
            field="at",
        )
    if at.scale is not None and at.scale > 6:
        raise DataError(
            f"column 'at' is {at}, finer than the microseconds events hold; cast it (for "
            "example CAST(at AS TIMESTAMPTZ)), or read it with --engine python",
            path=name,
            field="at",
        )


def prepare_columns(table: Any) -> Any:
    """``table`` with ``at_us`` added (and all-null ``stage``/``name`` as strings);
    ``data`` as it is."""
    schema = table.schema()
    at = table.at
    if schema["at"].timezone is None:
        at = at.cast("timestamp('UTC')")
    backend = backend_name(table)
    text = {c: table[c].cast("string") for c in ("stage", "name") if _all_null(schema[c])}
    return table.mutate(at_us=_micros(backend, at), **text)


def prepare(table: Any) -> Any:
    """``table`` with ``at_us`` added and ``data`` read as JSON; its columns and values
    are checked first by :func:`salesstages.metrics._ibis._checks.prepare_checked`.
    """
    schema = table.schema()
    backend = backend_name(table)
    # Spark has no JSON type: its reader parses the string itself
    keep = schema["data"].is_json() or backend == "pyspark"
    data = table.data if keep else table.data.cast("json")
    if backend == "postgres" and getattr(schema["data"], "binary", False):
        # jsonb (a PostgresStore's own table): the reader's json_* functions take json
        data = _to_json()(table.data)
    return prepare_columns(table).mutate(data=data)


#: Each backend's own function for a timestamp in whole microseconds since the
#: epoch: a plain integer read, where the portable difference from a constant
#: goes through the calendar (DuckDB's DATE_DIFF on TIMESTAMPTZ: 100× slower).
_EPOCH_MICROS: Final = {"duckdb": "epoch_us", "pyspark": "unix_micros"}


def _micros(backend: str, at: Any) -> Any:
    """``at`` as whole microseconds since the epoch, exact on every backend."""
    name = _EPOCH_MICROS.get(backend)
    if name is None:
        epoch = ibis.timestamp(EPOCH.replace(tzinfo=None).isoformat(), timezone="UTC")
        return at.delta(epoch, unit="microsecond")
    import ibis.expr.datatypes as dt

    def micros(at: Any) -> int:  # pragma: no cover - a signature, never called
        raise NotImplementedError

    fn = ibis.udf.scalar.builtin(
        micros, name=name, signature=((dt.Timestamp(timezone="UTC"),), dt.int64)
    )
    return fn(at)


def missing_function(table: Any, what: str, exc: Exception) -> SalesStagesError:
    """The error for a backend that cannot run a function the engine needs."""
    return SalesStagesError(
        f"the {backend_name(table)} backend cannot run {what} ({type(exc).__name__}: {exc}); "
        "run this metric on events instead (the pure-Python engine), or on DuckDB, "
        "PostgreSQL or PySpark"
    )


def _to_json() -> Any:
    """PostgreSQL's ``to_json(jsonb) -> json``, as an Ibis builtin."""
    import ibis.expr.datatypes as dt

    def to_json(value: Any) -> Any:  # pragma: no cover - a signature, never called
        raise NotImplementedError

    return ibis.udf.scalar.builtin(
        to_json, name="to_json", signature=((dt.JSON(binary=True),), dt.json)
    )
