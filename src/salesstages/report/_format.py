"""How a cell of each column kind is written, in every renderer and in the
report's own wording (one function, so a figure reads the same everywhere)."""

from __future__ import annotations

import math
from typing import Final

from ._model import Cell, Column, Kind

__all__ = ["MISSING", "cell_kind", "fmt", "money", "short_money"]

#: How a missing value (``None``) is written.
MISSING: Final = "–"


def fmt(value: Cell, kind: Kind, missing: str = MISSING) -> str:
    """``value`` as text, by ``kind`` (see :data:`~salesstages.report._model.Kind`)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    if kind == "text" or (isinstance(value, str) and kind not in ("date", "time")):
        return str(value)
    if kind == "flag":
        return "yes" if value else ""
    if kind == "date":
        return str(value)[:10]
    if kind == "time":
        text = str(value)
        return text[:10] + " " + text[11:16] + " UTC"
    if isinstance(value, bool):
        return "yes" if value else ""
    x = float(value)
    if kind == "count":
        return f"{x:,.0f}"
    if kind == "money":
        return money(x)
    if kind == "days":
        return f"{x:.1f} d"
    if kind == "rate":
        return f"{x:.1%}"
    if kind == "ratio":
        return f"{x:.2f}×"
    if kind == "signed":
        return f"{x:+,.0f}"
    return str(value)  # pragma: no cover - every kind is handled above


def money(x: float | None) -> str:
    """An amount with thousands separators and no decimals (``12,345``)."""
    return MISSING if x is None else f"{x:,.0f}"


def short_money(x: float) -> str:
    """An amount in a few characters, for a chart's bar labels (``1.2M``, ``350k``)."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:,.2g}M" if abs(x) < 1e7 else f"{x / 1e6:,.0f}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:,.0f}k"
    return f"{x:,.0f}"


def cell_kind(column: Column, row: dict[str, Cell]) -> Kind:
    """The kind of ``column``'s cell in ``row`` (its own, or the one its row names)."""
    if column.kind_from is None:
        return column.kind
    named = row.get(column.kind_from)
    return named if isinstance(named, str) and named in _KINDS else column.kind  # type: ignore[return-value]


_KINDS: Final = frozenset(
    ("text", "count", "money", "days", "rate", "ratio", "signed", "date", "time", "flag")
)
