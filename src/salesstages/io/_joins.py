"""Reference tables joined at import (issue 25): ``join=[("accounts.csv", "account")]``
adds, to every deal whose attribute ``account`` names a row of ``accounts.csv`` (its
column ``account``), that row's other cells as attributes (sector, revenue,
employees …), usable in every ``by=``. A key with no row is an import problem
(rule ``join``), never a silent gap."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

from .._errors import DataError
from ._common import Reporter, Source, csv_table, read_source, require_columns

__all__ = ["Join", "Joins", "load_joins"]

#: One reference table: ``(source, key attribute)``.
Join: TypeAlias = "tuple[Source, str]"


class Joins:
    """The loaded reference tables: per key attribute, key → that row's attributes."""

    def __init__(self, tables: list[tuple[str, str, dict[str, dict[str, str]]]]) -> None:
        self.tables = tables  # (file name, key attribute, key -> attributes)

    def apply(self, deal_id: str, line: int, attributes: dict[str, Any], report: Reporter) -> None:
        """Add each table's row to ``attributes`` (in place); a deal whose key is absent
        from the table is reported. Attributes the deal already has are kept."""
        for name, key, rows in self.tables:
            value = attributes.get(key)
            if value is None:
                continue
            row = rows.get(str(value))
            if row is None:
                report(
                    deal_id,
                    line,
                    "join",
                    f"deal {deal_id!r}: {key} {value!r} has no row in {name}; "
                    "its attributes were not joined",
                    key,
                )
                continue
            for column, cell in row.items():
                if cell and column not in attributes:
                    attributes[column] = cell


def load_joins(join: Sequence[Join] | None) -> Joins:
    """Read every reference table of ``join``.

    Raises:
        DataError: A table that cannot be read, has no column named after its key,
            or holds one key twice.
        TypeError: ``join`` is not a sequence of ``(source, key)`` pairs.
    """
    tables: list[tuple[str, str, dict[str, dict[str, str]]]] = []
    for item in join or ():
        if not (isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[1], str)):
            raise TypeError(
                f"join takes (table, key attribute) pairs, e.g. [('accounts.csv', 'account')]; "
                f"got {item!r}"
            )
        source, key = item
        name, text = read_source(source)
        header, lines = csv_table(name, text)
        require_columns(name, header, [key])
        at = header.index(key)
        rows: dict[str, dict[str, str]] = {}
        for line, cells in lines:
            if not isinstance(cells, list) or len(cells) != len(header):
                raise DataError("the row's cells do not match the header", path=name, line=line)
            value = cells[at].strip()
            if value in rows:
                raise DataError(
                    f"key {value!r} appears twice; a reference table holds one row per key",
                    path=name,
                    line=line,
                    field=key,
                )
            rows[value] = {h: c.strip() for h, c in zip(header, cells, strict=True) if h != key}
        tables.append((name, key, rows))
    return Joins(tables)
