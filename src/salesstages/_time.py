"""Aware-UTC helpers: every timestamp the API accepts goes through :func:`to_utc`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ._errors import DataError, DataTypeError, NaiveTimeError

__all__ = ["UTC", "as_utc", "parse_iso", "to_utc"]


def as_utc(value: datetime, what: str = "at") -> datetime:
    """An aware ``value`` converted to UTC; a moment UTC cannot show is a :class:`DataError`.

    ``datetime(9999, 12, 31, 23, tzinfo=<UTC-5>)`` is in the year 10000 in UTC,
    and ``datetime(1, 1, 1, tzinfo=<UTC+1>)`` in the year 0: ``datetime`` has
    neither, and would raise a bare ``OverflowError``.
    """
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise DataError(
            f"{what}={value.isoformat()} lies outside the years 1 to 9999 once converted to "
            f"UTC ({exc}); pass a time between 0001-01-01 and 9999-12-31 UTC",
            field=what,
        ) from exc


def to_utc(value: object, what: str = "at") -> datetime:
    """Return ``value`` as an aware UTC datetime.

    Raises:
        NaiveTimeError: ``value`` has no timezone.
        DataTypeError: ``value`` is not a ``datetime``.
        DataError: ``value`` converted to UTC falls outside the years 1 to 9999.
    """
    if not isinstance(value, datetime):
        raise DataTypeError(
            f"{what} must be a timezone-aware datetime, got {type(value).__name__}", field=what
        )
    offset = value.utcoffset()
    if offset is None:
        raise NaiveTimeError(
            f"{what}={value.isoformat()} is a naive datetime; pass an aware one, "
            "for example datetime(..., tzinfo=datetime.UTC)"
        )
    if offset == timedelta(0) and value.tzinfo is UTC:
        return value
    return as_utc(value, what)


def parse_iso(text: str, what: str = "at") -> datetime:
    """Parse an ISO 8601 timestamp with an offset into aware UTC (a :class:`DataError`
    when it is not one)."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what}={text!r} is not an ISO 8601 timestamp", field=what) from exc
    return to_utc(value, what)
