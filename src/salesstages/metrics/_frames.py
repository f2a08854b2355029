"""Every metric's (and forecast's) result as a pandas or polars DataFrame of its
rows (optional extras); the rows themselves come from :func:`records`."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import Any

from ._rows import records

__all__ = ["records", "to_pandas", "to_polars"]


def _missing(extra: str) -> ImportError:
    return ImportError(
        f"this needs {extra}, which is not installed; install it with "
        f"pip install 'salesstages[{extra}]'"
    )


def to_pandas(result: Any, *, names: Sequence[str] | None = None) -> Any:
    """A metric's result as a ``pandas.DataFrame``, one row per record (see
    :func:`records` for the shape and ``names``). Timestamps become
    ``datetime64[ns, UTC]`` columns and durations ``timedelta64`` columns.

    Raises:
        ImportError: pandas is not installed: ``pip install 'salesstages[pandas]'``.
    """
    try:
        pd = import_module("pandas")
    except ImportError as exc:
        raise _missing("pandas") from exc
    rows = records(result, names=names)
    return pd.DataFrame.from_records(rows) if rows else pd.DataFrame()


def to_polars(result: Any, *, names: Sequence[str] | None = None) -> Any:
    """A metric's result as a ``polars.DataFrame``, one row per record (see
    :func:`records` for the shape and ``names``). Timestamps become
    ``Datetime(time_zone="UTC")`` columns and durations ``Duration`` columns.

    Raises:
        ImportError: polars is not installed: ``pip install 'salesstages[polars]'``.
    """
    try:
        pl = import_module("polars")
    except ImportError as exc:
        raise _missing("polars") from exc
    rows = records(result, names=names)
    if not rows:
        return pl.DataFrame()
    columns = {name: [row.get(name) for row in rows] for name in rows[0]}
    return pl.DataFrame(columns)
