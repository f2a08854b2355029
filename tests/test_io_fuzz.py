"""Hypothesis fuzzing of every reader: whatever the bytes, only DataError escapes."""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesstages import DataError, Event, Pipeline, Stage
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.io import (
    read_csv,
    read_jsonl,
    read_opportunity_history,
    read_stage_table,
    write_csv,
    write_jsonl,
)
from salesstages.testing._store_suite import opening

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PIPELINE = Pipeline(
    "fuzz",
    [Stage("a"), Stage("b"), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
)
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def read_table(data: bytes) -> object:
    """The stage-table importer with a fixed mapping."""
    return read_stage_table(
        io.BytesIO(data),
        PIPELINE,
        id_column="id",
        stage_columns={"a_date": "a", "b_date": "b"},
        status_column="status",
        status_map={"Won": "won", "Lost": "lost", "B": "b"},
        close_column="closed",
        amount_column="amount",
        attribute_columns=["owner"],
        lost_reason_column="why",
    )


def read_history(data: bytes) -> object:
    """The Salesforce importer with a fixed mapping."""
    return read_opportunity_history(
        io.BytesIO(data), PIPELINE, stage_map={"A": "a", "B": "b", "Won": "won", "Lost": "lost"}
    )


def read_store(data: bytes) -> object:
    """The JSON Lines store's reader, on a file holding these bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.jsonl"
        path.write_bytes(data)
        return list(JsonlStore(path).events())


def read_sqlite(data: bytes) -> object:
    """The SQLite store's readers, on a database file holding these bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "e.db"
        path.write_bytes(data)
        with SqliteStore(path) as store:
            return (list(store.events()), store.deal_ids(), list(store.events_after(0)))


def sqlite_seed() -> bytes:
    """The bytes of a small, valid SQLite store."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.db"
        with SqliteStore(path, synchronous="NORMAL") as store:
            for i in range(5):
                store.append(opening(f"D{i}", note="é" * i))
        return path.read_bytes()


READERS: dict[str, Callable[[bytes], object]] = {
    "SqliteStore": read_sqlite,
    "read_jsonl": lambda data: read_jsonl(io.BytesIO(data)),
    "read_csv": lambda data: read_csv(io.BytesIO(data)),
    "read_stage_table": read_table,
    "read_opportunity_history": read_history,
    "JsonlStore.events": read_store,
}


def only_data_errors(reader: Callable[[bytes], object], data: bytes) -> None:
    """Run a reader; any exception but DataError fails the test."""
    try:
        reader(data)
    except DataError as exc:
        message = str(exc)
    else:
        message = "read"
    assert message


def valid_files() -> dict[str, bytes]:
    """A valid file for each reader, to cut and corrupt."""
    events = [
        Event(deal_id="D", seq=0, at=T0, kind="opened", data={"x": [1, "é"]}),
        Event(deal_id="D", seq=1, at=T0, kind="stage_entered", stage="a"),
        Event(deal_id="D", seq=2, at=T0 + timedelta(days=1), kind="activity", stage="a", name="n"),
    ]
    j, c = io.StringIO(), io.StringIO(newline="")
    write_jsonl(events, j)
    write_csv(events, c)
    store = (
        '[["D",0,"2024-01-01T00:00:00+00:00","opened",null,null,{}],'
        '["D",1,"2024-01-01T00:00:00+00:00","stage_entered","a",null,{}]]\n'
        '["D",2,"2024-01-02T00:00:00+00:00","activity","a","n",{"k":1}]\n'
    )
    table = (
        "id,a_date,b_date,status,closed,amount,owner,why\n"
        "1,2024-01-01,2024-01-05,Won,2024-02-01,100,ann,\n"
        '2,2024-01-02,,Lost,2024-01-09,"1,000",bob,price\n'
    )
    hist = (
        "OpportunityId,CreatedDate,StageName,Amount,CloseDate\n"
        "1,2024-01-01T00:00:00Z,A,10,2024-02-01\n"
        "1,2024-01-03T00:00:00Z,B,10,2024-02-01\n"
        "1,2024-01-04T00:00:00Z,Won,12,2024-01-04\n"
    )
    return {
        "read_jsonl": j.getvalue().encode(),
        "read_csv": c.getvalue().encode(),
        "read_stage_table": table.encode(),
        "read_opportunity_history": hist.encode(),
        "JsonlStore.events": store.encode(),
        "SqliteStore": sqlite_seed(),
    }


VALID = valid_files()


def test_valid_files_read() -> None:
    """The seed files read without error (so the fuzzing starts from valid input)."""
    for name, reader in READERS.items():
        assert reader(VALID[name]) is not None, name


@FUZZ
@given(name=st.sampled_from(sorted(READERS)), data=st.binary(max_size=300))
def test_random_bytes(name: str, data: bytes) -> None:
    """Random bytes make any reader raise DataError or succeed, nothing else."""
    only_data_errors(READERS[name], data)


@FUZZ
@given(name=st.sampled_from(sorted(READERS)), cut=st.integers(min_value=0, max_value=20_000))
def test_truncated_files(name: str, cut: int) -> None:
    """A valid file cut anywhere makes the reader raise DataError or succeed."""
    data = VALID[name]
    only_data_errors(READERS[name], data[: cut % (len(data) + 1)])


@FUZZ
@given(
    name=st.sampled_from(sorted(READERS)),
    pos=st.integers(min_value=0, max_value=20_000),
    junk=st.binary(min_size=1, max_size=4),
)
def test_corrupted_files(name: str, pos: int, junk: bytes) -> None:
    """A valid file with a few bytes overwritten makes the reader raise DataError or succeed."""
    data = VALID[name]
    pos %= len(data)
    only_data_errors(READERS[name], data[:pos] + junk + data[pos + len(junk) :])


CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "2024-01-01", "2024-13-01", "Won", "Lost", "B", "A", "1e309", "nan", "-1"]
    ),
    st.dates().map(str),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
    st.integers().map(str),
)


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """Rows written as CSV bytes."""
    buf = io.StringIO(newline="")
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8", "surrogatepass")


HEADERS: dict[str, list[str]] = {
    "read_csv": ["deal_id", "seq", "at", "kind", "stage", "name", "data"],
    "read_stage_table": ["id", "a_date", "b_date", "status", "closed", "amount", "owner", "why"],
    "read_opportunity_history": [
        "OpportunityId",
        "CreatedDate",
        "StageName",
        "Amount",
        "CloseDate",
    ],
}


@FUZZ
@given(data=st.data(), name=st.sampled_from(sorted(HEADERS)))
def test_random_rows(data: Any, name: str) -> None:
    """Well-formed CSV with random cells makes the reader raise DataError or succeed."""
    header = HEADERS[name]
    rows = data.draw(
        st.lists(st.lists(CELL, min_size=len(header) - 1, max_size=len(header) + 1), max_size=6)
    )
    try:
        raw = csv_bytes(header, rows)
    except UnicodeEncodeError:
        return
    only_data_errors(READERS[name], raw)


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "deal_id": st.one_of(st.text(max_size=3), st.integers()),
                "seq": st.one_of(st.integers(min_value=-1, max_value=3), st.text(max_size=2)),
                "at": st.one_of(CELL, st.none()),
                "kind": st.sampled_from(["opened", "activity", "won", ""]),
                "stage": st.one_of(st.none(), st.text(max_size=3), st.integers()),
                "data": st.one_of(st.none(), st.dictionaries(st.text(max_size=2), st.integers())),
            }
        ),
        max_size=5,
    )
)
def test_random_jsonl_records(records: list[dict[str, Any]]) -> None:
    """JSON objects with random field values make read_jsonl raise DataError or succeed."""
    import json

    raw = "\n".join(json.dumps(r) for r in records).encode()
    only_data_errors(READERS["read_jsonl"], raw)
