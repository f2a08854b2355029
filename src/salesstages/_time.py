"""Aware-UTC helpers: every timestamp the API accepts goes through :func:`to_utc`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ._errors import NaiveTimeError

__all__ = ["UTC", "parse_iso", "to_utc"]


def to_utc(value: object, what: str = "at") -> datetime:
    """Return ``value`` as an aware UTC datetime, or raise :class:`NaiveTimeError`."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, got {type(value).__name__}")
    offset = value.utcoffset()
    if offset is None:
        raise NaiveTimeError(
            f"{what}={value.isoformat()} is a naive datetime; pass an aware one, "
            "for example datetime(..., tzinfo=datetime.UTC)"
        )
    if offset == timedelta(0) and value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def parse_iso(text: str, what: str = "at") -> datetime:
    """Parse an ISO 8601 timestamp with an offset into aware UTC."""
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}={text!r} is not an ISO 8601 timestamp") from exc
    return to_utc(value, what)
