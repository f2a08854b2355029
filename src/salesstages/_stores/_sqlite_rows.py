"""The rows of a :class:`~salesstages.SqliteStore` as events: the fast decoder, and
when a row does not decode, which row and which field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from .._events import _EMPTY, EVENT_KINDS, Event
from .._time import to_utc
from ._codec import _KINDS, EVENT_SETTERS

__all__ = ["RowError", "Shared", "to_events"]


class RowError(ValueError):
    """One field of one row does not decode; names the row and the field."""

    def __init__(self, deal_id: object, seq: object, field: str, exc: BaseException) -> None:
        super().__init__(f"row deal_id={deal_id!r}, seq={seq!r}: field {field!r}: {exc}")
        self.field = field


def _locate(rows: list[Any]) -> RowError | None:
    """Find the first row whose fields do not decode (the slow path after a failure)."""
    for d, s, a, k, st, n, data in rows:
        problem: tuple[str, BaseException] | None = None
        if not isinstance(d, str) or not d:
            problem = ("deal_id", ValueError("not a non-empty string"))
        elif not isinstance(s, int) or s < 0:
            problem = ("seq", ValueError("not an int >= 0"))
        elif k not in EVENT_KINDS:
            problem = ("kind", ValueError(f"unknown kind {k!r}"))
        elif not all(v is None or isinstance(v, str) for v in (st, n)):
            problem = (
                "stage" if not (st is None or isinstance(st, str)) else "name",
                ValueError("not a string"),
            )
        else:
            try:
                to_utc(datetime.fromisoformat(a))
            except (TypeError, ValueError) as exc:
                problem = ("at", exc)
            else:
                try:
                    json.loads(data)
                except (TypeError, ValueError) as exc:
                    problem = ("data", exc)
        if problem is not None:
            return RowError(d, s, *problem)
    return None


class Shared:
    """What one read shares between its events: one string object per distinct
    deal id, stage and activity name, and one read-only mapping per distinct
    flat ``data`` text (``{"meeting": "discovery"}`` repeats on thousands of
    activities)."""

    __slots__ = ("data", "strings")

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.data: dict[str, Any] = {}


#: ``data`` texts longer than this, or beyond this many, are decoded each time.
_SHARE_DATA_LEN: Final = 256
_SHARE_DATA_MAX: Final = 100_000
_SCALARS: Final = (str, int, float, bool, type(None))


def to_events(rows: list[Any], shared: Shared | None = None) -> list[Event]:
    """Rows as events: the database only holds what :meth:`SqliteStore.append` checked.

    On a row that does not decode, raises ``ValueError`` naming the row and the
    field (the store turns it into :class:`DataError` naming the file too).
    """
    try:
        return _decode(rows, shared or Shared())
    except (ValueError, TypeError, KeyError) as exc:
        located = _locate(rows)
        raise (located or ValueError(f"a row does not decode: {exc!r}")) from exc


def _decode(rows: list[Any], shared: Shared) -> list[Event]:
    """The hot loop of reading: :func:`~._codec.make_event` inlined, strings shared.

    Consecutive rows often repeat the deal id and the timestamp (a deal's rows
    come together; ``opened`` and ``stage_entered`` share their moment), so
    those are compared with the previous row's before any lookup.
    """
    fromiso = datetime.fromisoformat
    utc = UTC
    loads = json.loads
    proxy = MappingProxyType
    empty = _EMPTY
    new = object.__new__
    kinds = _KINDS
    sd, ss, sa, sk, sst, sn, sdata = EVENT_SETTERS
    strings = shared.strings
    share = strings.setdefault
    datas = shared.data
    get_data = datas.get
    scalars = _SCALARS
    out: list[Event] = []
    append = out.append
    prev_d = prev_a = ""
    deal_id: str = ""
    at: datetime | None = None
    for d, s, a, k, st, n, data in rows:
        if d != prev_d:
            deal_id = prev_d = share(d, d)
        if a != prev_a:
            at = fromiso(a)
            if at.tzinfo is not utc:  # an offset to normalise, or none: refused
                if at.tzinfo is None or at.utcoffset() is None:
                    raise ValueError(f"{a!r} has no UTC offset")
                at = at.astimezone(utc)
            prev_a = a
        e = new(Event)
        sd(e, deal_id)
        ss(e, s)
        sa(e, at)
        sk(e, kinds[k])
        sst(e, None if st is None else share(st, st))
        sn(e, None if n is None else share(n, n))
        if data == "{}":
            sdata(e, empty)
        else:
            m = get_data(data)
            if m is None:
                obj = loads(data)
                m = proxy(obj)
                if (
                    len(data) <= _SHARE_DATA_LEN
                    and len(datas) < _SHARE_DATA_MAX
                    and all(type(v) in scalars for v in obj.values())
                ):
                    datas[data] = m  # flat, so nothing in it can change: safe to share
            sdata(e, m)
        append(e)
    return out
