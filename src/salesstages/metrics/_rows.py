"""Every metric's (and forecast's) result as tidy rows: :func:`records`, which
reads each result's own ``to_records()`` (it imports no result class, so the
records can use it for their dicts)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["records"]

_SCALARS = (int, float, type(None))


def _rows(value: Any) -> list[dict[str, Any]]:
    """The rows of one result: its own ``to_records()`` (every result record has
    one), a list's items' rows one after the other, a bare number (``velocity``,
    ``weighted``) one ``value`` row."""
    to_records = getattr(value, "to_records", None)
    if callable(to_records):
        return to_records()  # type: ignore[no-any-return]
    if isinstance(value, list):
        return [row for item in value for row in _rows(item)]
    if isinstance(value, _SCALARS) and not isinstance(value, bool):
        return [{"value": value}]
    raise TypeError(
        f"cannot turn {type(value).__name__} into table rows; pass a metric's or a "
        "forecast's result (a record with to_records(), a list of them, a dict of them, "
        "or a number)"
    )


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
    (a :class:`~salesstages.metrics.Keyed` result says what its keys are); any
    other level ``key`` (``key_0``, ``key_1`` … when several are unnamed)."""
    levels, _ = _levels(result)
    depth = len(levels)
    if names is not None:
        if isinstance(names, str) or len(names) != depth:
            raise ValueError(
                f"names must give one column name per dict level ({depth}), got {names!r}"
            )
        return list(names)
    own: list[str | None] = [getattr(level, "key_name", None) for level in levels]
    unnamed = [i for i, name in enumerate(own) if name is None]
    for i in unnamed:
        own[i] = "key" if len(unnamed) == 1 else f"key_{i}"
    return [name or "key" for name in own]


def records(result: Any, *, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """A metric's (or a forecast's) result as a list of flat, tidy dict rows.

    Every result record knows its rows (its ``to_records()``): most give one
    row, one column per field; a record that holds a series gives one row per
    item: a survival curve (``time_to_close``, ``cumulative_incidence``) one
    row per time, a backtest one row per date (each method's forecast in a
    ``forecast_<method>`` column), a win/loss one row per group, a Markov
    model one row per open stage, a :class:`~salesstages.metrics.Movement`
    one row per line (``line``, ``count``, ``amount``), a data-quality
    report one row per finding. A list gives the rows of each item; a bare
    number (``velocity``, ``weighted``) one row with a ``value`` column.

    A dict gives its keys as leading columns, named by ``names`` (one per
    level of nesting). Without ``names``, each level is named by what the
    function keyed it by (its :class:`~salesstages.metrics.Keyed`
    ``key_name``): ``stage`` (``stage_durations``, ``snapshot``),
    ``substate`` (``substate_durations``), ``method`` (a backtest's
    ``errors``), the attribute's name for ``by=`` (``region`` for
    ``by="region"``); a plain dict's level ``key`` (``key_0``, ``key_1`` …
    when several are unnamed). When a key column would take the name of one
    of the values' own columns with a different value, it is named
    ``<name>_key`` instead (``by="stage"`` on a funnel gives ``stage_key``
    and ``stage``). A dict of lists (``funnel(..., by=...)``) gives one row
    per item.

    Raises:
        TypeError: ``result`` is not a metric's or a forecast's result.
        ValueError: ``names`` does not give one name per dict level.
    """
    if isinstance(result, Mapping):
        if not result:  # an empty dict (a by= result of an empty log): no rows
            return []
        keys = _key_names(result, names)
        pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
        _flatten(result, keys, {}, pairs)
        return _joined(keys, pairs)
    if names is not None:
        raise ValueError("names only applies to a dict result")
    return _rows(result)


def _joined(
    keys: list[str], pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The key columns, then each row's own. A key column whose name the rows also
    use is left out when it always holds the same value (a backtest's ``errors``
    by ``method``), else named ``<name>_key``; the same way on every row."""
    column: dict[str, str | None] = {}
    for name in keys:
        clash = [(prefix[name], row[name]) for prefix, row in pairs if name in row]
        if not clash:
            column[name] = name
        elif all(k == v for k, v in clash):
            column[name] = None
        else:
            column[name] = f"{name}_key"
    return [
        {
            **{out: prefix[name] for name, out in column.items() if out is not None},
            **row,
        }
        for prefix, row in pairs
    ]


def _flatten(
    value: Any,
    keys: list[str],
    prefix: dict[str, Any],
    pairs: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    if isinstance(value, Mapping):
        name = keys[len(prefix)]
        for k, v in value.items():
            _flatten(v, keys, {**prefix, name: k}, pairs)
    else:
        pairs.extend((prefix, row) for row in _rows(value))
