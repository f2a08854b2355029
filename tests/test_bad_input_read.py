"""One read-validation path (issue 23, item 3): what the writers refuse is refused on
read, by the JSONL, CSV and Parquet readers and by the DuckDB engine's one check
query, as one line naming the file, the row and the field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from _cli_data import Runner, cli_error
from salesstages import DataError
from salesstages.io import read_csv, read_jsonl, read_parquet

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

T = "2024-01-01T00:00:00+00:00"
ENTERED = {"deal_id": "D1", "seq": 1, "at": T, "kind": "stage_entered", "stage": "lead_generated"}


def opened(**over: Any) -> dict[str, Any]:
    """The first event of deal D1, with fields replaced."""
    return {"deal_id": "D1", "seq": 0, "at": T, "kind": "opened", "data": {}} | over


DEEP = "[" * 70 + "]" * 70
#: name → (the first line of a JSONL file, the field the error names, words it says)
JSONL_CASES: dict[str, tuple[str, str, str]] = {
    "NaN": (json.dumps(opened())[:-3] + '{"x": NaN}}', "data", "is nan"),
    "Infinity": (json.dumps(opened())[:-3] + '{"x": 1e999}}', "data", "is inf"),
    "negative amount": (json.dumps(opened(data={"amount": -5})), "amount", "must be >= 0"),
    "400-digit amount": (
        json.dumps(opened())[:-3] + '{"amount": ' + "9" * 400 + "}}",
        "amount",
        "400 digits, beyond 2**63",
    ),
    "lone surrogate": (json.dumps(opened(data={"x": "\ud800"})), "data", "lone surrogate"),
    "surrogate deal": (json.dumps(opened(deal_id="D\udc00")), "deal_id", "lone surrogate"),
    "surrogate key": (json.dumps(opened(data={"a\udfff": 1})), "data", "lone surrogate"),
    "nested 70": (
        json.dumps(opened())[:-3] + '{"x": ' + DEEP + "}}",
        "data",
        "deeper than 64 levels",
    ),
    "nested 50,000": (
        json.dumps(opened())[:-3] + '{"x": ' + "[" * 50_000 + "]" * 50_000 + "}}",
        "",
        "nests too deeply",
    ),
    "year 9999": (json.dumps(opened(at="9999-12-30T00:00:00+00:00")), "at", "after the year 9998"),
    "null deal_id": (json.dumps(opened(deal_id=None)), "deal_id", "non-empty string"),
    "data a list": (json.dumps(opened(data=[])), "data", "JSON object"),
}


def _jsonl(tmp: Path, first: str) -> Path:
    path = tmp / "events.jsonl"
    path.write_text(first + "\n" + json.dumps(ENTERED) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("name", sorted(JSONL_CASES))
def test_read_jsonl_refuses_what_writing_refuses(tmp_path: Path, name: str) -> None:
    """Each value the writers refuse is a DataError naming the file, line 1 and the field."""
    first, field, words = JSONL_CASES[name]
    path = _jsonl(tmp_path, first)
    with pytest.raises(DataError) as info:
        read_jsonl(path)
    text = str(info.value)
    assert text.startswith(f"{path}, line 1"), text
    if field:
        assert f"field {field!r}" in text, text
    assert words in text


@pytest.mark.parametrize("name", ["negative amount", "lone surrogate", "year 9999", "nested 70"])
def test_read_csv_refuses_what_writing_refuses(tmp_path: Path, name: str) -> None:
    """The CSV reader runs the same check (line 2: after the header)."""
    first, field, words = JSONL_CASES[name]
    obj = json.loads(first)
    path = tmp_path / "events.csv"
    cells = [obj["deal_id"], obj["seq"], obj["at"], obj["kind"], "", "", json.dumps(obj["data"])]
    import csv

    with path.open("w", encoding="utf-8", errors="surrogatepass", newline="") as f:
        w = csv.writer(f)
        w.writerow(["deal_id", "seq", "at", "kind", "stage", "name", "data"])
        w.writerow(cells)
    with pytest.raises(DataError) as info:
        read_csv(path)
    assert f"line 2, field {field!r}" in str(info.value)
    assert words in str(info.value)


@pytest.mark.parametrize("name", ["NaN", "negative amount", "year 9999", "lone surrogate"])
def test_report_refuses_bad_values_in_one_line(tmp_path: Path, run: Runner, name: str) -> None:
    """The command line prints the reader's refusal as its one error line (exit 2)."""
    first, _, words = JSONL_CASES[name]
    err = cli_error(run("report", str(_jsonl(tmp_path, first)), "-p", "classic_b2b"))
    assert words in err


# ------------------------------------------------------------------ Parquet
TS = datetime(2024, 1, 1, tzinfo=UTC)


def _table(**over: Any) -> Any:
    cols: dict[str, Any] = {
        "deal_id": pa.array(["D1", "D1"]),
        "seq": pa.array([0, 1], pa.int64()),
        "at": pa.array([TS, TS], pa.timestamp("us", tz="UTC")),
        "kind": pa.array(["opened", "stage_entered"]),
        "stage": pa.array([None, "lead_generated"], pa.string()),
        "name": pa.array([None, None], pa.string()),
        "data": pa.array(["{}", "{}"]),
    }
    return pa.table(cols | over)


def _data(first: str) -> dict[str, Any]:
    return {"data": pa.array([first, "{}"])}


FAR = 253_402_300_800_000_000 * 2  # microseconds: about the year 20000
#: name → (columns replaced, the field named, words of the Python engine, of DuckDB's)
PARQUET_CASES: dict[str, tuple[dict[str, Any], str, str, str]] = {
    "negative seq": ({"seq": pa.array([-1, 1], pa.int64())}, "seq", ">= 0", ">= 0"),
    "naive at": (
        {"at": pa.array([TS.replace(tzinfo=None)] * 2, pa.timestamp("us"))},
        "at",
        "no time zone",
        "without a time zone",
    ),
    "null at": (
        {"at": pa.array([None, TS], pa.timestamp("us", tz="UTC"))},
        "at",
        "null",
        "null",
    ),
    "unknown kind": ({"kind": pa.array(["opened", "bogus"])}, "kind", "bogus", "expected one"),
    "data a list": (_data("[]"), "data", "JSON object", "JSON object"),
    "at as text": ({"at": pa.array([T, T])}, "at", "string", "string"),
    "year 20000": (
        {"at": pa.array([FAR, FAR], pa.timestamp("us", tz="UTC"))},
        "at",
        "outside years",
        "after the year 9998",
    ),
    "null deal_id": (
        {"deal_id": pa.array([None, "D1"], pa.string())},
        "deal_id",
        "non-empty string",
        "non-empty string",
    ),
    "data not JSON": (_data("{x"), "data", "not valid JSON", "not valid JSON"),
    "NaN": (_data('{"amount": NaN}'), "data", "nan", "NaN or Infinity"),
    "negative amount": (_data('{"amount": -5}'), "amount", ">= 0", ">= 0"),
    "400-digit amount": (_data('{"amount": ' + "9" * 400 + "}"), "amount", "2**63", "2**63"),
    "nested 50,000": (
        _data('{"x": ' + "[" * 50_000 + "]" * 50_000 + "}"),
        "data",
        "deeper than 64",
        "deeper than 64",
    ),
    "escaped surrogate": (_data('{"x": "\\ud800"}'), "data", "surrogate", "surrogate"),
    "year 9999": (
        {"at": pa.array([datetime(9999, 12, 30, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC"))},
        "at",
        "after the year 9998",
        "after the year 9998",
    ),
}


@pytest.mark.parametrize("engine", ["python", "duckdb"])
@pytest.mark.parametrize("name", sorted(PARQUET_CASES))
def test_parquet_bad_values_on_both_engines(
    tmp_path: Path, run: Runner, name: str, engine: str
) -> None:
    """Each bad Parquet file is one error line naming the file and the field, on the
    Python engine and on DuckDB alike (before: tracebacks, or a report on bad data)."""
    if engine == "duckdb":
        pytest.importorskip("duckdb")
        pytest.importorskip("ibis")
    columns, field, python_words, duckdb_words = PARQUET_CASES[name]
    path = tmp_path / "events.parquet"
    pq.write_table(_table(**columns), path)
    err = cli_error(run("report", str(path), "-p", "classic_b2b", "--engine", engine))
    assert "events.parquet" in err
    assert f"field {field!r}" in err, err
    assert (python_words if engine == "python" else duckdb_words) in err, err


def test_nanosecond_timestamps(tmp_path: Path, run: Runner) -> None:
    """Nanosecond times read on the Python engine and are one line on DuckDB."""
    pytest.importorskip("duckdb")
    path = tmp_path / "ns.parquet"
    pq.write_table(_table(at=pa.array([TS, TS], pa.timestamp("ns", tz="UTC"))), path)
    assert [e.at for e in read_parquet(path)] == [TS, TS]
    err = cli_error(run("report", str(path), "-p", "classic_b2b", "--engine", "duckdb"))
    assert "nanosecond timestamps" in err


def test_valid_values_at_the_limits_read(tmp_path: Path) -> None:
    """Nesting of 64 levels, an amount of 0, 2**63 - 1, a valid surrogate pair and a NUL
    character (which the memory, SQLite and JSON Lines stores keep: CONTRACT section 12)
    read."""
    nested: Any = []
    for _ in range(63):
        nested = [nested]
    lines = [
        json.dumps(opened(data={"amount": 2**63 - 1, "x": nested, "e": "\U0001f600", "z": "\x00"})),
        json.dumps(ENTERED),
        json.dumps(ENTERED | {"seq": 2, "kind": "updated", "data": {"amount": 0}}),
    ]
    path = tmp_path / "ok.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    events = read_jsonl(path)
    assert events[0].data["amount"] == 2**63 - 1
    assert events[2].data["amount"] == 0
