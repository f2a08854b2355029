"""One check of what a reader hands over: the values ``Event`` and the deal methods
refuse on write are refused on read, by every reader.

:func:`event_problem` is called on each event the JSONL, CSV and Parquet readers
decode (the SQL form of the same rules, for the Ibis engine, is in
:mod:`salesstages.metrics._ibis._columns`). It finds, and names the field of:

- text no encoding of Unicode holds: a lone surrogate in ``deal_id``,
  ``stage``, ``name`` or anywhere in ``data`` (keys included). A NUL character
  is read: the memory, SQLite and JSON Lines stores keep it, and only
  PostgreSQL refuses it on write (CONTRACT section 12), so a log may hold it;
- a float in ``data`` that is not finite (NaN, ±inf: a JSON ``NaN`` token or
  ``1e999``);
- lists and objects in ``data`` nested deeper than 64 levels;
- a numeric ``amount`` (on ``opened`` and ``updated`` events) below 0, or an
  integer beyond 2⁶³ (a string or a boolean is read: ``data_quality`` names it);
- a timestamp after the year 9998 (room for a day's arithmetic on top).

The common case (flat data of plain values) costs one pass over the values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

from .._events import Event
from .._values import AMOUNT, MAX_DEPTH

__all__ = ["MAX_INT", "MAX_YEAR", "event_problem", "text_problem"]

#: The largest magnitude an integer amount may have (a signed 64-bit integer's).
MAX_INT: Final = 1 << 63
#: The last year an event's time may fall in: every date computed from it (a day
#: later, the end of its quarter) must still be a date.
MAX_YEAR: Final = 9998
_AMOUNT_KINDS: Final = frozenset(("opened", "updated"))


def text_problem(text: str) -> str | None:
    """What makes ``text`` unreadable as Unicode (a lone surrogate), or None."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"a lone surrogate ({text[exc.start]!r} at index {exc.start}), which is not Unicode"
    return None


def _flat_plain(data: Mapping[str, Any]) -> bool:
    """The common case, quickly: flat data of ASCII text and finite numbers."""
    isfinite = math.isfinite
    for k, v in data.items():
        if not k.isascii():
            return False
        t = type(v)
        if t is str:
            if not v.isascii():
                return False
        elif t is float:
            if not isfinite(v):
                return False
        elif t is not int and t is not bool and v is not None:
            return False  # nested: walk it
    return True


def _walk(data: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first bad value in ``data`` as (where, why); iterative, so depth costs no stack."""
    stack: list[tuple[Any, str, int]] = [(data, "data", 0)]
    while stack:
        value, path, depth = stack.pop()
        t = type(value)
        if t is str:
            why = text_problem(value)
            if why is not None:
                return path, f"holds {why}"
        elif t is float:
            if not math.isfinite(value):
                return path, f"is {value!r}; JSON holds only finite numbers"
        elif t is dict or t is list or isinstance(value, Mapping):
            if depth >= MAX_DEPTH + 1:
                shown = path if len(path) <= 40 else f"{path[:37]}..."
                return shown, f"nests lists and objects deeper than {MAX_DEPTH} levels; flatten it"
            if t is list:
                for i, item in enumerate(value):
                    stack.append((item, f"{path}[{i}]", depth + 1))
            else:
                for k, item in value.items():
                    why = text_problem(k) if type(k) is str else "a key that is not text"
                    if why is not None:
                        return f"{path} key {k!r}", f"holds {why}"
                    stack.append((item, f"{path}[{k!r}]", depth + 1))
    return None


def _amount_problem(value: object) -> str | None:
    """What is wrong with a numeric ``amount``: negative, or an integer beyond 2**63.
    Any other type (a string, a boolean) is read: ``data_quality`` counts such a deal
    as one without an amount, as the deal methods would have refused it."""
    if type(value) is int:
        if value < 0:
            return f"must be >= 0, got {value}"
        if value >= MAX_INT:
            return f"is an integer of {len(str(value)):,} digits, beyond 2**63; not an amount"
        return None
    if type(value) is float and value < 0:  # NaN and inf: found by _walk
        return f"must be >= 0, got {value!r}"
    return None


def event_problem(event: Event) -> tuple[str, str] | None:
    """The first value of ``event`` its writer would have refused, as (field, message),
    or None when there is none."""
    for field, value in (("deal_id", event.deal_id), ("stage", event.stage), ("name", event.name)):
        if value is not None and not value.isascii():
            why = text_problem(value)
            if why is not None:
                return field, f"holds {why}"
    if event.at.year > MAX_YEAR:
        return "at", (
            f"{event.at.isoformat()} is after the year {MAX_YEAR}, the last one whose dates "
            "every figure can still compute"
        )
    data = event.data
    if data:
        if not _flat_plain(data):
            found = _walk(data)
            if found is not None:
                return "data", f"{found[0]} {found[1]}"
        if event.kind in _AMOUNT_KINDS and AMOUNT in data:
            why = _amount_problem(data[AMOUNT])
            if why is not None:
                return AMOUNT, f"the amount {why}"
    return None
