"""Read forecast calls from CSV (CONTRACT §21): :func:`read_calls`."""

from __future__ import annotations

from typing import Final

from .._errors import DataError
from ..forecast._calls import Call, _check_amount
from ._common import Source, csv_table, parse_date, parse_number, read_source, require_columns

__all__ = ["CALL_COLUMNS", "read_calls"]

#: The columns a calls file must have (others are ignored).
CALL_COLUMNS: Final = ("owner", "period", "category", "amount", "at")


def read_calls(source: Source) -> list[Call]:
    """The :class:`~salesstages.forecast.Call` records of a CSV file with the columns
    ``owner, period, category, amount, at`` (in any order; others are ignored).

    ``period`` is a quarter (``2026-Q1``), a month (``2026-03``) or a year
    (``2026``); ``category`` one of ``commit``, ``best_case``, ``pipeline``;
    ``amount`` a number >= 0 (``1,200.50`` and a currency sign are read);
    ``at`` an ISO date or date-time (a naive one is UTC).

    Raises:
        DataError: The file cannot be read, lacks a column, or a row holds an
            unknown category, a negative amount, a period or a time that does
            not parse; the message names the file, the line and the field.
    """
    name, text = read_source(source)
    header, rows = csv_table(name, text)
    require_columns(name, header, CALL_COLUMNS)
    index = {h: i for i, h in enumerate(header)}
    calls: list[Call] = []
    for line, cells in rows:
        assert isinstance(cells, list)  # not lenient: an oversized cell raises
        if len(cells) != len(header):
            raise DataError(
                f"the row has {len(cells)} cells where the header has {len(header)}",
                path=name,
                line=line,
            )
        cell = {c: cells[index[c]].strip() for c in CALL_COLUMNS}
        field = "amount"
        try:
            amount = _check_amount(parse_number(cell["amount"]))
            field = "at"
            try:
                at = parse_date(cell["at"])
            except ValueError as exc:
                if isinstance(exc, DataError):
                    raise
                raise DataError(f"{cell['at']!r} is not an ISO date or date-time") from None
            field = "call"
            calls.append(Call(cell["owner"], cell["period"], cell["category"], amount, at))
        except DataError as exc:
            where = exc.field if exc.field is not None and field == "call" else field
            message = str(exc).removeprefix(f"field {exc.field!r}: ")
            raise DataError(message, path=name, line=line, field=where) from None
    return calls
