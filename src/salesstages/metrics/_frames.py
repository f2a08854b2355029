"""Every metric's (and forecast's) result as tidy rows, or a pandas or polars
DataFrame of them (optional extras)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

import attrs

__all__ = ["records", "to_pandas", "to_polars"]

_LOST_REASON_COLUMNS = ("reason", "deals", "amount")
_SCALARS = (int, float, str, bool, timedelta, datetime, type(None))


def _flat(record: Any) -> dict[str, Any]:
    """One record as one row; a mapping field of scalars (a backtest row's
    ``forecasts``) as one column per key, ``<field>_<key>``."""
    row: dict[str, Any] = {}
    for name, value in attrs.asdict(record, recurse=False).items():
        if isinstance(value, Mapping) and all(isinstance(v, _SCALARS) for v in value.values()):
            row.update({f"{name}_{k}": v for k, v in value.items()})
        else:
            row[name] = value
    return row


def _rows(value: Any) -> list[dict[str, Any]]:
    """A result record (or a ``lost_reasons`` tuple) as tidy rows.

    A record holding a tuple of records (a backtest's ``rows``, a win/loss's
    ``groups``) gives one row per item; one holding mappings of scalars keyed
    by stage (a Markov model's ``win_probability`` …) one row per stage; one
    holding parallel tuples (a survival curve's ``times``, ``survival`` …)
    one row per position. Text fields (``outcome``, ``by``) are repeated on
    every row. Anything else gives one row.
    """
    if not attrs.has(type(value)):
        if isinstance(value, tuple) and len(value) == len(_LOST_REASON_COLUMNS):
            return [dict(zip(_LOST_REASON_COLUMNS, value, strict=True))]
        raise TypeError(
            f"cannot turn {type(value).__name__} into a table row; pass a metric's result "
            "(a record, a list of records, or a dict of them)"
        )
    fields = attrs.asdict(value, recurse=False)
    labels = {k: v for k, v in fields.items() if isinstance(v, str)}
    for v in fields.values():
        if isinstance(v, tuple) and v and all(attrs.has(type(item)) for item in v):
            return [{**labels, **_flat(item)} for item in v]
    by_stage = {
        k: v
        for k, v in fields.items()
        if isinstance(v, Mapping) and v and all(isinstance(x, int | float) for x in v.values())
    }
    if len(by_stage) >= 2:
        keys = list(next(iter(by_stage.values())))
        return [
            {**labels, "stage": key, **{k: v.get(key) for k, v in by_stage.items()}} for key in keys
        ]
    series = {k: v for k, v in fields.items() if isinstance(v, tuple)}
    lengths = {len(v) for v in series.values()}
    if len(series) >= 2 and len(lengths) == 1:
        n = lengths.pop()
        return [{**labels, **{k: v[i] for k, v in series.items()}} for i in range(n)]
    return [_flat(value)]


def _levels(result: Mapping[Any, Any]) -> tuple[list[Mapping[Any, Any]], Any]:
    """The first dict at each level of ``result``'s nesting, and the first value at the
    bottom."""
    levels: list[Mapping[Any, Any]] = []
    value: Any = result
    while isinstance(value, Mapping) and value:
        levels.append(value)
        value = next(iter(value.values()))
    return levels, value


def _key_names(result: Mapping[Any, Any], names: Sequence[str] | None) -> list[str]:
    """One column name per dict level: ``names``, else each level's own ``key_name``
    (a :class:`~salesstages.metrics.Keyed` result says what its keys are); a
    backtest's ``errors`` (keyed by the method its records name) ``method``; any
    other level ``key`` (``key_0``, ``key_1`` … when several are unnamed)."""
    levels, leaf = _levels(result)
    depth = len(levels)
    if names is not None:
        if isinstance(names, str) or len(names) != depth:
            raise ValueError(
                f"names must give one column name per dict level ({depth}), got {names!r}"
            )
        return list(names)
    own: list[str | None] = [getattr(level, "key_name", None) for level in levels]
    if depth and own[-1] is None and type(leaf).__name__ == "MethodError":
        own[-1] = "method"
    unnamed = [i for i, name in enumerate(own) if name is None]
    for i in unnamed:
        own[i] = "key" if len(unnamed) == 1 else f"key_{i}"
    return [name or "key" for name in own]


def records(result: Any, *, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """A metric's (or a forecast's) result as a list of flat, tidy dict rows.

    A record gives one row, or one row per item for a record that holds a
    series: a survival curve (``time_to_close``, ``cumulative_incidence``)
    one row per time, a backtest one row per date (each method's forecast in
    a ``forecasts_<method>`` column), a win/loss one row per group, a Markov
    model one row per stage. A list gives the rows of each item
    (``lost_reasons``' tuples become ``reason``, ``deals`` and ``amount``); a
    dict gives its keys as leading columns, named by ``names`` (one per level
    of nesting). Without ``names``, each level is named by what the metric keyed
    it by (its :class:`~salesstages.metrics.Keyed` ``key_name``): ``stage``
    (``stage_durations``, ``snapshot``), ``substate`` (``substate_durations``),
    ``key`` for the values of a ``by=`` attribute; a backtest's errors
    ``method``; any other dict's level ``key`` (``key_0``, ``key_1`` … when
    several are unnamed). A dict of lists (``funnel(..., by=...)``) gives one
    row per item.

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
        return [row for item in result for row in _rows(item)]
    return _rows(result)


def _flatten(
    value: Any, keys: list[str], prefix: dict[str, Any], rows: list[dict[str, Any]]
) -> None:
    if isinstance(value, Mapping):
        name = keys[len(prefix)]
        for k, v in value.items():
            _flatten(v, keys, {**prefix, name: k}, rows)
    elif isinstance(value, list):
        for item in value:
            rows.extend({**prefix, **row} for row in _rows(item))
    elif isinstance(value, int | float):
        rows.append({**prefix, "value": value})
    else:
        rows.extend({**prefix, **row} for row in _rows(value))


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
