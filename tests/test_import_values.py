"""Importers read text cells strictly (issue 12, items 2 and 11): numbers, amounts and
oversized cells."""

from __future__ import annotations

import io
import math
from datetime import timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesstages import DataError, Pipeline, SalesStagesError, Stage
from salesstages.io import read_csv, read_opportunity_history, read_stage_table
from salesstages.io._common import CELL_LIMIT, parse_amount, parse_number


def small() -> Pipeline:
    """prospecting → engaging → won / lost."""
    return Pipeline(
        "small",
        [
            Stage("prospecting"),
            Stage("engaging"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def named(text: str, name: str) -> io.StringIO:
    """A text stream with a file name."""
    f = io.StringIO(text, newline="")
    f.name = name
    return f


# ---------------------------------------------------------------------- parse_number
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("-3", -3),
        ("12.5", 12.5),
        (".5", 0.5),
        ("1e3", 1000.0),
        ("2.5E-2", 0.025),
        ("1,234", 1234),  # thousands grouped by commas, exactly three digits a group
        ("1,234,567.89", 1234567.89),
        ("$1,200", 1200),
        ("€5", 5),
        ("£0.99", 0.99),
    ],
)
def test_parse_number_accepts(text: str, value: float) -> None:
    """ASCII digits, a minus, a decimal part, an exponent, comma groups and a currency sign."""
    parsed = parse_number(text)
    assert parsed == value
    assert type(parsed) is type(value)


@pytest.mark.parametrize(
    "text",
    [
        "1_000",  # Python's digit separator
        "１２",  # full-width digits
        "٣",  # Arabic-Indic three
        "१२",  # Devanagari
        "12k",
        "12,000 USD",
        "1,5",  # a decimal comma
        "1.234,50",
        "1,23",
        "1,2345",
        "1 000",
        "+5",
        "--5",
        "12.",
        ".",
        "-",
        "",
        "NaN",
        "nan",
        "inf",
        "Infinity",
        "0x10",
        "1e999",  # beyond a float
        "9" * 400,
    ],
)
def test_parse_number_refuses(text: str) -> None:
    """Anything else is a DataError (a ValueError) quoting the text."""
    with pytest.raises(DataError) as info:
        parse_number(text)
    assert isinstance(info.value, ValueError)
    assert repr(text[:10])[:-1] in str(info.value)


@given(n=st.integers(0, 10**30))
def test_parse_number_reads_any_integer(n: int) -> None:
    """Every non-negative integer, plain or with comma groups, reads back exactly."""
    assert parse_number(str(n)) == n
    assert parse_number(f"{n:,}") == n


@given(x=st.floats(allow_nan=False, allow_infinity=False))
def test_parse_number_reads_any_float_repr(x: float) -> None:
    """Every finite float's repr reads back as that float."""
    assert parse_number(repr(x)) == x


@given(
    text=st.text(
        st.characters(categories=["Nd"]).filter(lambda c: not ("0" <= c <= "9")), min_size=1
    )
)
def test_parse_number_refuses_every_non_ascii_digit(text: str) -> None:
    """Digits of any other script are refused, however they are combined."""
    with pytest.raises(DataError):
        parse_number(text)


@pytest.mark.parametrize("text", ["-1", "-0.01", "-$5", "1e400"])
def test_parse_amount_refuses_what_the_api_refuses(text: str) -> None:
    """parse_amount applies the API's amount check: negatives and overflows are refused."""
    with pytest.raises(DataError, match=r"amount|too large"):
        parse_amount(text)


def test_parse_amount_keeps_zero_and_money() -> None:
    """Zero and ordinary amounts pass."""
    assert (parse_amount("0"), parse_amount("$12,000.50")) == (0, 12000.5)


# ---------------------------------------------------------------------- importers
TABLE = "id,engaged,value\nD1,2024-01-02,100\nD2,2024-01-03,{}\nD3,2024-01-04,300\n"


def import_table(text: str, *, strict: bool = False) -> object:
    """Import a tiny stage table with an amount column."""
    return read_stage_table(
        named(text, "table.csv"),
        small(),
        id_column="id",
        stage_columns={"engaged": "engaging"},
        amount_column="value",
        strict=strict,
    )


BAD_CELLS = ["1_000", "１２", "٣", "12k", "-5", "NaN", "1e999", '"12,00"']


@pytest.mark.parametrize("cell", BAD_CELLS)
def test_stage_table_bad_amount(cell: str) -> None:
    """A bad amount cell is an 'amount' problem of its row; the deal is kept without it."""
    result = read_stage_table(
        named(TABLE.format(cell), "table.csv"),
        small(),
        id_column="id",
        stage_columns={"engaged": "engaging"},
        amount_column="value",
    )
    assert [(p.deal_id, p.row, p.rule) for p in result.problems] == [("D2", 3, "amount")]
    amounts = {e.deal_id: e.data.get("amount") for e in result.events if e.kind == "opened"}
    assert amounts == {"D1": 100, "D2": None, "D3": 300}
    with pytest.raises(DataError, match=r"^table\.csv, line 3, field 'value': .*amount"):
        import_table(TABLE.format(cell), strict=True)


HISTORY = (
    "OpportunityId,CreatedDate,StageName,Amount\n"
    "006A,2024-01-01T09:00:00Z,Prospecting,1000\n"
    "006A,2024-01-02T09:00:00Z,Qualification,{}\n"
)


@pytest.mark.parametrize("cell", BAD_CELLS)
def test_opportunity_history_bad_amount(cell: str) -> None:
    """The Salesforce importer refuses the same cells, keeping the stage change."""
    stage_map = {"Prospecting": "prospecting", "Qualification": "engaging"}
    result = read_opportunity_history(
        named(HISTORY.format(cell), "history.csv"),
        small(),
        stage_map=stage_map,
        close_date_column=None,
    )
    assert [(p.row, p.rule) for p in result.problems] == [(3, "amount")]
    assert [e.kind for e in result.events] == ["opened", "stage_entered", "stage_entered"]
    assert result.events[0].data == {"amount": 1000}
    with pytest.raises(DataError, match=r"^history\.csv, line 3, field 'Amount'"):
        read_opportunity_history(
            named(HISTORY.format(cell), "history.csv"),
            small(),
            stage_map=stage_map,
            close_date_column=None,
            strict=True,
        )


# ---------------------------------------------------------------------- oversized cells
BIG = "x" * (CELL_LIMIT + 1)
# a quoted cell over the limit spanning three lines, one that looks like CSV rows inside
BIG_QUOTED = '"' + BIG + '\nD9,2024-01-09,900\n""quoted"",' + BIG + '"'


@pytest.mark.parametrize("big", [BIG, BIG_QUOTED, '"' + BIG + '"'])
def test_stage_table_keeps_every_good_row(big: str) -> None:
    """An oversized cell is a problem of its own row; the rows before and after are kept,
    and later rows keep their true line numbers."""
    lines = big.count("\n")
    text = f"id,engaged,note\nD1,2024-01-02,a\nD2,2024-01-03,{big}\nD3,2024-01-04,c\nD4,someday,d\n"
    result = read_stage_table(
        named(text, "table.csv"),
        small(),
        id_column="id",
        stage_columns={"engaged": "engaging"},
        attribute_columns=["note"],
    )
    assert {e.deal_id for e in result.events} == {"D1", "D3"}
    assert [(p.row, p.rule) for p in result.problems] == [
        (3, "cell_too_large"),
        (5 + lines, "date"),  # D4's line, past the lines the big cell spans
        (5 + lines, "no_dates"),
    ]
    assert result.rows == 4
    assert "128 KiB" in result.problems[0].message


def test_stage_table_strict_oversized_cell() -> None:
    """Strict import raises DataError naming the file and the oversized cell's line."""
    text = f"id,engaged,note\nD1,2024-01-02,a\nD2,2024-01-03,{BIG}\n"
    with pytest.raises(DataError, match=r"^table\.csv, line 3: .*128 KiB.*cell_too_large"):
        read_stage_table(
            named(text, "table.csv"),
            small(),
            id_column="id",
            stage_columns={"engaged": "engaging"},
            strict=True,
        )


def test_opportunity_history_keeps_every_good_row() -> None:
    """The Salesforce importer keeps the rows around an oversized cell too."""
    text = (
        "OpportunityId,CreatedDate,StageName,Note\n"
        "006A,2024-01-01T09:00:00Z,Prospecting,a\n"
        f"006A,2024-01-02T09:00:00Z,Qualification,{BIG_QUOTED}\n"
        "006B,2024-01-03T09:00:00Z,Prospecting,c\n"
    )
    stage_map = {"Prospecting": "prospecting", "Qualification": "engaging"}
    result = read_opportunity_history(
        named(text, "history.csv"),
        small(),
        stage_map=stage_map,
        amount_column=None,
        close_date_column=None,
    )
    assert [(p.row, p.rule) for p in result.problems] == [(3, "cell_too_large")]
    assert {e.deal_id for e in result.events} == {"006A", "006B"}
    assert result.rows == 3


def test_canonical_csv_oversized_cell_is_a_data_error() -> None:
    """The canonical reader (always strict) names the line of an oversized cell."""
    text = (
        "deal_id,seq,at,kind,stage,name,data\n"
        + f"{BIG},0,2024-01-01T00:00:00+00:00,opened,,,{{}}\n"
    )
    with pytest.raises(DataError, match=r"^events\.csv, line 2: .*128 KiB") as info:
        read_csv(named(text, "events.csv"))
    assert isinstance(info.value, SalesStagesError)


def test_nan_cell_is_not_a_float() -> None:
    """A 'nan' cell never becomes a float NaN amount (math.isnan would hide it in sums)."""
    result = read_stage_table(
        named(TABLE.format("nan"), "table.csv"),
        small(),
        id_column="id",
        stage_columns={"engaged": "engaging"},
        amount_column="value",
    )
    amounts = [e.data.get("amount", 0) for e in result.events]
    assert not any(isinstance(a, float) and math.isnan(a) for a in amounts)


@pytest.mark.parametrize(
    "cell", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00", "0001-01-01"]
)
def test_dates_out_of_range_are_problems_of_their_row(cell: str) -> None:
    """A date that UTC cannot show is a 'date' problem, not an OverflowError."""
    text = f"id,engaged\nD1,2024-01-02\nD2,{cell}\n"
    options = {"id_column": "id", "stage_columns": {"engaged": "engaging"}}
    result = read_stage_table(
        named(text, "table.csv"), small(), tz=timezone(timedelta(hours=5)), **options
    )
    assert [(p.row, p.rule) for p in result.problems] == [(3, "date"), (3, "no_dates")]
    assert {e.deal_id for e in result.events} == {"D1"}
