"""One validation of the values a call hands over: event data, attributes, amounts.

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
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ._errors import DataError, DataTypeError

__all__ = ["AMOUNT", "MAX_DEPTH", "attribute_data", "check_amount", "json_data"]

#: The attribute every money figure (win rate by value, snapshot, forecasts) reads.
AMOUNT: Final = "amount"
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


def attribute_data(attributes: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Deal attributes as JSON values, with ``amount`` checked by :func:`check_amount`."""
    amount = attributes.get(AMOUNT) if isinstance(attributes, Mapping) else None
    if amount is not None:
        checked = check_amount(amount, where)
        if checked is not amount:
            attributes = {**attributes, AMOUNT: checked}
    return json_data(attributes, where)
