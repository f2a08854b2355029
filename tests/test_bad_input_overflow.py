"""Overflow (issue 23, item 4): dates past the year 9998 in options and data, horizons
past the calendar, sums past the float range and integers past 2**63 are one error line
(exit 2), never an OverflowError traceback."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _cli_data import Runner, cli_error
from salesstages import DataError
from salesstages.metrics._common import amount_sum

T = "2024-01-01T00:00:00+00:00"


def _log(tmp: Path, amount: float | int = 10, at: str = T) -> Path:
    """Two deals of ``amount`` opened at ``at`` and won a day later (classic_b2b)."""
    lines = []
    for deal in ("D1", "D2"):
        lines += [
            {"deal_id": deal, "seq": 0, "at": at, "kind": "opened", "data": {"amount": amount}},
            {"deal_id": deal, "seq": 1, "at": at, "kind": "stage_entered",
             "stage": "lead_generated"},
            {"deal_id": deal, "seq": 2, "at": "2024-01-02T00:00:00+00:00" if at == T else at,
             "kind": "stage_entered", "stage": "closed_won"},
        ]  # fmt: skip
    path = tmp / "log.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


#: name → (extra report options, words of the error)
OPTIONS: dict[str, tuple[list[str], str]] = {
    "--as-of 9999-12-31": (["--as-of", "9999-12-31"], "after the year 9998"),
    "--as-of with an offset past 9999": (
        ["--as-of", "9999-12-31T23:00-05:00"],
        "after the year 9998",
    ),
    "--horizon 9999999": (["--horizon", "9999999"], "--horizon 9999999 days is more than 36,500"),
    "--from 9999-12-30": (["--from", "9999-12-30", "--to", "9999-12-31"], "year 9999 is after"),
    "--period 9999-Q4": (["--period", "9999-Q4"], "--period '9999-Q4': the year 9999 is after"),
}


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_options_past_the_calendar(tmp_path: Path, run: Runner, name: str) -> None:
    """Each option that would overflow a date is one line naming it."""
    extra, words = OPTIONS[name]
    status, out, err = run("report", str(_log(tmp_path)), "-p", "classic_b2b", *extra)
    assert status == 2, (out, err)
    assert words in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("amount", "at", "words"),
    [
        (10, "9999-12-30T00:00:00+00:00", "after the year 9998"),
        (10**400, T, "401 digits, beyond 2**63"),
        (1e308, T, "add up to more than the largest number a float holds"),
    ],
    ids=["opened in 9999", "a 401-digit amount", "two amounts of 1e308"],
)
def test_data_past_the_limits(
    tmp_path: Path, run: Runner, amount: float | int, at: str, words: str
) -> None:
    """A deal opened in 9999, a 400-digit amount, two amounts of 1e308: one line each."""
    err = cli_error(run("report", str(_log(tmp_path, amount, at)), "-p", "classic_b2b"))
    assert words in err


def test_amount_sum_is_exact_where_fsum_overflows_part_way() -> None:
    """1e308 + 1e308 - 1e308 is 1e308, not an OverflowError."""
    assert amount_sum([1e308, 1e308, -1e308]) == 1e308
    assert amount_sum(iter([0.1] * 10)) == 1.0  # exactly rounded, like fsum


def test_amount_sum_beyond_the_float_range_is_a_data_error() -> None:
    """Two amounts of 1e308 add up to more than any float: DataError naming the field."""
    with pytest.raises(DataError, match="field 'amount': the amounts add up"):
        amount_sum([1e308, 1e308])


@given(st.lists(st.floats(min_value=0, max_value=1e308, allow_nan=False), max_size=8))
def test_amount_sum_agrees_with_fsum_or_refuses(values: list[float]) -> None:
    """Where fsum gives a finite answer, amount_sum gives the same; else a DataError."""
    try:
        expected = math.fsum(values)
    except OverflowError:
        expected = math.inf
    if math.isfinite(expected):
        assert amount_sum(values) == expected
    else:
        with pytest.raises(DataError):
            amount_sum(values)


def test_amounts_past_the_float_range_on_duckdb(tmp_path: Path, run: Runner) -> None:
    """Two amounts of 1e308 in a Parquet file: one line on the DuckDB engine too (before:
    the win rate by amount came out null)."""
    pytest.importorskip("duckdb")
    from salesstages.io import read_jsonl, write_parquet

    path = tmp_path / "log.parquet"
    write_parquet(read_jsonl(_log(tmp_path, 1e308)), path)
    err = cli_error(run("report", str(path), "-p", "classic_b2b", "--engine", "duckdb"))
    assert "log.parquet, field 'amount': the amounts add up to more than" in err
