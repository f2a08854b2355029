"""The read checks of :mod:`salesstages.io` in SQL: one query per table before any figure.

The pure-Python readers refuse, naming the row and the field, every value the
writers refuse (see ``salesstages/io/_validate.py``). :func:`check_events` runs
the same rules on an Ibis table, as one aggregate that counts each kind of bad
row (a second query, only when one is found, fetches the first such row to
name it):

- on every backend: a null or empty ``deal_id``; a null or negative ``seq``; a
  null ``at`` or one after the year 9998; a null or unknown ``kind``;
- on DuckDB, where ``data`` is text: ``data`` that is not valid JSON or not an
  object, that escapes a lone surrogate, that holds ``NaN`` or
  ``Infinity``, or that opens more than 64 lists or objects one inside the
  other's first value (deeper nesting elsewhere is found by the Python readers
  only); a numeric ``amount`` (on ``opened`` and ``updated``) below 0, not
  finite, or an integer of 2⁶³ or more (a string or a boolean is left to
  ``data_quality``, which names the deal as one without an amount).

Before the query the columns' types are checked: ``at`` must be a timestamp
with a time zone, to the microsecond at most (text, a naive timestamp or
nanoseconds are refused with one line saying what to cast). Each table is
checked once per process (the check is keyed by its expression).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Hashable
from datetime import UTC, datetime
from typing import Any, Final

from ..._errors import DataError, SalesStagesError
from ..._events import EVENT_KINDS
from ._columns import (
    backend_name,
    check_columns,
    ibis,
    missing_function,
    prepare,
    prepare_columns,
    to_us,
)
from ._json import _builtin

MAX_INT: Final = 1 << 63  # as in salesstages/io/_validate.py (not imported: io needs pyarrow)

__all__ = ["check_events", "prepare_checked"]

#: The first moment after the last year an event may fall in (io/_validate.py's MAX_YEAR).
_END_US: Final = to_us(datetime(9999, 1, 1, tzinfo=UTC))
#: A valid surrogate pair escaped in JSON text, then an escaped lone surrogate.
_PAIR: Final = r"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}"
_BAD_ESCAPE: Final = r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}"
#: NaN or ±Infinity as a JSON value (after '[', ':' or ',').
_NON_FINITE: Final = r"[\[:,]\s*-?(NaN|Infinity)\s*[,\]}]"
_NUMBERS: Final = ("BIGINT", "DOUBLE", "UBIGINT")
#: 65 lists or objects opened one inside the other, each as the first value of the
#: last (deeper nesting after a first element is left to the Python readers).
_TOO_DEEP: Final = r'(\[\s*|\{\s*"(\\.|[^"\\])*"\s*:\s*){65}'


class _Checked:
    """The tables already checked (their expressions), most recent last."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, None] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def add(self, key: Hashable) -> None:
        with self._lock:
            self._items[key] = None
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_CHECKED: Final = _Checked()


Rule = tuple[str, str, Any]


def _row_rules(t: Any, backend: str) -> list[Rule]:
    """(field, what is wrong, the condition on a row) for each rule on the plain columns."""
    rules: list[Rule] = [
        (
            "deal_id",
            "expected a non-empty string, got null or ''",
            t.deal_id.isnull() | (t.deal_id == ""),
        ),
        (
            "seq",
            "expected an integer >= 0, got null or a negative number",
            t.seq.isnull() | (t.seq < 0),
        ),
        ("at", "the timestamp is null", t.at.isnull()),
        (
            "at",
            "the timestamp is after the year 9998, the last one whose dates every figure "
            "can still compute",
            t.at_us >= _END_US,
        ),
        (
            "kind",
            f"expected one of {', '.join(sorted(EVENT_KINDS))}",
            t.kind.isnull() | ~t.kind.isin(sorted(EVENT_KINDS)),
        ),
    ]
    return rules


def _data_rules(data: Any, amounts: Any) -> list[Rule]:
    """The rules on ``data`` (a JSON text column, DuckDB) and, where ``amounts`` (an
    ``opened`` or ``updated`` event), on its ``amount``."""
    string, boolean = ibis.dtype("string"), ibis.dtype("boolean")
    valid = _builtin("json_valid", (string,), boolean)
    jtype_at = _builtin("json_type", (string, string), string)
    text = _builtin("json_extract_string", (string, string), string)
    finite = _builtin("isfinite", (ibis.dtype("float64"),), boolean)
    # each costly test only where a cheap one lets it through (DuckDB evaluates a CASE
    # branch only for its rows)
    bad_text = ibis.ifelse(
        data.contains("\\u"), data.re_replace(_PAIR, "").re_search(_BAD_ESCAPE), False
    ).fill_null(False)
    ok = ibis.ifelse(bad_text | data.isnull(), False, valid(data))
    odd = data.contains("NaN") | data.contains("Infinity")
    has_amount = amounts & ok & data.contains('"amount"')
    amount_type = ibis.ifelse(has_amount, jtype_at(data, "$.amount"), None)
    amount = ibis.ifelse(has_amount, text(data, "$.amount"), None).try_cast("float64")
    return [
        ("data", "escapes a lone surrogate, which is not Unicode text", bad_text),
        ("data", "not valid JSON", data.notnull() & ~bad_text & ~ok),
        ("data", "expected a JSON object", ok & ~data.lstrip().startswith("{")),
        (
            "data",
            "nests lists and objects deeper than 64 levels; flatten it",
            ok & ibis.ifelse(data.length() >= 130, data.re_search(_TOO_DEEP), False),
        ),
        (
            "data",
            "holds NaN or Infinity; JSON holds only finite numbers",
            ok & ibis.ifelse(odd, data.re_search(_NON_FINITE), False),
        ),
        (
            "amount",
            "the amount must be >= 0 and finite (an integer below 2**63)",
            amount_type.isin(_NUMBERS)  # a string or a boolean: data_quality's "no amount"
            & (
                ((amount_type != "DOUBLE") & (amount >= float(MAX_INT)))
                | (amount < 0)
                | ~finite(amount).fill_null(False)
            ),
        ),
    ]


def _counts(rules: list[Rule], prefix: str) -> dict[str, Any]:
    return {f"{prefix}{i}": ibis.ifelse(c, 1, 0).sum() for i, (_, _, c) in enumerate(rules)}


def check_events(table: Any, *, name: str | None = None) -> None:
    """Refuse ``table`` (:class:`DataError` naming the deal, the seq and the field) when
    a row holds a value the writers refuse; ``name`` stands for the source in messages.

    Runs once per table expression (later calls return at once).
    """
    key = table.op()
    if key in _CHECKED:
        return
    check_columns(table, name=name)
    t = prepare_columns(table).mutate(raw_data=table.data)
    backend = backend_name(table)
    rows = _row_rules(t, backend)
    query = t.aggregate(**_counts(rows, "r"))
    failing: list[tuple[str, str, Any, int]] = []
    if backend == "duckdb" and t.raw_data.type().is_string():
        # the data rules run on each distinct (data, opened-or-updated) pair, in the
        # same query: a log repeats its data texts (1M events, some 55k distinct)
        flag = t.kind.isin(["opened", "updated"]).fill_null(False)
        d = t.group_by(raw_data=t.raw_data, amounts=flag).aggregate(rows=t.count())
        data_counts = _counts(_data_rules(d.raw_data, d.amounts), "d")
        # every amount the log states, summed (each distinct text times its rows): when
        # finite, so is any sum of the deals' current amounts (they are part of it)
        total = (_amount(d.raw_data, d.amounts) * d.rows).sum()
        query = query.cross_join(d.aggregate(total=total, **data_counts))
        got = _first_row(query, table)
        on_rows = _data_rules(t.raw_data, flag)
        failing += [(f, m, c, got[f"d{i}"]) for i, (f, m, c) in enumerate(on_rows)]
    else:
        got = _first_row(query, table)
    failing = [(f, m, c, got[f"r{i}"]) for i, (f, m, c) in enumerate(rows)] + failing
    for field, message, condition, n in failing:
        if n:
            _refuse(t, field, message, condition, name)
    if got.get("total") is not None and not math.isfinite(got["total"]):
        raise DataError(
            "the amounts add up to more than the largest number a float holds (about "
            "1.8e308); check the log for amounts entered wrongly",
            path=name,
            field="amount",
        )
    _CHECKED.add(key)


def _first_row(query: Any, table: Any) -> dict[str, Any]:
    """The one row of the check's aggregate ``query``; a function the backend lacks is
    the engine's one-line error naming backend and function, as for every figure."""
    try:
        rows: list[dict[str, Any]] = query.to_pyarrow().to_pylist()
    except SalesStagesError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith("ibis"):
            raise missing_function(table, "the read check", exc) from exc
        raise
    return rows[0]


def _amount(data: Any, amounts: Any) -> Any:
    """The numeric ``amount`` of an ``opened`` or ``updated`` event's data, else null."""
    string = ibis.dtype("string")
    jtype_at = _builtin("json_type", (string, string), string)
    text = _builtin("json_extract_string", (string, string), string)
    valid = _builtin("json_valid", (string,), ibis.dtype("boolean"))
    has = amounts & data.contains('"amount"')
    ok = ibis.ifelse(has, valid(data), False)
    numeric = ibis.ifelse(ok, jtype_at(data, "$.amount"), None).isin(_NUMBERS)
    return ibis.ifelse(numeric, text(data, "$.amount"), None).try_cast("float64")


def _refuse(t: Any, field: str, message: str, condition: Any, name: str | None) -> None:
    """Raise the :class:`DataError` naming the first row (by deal and seq) that breaks a
    rule, and how many do."""
    found = t.filter(condition)
    n = found.count().to_pyarrow().as_py()
    row = found.order_by(["deal_id", "seq"]).select("deal_id", "seq").limit(1)
    first = row.to_pyarrow().to_pylist()[0]
    deal = "a null deal_id" if first["deal_id"] is None else f"deal {first['deal_id']!r}"
    raise DataError(
        f"{deal}, seq {first['seq']}: {message} ({n:,} such row{'s' if n != 1 else ''})",
        path=name,
        field=field,
    )


def prepare_checked(table: Any) -> Any:
    """``table`` checked (:func:`check_events`, once per table) and prepared for the
    pivots (:func:`~salesstages.metrics._ibis._columns.prepare`).

    Raises:
        DataError: A canonical column is missing or has the wrong type, or a row
            holds a value the writers refuse.
    """
    check_events(table)
    return prepare(table)
