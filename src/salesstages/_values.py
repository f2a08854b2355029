"""One validation of the values a call hands over: event data, attributes, amounts,
close dates and forecast categories.

Every public entry point that takes data (``open_deal``, ``record``,
``update``, the extra data of ``move``/``win``/``lose``/``reopen``) and every
importer that builds attributes goes through these functions, so a value is
refused the same way wherever it comes in: with :class:`DataError` (or its
``TypeError`` flavour :class:`DataTypeError`) naming the field, before
anything is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ._contract_values import check_contract_attributes
from ._errors import DataError, DataTypeError

__all__ = [
    "AMOUNT",
    "CLOSE_DATE",
    "FORECAST_CATEGORIES",
    "FORECAST_CATEGORY",
    "MAX_DEPTH",
    "attribute_data",
    "check_amount",
    "check_close_date",
    "check_forecast_category",
    "json_data",
]

#: The attribute every money figure (win rate by value, snapshot, forecasts) reads.
AMOUNT: Final = "amount"
#: The attribute holding a deal's expected close date (an ISO date string in the log).
CLOSE_DATE: Final = "close_date"
#: The attribute holding a deal's forecast category.
FORECAST_CATEGORY: Final = "forecast_category"
#: The forecast categories a deal or a stage may name, from least to most certain.
FORECAST_CATEGORIES: Final = ("omitted", "pipeline", "best_case", "commit")
#: How deeply lists and objects may nest inside event data (and guards inside guards).
MAX_DEPTH: Final = 64


def json_data(data: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A deep copy of ``data`` as plain JSON values (tuples become lists).

    Raises:
        DataTypeError: A value JSON cannot hold (a set, bytes, a datetime, any
            other object) or a key that is not a string; the message names the
            field and the path inside it.
        DataError: A float that is not finite, or lists and objects nested
            deeper than :data:`MAX_DEPTH` levels (or holding themselves).
    """

    def walk(value: Any, path: str, field: str, depth: int) -> Any:
        if isinstance(value, str | bool | int | type(None)):
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise DataError(
                    f"{where}: {path} is {value!r}; JSON holds only finite numbers", field=field
                )
            return value
        if depth >= MAX_DEPTH and isinstance(value, list | tuple | Mapping):
            raise DataError(
                f"{where}: {path} nests lists and objects deeper than {MAX_DEPTH} levels "
                "(or holds itself); flatten the data",
                field=field,
            )
        if isinstance(value, list | tuple):
            return [walk(item, f"{path}[{i}]", field, depth + 1) for i, item in enumerate(value)]
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for k, item in value.items():
                if not isinstance(k, str):
                    raise DataTypeError(
                        f"{where}: key {k!r} in {path} is not a string; JSON keys are",
                        field=field,
                    )
                out[k] = walk(item, f"{path}.{k}", field, depth + 1)
            return out
        hint = (
            " (store dates as ISO strings: value.isoformat())"
            if hasattr(value, "isoformat")
            else " (convert it to a number, e.g. float(value))"
            if isinstance(value, Decimal)
            else ""
        )
        raise DataTypeError(
            f"{where}: {path} is a {type(value).__name__}, not a JSON value "
            f"(str, int, float, bool, None, list, dict){hint}",
            field=field,
        )

    if not isinstance(data, Mapping):
        raise DataTypeError(f"{where}: data must be a mapping, got {type(data).__name__}")
    out: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            raise DataTypeError(f"{where}: key {key!r} is not a string; JSON keys are")
        out[key] = walk(value, key, key, 0)
    return out


def _show(value: object) -> str:
    """``repr(value)``, cut short when it is long (a 400-digit int, a big list)."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_amount(value: object, where: str) -> int | float | None:
    """``value`` as an amount: a finite, non-negative ``int`` or ``float``, or ``None``.

    A :class:`~decimal.Decimal` is accepted when it converts without changing
    its value as written: to an ``int`` when integral, else to the ``float``
    whose shortest form is the same number (``Decimal("19.99")`` becomes
    ``19.99``; ``Decimal("0.1000000000000000000001")`` is refused, since a
    float would silently round it). ``None`` means no amount, like leaving it
    out. Strings are never cast: ``"12,000"`` and ``"12k"`` are refused.

    Raises:
        DataTypeError: A string, a bool or any other type.
        DataError: A negative, NaN or infinite number, or one too large for a float.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        hint = (
            "; strings are never read as numbers: pass 12000, not '12,000' or '12k'"
            if isinstance(value, str)
            else ""
        )
        raise DataTypeError(
            f"{where}: amount must be a finite number >= 0 (int, float or Decimal), "
            f"got {_show(value)} ({type(value).__name__}){hint}",
            field=AMOUNT,
        )
    number = _from_decimal(value, where) if isinstance(value, Decimal) else value
    try:
        finite = math.isfinite(number)
    except OverflowError:  # an int beyond any float
        finite = False
    if not finite:
        raise DataError(
            f"{where}: amount must be a finite number >= 0, got {_show(value)}", field=AMOUNT
        )
    if number < 0:
        raise DataError(
            f"{where}: amount must be >= 0, got {_show(value)}; "
            "a deal's amount is what it is worth",
            field=AMOUNT,
        )
    return number


def _from_decimal(value: Decimal, where: str) -> int | float:
    if not value.is_finite():
        raise DataError(
            f"{where}: amount must be a finite number >= 0, got {_show(value)}", field=AMOUNT
        )
    try:
        if value == value.to_integral_value():
            return int(value)
    except InvalidOperation:  # pragma: no cover - finite decimals always have an integral value
        pass
    number = float(value)
    if math.isfinite(number) and Decimal(repr(number)) == value:
        return number
    raise DataError(
        f"{where}: amount {value!r} has more digits than a float keeps (a float would make it "
        f"{number!r}); round it first, e.g. round(value, 2)",
        field=AMOUNT,
    )


def check_close_date(value: object, where: str) -> str | None:
    """``value`` as a close date in the log's form, ``"YYYY-MM-DD"``, or ``None``.

    A :class:`~datetime.date` or an ISO 8601 date string (``"2026-03-31"``) is
    accepted; ``None`` means no close date. A ``datetime`` is refused (a close
    date is a calendar day: pass ``value.date()``), and so is any other string.

    Raises:
        DataTypeError: A datetime, or a value that is neither a date nor a string.
        DataError: A string that is not an ISO date.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        raise DataTypeError(
            f"{where}: close_date must be a date or an ISO date string, got the datetime "
            f"{_show(value)}; pass a calendar day, e.g. value.date()",
            field=CLOSE_DATE,
        )
    if isinstance(value, date):
        return value.isoformat()
    if not isinstance(value, str):
        raise DataTypeError(
            f"{where}: close_date must be a date or an ISO date string such as '2026-03-31', "
            f"got {_show(value)} ({type(value).__name__})",
            field=CLOSE_DATE,
        )
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise DataError(
            f"{where}: close_date must be an ISO date such as '2026-03-31', got {_show(value)}",
            field=CLOSE_DATE,
        ) from None


def check_forecast_category(value: object, where: str) -> str | None:
    """``value`` as a forecast category (one of :data:`FORECAST_CATEGORIES`), or ``None``.

    Raises:
        DataTypeError: A value that is not a string.
        DataError: A string that is not one of the four categories.
    """
    if value is None or (isinstance(value, str) and value in FORECAST_CATEGORIES):
        return value
    error = DataError if isinstance(value, str) else DataTypeError
    raise error(
        f"{where}: forecast_category must be one of "
        f"{', '.join(repr(c) for c in FORECAST_CATEGORIES)} (or None), got {_show(value)}",
        field=FORECAST_CATEGORY,
    )


def attribute_data(
    attributes: Mapping[str, Any], where: str, current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Deal attributes as JSON values, with ``amount``, ``close_date`` and
    ``forecast_category`` checked (:func:`check_amount`, :func:`check_close_date`,
    :func:`check_forecast_category`) and the recurring-revenue ones too
    (:func:`salesstages._contract_values.check_contract_attributes`, which reads
    ``current``, the deal's attributes before an update)."""
    if not isinstance(attributes, Mapping):
        return json_data(attributes, where)  # refuses it with the usual message
    amount = attributes.get(AMOUNT)
    if amount is not None:
        checked = check_amount(amount, where)
        if checked is not amount:
            attributes = {**attributes, AMOUNT: checked}
    close = attributes.get(CLOSE_DATE)
    if close is not None:
        day = check_close_date(close, where)
        if day != close:
            attributes = {**attributes, CLOSE_DATE: day}
    if FORECAST_CATEGORY in attributes:
        check_forecast_category(attributes[FORECAST_CATEGORY], where)
    attributes = check_contract_attributes(attributes, where, current)
    return json_data(attributes, where)
