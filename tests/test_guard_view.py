"""The guard view of a live deal: no copy of the log per call, activities indexed by name
(issue 12, item 10): ``record`` with ``auto_advance`` is linear."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0
from salesstages import DealView, Pipeline, Stage
from salesstages.guards import (
    GuardLike,
    activity,
    all_of,
    any_of,
    document_sent,
    field,
    meeting_accepted,
    not_,
)

GUARDS: dict[str, GuardLike] = {
    "document_sent": document_sent("proposal"),
    "meeting_accepted": meeting_accepted("demo"),
    "activity": activity("call", outcome="ok"),
    "combined": all_of(field("budget"), any_of(document_sent("proposal"), not_(activity("x")))),
}


def guarded(entry: GuardLike) -> Pipeline:
    """new → proposal (``entry``) → won / lost, advancing by itself."""
    return Pipeline(
        "guarded",
        [
            Stage("new"),
            Stage("proposal", entry=entry),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        auto_advance=True,
    )


class _CountingList(list[Any]):
    """A list that counts how often it is iterated from the start."""

    scans = 0

    def __iter__(self) -> Any:
        _CountingList.scans += 1
        return super().__iter__()


@pytest.mark.parametrize("name", sorted(GUARDS))
def test_guards_do_not_scan_the_log(name: str) -> None:
    """Once the index is built, asking a built-in guard again never walks the whole log."""
    deal = guarded(GUARDS[name]).open_deal("D1", at=T0)
    for i in range(50):
        deal.record("note", at=T0 + timedelta(seconds=i))
    deal._events = _CountingList(deal._events)
    _CountingList.scans = 0
    for i in range(50, 100):
        deal.record("note", at=T0 + timedelta(seconds=i))
    assert _CountingList.scans == 0
    assert deal.stage == "new"


def test_view_is_a_snapshot() -> None:
    """A view keeps the log as it was when taken, though it shares the deal's list."""
    deal = guarded(document_sent("proposal")).open_deal("D1", at=T0)
    deal.record("call", at=T0)
    view = deal.view()
    deal.record("call", at=T0)
    deal.record("document_sent", at=T0, document="proposal")
    assert len(view.events) == 3
    assert view.events == deal.events[:3]
    assert [e.seq for e in view.activities("call")] == [2]
    assert list(view.activities("document_sent")) == []
    assert not document_sent("proposal")(view).ok
    assert deal.stage == "proposal"
    assert view.events[-1] == deal.events[2]
    with pytest.raises(IndexError):
        view.events[3]


_ACTIVITY = st.tuples(
    st.sampled_from(
        [
            "meeting_booked",
            "meeting_accepted",
            "meeting_declined",
            "meeting_cancelled",
            "document_sent",
            "call",
            "note",
        ]
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "meeting": st.sampled_from(["demo", "other"]),
            "party": st.sampled_from(["prospect", "rep"]),
            "document": st.sampled_from(["proposal", "nda"]),
            "outcome": st.sampled_from(["ok", "no"]),
        },
    ),
)


@given(steps=st.lists(_ACTIVITY, max_size=25), budget=st.booleans())
def test_indexed_view_agrees_with_a_plain_view(
    steps: list[tuple[str, dict[str, Any]]], budget: bool
) -> None:
    """Every built-in guard gives the same verdict on the deal's indexed view as on a view
    built by hand from the same events, after every activity."""
    pipeline = Pipeline(
        "plain", [Stage("new"), Stage("won", outcome="won"), Stage("lost", outcome="lost")]
    )
    deal = pipeline.open_deal("D1", at=T0, **({"budget": 10} if budget else {}))
    for name, data in steps:
        deal.record(name, at=T0, **data)
        indexed = deal.view()
        plain = DealView(
            id=deal.id,
            stage=deal.stage,
            substate=deal.substate,
            attributes=dict(deal.attributes),
            events=deal.events,
        )
        for g in GUARDS.values():
            assert g(indexed) == g(plain)
        for n in ("call", "meeting_booked", "missing"):
            assert list(indexed.activities(n)) == list(plain.activities(n))
        assert list(indexed.activities()) == list(plain.activities())


@pytest.mark.slow
@pytest.mark.parametrize("name", ["document_sent", "meeting_accepted"])
def test_forty_thousand_activities_on_one_deal(name: str) -> None:
    """40,000 records with auto_advance and a guarded next stage take a few seconds, not a
    minute (about 1.5 s measured; 60 s before the index). The bound leaves room for a busy
    machine."""
    deal = guarded(GUARDS[name]).open_deal("D1", at=T0)
    start = time.perf_counter()
    for i in range(40_000):
        deal.record("call", at=T0 + timedelta(seconds=i))
    elapsed = time.perf_counter() - start
    assert len(deal.events) == 40_002
    assert elapsed < 8.0
