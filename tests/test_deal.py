"""Live deals: opening, moves, refusals, sub-states, closing, reopening, time and stores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0, day, plain_pipeline, small_pipeline
from salesstages import (
    ConcurrencyError,
    Deal,
    MemoryStore,
    NaiveTimeError,
    OutOfOrderError,
    Pipeline,
    PipelineError,
    TransitionRefused,
    UnknownStageError,
)
from salesstages._machine import live_machine


def to_discovery(deal: Deal, at: datetime) -> None:
    """Book and accept the discovery meeting, then move."""
    deal.record("meeting_booked", at=at, meeting="discovery")
    deal.record("meeting_accepted", at=at, meeting="discovery", party="prospect")
    deal.record("meeting_accepted", at=at, meeting="discovery", party="rep")
    deal.move("discovery", at=at)


class TestOpen:
    """Pipeline.open_deal."""

    def test_opened_then_stage_entered(self, pipeline: Pipeline) -> None:
        """open_deal appends opened (with the attributes) and stage_entered for the first stage."""
        deal = pipeline.open_deal("D1", at=T0, amount=1000, owner="ana")
        opened, entered = deal.events
        assert (opened.kind, opened.seq, opened.stage, dict(opened.data)) == (
            "opened",
            0,
            None,
            {"amount": 1000, "owner": "ana"},
        )
        assert (entered.kind, entered.seq, entered.stage) == ("stage_entered", 1, "lead")
        assert (deal.stage, deal.substate, deal.outcome, deal.is_open) == (
            "lead",
            None,
            "open",
            True,
        )
        assert dict(deal.attributes) == {"amount": 1000, "owner": "ana"}
        assert isinstance(deal.store, MemoryStore)
        assert list(deal.store.events("D1")) == list(deal.events)

    def test_open_in_given_stage(self, pipeline: Pipeline) -> None:
        """stage= opens in that open stage without evaluating its criteria."""
        deal = pipeline.open_deal("D1", at=T0, stage="proposal")
        assert deal.stage == "proposal"

    def test_open_in_closed_stage_is_refused(self, pipeline: Pipeline) -> None:
        """A deal cannot open in a closed stage; nothing is stored."""
        store = MemoryStore()
        with pytest.raises(TransitionRefused, match="it is a closed stage"):
            pipeline.open_deal("D1", at=T0, stage="closed_won", store=store)
        assert store.deal_ids() == []

    def test_open_in_unknown_stage(self, pipeline: Pipeline) -> None:
        """An unknown starting stage raises UnknownStageError."""
        with pytest.raises(UnknownStageError):
            pipeline.open_deal("D1", at=T0, stage="nope")

    def test_open_twice_in_one_store(self, pipeline: Pipeline) -> None:
        """Opening an existing deal id in the same store is a concurrency conflict."""
        store = MemoryStore()
        pipeline.open_deal("D1", at=T0, store=store)
        with pytest.raises(
            ConcurrencyError,
            match=r"deal .D1. already exists in this store \(seq 0 is already taken\); load it with pipeline\.load_deal",
        ):
            pipeline.open_deal("D1", at=T0, store=store)

    def test_naive_time_refused(self, pipeline: Pipeline) -> None:
        """A naive timestamp raises NaiveTimeError naming the fix."""
        with pytest.raises(NaiveTimeError, match="naive datetime; pass an aware one"):
            pipeline.open_deal("D1", at=datetime(2026, 1, 1))

    def test_non_datetime_refused(self, pipeline: Pipeline) -> None:
        """A string timestamp is a TypeError."""
        with pytest.raises(TypeError, match="timezone-aware datetime"):
            pipeline.open_deal("D1", at="2026-01-01")  # type: ignore[arg-type]

    def test_bad_deal_id(self, pipeline: Pipeline) -> None:
        """Deal ids are non-empty strings."""
        with pytest.raises(ValueError, match="deal_id"):
            pipeline.open_deal("", at=T0)

    def test_times_normalised_to_utc(self, pipeline: Pipeline) -> None:
        """Timestamps in other zones are stored in UTC."""
        paris = timezone(timedelta(hours=1))
        deal = pipeline.open_deal("D1", at=datetime(2026, 1, 5, 10, 0, tzinfo=paris))
        assert deal.events[0].at == T0
        assert deal.events[0].at.utcoffset() == timedelta(0)


class TestMove:
    """move, can_move and refusals."""

    def test_guarded_move_refused_with_every_reason(self, pipeline: Pipeline) -> None:
        """can_move lists the graph's and the criteria's reasons; move refuses and records nothing."""
        deal = pipeline.open_deal("D1", at=T0)
        verdict = deal.can_move("discovery")
        assert verdict.reasons == ("meeting 'discovery' has not been booked",)
        with pytest.raises(TransitionRefused) as info:
            deal.move("discovery", at=day(1))
        assert str(info.value) == (
            "Cannot move deal 'D1' from 'lead' to 'discovery': not met: meeting 'discovery' "
            "booked and accepted by prospect and rep. Allowed next: closed_won, closed_lost."
        )
        assert info.value.verdict == verdict
        assert len(deal.events) == 2
        assert deal.stage == "lead"

    def test_graph_and_guard_reasons_together(self) -> None:
        """A move the graph forbids and whose criteria fail lists both reasons."""
        p = small_pipeline(allow_skip=False)
        deal = p.open_deal("D1", at=T0)
        verdict = deal.can_move("proposal")
        assert verdict.reasons == (
            "the pipeline does not allow moving from 'lead' to 'proposal'",
            "document 'proposal' has not been sent",
        )

    def test_move_after_criteria_hold(self, pipeline: Pipeline) -> None:
        """Once the meeting is booked and accepted by both, the move happens."""
        deal = pipeline.open_deal("D1", at=T0)
        to_discovery(deal, day(1))
        assert deal.stage == "discovery"
        assert deal.events[-1].kind == "stage_entered"
        assert deal.events[-1].seq == 5

    def test_move_to_unknown_stage(self, pipeline: Pipeline) -> None:
        """Unknown target stages raise UnknownStageError and record nothing."""
        deal = pipeline.open_deal("D1", at=T0)
        with pytest.raises(UnknownStageError):
            deal.move("nope", at=day(1))
        with pytest.raises(UnknownStageError):
            deal.can_move("nope")
        assert len(deal.events) == 2

    def test_move_to_current_stage(self, plain: Pipeline) -> None:
        """Moving to the stage the deal is in is refused."""
        deal = plain.open_deal("D1", at=T0)
        assert deal.can_move("a").reasons == ("the deal is already in 'a'",)

    def test_regression_needs_allow_regress(self) -> None:
        """Moving back is refused unless allow_regress."""
        deal = plain_pipeline().open_deal("D1", at=T0)
        deal.move("b", at=day(1))
        assert not deal.can_move("a")
        deal2 = plain_pipeline(allow_regress=True).open_deal("D2", at=T0)
        deal2.move("b", at=day(1))
        deal2.move("a", at=day(2))
        assert deal2.stage == "a"

    def test_out_of_order_records_nothing(self, plain: Pipeline) -> None:
        """A call earlier than the last event raises OutOfOrderError and records nothing."""
        deal = plain.open_deal("D1", at=day(5))
        with pytest.raises(OutOfOrderError, match="earlier than its last event"):
            deal.move("b", at=day(4))
        with pytest.raises(OutOfOrderError):
            deal.record("call", at=day(4))
        assert len(deal.events) == 2

    def test_equal_timestamps_are_fine(self, plain: Pipeline) -> None:
        """Several hops at one moment are allowed."""
        deal = plain.open_deal("D1", at=T0)
        deal.move("b", at=T0)
        deal.move("c", at=T0)
        assert deal.stage == "c"


class TestSubstates:
    """enter_substate."""

    def test_enter_substates(self, pipeline: Pipeline) -> None:
        """Sub-states of the current stage are entered and leaving the stage clears them."""
        deal = pipeline.open_deal("D1", at=T0, stage="proposal")
        event = deal.enter_substate("review", at=day(1))
        assert (event.kind, event.stage, event.name) == ("substate_entered", "proposal", "review")
        assert (deal.stage, deal.substate, deal.state) == ("proposal", "review", "proposal/review")
        deal.enter_substate("negotiation", at=day(2))
        assert deal.substate == "negotiation"
        deal.win(at=day(3))
        assert deal.substate is None

    def test_substate_of_another_stage_refused(self, pipeline: Pipeline) -> None:
        """A sub-state that the current stage does not have is refused, listing its sub-states."""
        deal = pipeline.open_deal("D1", at=T0, stage="proposal")
        with pytest.raises(
            TransitionRefused, match="has no sub-state 'demo'; its sub-states: delivered, review"
        ):
            deal.enter_substate("demo", at=day(1))
        deal2 = pipeline.open_deal("D2", at=T0)
        with pytest.raises(TransitionRefused, match="stage 'lead' has no sub-states"):
            deal2.enter_substate("review", at=day(1))
        assert len(deal.events) == 2


class TestClosing:
    """win, lose, reopen, and nothing leaving a won stage."""

    def test_lose_keeps_reason_and_reopen_returns(self, pipeline: Pipeline) -> None:
        """lose keeps the reason; reopen goes back to the stage the deal was lost from."""
        deal = pipeline.open_deal("D1", at=T0)
        to_discovery(deal, day(1))
        event = deal.lose(at=day(2), reason="no budget")
        assert (event.stage, dict(event.data)) == ("closed_lost", {"reason": "no budget"})
        assert (deal.outcome, deal.is_open, deal.lost_from) == ("lost", False, "discovery")
        deal.reopen(at=day(3))
        assert deal.stage == "discovery"

    def test_reopen_elsewhere(self, pipeline: Pipeline) -> None:
        """reopen(to=...) goes to another open stage, checking its criteria."""
        deal = pipeline.open_deal("D1", at=T0)
        deal.lose(at=day(1), reason="timing")
        with pytest.raises(TransitionRefused, match="not met: document 'proposal' sent"):
            deal.reopen(at=day(2), to="proposal")
        deal.reopen(at=day(2), to="lead")
        assert deal.stage == "lead"

    def test_reopen_refused_when_not_lost_or_not_allowed(self) -> None:
        """Only lost deals reopen, into open stages, and only with allow_reopen."""
        deal = plain_pipeline().open_deal("D1", at=T0)
        with pytest.raises(TransitionRefused, match="only lost deals reopen"):
            deal.reopen(at=day(1))
        deal.lose(at=day(1), reason="x")
        with pytest.raises(TransitionRefused, match="is not an open stage"):
            deal.reopen(at=day(2), to="won")
        closed = plain_pipeline(allow_reopen=False).open_deal("D2", at=T0)
        closed.lose(at=day(1), reason="x")
        with pytest.raises(TransitionRefused, match="does not allow moving from 'lost' to 'a'"):
            closed.reopen(at=day(2))

    def test_nothing_leaves_won(self, plain: Pipeline) -> None:
        """A won deal refuses moves, activities, updates and losing; nothing is recorded."""
        deal = plain.open_deal("D1", at=T0)
        deal.win(at=day(1))
        n = len(deal.events)
        with pytest.raises(TransitionRefused, match="nothing leaves a won stage"):
            deal.move("a", at=day(2))
        with pytest.raises(TransitionRefused, match="nothing follows a won stage"):
            deal.record("call", at=day(2))
        with pytest.raises(TransitionRefused, match="nothing follows a won stage"):
            deal.update(at=day(2), amount=1)
        with pytest.raises(TransitionRefused):
            deal.lose(at=day(2), reason="x")
        assert len(deal.events) == n
        assert deal.outcome == "won"

    def test_win_without_skip_only_from_last_stage(self) -> None:
        """With allow_skip=False a deal wins only from the last open stage."""
        deal = plain_pipeline(allow_skip=False).open_deal("D1", at=T0)
        with pytest.raises(TransitionRefused, match="does not allow moving from 'a' to 'won'"):
            deal.win(at=day(1))

    def test_win_into_a_non_won_stage(self, plain: Pipeline) -> None:
        """win(stage=...) must name a won stage; lose(stage=...) a lost one."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(TransitionRefused, match="'lost' is not a won stage"):
            deal.win(at=day(1), stage="lost")
        with pytest.raises(TransitionRefused, match="'won' is not a lost stage"):
            deal.lose(at=day(1), stage="won", reason="x")

    def test_move_into_lost_stage_records_null_reason(self, plain: Pipeline) -> None:
        """A plain move into a lost stage still carries the reason key (None)."""
        deal = plain.open_deal("D1", at=T0)
        event = deal.move("lost", at=day(1))
        assert dict(event.data) == {"reason": None}

    def test_lose_reason_must_be_string(self, plain: Pipeline) -> None:
        """A non-string reason is a TypeError."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(TypeError, match="reason must be a string"):
            deal.lose(at=day(1), reason=3)  # type: ignore[arg-type]


class TestRecordAndUpdate:
    """record, update and auto_advance."""

    def test_update_merges_attributes(self, plain: Pipeline) -> None:
        """update appends the changed attributes and merges them."""
        deal = plain.open_deal("D1", at=T0, amount=5, owner="ana")
        event = deal.update(at=day(1), amount=7)
        assert (event.kind, event.stage, dict(event.data)) == ("updated", "a", {"amount": 7})
        assert dict(deal.attributes) == {"amount": 7, "owner": "ana"}
        with pytest.raises(TypeError):
            deal.attributes["amount"] = 1  # type: ignore[index]

    def test_update_needs_attributes(self, plain: Pipeline) -> None:
        """An empty update is refused."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(ValueError, match="at least one attribute"):
            deal.update(at=day(1))

    def test_record_bad_name(self, plain: Pipeline) -> None:
        """Activity names are non-empty strings."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(ValueError, match="non-empty string"):
            deal.record("", at=day(1))

    def test_auto_advance_hops(self) -> None:
        """With auto_advance, recording the last missing activity hops as far as criteria hold."""
        p = small_pipeline(auto_advance=True)
        deal = p.open_deal("D1", at=T0)
        deal.record("document_sent", at=day(1), document="proposal")
        assert deal.stage == "lead"  # discovery's meeting is still missing
        deal.record("meeting_booked", at=day(2), meeting="discovery")
        deal.record("meeting_accepted", at=day(2), meeting="discovery", party="rep")
        assert deal.stage == "lead"
        event = deal.record("meeting_accepted", at=day(3), meeting="discovery", party="prospect")
        assert event.kind == "activity"
        assert deal.stage == "proposal"
        hops = [e for e in deal.events if e.kind == "stage_entered"][1:]
        assert [(e.stage, e.at) for e in hops] == [("discovery", day(3)), ("proposal", day(3))]

    def test_no_auto_advance_by_default(self, pipeline: Pipeline) -> None:
        """Without auto_advance, criteria holding does not move the deal."""
        deal = pipeline.open_deal("D1", at=T0)
        deal.record("meeting_booked", at=day(1), meeting="discovery")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="rep")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="prospect")
        assert deal.stage == "lead"


class TestStoreInteraction:
    """Appends reach the store before state changes, and conflicts leave the deal as it was."""

    def test_conflicting_writer_leaves_deal_unchanged(self, plain: Pipeline) -> None:
        """A second copy of the deal that lost the race raises ConcurrencyError and keeps its state."""
        store = MemoryStore()
        plain.open_deal("D1", at=T0, store=store)
        first = plain.load_deal(store, "D1")
        second = plain.load_deal(store, "D1")
        first.move("b", at=day(1))
        with pytest.raises(ConcurrencyError, match="reload the deal and retry"):
            second.move("c", at=day(1))
        assert (second.stage, len(second.events)) == ("a", 2)
        assert plain.load_deal(store, "D1").stage == "b"

    def test_load_unknown_deal(self, plain: Pipeline) -> None:
        """Loading an unknown deal raises a KeyError naming it."""
        with pytest.raises(KeyError, match="no deal 'X'"):
            plain.load_deal(MemoryStore(), "X")

    def test_deals_are_not_registered_with_the_machine(self, plain: Pipeline) -> None:
        """The shared machine holds no models and deals get no per-deal attributes."""
        deal = plain.open_deal("D1", at=T0)
        deal.move("b", at=day(1))
        machine = live_machine(plain)
        assert machine.machine.models == []
        assert not hasattr(deal, "__dict__")
        assert live_machine(plain) is machine

    def test_store_rejects_mixed_batches(self) -> None:
        """A batch must belong to one deal with consecutive seq."""
        from salesstages import Event

        store = MemoryStore()
        a = Event(deal_id="A", seq=0, at=T0, kind="opened")
        b = Event(deal_id="B", seq=1, at=T0, kind="stage_entered", stage="a")
        with pytest.raises(ValueError, match="one deal"):
            store.append([a, b])
        with pytest.raises(ValueError, match="consecutive seq"):
            store.append([a, Event(deal_id="A", seq=2, at=T0, kind="opened")])
        with pytest.raises(ValueError, match="at least one event"):
            store.append([])
        with pytest.raises(ConcurrencyError, match="not the next one"):
            store.append([Event(deal_id="A", seq=3, at=T0, kind="opened")])
        assert len(store) == 0

    def test_store_rejects_time_going_back(self) -> None:
        """The store refuses a batch that goes back in time, writing nothing."""
        from salesstages import Event

        store = MemoryStore()
        store.append([Event(deal_id="A", seq=0, at=day(2), kind="opened")])
        with pytest.raises(OutOfOrderError):
            store.append([Event(deal_id="A", seq=1, at=day(1), kind="stage_entered", stage="a")])
        assert len(store) == 1

    def test_events_after_position(self, plain: Pipeline) -> None:
        """events_after follows the log in append order across deals."""
        store = MemoryStore()
        plain.open_deal("A", at=T0, store=store)
        plain.open_deal("B", at=T0, store=store)
        got: list[Any] = list(store.events_after(3))
        assert [(pos, e.deal_id, e.seq) for pos, e in got] == [(4, "B", 1)]


class TestJsonValues:
    """Event data must be JSON values; anything else is refused before it is recorded."""

    def test_datetime_attribute_refused_with_hint(self, plain: Pipeline) -> None:
        """A datetime attribute is refused naming the key and the fix."""
        with pytest.raises(
            TypeError, match=r"signed_at is a datetime, not a JSON value .*isoformat"
        ):
            plain.open_deal("D1", at=T0, signed_at=T0)

    def test_nested_values_checked(self, plain: Pipeline) -> None:
        """Nested lists and dicts are walked, and nothing is recorded on refusal."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(TypeError, match=r"people\[1\] is a set"):
            deal.record("call", at=day(1), people=["a", {"b"}])
        with pytest.raises(TypeError, match="key 1 in meta is not a string"):
            deal.update(at=day(1), meta={1: "x"})
        assert len(deal.events) == 2
        deal.update(at=day(1), meta={"stakeholders": ["cfo", "cto"], "score": 0.5, "ok": None})
        assert deal.attributes["meta"] == {"stakeholders": ["cfo", "cto"], "score": 0.5, "ok": None}


class TestLoadDeal:
    """pipeline.load_deal(store, deal_id): how a deal comes back from any store."""

    def test_attaches_to_the_given_store(self, plain: Pipeline) -> None:
        """A loaded deal appends its next events to the store it was attached to."""
        store = MemoryStore()
        plain.open_deal("D1", at=T0, store=store)
        deal = plain.load_deal(store, "D1")
        deal.move("b", at=day(1))
        assert deal.store is store
        assert [e.stage for e in store.events("D1")] == [None, "a", "b"]

    def test_unknown_deal(self, plain: Pipeline) -> None:
        """A store without the deal: a KeyError naming the deal."""
        store = MemoryStore()
        plain.open_deal("D1", at=T0, store=store)
        with pytest.raises(KeyError, match="no deal 'D2'"):
            plain.load_deal(store, "D2")


def test_tuples_become_lists_and_non_finite_numbers_are_refused(plain: Pipeline) -> None:
    """Data is stored as plain JSON: tuples become lists (so JSON round-trips), NaN is refused."""
    deal = plain.open_deal("D1", at=T0, tags=("a", "b"))
    assert deal.attributes["tags"] == ["a", "b"]
    assert deal.events[0].data["tags"] == ["a", "b"]
    with pytest.raises(ValueError, match="score is nan; JSON holds only finite numbers"):
        deal.record("call", at=day(1), score=float("nan"))
    assert len(deal.events) == 2


def test_threads_share_one_machine_safely() -> None:
    """Deals of one pipeline driven from several threads at once all end where they should."""
    import threading

    p = plain_pipeline(allow_regress=True)
    store = MemoryStore()
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(60):
                deal = p.open_deal(f"W{worker}-{i}", at=T0, store=store)
                deal.move("b", at=day(1))
                deal.move("c", at=day(2))
                deal.move("a", at=day(3))
                if i % 2:
                    deal.win(at=day(4))
                else:
                    deal.lose(at=day(4), reason="x")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    deals = p.replay(store.events())
    assert len(deals) == 360
    assert sum(d.outcome == "won" for d in deals.values()) == 180
    assert all(len(d.events) == 6 for d in deals.values())


class FakeClock:
    """A clock that returns the times it is given, in order, and counts its calls."""

    def __init__(self, *times: datetime) -> None:
        self.times = list(times)
        self.calls = 0

    def __call__(self) -> datetime:
        self.calls += 1
        return self.times.pop(0)


class TestClock:
    """``at`` may be left out: it then comes from ``pipeline.clock()``."""

    def test_default_clock_is_the_current_utc_time(self) -> None:
        """Without a clock, open_deal and the deal methods stamp the current UTC time."""
        before = datetime.now(UTC)
        deal = plain_pipeline().open_deal("D1")
        deal.move("b")
        after = datetime.now(UTC)
        assert all(before <= e.at <= after for e in deal.events)
        assert all(e.at.tzinfo is UTC for e in deal.events)

    def test_every_method_takes_the_time_from_the_clock(self) -> None:
        """open_deal, record, update, move, enter_substate, lose, reopen and win all call
        the pipeline's clock when ``at`` is left out, once each."""
        clock = FakeClock(*(day(n) for n in range(9)))
        pipeline = small_pipeline(clock=clock)
        deal = pipeline.open_deal("D1", amount=1)  # day 0
        deal.record("document_sent", document="proposal")  # day 1
        deal.update(amount=2)  # day 2
        deal.move("proposal")  # day 3
        deal.enter_substate("review")  # day 4
        deal.lose(reason="price")  # day 5
        deal.reopen()  # day 6
        deal.win(at=None)  # day 7: at=None is the same as leaving it out
        assert [e.at for e in deal.events] == [day(0), *(day(n) for n in range(8))]
        assert clock.calls == 8
        assert clock.times == [day(8)]

    def test_explicit_at_does_not_call_the_clock(self) -> None:
        """A given ``at`` wins over the clock, which is then not called."""
        clock = FakeClock()
        deal = plain_pipeline(clock=clock).open_deal("D1", at=T0)
        deal.move("b", at=day(1))
        assert (clock.calls, deal.events[-1].at) == (0, day(1))

    def test_clock_in_another_zone_is_converted_to_utc(self) -> None:
        """A clock returning an aware time in another zone gives UTC timestamps."""
        paris = timezone(timedelta(hours=1))
        deal = plain_pipeline(clock=lambda: datetime(2026, 1, 5, 10, 0, tzinfo=paris)).open_deal(
            "D1"
        )
        assert deal.events[0].at == T0  # 10:00 at +01:00 is 09:00 UTC
        assert deal.events[0].at.tzinfo is UTC

    def test_naive_clock_raises_naming_the_clock(self) -> None:
        """A clock that returns a naive datetime raises NaiveTimeError naming it; nothing is
        recorded."""

        def naive_clock() -> datetime:
            return datetime(2026, 1, 5, 9, 0)

        store = MemoryStore()
        pipeline = plain_pipeline(clock=naive_clock)
        with pytest.raises(NaiveTimeError, match=r"its clock .*naive_clock returned the naive"):
            pipeline.open_deal("D1", store=store)
        assert store.deal_ids() == []
        deal = pipeline.open_deal("D1", at=T0, store=store)
        with pytest.raises(NaiveTimeError, match="naive_clock"):
            deal.move("b")
        assert len(deal.events) == len(list(store.events())) == 2

    def test_clock_returning_no_datetime_raises(self) -> None:
        """A clock that returns something other than a datetime raises NaiveTimeError."""
        pipeline = plain_pipeline(clock=lambda: "2026-01-05")
        with pytest.raises(NaiveTimeError, match=r"returned '2026-01-05' \(a str\)"):
            pipeline.clock()

    def test_clock_must_be_callable(self) -> None:
        """A clock that is not callable is refused when the pipeline is built."""
        with pytest.raises(PipelineError, match="clock must be a zero-argument callable"):
            plain_pipeline(clock=T0)

    def test_clock_going_back_is_out_of_order(self) -> None:
        """A clock that goes back in time raises OutOfOrderError saying the time came from it."""
        pipeline = plain_pipeline(clock=FakeClock(day(2), day(1)))
        deal = pipeline.open_deal("D1")
        with pytest.raises(OutOfOrderError, match=r"\(from pipeline.clock\(\)\) is earlier"):
            deal.move("b")
        assert (deal.stage, len(deal.events)) == ("a", 2)

    def test_clock_is_not_serialised_and_not_compared(self) -> None:
        """to_dict leaves the clock out, from_dict takes one, and equality ignores it."""
        with_clock = plain_pipeline(clock=lambda: T0)
        without = plain_pipeline()
        assert with_clock == without
        assert with_clock.to_dict() == without.to_dict()
        again = Pipeline.from_dict(with_clock.to_dict(), clock=lambda: day(3))
        assert again == with_clock
        assert again.clock() == day(3)
        assert Pipeline.from_dict(with_clock.to_dict()).clock().tzinfo is UTC


class TestExtraData:
    """move, win, lose and reopen keep extra keyword data in the stage_entered event."""

    def test_move_keeps_extra_data(self, plain: Pipeline) -> None:
        """deal.move(to, by=..., note=...) stores both in the event's data."""
        deal = plain.open_deal("D1", at=T0)
        event = deal.move("b", at=day(1), by="ana", note="call went well")
        assert dict(event.data) == {"by": "ana", "note": "call went well"}
        assert (event.kind, event.stage, deal.stage) == ("stage_entered", "b", "b")

    def test_win_lose_reopen_keep_extra_data(self, plain: Pipeline) -> None:
        """lose keeps the extras beside its reason; reopen and win keep theirs."""
        deal = plain.open_deal("D1", at=T0)
        lost = deal.lose(at=day(1), reason="price", by="ana", competitor={"name": "X"})
        assert dict(lost.data) == {"reason": "price", "by": "ana", "competitor": {"name": "X"}}
        reopened = deal.reopen(at=day(2), by="bo", reason="budget approved")
        assert dict(reopened.data) == {"by": "bo", "reason": "budget approved"}
        won = deal.win(at=day(3), by="ana", amount_signed=1200)
        assert dict(won.data) == {"by": "ana", "amount_signed": 1200}
        assert (deal.stage, deal.lost_from) == ("won", "a")

    def test_move_into_a_lost_stage_takes_reason(self, plain: Pipeline) -> None:
        """move() into a lost stage keeps reason= as the lost reason (None when left out)."""
        first = plain.open_deal("D1", at=T0)
        assert dict(first.move("lost", at=day(1), by="ana").data) == {"reason": None, "by": "ana"}
        second = plain.open_deal("D2", at=T0)
        event = second.move("lost", at=day(1), reason="timing", by="ana")
        assert dict(event.data) == {"reason": "timing", "by": "ana"}
        third = plain.open_deal("D3", at=T0)
        with pytest.raises(TypeError, match="reason must be a string, got int"):
            third.move("lost", at=day(1), reason=3)
        assert len(third.events) == 2

    def test_replay_and_metrics_read_the_extras_rightly(self, tmp_path: Path) -> None:
        """A log with extra data round-trips through a JSONL store, replays strictly, and
        the lost reason stays the loss's reason, not a reopen's or a move's data."""
        from salesstages import JsonlStore
        from salesstages.metrics import lost_reasons

        plain = plain_pipeline()
        store = JsonlStore(tmp_path / "events.jsonl")
        a = plain.open_deal("A", at=T0, store=store, amount=100)
        a.move("b", at=day(1), by="ana", reason="qualified")
        a.lose(at=day(2), reason="price", by="ana")
        b = plain.open_deal("B", at=T0, store=store, amount=50)
        b.lose(at=day(1), reason="timing")
        b.reopen(at=day(2), reason="budget approved", by="bo")
        store.close()
        again = JsonlStore(tmp_path / "events.jsonl")
        assert plain.load_deal(again, "A") == a
        assert plain.replay(again.events())["B"] == b
        assert plain.check(again.events(), guards=True) == []
        # A is lost for "price" (amount 100); B was reopened, so it is not lost now
        assert lost_reasons(list(again.events()), plain) == [("price", 1, 100.0)]
        again.close()

    def test_non_json_extras_are_refused_and_nothing_is_recorded(self, plain: Pipeline) -> None:
        """An extra that JSON cannot hold raises TypeError (NaN: ValueError) naming the key."""
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(TypeError, match=r"move\('b'\): when is a datetime, not a JSON value"):
            deal.move("b", at=day(1), when=T0)
        with pytest.raises(TypeError, match=r"lose\(\): tags\[0\] is a set"):
            deal.lose(at=day(1), reason="price", tags=[{"x"}])
        with pytest.raises(ValueError, match=r"win\(\): score is nan"):
            deal.win(at=day(1), score=float("nan"))
        assert (deal.stage, len(deal.events)) == ("a", 2)
        deal.lose(at=day(1), reason="price")
        with pytest.raises(TypeError, match=r"reopen\(\): who is a object"):
            deal.reopen(at=day(2), who=object())
        assert (deal.stage, len(deal.events)) == ("lost", 3)

    def test_keyword_collisions(self, plain: Pipeline) -> None:
        """``to``, ``at``, ``stage`` and ``reason`` keep their meaning when they come in a data
        mapping (``**form``): they are never stored as extra data."""
        deal = plain.open_deal("D1", at=T0)
        form: dict[str, Any] = {"to": "c", "by": "ana"}
        with pytest.raises(TypeError, match="multiple values for argument 'to'"):
            deal.move("b", **form)
        assert len(deal.events) == 2
        # lose's reason is the lost reason and its stage selects the lost stage
        form = {"reason": "price", "stage": "lost", "by": "ana"}
        event = deal.lose(at=day(1), **form)
        assert (event.stage, dict(event.data)) == ("lost", {"reason": "price", "by": "ana"})
        # reopen's to is the target stage
        form = {"to": "b", "by": "ana"}
        event = deal.reopen(at=day(2), **form)
        assert (event.stage, dict(event.data)) == ("b", {"by": "ana"})
        # win's at is the time and its stage selects the won stage
        form = {"at": day(3), "stage": "won", "by": "ana"}
        event = deal.win(**form)
        assert (event.at, event.stage, dict(event.data)) == (day(3), "won", {"by": "ana"})

    def test_refused_move_with_extras_records_nothing(self, pipeline: Pipeline) -> None:
        """A refused move with extras raises TransitionRefused and records nothing."""
        deal = pipeline.open_deal("D1", at=T0)
        with pytest.raises(TransitionRefused):
            deal.move("proposal", at=day(1), by="ana")
        assert len(deal.events) == 2

    def test_auto_advance_hops_and_substates_carry_no_extras(self) -> None:
        """A record with data that auto-advances gives hops without data; a later move's
        extras stay on that move's event and sub-states still work."""
        p = small_pipeline(auto_advance=True)
        deal = p.open_deal("D1", at=T0)
        deal.record("document_sent", at=day(1), document="proposal", by="ana")
        deal.record("meeting_booked", at=day(1), meeting="discovery", by="ana")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="prospect")
        assert deal.stage == "lead"
        deal.record("meeting_accepted", at=day(2), meeting="discovery", party="rep", by="ana")
        hops = [e for e in deal.events if e.kind == "stage_entered" and e.seq > 1]
        assert [(e.stage, e.at, dict(e.data)) for e in hops] == [
            ("discovery", day(2), {}),
            ("proposal", day(2), {}),
        ]
        sub = deal.enter_substate("review", at=day(3))
        assert (deal.state, dict(sub.data)) == ("proposal/review", {})
        won = deal.win(at=day(4), by="ana")
        assert dict(won.data) == {"by": "ana"}
        assert p.replay(deal.events)["D1"] == deal

    def test_event_with_extras_round_trips_through_json(self, plain: Pipeline) -> None:
        """to_dict/from_dict keep a move's extra data."""
        import json

        from salesstages import Event

        deal = plain.open_deal("D1", at=T0)
        event = deal.move("b", at=day(1), by="ana", scores=[1, 2.5], meta={"ok": None})
        assert Event.from_dict(json.loads(json.dumps(event.to_dict()))) == event


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)
_EXTRAS = st.dictionaries(
    st.sampled_from(["by", "note", "source", "reason", "score"]), _JSON, max_size=3
)
_CALLS = st.lists(
    st.tuples(st.sampled_from(["move_b", "move_c", "lose", "move_lost", "reopen", "win"]), _EXTRAS),
    max_size=8,
)


@given(calls=_CALLS)
def test_extra_data_never_changes_replay_or_metrics(
    calls: list[tuple[str, dict[str, Any]]],
) -> None:
    """Whatever extra data the stage changes carry, the log replays to the live deal and the
    visits, funnel and lost reasons equal those of the same log without the extras."""
    from hypothesis import assume

    from salesstages import Event
    from salesstages.metrics import funnel, lost_reasons, visits

    plain = plain_pipeline()
    deal = plain.open_deal("D1", at=T0, amount=10)
    for i, (call, extras) in enumerate(calls):
        at = day(i + 1)
        plain_extras = {k: v for k, v in extras.items() if k != "reason"}
        try:
            if call == "move_b":
                deal.move("b", at=at, **extras)
            elif call == "move_c":
                deal.move("c", at=at, **extras)
            elif call == "lose":
                deal.lose(at=at, reason="price", **plain_extras)
            elif call == "move_lost":
                reason = extras.get("reason")
                assume(reason is None or isinstance(reason, str))
                deal.move("lost", at=at, **extras)
            elif call == "reopen":
                deal.reopen(at=at, **extras)
            else:
                deal.win(at=at, **extras)
        except TransitionRefused:
            pass
    log = list(deal.events)
    assert plain.replay(log)["D1"] == deal

    def bare(e: Event) -> Event:
        if e.kind != "stage_entered":
            return e
        lost = plain.stage(e.stage or "").outcome == "lost"
        data = {"reason": e.data.get("reason")} if lost else {}
        return Event(deal_id=e.deal_id, seq=e.seq, at=e.at, kind=e.kind, stage=e.stage, data=data)

    stripped = [bare(e) for e in log]
    assert visits(log, plain) == visits(stripped, plain)
    assert funnel(log, plain) == funnel(stripped, plain)
    assert lost_reasons(log, plain) == lost_reasons(stripped, plain)
