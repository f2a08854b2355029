"""salesstages.io's Arrow and Parquet form of the canonical event table."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesstages import DataError, Event, presets
from salesstages.io import _arrow, read_parquet, to_arrow, write_parquet
from salesstages.testing import events as event_logs
from test_io import sample_events

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
CANONICAL = ["deal_id", "seq", "at", "kind", "stage", "name", "data"]


def awkward_events() -> list[Event]:
    """One deal whose data holds every JSON shape a round trip could bend."""
    return [
        Event(
            deal_id="Zoë-1",
            seq=0,
            at=T0,
            kind="opened",
            data={
                "int": 1,
                "float": 1.0,
                "big": 2**80,
                "negative_big": -(2**70) + 1,
                "tiny": 5e-324,
                "nested": {"list": [1, 2.5, None, True, {"k": "v"}], "empty": {}},
                "unicode": '東京 — \u00e9\U0001f600 "quoted" \\ back',
                "none": None,
            },
        ),
        Event(deal_id="Zoë-1", seq=1, at=T0, kind="stage_entered", stage="inbound_lead"),
        Event(
            deal_id="Zoë-1",
            seq=2,
            at=T0 + timedelta(microseconds=1),
            kind="activity",
            stage="inbound_lead",
            name="call",
            data={"floats": [0.1, 1e300, -0.0]},
        ),
    ]


def write_table(path: Path, columns: dict[str, Any]) -> Path:
    """Write ``columns`` (name → pyarrow array or list) as a Parquet file and return its path."""
    pq.write_table(pa.table(columns), path)
    return path


def good_columns(**changes: Any) -> dict[str, Any]:
    """The canonical columns of a valid two-event log, with some replaced (None drops one)."""
    columns: dict[str, Any] = {
        "deal_id": pa.array(["A", "A"]),
        "seq": pa.array([0, 1], pa.int64()),
        "at": pa.array([T0, T0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
        "kind": pa.array(["opened", "stage_entered"]),
        "stage": pa.array([None, "inbound_lead"], pa.string()),
        "name": pa.array([None, None], pa.string()),
        "data": pa.array(['{"amount":5}', "{}"]),
    }
    for key, value in changes.items():
        if value is None:
            del columns[key]
        else:
            columns[key] = value
    return columns


# ---------------------------------------------------------------------- to_arrow
def test_to_arrow_has_the_canonical_schema_and_values() -> None:
    """to_arrow gives the seven canonical columns and types, one row per event, data as JSON text."""
    table = to_arrow(awkward_events())
    assert table.schema.names == CANONICAL
    assert [str(t) for t in table.schema.types] == [
        "string",
        "int64",
        "timestamp[us, tz=UTC]",
        "string",
        "string",
        "string",
        "string",
    ]
    rows = table.to_pylist()
    assert len(rows) == 3
    assert rows[2]["deal_id"] == "Zoë-1"
    assert rows[2]["seq"] == 2
    assert rows[2]["at"] == T0 + timedelta(microseconds=1)
    assert (rows[2]["kind"], rows[2]["stage"], rows[2]["name"]) == (
        "activity",
        "inbound_lead",
        "call",
    )
    assert rows[0]["stage"] is None
    assert rows[1]["data"] == "{}"
    # exactly Event.to_dict's data, compact: 1e300 keeps its exponent, -0.0 its sign
    assert rows[2]["data"] == '{"floats":[0.1,1e+300,-0.0]}'


def test_to_arrow_of_no_events_is_an_empty_canonical_table() -> None:
    """No events give zero rows with the same schema."""
    table = to_arrow([])
    assert table.num_rows == 0
    assert table.schema.names == CANONICAL


def test_to_arrow_refuses_data_json_cannot_hold() -> None:
    """An event whose data is not JSON raises ValueError naming the deal and seq."""
    bad = Event(deal_id="A", seq=0, at=T0, kind="opened", data={"when": T0})
    with pytest.raises(ValueError, match=r"deal 'A', seq 0: data is not JSON"):
        to_arrow([bad])


# ------------------------------------------------------------------- round trips
def test_parquet_round_trip_keeps_every_field(tmp_path: Path) -> None:
    """write_parquet then read_parquet gives back equal events with the same JSON types."""
    events = awkward_events() + sample_events()
    path = tmp_path / "events.parquet"
    assert write_parquet(events, path) == len(events)
    back = list(read_parquet(path))
    assert back == events
    data = back[0].data
    assert type(data["int"]) is int
    assert type(data["float"]) is float
    assert data["big"] == 2**80
    assert data["nested"]["list"][4] == {"k": "v"}
    assert all(e.at.tzinfo is UTC for e in back)
    assert [e.to_dict() for e in back] == [e.to_dict() for e in events]


def test_round_trip_through_several_batches_and_row_groups(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With batches of 4, 9 events make 3 row groups (4 + 4 + 1) and read back in order."""
    monkeypatch.setattr(_arrow, "BATCH_SIZE", 4)
    events = sample_events() + awkward_events()
    assert len(events) == 10  # 7 sample events + 3 awkward ones
    path = tmp_path / "events.parquet"
    write_parquet(events, path)
    assert pq.ParquetFile(path).metadata.num_row_groups == 3  # ceil(10 / 4)
    assert list(read_parquet(path)) == events


def test_reading_shares_one_string_per_distinct_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Equal deal ids, kinds, stages and names are one object each, across batches too."""
    monkeypatch.setattr(_arrow, "BATCH_SIZE", 2)
    events = sample_events()
    path = tmp_path / "events.parquet"
    write_parquet(events, path)
    back = list(read_parquet(path))
    for field in ("deal_id", "kind", "stage", "name"):
        values = [getattr(e, field) for e in back if getattr(e, field) is not None]
        distinct = {id(v) for v in values}
        assert len(distinct) == len(set(values)), field


def test_equal_flat_data_is_shared_and_nested_data_is_not(tmp_path: Path) -> None:
    """Rows with the same flat data share one mapping; data holding containers never does."""
    flat = {"meeting": "discovery", "party": "rep"}
    nested = {"tags": ["a"]}
    events = [
        Event(deal_id="A", seq=0, at=T0, kind="opened", data=nested),
        Event(deal_id="A", seq=1, at=T0, kind="activity", name="m", data=flat),
        Event(deal_id="A", seq=2, at=T0, kind="activity", name="m", data=flat),
        Event(deal_id="B", seq=0, at=T0, kind="opened", data=nested),
    ]
    path = tmp_path / "events.parquet"
    write_parquet(events, path)
    back = list(read_parquet(path))
    assert back == events
    assert back[1].data is back[2].data
    assert back[0].data["tags"] is not back[3].data["tags"]


def test_writing_streams_batches_from_a_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer pulls at most one batch ahead of what it has written (bounded memory)."""
    monkeypatch.setattr(_arrow, "BATCH_SIZE", 3)
    events = sample_events()
    pulled = 0
    ahead: list[int] = []

    def source() -> Iterator[Event]:
        nonlocal pulled
        for e in events:
            pulled += 1
            yield e

    def progress(written: int) -> None:
        ahead.append(pulled - written)

    path = tmp_path / "events.parquet"
    assert _arrow.write_parquet_counted(source(), path, progress) == 7
    # 7 events in batches of 3: written 3, 6, 7; each time nothing beyond the batch was pulled
    assert ahead == [0, 0, 0]


def test_reading_is_lazy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """read_parquet returns an iterator that decodes batch by batch."""
    monkeypatch.setattr(_arrow, "BATCH_SIZE", 2)
    path = tmp_path / "events.parquet"
    write_parquet(sample_events(), path)
    it = read_parquet(path)
    assert not isinstance(it, list)
    assert next(it) == sample_events()[0]


def test_dates_far_from_now_round_trip_exactly(tmp_path: Path) -> None:
    """Years 1 and 9998 (outside the fast conversion's range) come back to the microsecond;
    the year 9999 is refused on read (issue 23: no date computed from it would fit)."""
    events = [
        Event(deal_id="old", seq=0, at=datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC), kind="opened"),
        Event(
            deal_id="new",
            seq=0,
            at=datetime(9998, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            kind="opened",
        ),
        Event(
            deal_id="pre1970",
            seq=0,
            at=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            kind="opened",
        ),
    ]
    path = tmp_path / "events.parquet"
    write_parquet(events, path)
    assert list(read_parquet(path)) == events
    write_parquet(events[2:], path)  # the fast path alone, just before the epoch
    assert list(read_parquet(path)) == events[2:]
    late = Event(deal_id="late", seq=0, at=datetime(9999, 1, 1, tzinfo=UTC), kind="opened")
    write_parquet([late], path)
    with pytest.raises(
        DataError, match=r"row 1: 9999-01-01T00:00:00\+00:00 is after the year 9998"
    ):
        list(read_parquet(path))


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**100), max_value=2**100)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    log=event_logs(
        presets.inbound_b2b(),
        max_deals=4,
        attributes=st.dictionaries(st.text(min_size=1, max_size=5), JSON_VALUES, max_size=3),
    ),
    microseconds=st.integers(min_value=0, max_value=999_999),
)
def test_drawn_logs_round_trip_through_parquet(log: list[Event], microseconds: int) -> None:
    """Any valid drawn log (awkward attributes, odd microseconds) reads back equal."""
    import tempfile

    shift = timedelta(microseconds=microseconds)
    log = [
        Event(
            deal_id=e.deal_id,
            seq=e.seq,
            at=e.at + shift,
            kind=e.kind,
            stage=e.stage,
            name=e.name,
            data=e.data,
        )
        for e in log
    ]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.parquet"
        assert write_parquet(log, path) == len(log)
        back = list(read_parquet(path))
    assert back == log
    assert [e.to_dict() for e in back] == [e.to_dict() for e in log]


@settings(max_examples=25, deadline=None)
@given(log=event_logs(presets.classic_b2b(), max_deals=3))
def test_drawn_logs_round_trip_through_arrow_batches(log: list[Event]) -> None:
    """to_arrow then the batch reader (what DuckDB and PostgreSQL sources use) is the identity."""
    table = to_arrow(log)
    assert table.num_rows == len(log)
    assert list(_arrow.read_batches(table.to_batches(), table.schema, "t")) == log


def test_empty_log_round_trips(tmp_path: Path) -> None:
    """Writing no events gives a valid Parquet file with the schema and no rows."""
    path = tmp_path / "empty.parquet"
    assert write_parquet([], path) == 0
    assert pq.ParquetFile(path).schema_arrow.names == CANONICAL
    assert list(read_parquet(path)) == []


# ---------------------------------------------------------- what other tools write
def test_reader_accepts_compatible_types_and_extra_columns(tmp_path: Path) -> None:
    """Large or dictionary strings, int32 seq, ns timestamps in another zone, nulls in data,
    extra columns and another column order all read as the canonical events."""
    paris = pa.array([T0, T0 + timedelta(hours=1)], pa.timestamp("us", tz="UTC")).cast(
        pa.timestamp("ns", tz="Europe/Paris")
    )
    columns = {
        "extra": pa.array([1, 2]),
        "data": pa.array(['{"amount":5}', None], pa.large_string()),
        "seq": pa.array([0, 1], pa.int32()),
        "deal_id": pa.array(["A", "A"]).dictionary_encode(),
        "at": paris,
        "kind": pa.array(["opened", "stage_entered"], pa.large_string()),
        "stage": pa.array([None, "inbound_lead"], pa.string()),
        "name": pa.nulls(2),
    }
    path = write_table(tmp_path / "other.parquet", columns)
    back = list(read_parquet(path))
    assert back == [
        Event(deal_id="A", seq=0, at=T0, kind="opened", data={"amount": 5}),
        Event(
            deal_id="A",
            seq=1,
            at=T0 + timedelta(hours=1),
            kind="stage_entered",
            stage="inbound_lead",
        ),
    ]
    assert back[1].at.tzinfo is UTC


def test_reader_accepts_the_arrow_json_type(tmp_path: Path) -> None:
    """A data column of Arrow's JSON extension type (as some engines export) reads as data."""
    columns = good_columns(data=pa.array(['{"amount":5}', "{}"], pa.json_()))
    path = write_table(tmp_path / "json.parquet", columns)
    assert next(read_parquet(path)).data == {"amount": 5}


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("column", CANONICAL)
def test_a_missing_column_is_named_with_its_type(tmp_path: Path, column: str) -> None:
    """A file without one canonical column is refused naming file, column and expected type."""
    path = write_table(tmp_path / "bad.parquet", good_columns(**{column: None}))
    with pytest.raises(DataError, match=rf"bad.parquet, field '{column}': the table lacks") as info:
        read_parquet(path)  # refused at the call, before any row is read
    assert info.value.field == column
    assert _arrow._EXPECTED[column] in str(info.value)


@pytest.mark.parametrize(
    ("column", "array", "expected"),
    [
        ("deal_id", pa.array([1, 2]), "string"),
        ("seq", pa.array(["0", "1"]), "integer"),
        ("at", pa.array(["2024-05-01", "x"]), "timestamp"),
        ("kind", pa.array([1.0, 2.0]), "string"),
        ("stage", pa.array([1, 2]), "string"),
        ("name", pa.array([True, False]), "string"),
        ("data", pa.array([{"a": 1}, {"a": 2}]), "JSON"),
    ],
)
def test_a_column_of_the_wrong_type_is_named_with_the_expected_type(
    tmp_path: Path, column: str, array: Any, expected: str
) -> None:
    """A canonical column of the wrong type is refused naming file, column, its type and the
    expected one."""
    path = write_table(tmp_path / "bad.parquet", good_columns(**{column: array}))
    with pytest.raises(DataError, match=rf"bad.parquet, field '{column}': column of type") as info:
        read_parquet(path)
    assert expected in str(info.value)
    assert str(array.type) in str(info.value)


def test_naive_timestamps_are_refused_with_a_hint(tmp_path: Path) -> None:
    """An ``at`` column without a time zone is refused: the file does not say which zone it is."""
    naive = pa.array([T0.replace(tzinfo=None)] * 2, pa.timestamp("us"))
    path = write_table(tmp_path / "naive.parquet", good_columns(at=naive))
    with pytest.raises(DataError, match=r"field 'at': .*have no time zone: store them as UTC"):
        read_parquet(path)


def test_sub_microsecond_timestamps_are_refused(tmp_path: Path) -> None:
    """Nanoseconds that microseconds cannot hold are refused rather than silently cut."""
    at = pa.array([1_714_554_000_000_000_001, 1_714_554_000_000_000_002], pa.int64()).cast(
        pa.timestamp("ns", tz="UTC")
    )
    path = write_table(tmp_path / "ns.parquet", good_columns(at=at))
    with pytest.raises(DataError, match=r"field 'at': a timestamp has a finer unit"):
        list(read_parquet(path))


@pytest.mark.parametrize(
    ("field", "values", "message"),
    [
        ("data", ['{"amount":5}', "{not json"], r"row 2: not valid JSON"),
        ("data", ['{"amount":5}', "[1, 2]"], r"row 2: expected a JSON object, got list"),
        ("at", [T0, None], r"row 2: the timestamp is null"),
        ("kind", ["opened", "closed"], r"row 2: expected one of .*got 'closed'"),
        ("kind", ["opened", None], r"row 2: expected one of .*got None"),
        ("seq", [0, None], r"row 2: expected an integer >= 0, got null"),
        ("seq", [0, -1], r"row 2: expected an integer >= 0, got -1"),
        ("deal_id", ["A", ""], r"row 2: expected a non-empty string, got ''"),
        ("deal_id", ["A", None], r"row 2: expected a non-empty string, got None"),
    ],
)
def test_a_bad_row_is_named_with_file_row_and_field(
    tmp_path: Path, field: str, values: list[Any], message: str
) -> None:
    """A bad value raises DataError naming the file, the row (from 1) and the field."""
    types = {"at": pa.timestamp("us", tz="UTC"), "seq": pa.int64()}
    array = pa.array(values, types.get(field, pa.string()))
    path = write_table(tmp_path / "rows.parquet", good_columns(**{field: array}))
    with pytest.raises(DataError, match=rf"^.*rows.parquet, field '{field}': {message}") as info:
        list(read_parquet(path))
    assert info.value.line == 2
    assert info.value.field == field


def test_row_numbers_count_across_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad row in the third batch of 2 is named by its row in the whole file (row 6)."""
    monkeypatch.setattr(_arrow, "BATCH_SIZE", 2)
    events = sample_events()
    table = to_arrow(events)
    data = table.column("data").to_pylist()
    data[5] = "{oops"
    table = table.set_column(6, "data", pa.array(data))
    path = tmp_path / "rows.parquet"
    pq.write_table(table, path)
    it = read_parquet(path)
    assert [next(it) for _ in range(4)] == events[:4]  # batches 1 and 2 are fine
    with pytest.raises(DataError, match=r"field 'data': row 6: not valid JSON"):
        next(it)


def test_a_file_that_is_not_parquet_is_refused(tmp_path: Path) -> None:
    """A file that is not Parquet, or no file at all, raises DataError naming it."""
    path = tmp_path / "events.parquet"
    path.write_text('{"deal_id": "A"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"events.parquet: not a Parquet file"):
        read_parquet(path)
    with pytest.raises(DataError, match=r"missing.parquet: no such file"):
        read_parquet(tmp_path / "missing.parquet")


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    """When an event's data is not JSON, neither the target nor a temporary file remains."""
    path = tmp_path / "events.parquet"
    bad = Event(deal_id="A", seq=1, at=T0, kind="updated", data={"when": T0})
    with pytest.raises(ValueError, match=r"deal 'A', seq 1: data is not JSON"):
        write_parquet([*sample_events(), bad], path)
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_whole(tmp_path: Path) -> None:
    """Writing over an existing file leaves only the new log."""
    path = tmp_path / "events.parquet"
    write_parquet(sample_events(), path)
    write_parquet(awkward_events(), path)
    assert list(read_parquet(path)) == awkward_events()


@pytest.mark.parametrize("call", ["to_arrow", "write_parquet", "read_parquet"])
def test_missing_pyarrow_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, call: str
) -> None:
    """Without pyarrow each function raises ImportError naming the extra to install."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    args: dict[str, tuple[Any, ...]] = {
        "to_arrow": ([],),
        "write_parquet": ([], tmp_path / "x.parquet"),
        "read_parquet": (tmp_path / "x.parquet",),
    }
    import salesstages.io as io

    with pytest.raises(ImportError, match=r"pip install 'salesstages\[duckdb\]'") as info:
        getattr(io, call)(*args[call])
    assert f"salesstages.io.{call} needs pyarrow" in str(info.value)


def test_a_timestamp_beyond_year_9999_is_named_by_row(tmp_path: Path) -> None:
    """A timestamp Python's datetime cannot hold (year 10000) is refused naming its row."""
    year_10000 = 253_402_300_800 * 1_000_000  # 10000-01-01T00:00:00Z in microseconds
    at = pa.array([0, year_10000], pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    path = write_table(tmp_path / "far.parquet", good_columns(at=at))
    with pytest.raises(DataError, match=r"field 'at': row 2: the timestamp is outside years"):
        list(read_parquet(path))
