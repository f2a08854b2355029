"""The immutable :class:`Event` record and its JSON form."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias, cast

import attrs

from ._errors import DataError, DataTypeError
from ._time import parse_iso, to_utc
from ._values import json_data

__all__ = ["EVENT_KINDS", "Event", "EventKind", "freeze_data", "json_data"]

EventKind: TypeAlias = Literal["opened", "stage_entered", "substate_entered", "activity", "updated"]
EVENT_KINDS: Final[frozenset[str]] = frozenset(
    ("opened", "stage_entered", "substate_entered", "activity", "updated")
)
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})


def _utc(value: datetime) -> datetime:
    """attrs converter for ``Event.at``: aware UTC in, same object out (fast path)."""
    if type(value) is datetime and value.tzinfo is UTC:
        return value
    return to_utc(value, "at")


def freeze_data(data: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return a read-only copy of ``data`` (shared empty mapping when empty).

    A ``MappingProxyType`` is taken as already frozen (the library's own).
    """
    if not data:
        return _EMPTY
    if isinstance(data, MappingProxyType):
        return data
    return MappingProxyType(dict(data))


def _refuse_fields(deal_id: Any, seq: Any, kind: Any, stage: Any, name: Any) -> None:
    if not isinstance(deal_id, str) or not deal_id:
        raise DataError(f"deal_id must be a non-empty string, got {deal_id!r}", field="deal_id")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise DataError(f"seq must be an int >= 0, got {seq!r}", field="seq")
    if kind not in EVENT_KINDS:
        raise DataError(f"kind must be one of {sorted(EVENT_KINDS)}, got {kind!r}", field="kind")
    if stage is not None and not isinstance(stage, str):
        raise DataError(f"stage must be a string or None, got {stage!r}", field="stage")
    if name is not None and not isinstance(name, str):
        raise DataError(f"name must be a string or None, got {name!r}", field="name")


@attrs.frozen(kw_only=True)
class Event:
    """One immutable entry of a deal's append-only log.

    Attributes:
        deal_id: The deal the event belongs to.
        seq: 0-based position within the deal's log.
        at: When it happened, an aware UTC datetime.
        kind: ``"opened"``, ``"stage_entered"``, ``"substate_entered"``,
            ``"activity"`` or ``"updated"``.
        stage: The stage entered (``stage_entered``), else the stage the deal
            is in; ``None`` on ``opened``.
        name: The activity or sub-state name, else ``None``.
        data: Read-only mapping of JSON values: initial attributes on
            ``opened``, changed attributes on ``updated``, the activity's data
            on ``activity``, ``{"reason": ...}`` when entering a lost stage.
    """

    deal_id: str
    seq: int
    at: datetime = attrs.field(converter=_utc)
    kind: EventKind
    stage: str | None = None
    name: str | None = None
    data: Mapping[str, Any] = attrs.field(default=_EMPTY, hash=False, converter=freeze_data)

    def __attrs_post_init__(self) -> None:
        # One cheap pass over the fields (stores reading their own rows bypass it).
        if (
            self.kind not in EVENT_KINDS
            or type(self.seq) is not int
            or self.seq < 0
            or type(self.deal_id) is not str
            or not self.deal_id
            or (self.stage is not None and type(self.stage) is not str)
            or (self.name is not None and type(self.name) is not str)
        ):
            _refuse_fields(self.deal_id, self.seq, self.kind, self.stage, self.name)

    @classmethod
    def create(
        cls,
        *,
        deal_id: str,
        seq: int,
        at: datetime,
        kind: str,
        stage: str | None = None,
        name: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Event:
        """Build an event, checking every field (the constructor trusts its input)."""
        _refuse_fields(deal_id, seq, kind, stage, name)
        if data is not None and not isinstance(data, Mapping):
            raise DataTypeError(f"data must be a mapping, got {type(data).__name__}", field="data")
        if data:
            data = json_data(data, "data")
        return cls(
            deal_id=deal_id,
            seq=seq,
            at=to_utc(at, "at"),
            kind=cast(EventKind, kind),
            stage=stage,
            name=name,
            data=freeze_data(data),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (``at`` as ISO 8601 with its offset)."""
        return {
            "deal_id": self.deal_id,
            "seq": self.seq,
            "at": self.at.isoformat(),
            "kind": self.kind,
            "stage": self.stage,
            "name": self.name,
            "data": dict(self.data),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Event:
        """Rebuild an event from :meth:`to_dict`'s form.

        Raises :class:`DataError` (a ``ValueError``) naming the field on bad input.
        """
        if not isinstance(d, Mapping):
            raise DataError(f"an event must be a JSON object, got {type(d).__name__}")
        missing = [k for k in ("deal_id", "seq", "at", "kind") if k not in d]
        if missing:
            raise DataError(f"event is missing field(s): {', '.join(missing)}", field=missing[0])
        at = d["at"]
        if isinstance(at, str):
            at = parse_iso(at)
        return cls.create(
            deal_id=d["deal_id"],
            seq=d["seq"],
            at=at,
            kind=d["kind"],
            stage=d.get("stage"),
            name=d.get("name"),
            data=d.get("data") or None,
        )

    def to_json(self) -> str:
        """Return the event as one compact JSON line."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)
