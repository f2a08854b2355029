"""Work bounded by the input (issue 23, item 2): stage and sub-state limits in Python,
a pipeline table linear in its sub-states, column checks in O(n + m), auto-advance
that reads only the activities its guard is about, and an activity dated before its
stage entry named by ``check``."""

from __future__ import annotations

import io
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesstages import DataError, Pipeline, PipelineError, Stage, guards
from salesstages._events import Event
from salesstages.io import read_stage_table
from salesstages.presets import classic_b2b

T0 = datetime(2024, 1, 1, tzinfo=UTC)
CLOSED = [Stage("won", outcome="won"), Stage("lost", outcome="lost")]


def test_more_than_500_stages_are_refused_quickly() -> None:
    """10,000 stages built in Python: a PipelineError at once (it took 9.4 s and 5.5 GB)."""
    started = time.perf_counter()
    with pytest.raises(PipelineError, match="more than 500 stages, the limit") as info:
        Pipeline("big", [*(Stage(f"s{i}") for i in range(10_000)), *CLOSED])
    assert time.perf_counter() - started < 1.0
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("count", [101, 5_000])
def test_more_than_100_substates_are_refused(count: int) -> None:
    """A stage with more than 100 sub-states is refused when it is built."""
    with pytest.raises(PipelineError, match=r"stage 's' has more than 100 sub-states"):
        Stage("s", substates=[f"x{i}" for i in range(count)])


def test_the_largest_pipeline_allowed_is_small() -> None:
    """498 open stages of 100 sub-states each, every move allowed: well under 100 MB
    (a set per sub-state took 440 MB here, 580 MB for one stage of 5,000)."""
    stages = [
        Stage(f"s{i}", substates=[f"x{j}" for j in range(100)], substate_regress=True)
        for i in range(498)
    ]
    tracemalloc.start()
    try:
        pipeline = Pipeline("big", [*stages, *CLOSED], allow_regress=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100_000_000, peak
    assert pipeline.substate_targets("s7", "x98") == tuple(f"x{j}" for j in range(100) if j != 98)
    assert pipeline.substate_targets("s7", "nope") == ()


@given(
    count=st.integers(1, 8),
    regress=st.booleans(),
    current=st.none() | st.integers(0, 7),
)
def test_substate_targets_follow_the_order(count: int, regress: bool, current: int | None) -> None:
    """From no sub-state every one may be entered; from sub-state i, the later ones
    (every other one when going back is allowed)."""
    names = [f"x{j}" for j in range(count)]
    pipeline = Pipeline("p", [Stage("s", substates=names, substate_regress=regress), *CLOSED])
    at = None if current is None or current >= count else current
    expected = [n for j, n in enumerate(names) if at is None or (j != at if regress else j > at)]
    assert pipeline.substate_targets("s", None if at is None else names[at]) == tuple(expected)


def test_require_columns_is_linear() -> None:
    """40,000 attribute columns over 3 rows import in well under a second (it took 16 s)."""
    columns = [f"c{i}" for i in range(40_000)]
    header = "id,created," + ",".join(columns)
    row = "A-{n},2026-01-05," + ",".join("v" for _ in columns)
    text = "\n".join([header, *(row.format(n=n) for n in range(3))]) + "\n"
    started = time.perf_counter()
    result = read_stage_table(
        io.StringIO(text),
        classic_b2b(),
        id_column="id",
        opened_column="created",
        stage_columns={},
        attribute_columns=columns,
    )
    assert time.perf_counter() - started < 3.0
    assert result.deals == 3


def test_a_missing_column_among_many_is_named_briefly() -> None:
    """The message names the missing column and shows the first 50 of the header."""
    header = ",".join(f"c{i}" for i in range(200))
    with pytest.raises(DataError, match=r"no column 'id' \(it has: c0, c1, .* … 150 more\)"):
        read_stage_table(
            io.StringIO(header + "\n"),
            classic_b2b(),
            id_column="id",
            opened_column="c0",
            stage_columns={},
        )


def test_unrelated_activities_cost_nothing_to_auto_advance() -> None:
    """10,000 documents other than the one the guard wants: about a second (it took 55 s),
    and the right document still moves the deal."""
    pipeline = Pipeline(
        "p",
        [Stage("a"), Stage("b", entry=guards.document_sent("proposal")), *CLOSED],
        auto_advance=True,
    )
    deal = pipeline.open_deal("D", at=T0)
    started = time.perf_counter()
    for i in range(10_000):
        deal.record("document_sent", document="other", at=T0 + timedelta(seconds=i))
    assert time.perf_counter() - started < 10.0
    assert deal.stage == "a"
    deal.record("document_sent", document="proposal", at=T0 + timedelta(days=1))
    assert deal.stage == "b"


@pytest.mark.parametrize("value", [1, True, 1.0])
def test_keyed_lookup_matches_like_equality(value: object) -> None:
    """The index finds what `==` finds: document 1 matches 1, True and 1.0 alike, and an
    unhashable value never matches."""
    pipeline = Pipeline(
        "p", [Stage("a"), Stage("b", entry=guards.activity("sent", document=1)), *CLOSED]
    )
    deal = pipeline.open_deal("D", at=T0)
    deal.record("sent", document=[1], at=T0)
    deal.record("sent", document={"x": 1}, at=T0)
    assert not deal.can_move("b").ok
    deal.record("sent", document=value, at=T0)
    assert deal.can_move("b").ok


def test_meeting_guard_reads_only_its_meeting() -> None:
    """Bookings of other meetings do not count, and the index keeps up with new events."""
    pipeline = Pipeline(
        "p", [Stage("a"), Stage("b", entry=guards.meeting_accepted("demo")), *CLOSED]
    )
    deal = pipeline.open_deal("D", at=T0)
    for party in ("prospect", "rep"):
        deal.record("meeting_booked", meeting="intro", at=T0)
        deal.record("meeting_accepted", meeting="intro", party=party, at=T0)
    assert not deal.can_move("b").ok  # builds the index
    deal.record("meeting_booked", meeting="demo", at=T0)
    deal.record("meeting_accepted", meeting="demo", party="prospect", at=T0)
    assert "not been accepted by rep" in deal.can_move("b").reasons[0]
    deal.record("meeting_accepted", meeting="demo", party="rep", at=T0)
    assert deal.can_move("b").ok


def test_check_names_an_activity_dated_before_its_stage_entry() -> None:
    """An activity earlier than the deal's entry into its stage is a `time` problem
    that says so (a stay there would be negative)."""
    events = [
        Event(deal_id="D1", seq=0, at=T0 + timedelta(days=1), kind="opened"),
        Event(
            deal_id="D1", seq=1, at=T0 + timedelta(days=1), kind="stage_entered",
            stage="lead_generated",
        ),
        Event(deal_id="D1", seq=2, at=T0, kind="activity", stage="lead_generated", name="call"),
    ]  # fmt: skip
    problems = classic_b2b().check(events)
    assert [(p.seq, p.rule) for p in problems] == [(2, "time")]
    assert "is dated before the deal entered 'lead_generated'" in problems[0].message
