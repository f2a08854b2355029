"""The recurring-revenue attributes of a deal (CONTRACT §19), checked where attributes
come in: ``account``, ``deal_type``, ``arr``, ``contract_start`` and ``contract_end``.

:func:`check_contract_attributes` is called by
:func:`salesstages._values.attribute_data` (so by ``open_deal``, ``update`` and
every importer that builds attributes) with the deal's attributes so far, so
that the rules that tie two attributes together hold on what the deal will
hold: a contract ends after it starts, and a renewal or an expansion names its
account. A refused value raises :class:`DataError` naming the deal and the
field, before anything is recorded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from ._errors import DataError, DataTypeError

__all__ = [
    "ACCOUNT",
    "ARR",
    "CONTRACT_END",
    "CONTRACT_FIELDS",
    "CONTRACT_START",
    "DEAL_TYPE",
    "DEAL_TYPES",
    "check_contract_attributes",
]

#: The attribute naming the customer account a deal belongs to.
ACCOUNT: Final = "account"
#: The attribute saying what a deal sells: new business, a renewal or an expansion.
DEAL_TYPE: Final = "deal_type"
#: The values ``deal_type`` may hold.
DEAL_TYPES: Final = ("new", "renewal", "expansion")
#: The attribute holding a deal's annual recurring revenue.
ARR: Final = "arr"
#: The first day a won deal's contract runs (an ISO date string in the log).
CONTRACT_START: Final = "contract_start"
#: The day after a won deal's contract's last day (exclusive; an ISO date string).
CONTRACT_END: Final = "contract_end"
#: Every attribute this module checks.
CONTRACT_FIELDS: Final = (ACCOUNT, DEAL_TYPE, ARR, CONTRACT_START, CONTRACT_END)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _account(value: object, where: str) -> None:
    if not isinstance(value, str) or not value.strip():
        error = DataError if isinstance(value, str) else DataTypeError
        raise error(
            f"{where}: account must be a non-empty string naming the customer account, "
            f"got {_show(value)}",
            field=ACCOUNT,
        )


def _deal_type(value: object, where: str) -> None:
    if isinstance(value, str) and value in DEAL_TYPES:
        return
    error = DataError if isinstance(value, str) else DataTypeError
    raise error(
        f"{where}: deal_type must be one of {', '.join(repr(t) for t in DEAL_TYPES)}, "
        f"got {_show(value)}",
        field=DEAL_TYPE,
    )


def _arr(value: object, where: str) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        hint = "; strings are never read as numbers" if isinstance(value, str) else ""
        raise DataTypeError(
            f"{where}: arr (annual recurring revenue) must be a finite number >= 0 "
            f"(int, float or Decimal), got {_show(value)} ({type(value).__name__}){hint}",
            field=ARR,
        )
    number: int | float
    if isinstance(value, Decimal):
        if not value.is_finite():
            number = math.nan
        elif value == value.to_integral_value():
            number = int(value)
        else:
            number = float(value)
            if Decimal(repr(number)) != value:
                raise DataError(
                    f"{where}: arr {value!r} has more digits than a float keeps; round it "
                    "first, e.g. round(value, 2)",
                    field=ARR,
                )
    else:
        number = value
    try:
        finite = math.isfinite(number)
    except OverflowError:  # an int beyond any float
        finite = False
    if not finite or number < 0:
        raise DataError(
            f"{where}: arr (annual recurring revenue) must be a finite number >= 0, "
            f"got {_show(value)}",
            field=ARR,
        )
    return number


def _day(value: object, field: str, where: str) -> date:
    if isinstance(value, datetime):
        raise DataTypeError(
            f"{where}: {field} must be a date or an ISO date string, got the datetime "
            f"{_show(value)}; pass a calendar day, e.g. value.date()",
            field=field,
        )
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise DataTypeError(
            f"{where}: {field} must be a date or an ISO date string such as '2026-01-01', "
            f"got {_show(value)} ({type(value).__name__})",
            field=field,
        )
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DataError(
            f"{where}: {field} must be an ISO date such as '2026-01-01', got {_show(value)}",
            field=field,
        ) from None


def check_contract_attributes(
    attributes: Mapping[str, Any], where: str, current: Mapping[str, Any] | None = None
) -> Mapping[str, Any]:
    """``attributes`` with the recurring-revenue ones checked and normalised (dates as
    ISO strings, a :class:`~decimal.Decimal` ``arr`` as a number); ``current`` holds
    the deal's attributes before this change (``None`` on opening).

    ``None`` leaves an attribute unset, like leaving it out.

    Raises:
        DataTypeError: ``account`` is not a string; ``arr`` is not a number; a
            contract date is neither a date nor a string.
        DataError: ``account`` is empty; ``deal_type`` is not ``"new"``,
            ``"renewal"`` or ``"expansion"``; ``arr`` is negative, NaN or
            infinite; a contract date is not an ISO date; ``contract_end`` is on
            or before ``contract_start``; a renewal or an expansion has no
            ``account``.
    """
    if not any(k in attributes for k in CONTRACT_FIELDS):
        return attributes
    out = dict(attributes)
    if out.get(ACCOUNT) is not None:
        _account(out[ACCOUNT], where)
    if out.get(DEAL_TYPE) is not None:
        _deal_type(out[DEAL_TYPE], where)
    if out.get(ARR) is not None:
        out[ARR] = _arr(out[ARR], where)
    days: dict[str, date | None] = {}
    before = current or {}
    for field in (CONTRACT_START, CONTRACT_END):
        if out.get(field) is not None:
            day = _day(out[field], field, where)
            out[field] = day.isoformat()
            days[field] = day
        elif field in out:
            days[field] = None
        else:
            old = before.get(field)
            days[field] = date.fromisoformat(old) if isinstance(old, str) else None
    start, end = days[CONTRACT_START], days[CONTRACT_END]
    if start is not None and end is not None and end <= start:
        raise DataError(
            f"{where}: contract_end {end.isoformat()} is on or before contract_start "
            f"{start.isoformat()}; a contract ends after it starts (contract_end is the day "
            "after its last day)",
            field=CONTRACT_END,
        )
    kind = out[DEAL_TYPE] if DEAL_TYPE in out else before.get(DEAL_TYPE)
    account = out[ACCOUNT] if ACCOUNT in out else before.get(ACCOUNT)
    if kind in ("renewal", "expansion") and account is None:
        raise DataError(
            f"{where}: a {kind} deal needs an account (the customer it renews or expands); "
            "pass account=...",
            field=ACCOUNT,
        )
    return out
