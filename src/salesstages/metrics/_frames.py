"""Every metric's result as a pandas or polars DataFrame (optional extras)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import import_module
from typing import Any

import attrs

__all__ = ["records", "to_pandas", "to_polars"]

_LOST_REASON_COLUMNS = ("reason", "deals", "amount")


def _row(value: Any) -> dict[str, Any]:
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)
    if isinstance(value, tuple) and len(value) == len(_LOST_REASON_COLUMNS):
        return dict(zip(_LOST_REASON_COLUMNS, value, strict=True))
    raise TypeError(
        f"cannot turn {type(value).__name__} into a table row; pass a metric's result "
        "(a record, a list of records, or a dict of them)"
    )


def _key_names(result: Mapping[Any, Any], names: Sequence[str] | None) -> list[str]:
    depth = 0
    value: Any = result
    while isinstance(value, Mapping) and value:
        depth += 1
        value = next(iter(value.values()))
    if names is not None:
        if isinstance(names, str) or len(names) != depth:
            raise ValueError(
                f"names must give one column name per dict level ({depth}), got {names!r}"
            )
        return list(names)
    return ["key"] if depth == 1 else [f"key_{i}" for i in range(depth)]


def records(result: Any, *, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """A metric's result as a list of flat dict rows.

    A record gives one row; a list gives one row per item (``lost_reasons``'
    tuples become ``reason``, ``deals`` and ``amount``); a dict gives its keys
    as leading columns, named by ``names`` (one per level of nesting; default
    ``key``, or ``key_0``, ``key_1`` … for nested dicts such as a ``by=``
    result). A dict of lists (``funnel(..., by=...)``) gives one row per item.

    Raises:
        TypeError: ``result`` is not a metric's result.
        ValueError: ``names`` does not give one name per dict level.
    """
    if isinstance(result, Mapping):
        keys = _key_names(result, names)
        rows: list[dict[str, Any]] = []
        _flatten(result, keys, {}, rows)
        return rows
    if names is not None:
        raise ValueError("names only applies to a dict result")
    if isinstance(result, list):
        return [_row(item) for item in result]
    return [_row(result)]


def _flatten(
    value: Any, keys: list[str], prefix: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    if isinstance(value, Mapping):
        name = keys[len(prefix)]
        for k, v in value.items():
            _flatten(v, keys, {**prefix, name: k}, rows)
    elif isinstance(value, list):
        for item in value:
            rows.append({**prefix, **_row(item)})
    elif isinstance(value, int | float):
        rows.append({**prefix, "value": value})
    else:
        rows.append({**prefix, **_row(value)})


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
