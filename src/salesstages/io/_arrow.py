"""The canonical event table in Apache Arrow and Parquet, both directions.

The table has one row per event and the columns ``deal_id`` (string), ``seq``
(int64), ``at`` (timestamp in microseconds, UTC), ``kind``, ``stage``, ``name``
(strings, ``stage`` and ``name`` nullable) and ``data`` (the JSON object as
text, exactly as :meth:`Event.to_dict` encodes it). It is the table the Ibis
engine of :mod:`salesstages.metrics` reads.

pyarrow is an optional extra; it is imported on first use, and its absence
raises ``ImportError`` naming the install command.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, cast

from .._codec import EVENT_SETTERS, FIELDS, Interner, dump_data
from .._errors import DataError
from .._events import _EMPTY, EVENT_KINDS, Event, EventKind
from .._files import atomic_path
from .._values import MAX_DEPTH
from ._validate import event_problem

if TYPE_CHECKING:  # pyarrow ships no type information
    import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "BATCH_SIZE",
    "read_batches",
    "read_parquet",
    "schema",
    "to_arrow",
    "write_parquet",
    "write_parquet_counted",
]

#: Events per record batch (and Parquet row group) when writing, rows per batch
#: when reading: bounded memory for logs of any length.
BATCH_SIZE: Final = 65_536
#: The command that installs pyarrow with the library.
INSTALL: Final = "pip install 'salesstages[duckdb]'"

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
#: |microseconds since 1970| below which ``datetime.fromtimestamp(us / 1e6)`` is
#: exact: 2**33 s (about 1698–2242), where a double's rounding error stays under
#: half a microsecond. Outside it the exact (slower) timedelta sum runs.
_FAST_US: Final = 2**33 * 1_000_000
_KINDS: Final[dict[str, EventKind]] = {k: cast(EventKind, k) for k in EVENT_KINDS}
_STRING_COLUMNS: Final = ("deal_id", "kind", "stage", "name")
_EXPECTED: Final = {
    "deal_id": "string",
    "seq": "integer (int64)",
    "at": 'timestamp with a time zone (timestamp[us, tz="UTC"])',
    "kind": "string",
    "stage": "string (null allowed)",
    "name": "string (null allowed)",
    "data": "string holding a JSON object (null allowed: {})",
}


def _pyarrow(what: str) -> Any:
    """``pyarrow`` and ``pyarrow.parquet``, or ``ImportError`` naming the install command."""
    try:
        import pyarrow  # type: ignore[import-untyped, unused-ignore]
        import pyarrow.parquet  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        raise ImportError(
            f"salesstages.io.{what} needs pyarrow, an optional extra; install it with {INSTALL}"
        ) from None
    return pyarrow


def schema() -> pa.Schema:
    """The canonical table's Arrow schema."""
    pa = _pyarrow("to_arrow")
    return pa.schema(
        [
            pa.field("deal_id", pa.string(), nullable=False),
            pa.field("seq", pa.int64(), nullable=False),
            pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("kind", pa.string(), nullable=False),
            pa.field("stage", pa.string()),
            pa.field("name", pa.string()),
            pa.field("data", pa.string(), nullable=False),
        ]
    )


# -------------------------------------------------------------------- writing
def _batches(events: Iterable[Event], sch: pa.Schema, size: int) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``size`` events each, built one at a time."""
    pa = _pyarrow("to_arrow")
    it = iter(events)
    while True:
        chunk: list[Event] = []
        append = chunk.append
        for e in it:
            append(e)
            if len(chunk) == size:
                break
        if not chunk:
            return
        yield pa.RecordBatch.from_arrays(
            [
                pa.array([e.deal_id for e in chunk], pa.string()),
                pa.array([e.seq for e in chunk], pa.int64()),
                pa.array([e.at for e in chunk], sch.field("at").type),
                pa.array([e.kind for e in chunk], pa.string()),
                pa.array([e.stage for e in chunk], pa.string()),
                pa.array([e.name for e in chunk], pa.string()),
                pa.array([dump_data(e) for e in chunk], pa.string()),
            ],
            schema=sch,
        )
        if len(chunk) < size:
            return


def to_arrow(events: Iterable[Event]) -> pa.Table:
    """The events as the canonical Arrow table, one row per event in the given order.

    Columns: ``deal_id`` string, ``seq`` int64, ``at`` ``timestamp[us, tz=UTC]``,
    ``kind`` string, ``stage`` and ``name`` strings (null when ``None``), ``data``
    the JSON object as text (``"{}"`` when empty). Needs pyarrow (the
    ``salesstages[duckdb]`` extra).

    Raises:
        ValueError: An event's data holds something JSON cannot represent.
        ImportError: pyarrow is not installed.
    """
    pa = _pyarrow("to_arrow")
    sch = schema()
    return pa.Table.from_batches(list(_batches(events, sch, BATCH_SIZE)), schema=sch)


def write_parquet(events: Iterable[Event], path: str | os.PathLike[str]) -> int:
    """Write the events as the canonical table (see :func:`to_arrow`) to a Parquet file.

    Streams record batches of 65,536 events (one row group each), so memory stays
    bounded however long ``events`` is. The file appears only once complete (it is
    written beside ``path`` under a temporary name, then renamed), so an error
    never leaves half a log behind. Returns the number of events written.

    Raises:
        ValueError: An event's data holds something JSON cannot represent.
        ImportError: pyarrow is not installed.
    """
    return write_parquet_counted(events, path)


def write_parquet_counted(
    events: Iterable[Event],
    path: str | os.PathLike[str],
    progress: Callable[[int], None] | None = None,
) -> int:
    """:func:`write_parquet`, calling ``progress(written)`` after each batch."""
    pa = _pyarrow("write_parquet")
    target = Path(path)
    sch = schema()
    written = 0
    with (
        atomic_path(target) as tmp,
        pa.parquet.ParquetWriter(tmp, sch, compression="zstd") as writer,
    ):
        for batch in _batches(events, sch, BATCH_SIZE):
            writer.write_batch(batch)
            written += batch.num_rows
            if progress is not None:
                progress(written)
    return written


# -------------------------------------------------------------------- reading
def _type_problem(pa: Any, column: str, t: Any) -> bool:
    """True when column ``column`` of Arrow type ``t`` cannot hold its canonical values."""
    types = pa.types
    if isinstance(t, pa.BaseExtensionType):  # e.g. arrow.json over a string
        t = t.storage_type
    if types.is_dictionary(t):
        t = t.value_type
    stringy = types.is_string(t) or types.is_large_string(t) or types.is_string_view(t)
    if column == "seq":
        return not types.is_integer(t)
    if column == "at":
        return not (types.is_timestamp(t) and t.tz is not None)
    if column in ("stage", "name", "data"):
        return not (stringy or types.is_null(t))
    return not stringy


def _check_schema(pa: Any, name: str, sch: Any) -> None:
    for column in FIELDS:
        index = sch.get_field_index(column)
        if index < 0:
            present = ", ".join(sch.names) or "none"
            raise DataError(
                f"the table lacks the column {column!r}, expected {_EXPECTED[column]}; "
                f"the canonical columns are {', '.join(FIELDS)} (the file has {present})",
                path=name,
                field=column,
            )
        t = sch.field(index).type
        if _type_problem(pa, column, t):
            naive = pa.types.is_timestamp(t) and t.tz is None
            raise DataError(
                f"column of type {t}, expected {_EXPECTED[column]}"
                + (
                    "; the timestamps have no time zone: store them as UTC "
                    "(for example CAST(at AS TIMESTAMPTZ) or a tz='UTC' Arrow type)"
                    if naive
                    else ""
                ),
                path=name,
                field=column,
            )


def _row_error(name: str, row: int, field: str, message: str) -> DataError:
    err = DataError(f"row {row}: {message}", path=name, field=field)
    err.line = row
    return err


def _strings(pa: Any, array: Any, intern: Interner) -> list[str | None]:
    """A string column as a list sharing one object per distinct value."""
    if isinstance(array.type, pa.BaseExtensionType):
        array = array.storage
    if pa.types.is_null(array.type):
        return [None] * len(array)
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    values = [None if v is None else intern(v) for v in array.dictionary.to_pylist()]
    indices = array.indices.to_pylist()
    if array.null_count:
        return [None if i is None else values[i] for i in indices]
    return [values[i] for i in indices]


def _times(pa: Any, array: Any, name: str, first: int) -> list[datetime]:
    """A timestamp column as aware UTC datetimes (exact to the microsecond)."""
    if array.null_count:
        row = first + array.is_null().to_pylist().index(True)
        raise _row_error(name, row, "at", "the timestamp is null")
    if array.type.unit != "us":
        try:
            array = array.cast(pa.timestamp("us", tz="UTC"))
        except pa.ArrowInvalid:
            raise DataError(
                "a timestamp has a finer unit than microseconds, which events do not hold; "
                "round the column to microseconds",
                path=name,
                field="at",
            ) from None
    micros: list[int] = array.cast(pa.int64()).to_pylist()
    if not micros:
        return []
    bounds = pa.compute.min_max(array.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    if low > -_FAST_US and high < _FAST_US:
        fromts = datetime.fromtimestamp
        return [fromts(us / 1e6, UTC) for us in micros]
    epoch = _EPOCH
    try:
        return [epoch + timedelta(0, 0, us) for us in micros]
    except OverflowError:
        for i, us in enumerate(micros):
            try:
                epoch + timedelta(0, 0, us)
            except OverflowError:
                raise _row_error(
                    name, first + i, "at", "the timestamp is outside years 1–9999"
                ) from None
        raise  # pragma: no cover - the loop above finds the row


def _data(pa: Any, array: Any, name: str, first: int) -> list[Any]:
    """The ``data`` column as read-only mappings, each distinct text parsed once.

    A flat object (no list or object inside) is shared by every row with the
    same text, as nothing in it can change; one holding containers is parsed
    again for each row, so no two events share a mutable value.
    """
    if isinstance(array.type, pa.BaseExtensionType):
        array = array.storage
    if pa.types.is_null(array.type):
        return [_EMPTY] * len(array)
    if not pa.types.is_dictionary(array.type):
        array = array.dictionary_encode()
    texts: list[str] = array.dictionary.to_pylist()
    loads = json.loads
    shared: list[Any] = []
    for j, text in enumerate(texts):
        try:
            value = loads(text)
        except RecursionError:
            row = first + array.indices.to_pylist().index(j)
            raise _row_error(
                name, row, "data", f"nests deeper than {MAX_DEPTH} levels; flatten it"
            ) from None
        except ValueError as exc:
            row = first + array.indices.to_pylist().index(j)
            raise _row_error(name, row, "data", f"not valid JSON ({exc})") from None
        if type(value) is not dict:
            row = first + array.indices.to_pylist().index(j)
            raise _row_error(
                name, row, "data", f"expected a JSON object, got {type(value).__name__}"
            )
        if not value:
            shared.append(_EMPTY)
        elif any(type(v) is dict or type(v) is list for v in value.values()):
            shared.append(None)  # holds containers: parse per row
        else:
            shared.append(MappingProxyType(value))
    indices: list[int | None] = array.indices.to_pylist()
    out: list[Any] = []
    append = out.append
    proxy = MappingProxyType
    for i in indices:
        if i is None:
            append(_EMPTY)
        else:
            value = shared[i]
            append(proxy(loads(texts[i])) if value is None else value)
    return out


def _decode_batch(pa: Any, batch: Any, name: str, first: int, intern: Interner) -> list[Event]:
    """The events of one record batch; ``first`` is its first row number (1-based)."""
    column = batch.column
    deal_ids = _strings(pa, column("deal_id"), intern)
    seqs_array = column("seq")
    if seqs_array.null_count:
        row = first + seqs_array.is_null().to_pylist().index(True)
        raise _row_error(name, row, "seq", "expected an integer >= 0, got null")
    seqs: list[int] = seqs_array.to_pylist()
    ats = _times(pa, column("at"), name, first)
    kinds = _strings(pa, column("kind"), intern)
    stages = _strings(pa, column("stage"), intern)
    names = _strings(pa, column("name"), intern)
    datas = _data(pa, column("data"), name, first)
    for i, (d, s, k) in enumerate(zip(deal_ids, seqs, kinds, strict=True)):
        if not d:
            raise _row_error(name, first + i, "deal_id", f"expected a non-empty string, got {d!r}")
        if s < 0:
            raise _row_error(name, first + i, "seq", f"expected an integer >= 0, got {s}")
        if k not in _KINDS:
            raise _row_error(
                name,
                first + i,
                "kind",
                f"expected one of {', '.join(sorted(_KINDS))}, got {k!r}",
            )
    new = object.__new__
    sd, ss, sa, sk, sst, sn, sdata = EVENT_SETTERS
    out: list[Event] = []
    append = out.append
    for d, s, at, k, st, n, data in zip(
        deal_ids, seqs, ats, kinds, stages, names, datas, strict=True
    ):
        e = new(Event)
        sd(e, d)
        ss(e, s)
        sa(e, at)
        sk(e, k)
        sst(e, st)
        sn(e, n)
        sdata(e, data)
        append(e)
    for i, e in enumerate(out):  # what the writers refuse (io/_validate.py)
        problem = event_problem(e)
        if problem is not None:
            raise _row_error(name, first + i, problem[0], problem[1])
    return out


def read_parquet(path: str | os.PathLike[str]) -> Iterator[Event]:
    """The events of a Parquet file holding the canonical table, in file order.

    The file's columns are checked before any row is read: each canonical
    column (see :func:`to_arrow`) must be there with a compatible type (any
    string type, or dictionary of strings, for the text columns; any integer
    for ``seq``; a timestamp with a time zone for ``at``). Other columns are
    ignored. A null ``data`` reads as ``{}``. Rows are read in batches, and
    each distinct ``deal_id``, ``kind``, ``stage`` and ``name`` is held once.
    Returns an iterator: read a log of any length without holding it whole.

    Raises:
        DataError: The file is not Parquet, lacks a column or has one of the
            wrong type (naming the column and the expected type), or a row holds
            a bad value (naming the row, counting from 1, and the field).
        ImportError: pyarrow is not installed.
    """
    pa = _pyarrow("read_parquet")
    name = os.fspath(path)
    try:
        with pa.parquet.ParquetFile(name) as parquet:
            sch = parquet.schema_arrow
    except FileNotFoundError:
        raise DataError("no such file; check the path", path=name) from None
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a Parquet file ({' '.join(str(exc).split())})", path=name) from None
    _check_schema(pa, name, sch)
    # read the text columns as dictionaries: each distinct value decoded once
    plain = [c for c in _STRING_COLUMNS if pa.types.is_string(sch.field(c).type)]
    return _read(pa, pa.parquet.ParquetFile(name, read_dictionary=plain), name)


def _read(pa: Any, parquet: Any, name: str) -> Iterator[Event]:
    try:
        yield from _decode_all(
            pa, parquet.iter_batches(batch_size=BATCH_SIZE, columns=list(FIELDS)), name
        )
    finally:
        parquet.close()


def _decode_all(pa: Any, batches: Iterable[Any], name: str) -> Iterator[Event]:
    intern = Interner()
    first = 1
    for batch in batches:
        events = _decode_batch(pa, batch, name, first, intern)
        yield from events
        first += batch.num_rows


def read_batches(batches: Iterable[pa.RecordBatch], sch: pa.Schema, name: str) -> Iterator[Event]:
    """The events of record batches holding the canonical columns (extra ones ignored).

    ``sch`` is checked now, as :func:`read_parquet` checks a file's columns;
    the batches are decoded as the iterator is consumed. ``name`` stands for
    the file in messages.
    """
    pa = _pyarrow("read_parquet")
    _check_schema(pa, name, sch)
    return _decode_all(pa, batches, name)
