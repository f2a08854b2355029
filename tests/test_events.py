"""Event: construction checks and the JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0
from salesstages import Event, NaiveTimeError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
events_st = st.builds(
    Event.create,
    deal_id=st.text(min_size=1),
    seq=st.integers(0, 10**6),
    at=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2100, 1, 1),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
        ),
    ),
    kind=st.sampled_from(["opened", "stage_entered", "substate_entered", "activity", "updated"]),
    stage=st.none() | st.text(min_size=1),
    name=st.none() | st.text(min_size=1),
    data=st.dictionaries(st.text(), json_values, max_size=4),
)


@given(events_st)
def test_round_trip_through_json(event: Event) -> None:
    """to_dict → JSON → from_dict gives an equal event, with the time in UTC."""
    again = Event.from_dict(json.loads(json.dumps(event.to_dict())))
    assert again == event
    assert again.at.utcoffset() == timedelta(0)
    assert Event.from_dict(json.loads(event.to_json())) == event


def test_timestamps_keep_their_offset_in_json() -> None:
    """The JSON form writes the timestamp with its offset."""
    e = Event.create(deal_id="D", seq=0, at=T0, kind="opened")
    assert e.to_dict()["at"] == "2026-01-05T09:00:00+00:00"


def test_data_is_read_only() -> None:
    """Event data cannot be changed, and the event itself is frozen."""
    e = Event.create(deal_id="D", seq=0, at=T0, kind="opened", data={"a": 1})
    with pytest.raises(TypeError):
        e.data["a"] = 2  # type: ignore[index]
    with pytest.raises(AttributeError):
        e.seq = 3  # type: ignore[misc]


def test_events_are_hashable() -> None:
    """Events can go in sets (data does not take part in the hash)."""
    e = Event.create(deal_id="D", seq=0, at=T0, kind="opened", data={"a": [1]})
    assert len({e, e}) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deal_id": ""}, "deal_id must be a non-empty string"),
        ({"seq": -1}, "seq must be an int >= 0"),
        ({"seq": True}, "seq must be an int >= 0"),
        ({"kind": "moved"}, "kind must be one of"),
        ({"stage": 3}, "stage must be a string or None"),
        ({"name": 3}, "name must be a string or None"),
        ({"data": [1]}, "data must be a mapping"),
    ],
)
def test_create_checks_every_field(changes: dict[str, Any], message: str) -> None:
    """Event.create refuses bad fields with a message naming them."""
    kwargs: dict[str, Any] = {"deal_id": "D", "seq": 0, "at": T0, "kind": "opened", **changes}
    with pytest.raises(ValueError, match=message):
        Event.create(**kwargs)


def test_create_refuses_naive_time() -> None:
    """A naive timestamp raises NaiveTimeError."""
    with pytest.raises(NaiveTimeError):
        Event.create(deal_id="D", seq=0, at=datetime(2026, 1, 1), kind="opened")


@pytest.mark.parametrize(
    ("d", "message"),
    [
        ([], "must be a JSON object"),
        ({"deal_id": "D", "seq": 0, "kind": "opened"}, "missing field\\(s\\): at"),
        (
            {"deal_id": "D", "seq": 0, "at": "yesterday", "kind": "opened"},
            "not an ISO 8601 timestamp",
        ),
        ({"deal_id": "D", "seq": 0, "at": "2026-01-01T00:00:00", "kind": "opened"}, "naive"),
    ],
)
def test_from_dict_errors(d: Any, message: str) -> None:
    """from_dict raises ValueError subclasses naming the problem."""
    with pytest.raises(ValueError, match=message):
        Event.from_dict(d)


def test_constructor_normalises_and_refuses_naive_time() -> None:
    """Even the plain constructor stores UTC and refuses naive timestamps."""
    paris = timezone(timedelta(hours=1))
    e = Event(deal_id="D", seq=0, at=datetime(2026, 1, 5, 10, tzinfo=paris), kind="opened")
    assert e.at == T0
    assert e.at.tzinfo is UTC
    with pytest.raises(NaiveTimeError):
        Event(deal_id="D", seq=0, at=datetime(2026, 1, 5), kind="opened")
