"""The planning attributes an importer reads (CONTRACT §14): ``close_date`` and
``forecast_category`` cells turned into the values the log keeps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import tzinfo
from typing import Any, Final

from .._values import FORECAST_CATEGORIES
from ._common import Reporter, parse_date

__all__ = ["CLOSED_CATEGORY", "category_of", "close_date_of", "planning_attributes"]

#: What :func:`category_of` returns for a CRM's "Closed" category: the deal is
#: closed, so it keeps no forecast category (its outcome says won or lost).
CLOSED_CATEGORY: Final = "closed"

# A CRM's category names, squeezed (lower case, no spaces, dashes or underscores),
# to ours. Salesforce's ForecastCategory API values are Omitted, Pipeline,
# BestCase, Forecast (labelled "Commit") and Closed; HubSpot and Pipedrive use
# similar words.
_NAMES: Final = {
    **{c.replace("_", ""): c for c in FORECAST_CATEGORIES},
    "forecast": "commit",
    "committed": "commit",
    "upside": "best_case",
    "closed": CLOSED_CATEGORY,
    "closedwon": CLOSED_CATEGORY,
    "won": CLOSED_CATEGORY,
}


def category_of(text: str) -> str:
    """A CRM's forecast category name as ours (``"BestCase"`` → ``"best_case"``,
    ``"Forecast"``/``"Commit"`` → ``"commit"``), or :data:`CLOSED_CATEGORY` for
    ``"Closed"``.

    Raises:
        ValueError: A name none of the categories goes by.
    """
    key = "".join(ch for ch in text.lower() if ch not in " _-")
    try:
        return _NAMES[key]
    except KeyError:
        raise ValueError(
            f"{text!r} is not a forecast category (Pipeline, BestCase, Commit/Forecast, "
            "Omitted or Closed)"
        ) from None


def close_date_of(text: str, fmt: str | None, tz: tzinfo) -> str:
    """A date cell as ``"YYYY-MM-DD"`` (a timestamp gives its calendar day in ``tz``,
    so a bare date stays the day written whatever ``tz`` is).

    Raises:
        ValueError: The cell is not a date.
    """
    return parse_date(text, fmt=fmt, tz=tz).astimezone(tz).date().isoformat()


def planning_attributes(
    deal_id: str,
    line: int,
    cell: Callable[[str], str],
    report: Reporter,
    *,
    close_date_column: str | None,
    forecast_category_column: str | None,
    date_format: str | None,
    tz: tzinfo,
) -> dict[str, Any]:
    """``close_date`` and ``forecast_category`` from a row's cells; a bad cell is
    reported (``date`` / ``forecast_category``) and left out."""
    out: dict[str, Any] = {}
    if close_date_column is not None and cell(close_date_column):
        raw = cell(close_date_column)
        try:
            out["close_date"] = close_date_of(raw, date_format, tz)
        except ValueError:
            report(
                deal_id,
                line,
                "date",
                f"deal {deal_id!r}: {close_date_column} {raw!r} is not a date; left out",
                close_date_column,
            )
    if forecast_category_column is not None and cell(forecast_category_column):
        raw = cell(forecast_category_column)
        try:
            category = category_of(raw)
        except ValueError as exc:
            report(
                deal_id,
                line,
                "forecast_category",
                f"deal {deal_id!r}: {forecast_category_column} {exc}; left out",
                forecast_category_column,
            )
        else:
            if category != CLOSED_CATEGORY:
                out["forecast_category"] = category
    return out
