"""Fast, checked conversion between :class:`Event` and its JSON / row forms.

Shared by the file stores and by :mod:`salesstages.io`. Readers call
:func:`event_from_obj` with a decoder-produced object; it checks every field
cheaply (type tests, no ``Event.create``) and raises :class:`FieldError` naming
the field, which the caller turns into a :class:`~salesstages.DataError` with
the file and the line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, cast

import attrs

from ._events import _EMPTY, EVENT_KINDS, Event, EventKind

__all__ = [
    "EVENT_SETTERS",
    "FIELDS",
    "FieldError",
    "Interner",
    "dump_data",
    "event_from_obj",
    "event_from_row",
    "event_to_json",
    "event_to_row_json",
    "events_from_lines",
    "load_data",
    "make_event",
    "parse_at",
]

#: The canonical field order of an event, as in :meth:`Event.to_dict`.
FIELDS: Final = ("deal_id", "seq", "at", "kind", "stage", "name", "data")

_fromiso = datetime.fromisoformat
_KINDS: Final[dict[str, EventKind]] = {k: cast(EventKind, k) for k in EVENT_KINDS}
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


if tuple(f.name for f in attrs.fields(Event)) != FIELDS:  # pragma: no cover - a guard
    raise RuntimeError("Event's fields changed: update salesstages._codec.make_event")
_new = object.__new__
#: The slot setters of Event's fields, in :data:`FIELDS` order (for hot loops).
EVENT_SETTERS: Final = tuple(Event.__dict__[name].__set__ for name in FIELDS)
_set_deal_id, _set_seq, _set_at, _set_kind, _set_stage, _set_name, _set_data = EVENT_SETTERS


def make_event(
    deal_id: str,
    seq: int,
    at: datetime,
    kind: EventKind,
    stage: str | None,
    name: str | None,
    data: Mapping[str, Any],
) -> Event:
    """Build an :class:`Event` from checked values, faster than its constructor.

    Sets the slots directly (what the attrs-generated ``__init__`` does, minus
    the keyword-argument handling); readers of a million events feel the
    difference. The caller guarantees the values are valid.
    """
    e: Event = _new(Event)
    _set_deal_id(e, deal_id)
    _set_seq(e, seq)
    _set_at(e, at)
    _set_kind(e, kind)
    _set_stage(e, stage)
    _set_name(e, name)
    _set_data(e, data)
    return e


class FieldError(ValueError):
    """One field of one record is wrong; ``field`` names it (``None``: the whole record)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Interner:
    """Share one string object per distinct value (deal ids repeat on every event)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, str] = {}

    def __call__(self, value: str) -> str:
        """Return the shared copy of ``value``."""
        return self._cache.setdefault(value, value)


def dump_data(event: Event) -> str:
    """``event.data`` as compact JSON; raises ``ValueError`` naming the event when it
    holds something JSON cannot represent."""
    data = event.data
    if not data:
        return "{}"
    try:
        return _dumps(dict(data))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"deal {event.deal_id!r}, seq {event.seq}: data is not JSON ({exc}); "
            "event data may hold only str, int, float, bool, None, lists and dicts"
        ) from exc


def event_to_json(event: Event) -> str:
    """One event as a compact JSON object in canonical field order."""
    return (
        '{"deal_id":'
        + _dumps(event.deal_id)
        + ',"seq":'
        + str(event.seq)
        + ',"at":"'
        + event.at.isoformat()
        + '","kind":"'
        + event.kind
        + '","stage":'
        + _dumps(event.stage)
        + ',"name":'
        + _dumps(event.name)
        + ',"data":'
        + dump_data(event)
        + "}"
    )


def parse_at(value: object) -> datetime:
    """An ISO 8601 timestamp with an offset, as aware UTC; raises :class:`FieldError`."""
    if type(value) is not str:
        raise FieldError("at", f"expected an ISO 8601 string, got {_kind(value)}")
    try:
        at = _fromiso(value)
    except ValueError:
        raise FieldError("at", f"{value!r} is not an ISO 8601 timestamp") from None
    tz = at.tzinfo
    if tz is UTC:
        return at
    if tz is None or at.utcoffset() is None:
        raise FieldError(
            "at", f"{value!r} has no UTC offset; write timestamps like 2024-05-01T09:30:00+00:00"
        )
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise FieldError(
            "at", f"{value!r} is out of range in UTC (dates run from year 1 to 9999)"
        ) from None


def load_data(value: object) -> Mapping[str, Any]:
    """A ``data`` value (an object or ``None``) as a read-only mapping."""
    if value is None:
        return _EMPTY
    if type(value) is not dict:
        raise FieldError("data", f"expected a JSON object, got {_kind(value)}")
    if not value:
        return _EMPTY
    return MappingProxyType(value)


def event_from_obj(obj: object, intern: Interner | None = None) -> Event:
    """Check a decoded JSON object and build the :class:`Event` it describes."""
    if type(obj) is not dict:
        raise FieldError(None, f"expected a JSON object (one event), got {_kind(obj)}")
    get = obj.get
    deal_id = get("deal_id")
    seq = get("seq")
    kind = get("kind")
    stage = get("stage")
    name = get("name")
    if type(deal_id) is not str or not deal_id:
        raise FieldError("deal_id", f"expected a non-empty string, got {_show(obj, 'deal_id')}")
    if type(seq) is not int or seq < 0:
        raise FieldError("seq", f"expected an integer >= 0, got {_show(obj, 'seq')}")
    if "at" not in obj:
        raise FieldError("at", "missing")
    at = parse_at(obj["at"])
    k = _KINDS.get(kind) if type(kind) is str else None
    if k is None:
        raise FieldError(
            "kind", f"expected one of {', '.join(sorted(EVENT_KINDS))}, got {_show(obj, 'kind')}"
        )
    if stage is not None and type(stage) is not str:
        raise FieldError("stage", f"expected a string or null, got {_kind(stage)}")
    if name is not None and type(name) is not str:
        raise FieldError("name", f"expected a string or null, got {_kind(name)}")
    data = load_data(get("data"))
    if intern is not None:
        deal_id = intern(deal_id)
        if stage is not None:
            stage = intern(stage)
        if name is not None:
            name = intern(name)
    return make_event(deal_id, seq, at, k, stage, name, data)


def event_to_row_json(event: Event) -> str:
    """One event as a compact JSON array of its fields in :data:`FIELDS` order."""
    return (
        "["
        + _dumps(event.deal_id)
        + ","
        + str(event.seq)
        + ',"'
        + event.at.isoformat()
        + '","'
        + event.kind
        + '",'
        + _dumps(event.stage)
        + ","
        + _dumps(event.name)
        + ","
        + dump_data(event)
        + "]"
    )


def event_from_row(row: object, intern: Interner) -> Event:
    """Check a decoded JSON array ``[deal_id, seq, at, kind, stage, name, data]`` and
    build its :class:`Event`."""
    if type(row) is not list or len(row) != 7:
        raise FieldError(
            None,
            "expected an event as a JSON array of 7 fields "
            f"[{', '.join(FIELDS)}], got {_kind(row)}"
            + (f" of {len(row)}" if type(row) is list else ""),
        )
    deal_id, seq, at, kind, stage, name, data = row
    if type(deal_id) is not str or not deal_id:
        raise FieldError("deal_id", f"expected a non-empty string, got {repr(deal_id)[:80]}")
    if type(seq) is not int or seq < 0:
        raise FieldError("seq", f"expected an integer >= 0, got {repr(seq)[:80]}")
    if type(at) is str:
        try:
            when = _fromiso(at)
        except ValueError:
            when = parse_at(at)  # raises, naming the problem
        if when.tzinfo is not UTC:
            when = parse_at(at)
    else:
        when = parse_at(at)
    k = _KINDS.get(kind) if type(kind) is str else None
    if k is None:
        raise FieldError(
            "kind", f"expected one of {', '.join(sorted(EVENT_KINDS))}, got {repr(kind)[:80]}"
        )
    if stage is not None:
        if type(stage) is not str:
            raise FieldError("stage", f"expected a string or null, got {_kind(stage)}")
        stage = intern(stage)
    if name is not None:
        if type(name) is not str:
            raise FieldError("name", f"expected a string or null, got {_kind(name)}")
        name = intern(name)
    if type(data) is not dict:
        raise FieldError("data", f"expected a JSON object, got {_kind(data)}")
    return make_event(
        intern(deal_id), seq, when, k, stage, name, MappingProxyType(data) if data else _EMPTY
    )


def _show(obj: dict[str, Any], key: str) -> str:
    return "nothing (the field is missing)" if key not in obj else repr(obj[key])[:80]


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def events_from_lines(objs: list[Any], intern: Interner) -> list[Event]:
    """Events from decoded store lines (an event array, or a batch: an array of them).

    The hot loop of reading a JSON Lines store: the checks of
    :func:`event_from_row` inlined, so a valid row costs no Python call; any
    row that fails them goes through :func:`event_from_row`, which raises
    :class:`FieldError` naming the field (or converts a non-UTC offset).
    """
    out: list[Event] = []
    append = out.append
    cache = intern._cache.setdefault
    kinds = _KINDS
    fromiso = _fromiso
    new = _new
    utc = UTC
    empty = _EMPTY
    proxy = MappingProxyType
    sd, ss, sa, sk, sst, sn, sdata = (
        _set_deal_id,
        _set_seq,
        _set_at,
        _set_kind,
        _set_stage,
        _set_name,
        _set_data,
    )
    for obj in objs:
        rows = obj if type(obj) is list and obj and type(obj[0]) is list else (obj,)
        for row in rows:
            if type(row) is list and len(row) == 7:
                d, s, a, k, st, n, data = row
                if (
                    type(d) is str
                    and d
                    and type(s) is int
                    and s >= 0
                    and type(a) is str
                    and type(k) is str
                    and (st is None or type(st) is str)
                    and (n is None or type(n) is str)
                    and type(data) is dict
                ):
                    kind = kinds.get(k)
                    try:
                        at = fromiso(a)
                    except ValueError:
                        at = None
                    if kind is not None and at is not None and at.tzinfo is utc:
                        e = new(Event)
                        sd(e, cache(d, d))
                        ss(e, s)
                        sa(e, at)
                        sk(e, kind)
                        sst(e, None if st is None else cache(st, st))
                        sn(e, None if n is None else cache(n, n))
                        sdata(e, proxy(data) if data else empty)
                        append(e)
                        continue
            append(event_from_row(row, intern))
    return out
