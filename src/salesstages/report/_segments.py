"""Segment charts with many segments (``--by`` an attribute with 30 values).

:func:`capped` sorts a chart's segments by their value, keeps the first
:data:`MAX_NAMED` by name and pools the rest into one :data:`OTHERS` row, so that
the chart stays readable and every named segment gets a colour of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

__all__ = ["MAX_NAMED", "OTHERS", "capped"]

#: The most segments a chart names; the rest are pooled.
MAX_NAMED: Final = 12
#: The name of the pooled row.
OTHERS: Final = "others"


def capped(
    segments: Sequence[tuple[str, float, float]], *, most: int = MAX_NAMED
) -> list[tuple[str, float | None, float, float]]:
    """``(name, numerator, denominator)`` per segment → ``(name, rate, numerator,
    denominator)`` rows, highest rate first (segments without a rate last, then by
    name), at most ``most`` named and the rest pooled into ``others (n)`` (their
    numerators and denominators summed)."""
    rows = [(name, num / den if den else None, num, den) for name, num, den in segments]
    rows.sort(key=lambda r: (r[1] is None, -(r[1] or 0.0), r[0]))
    if len(rows) <= most:
        return rows
    rest = rows[most:]
    num = sum(r[2] for r in rest)
    den = sum(r[3] for r in rest)
    return [*rows[:most], (f"{OTHERS} ({len(rest)})", num / den if den else None, num, den)]
