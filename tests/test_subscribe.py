"""pipeline.subscribe: handlers called for every live event, filtered, in order, never on replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0, day, plain_pipeline, small_pipeline
from salesstages import (
    ConcurrencyError,
    DataError,
    Deal,
    Event,
    HandlerError,
    MemoryStore,
    OutOfOrderError,
    Pipeline,
    SalesStagesError,
    SqliteStore,
    TransitionRefused,
    UnknownStageError,
)
from salesstages.presets import classic_b2b
from salesstages.testing import deals


class Recorder:
    """A handler that keeps ``(deal id, kind, stage, seq)`` of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str | None, int]] = []

    def __call__(self, deal: Deal, event: Event) -> None:
        self.calls.append((deal.id, event.kind, event.stage, event.seq))


def seqs(recorder: Recorder) -> list[int]:
    """The seq of every event the recorder saw."""
    return [seq for _, _, _, seq in recorder.calls]


class TestDelivery:
    """Which events reach a handler, and what it sees."""

    def test_every_live_event_in_order(self, plain: Pipeline) -> None:
        """open_deal's two events and each method's event reach the handler, in order."""
        seen = Recorder()
        plain.subscribe(seen)
        deal = plain.open_deal("D1", at=T0, amount=5)
        deal.update(at=day(1), amount=6)
        deal.record("call", at=day(1))
        deal.move("b", at=day(2), by="ana")
        deal.lose(at=day(3), reason="price")
        deal.reopen(at=day(4))
        deal.win(at=day(5))
        assert seen.calls == [
            ("D1", "opened", None, 0),
            ("D1", "stage_entered", "a", 1),
            ("D1", "updated", "a", 2),
            ("D1", "activity", "a", 3),
            ("D1", "stage_entered", "b", 4),
            ("D1", "stage_entered", "lost", 5),
            ("D1", "stage_entered", "b", 6),
            ("D1", "stage_entered", "won", 7),
        ]

    def test_handler_sees_the_deal_after_the_change(self, tmp_path: Path) -> None:
        """When the handler runs, the event is in the store and the deal's state includes it."""
        plain = plain_pipeline()
        store = SqliteStore(tmp_path / "events.db")
        checks: list[tuple[str, int, int, bool]] = []

        def check(deal: Deal, event: Event) -> None:
            stored = list(store.events(deal.id))
            checks.append((deal.stage, len(deal.events), len(stored), stored[-1] == event))

        plain.subscribe(check, kinds="stage_entered")
        deal = plain.open_deal("D1", at=T0, store=store)
        deal.move("c", at=day(1))
        store.close()
        # after open_deal both events are stored; after the move 3 events
        assert checks == [("a", 2, 2, True), ("c", 3, 3, True)]

    def test_each_auto_advance_hop_fires(self) -> None:
        """A record that auto-advances twice fires for the activity, then each hop."""
        p = small_pipeline(auto_advance=True)
        seen = Recorder()
        stages_seen: list[str] = []
        p.subscribe(seen)
        p.subscribe(lambda deal, event: stages_seen.append(deal.stage), kinds=["activity"])
        deal = p.open_deal("D1", at=T0)
        deal.record("document_sent", at=day(1), document="proposal")
        deal.record("meeting_booked", at=day(1), meeting="discovery")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="prospect")
        deal.record("meeting_accepted", at=day(2), meeting="discovery", party="rep")
        assert seen.calls[-3:] == [
            ("D1", "activity", "lead", 5),
            ("D1", "stage_entered", "discovery", 6),
            ("D1", "stage_entered", "proposal", 7),
        ]
        # handlers run once the whole call is done: the last activity's handler sees the hops
        assert stages_seen == ["lead", "lead", "lead", "proposal"]

    def test_replay_and_load_fire_nothing(self, plain: Pipeline) -> None:
        """Only live appends fire: replay, check and a store's load call no handler."""
        store = MemoryStore()
        deal = plain.open_deal("D1", at=T0, store=store)
        deal.move("b", at=day(1))
        seen = Recorder()
        plain.subscribe(seen)
        plain.replay(store.events())
        plain.check(store.events(), guards=True)
        loaded = plain.load_deal(store, "D1")
        copy = MemoryStore()
        copy.append(list(store.events("D1")))
        plain.load_deal(copy, "D1")
        assert seen.calls == []
        loaded.move("c", at=day(2))
        assert seen.calls == [("D1", "stage_entered", "c", 3)]

    def test_refused_calls_fire_nothing(self, pipeline: Pipeline) -> None:
        """A refused move, a bad time and bad data record nothing and call no handler."""
        seen = Recorder()
        deal = pipeline.open_deal("D1", at=T0)
        pipeline.subscribe(seen)
        with pytest.raises(TransitionRefused):
            deal.move("proposal", at=day(1))
        with pytest.raises(OutOfOrderError):
            deal.record("call", at=T0 - timedelta(days=1))  # before the last event
        with pytest.raises(TypeError):
            deal.win(at=day(1), when=object())
        assert seen.calls == []

    def test_only_this_pipelines_deals(self) -> None:
        """A handler of one pipeline is not called for a deal of another, even an equal one."""
        first, second = plain_pipeline(), plain_pipeline()
        assert first == second
        seen = Recorder()
        first.subscribe(seen)
        second.open_deal("D2", at=T0)
        first.open_deal("D1", at=T0)
        assert [deal_id for deal_id, *_ in seen.calls] == ["D1", "D1"]

    def test_events_appended_before_a_failure_still_fire(self) -> None:
        """When a hop's append fails after its activity was stored, the handlers see the
        activity and the append's error propagates."""

        class FailingHops(MemoryStore):
            def append(self, events: Sequence[Event]) -> None:
                if events[0].kind == "stage_entered" and events[0].stage == "discovery":
                    raise ConcurrencyError("another writer took seq 5")
                super().append(events)

        p = small_pipeline(auto_advance=True)
        deal = p.open_deal("D1", at=T0, store=FailingHops())
        deal.record("meeting_booked", at=day(1), meeting="discovery")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="prospect")
        seen = Recorder()
        p.subscribe(seen)
        with pytest.raises(ConcurrencyError, match="another writer"):
            deal.record("meeting_accepted", at=day(1), meeting="discovery", party="rep")
        assert seen.calls == [("D1", "activity", "lead", 4)]
        assert deal.stage == "lead"

        def broken(deal: Deal, event: Event) -> None:
            raise RuntimeError("handler down")

        p.subscribe(broken)
        with pytest.raises(ConcurrencyError) as caught:
            deal.record("meeting_accepted", at=day(1), meeting="discovery", party="rep")
        # the append's error wins; the handler's failure is attached as a note
        notes = getattr(caught.value, "__notes__", [])
        assert len(notes) == 1
        assert "RuntimeError: handler down" in notes[0]
        assert seen.calls[-1] == ("D1", "activity", "lead", 5)


class TestFilters:
    """kinds= and stages= filters, and their validation."""

    def test_kinds_and_stages(self, plain: Pipeline) -> None:
        """kinds keeps those kinds, stages those stages; both must hold; a string is one name."""
        by_kind, by_stage, both = Recorder(), Recorder(), Recorder()
        plain.subscribe(by_kind, kinds=["activity", "updated"])
        plain.subscribe(by_stage, stages="b")
        plain.subscribe(both, kinds="stage_entered", stages=("b", "won"))
        deal = plain.open_deal("D1", at=T0)
        deal.record("call", at=day(1))
        deal.move("b", at=day(2))
        deal.record("call", at=day(3))
        deal.update(at=day(3), amount=1)
        deal.win(at=day(4))
        assert seqs(by_kind) == [2, 4, 5]
        assert seqs(by_stage) == [3, 4, 5]  # the move into b, then the b activity and update
        assert seqs(both) == [3, 6]

    def test_opened_never_passes_a_stage_filter(self, plain: Pipeline) -> None:
        """An opened event has no stage, so a stages filter drops it."""
        seen = Recorder()
        plain.subscribe(seen, stages=["a"])
        plain.open_deal("D1", at=T0)
        assert seen.calls == [("D1", "stage_entered", "a", 1)]

    def test_unknown_kind(self, plain: Pipeline) -> None:
        """An unknown kind raises DataError listing the kinds."""
        with pytest.raises(DataError, match="unknown event kind 'moved'; the kinds are activity"):
            plain.subscribe(Recorder(), kinds=["stage_entered", "moved"])
        assert plain._subscriptions == ()

    def test_unknown_stage(self, plain: Pipeline) -> None:
        """An unknown stage raises UnknownStageError naming the known ones."""
        with pytest.raises(UnknownStageError, match="has no stage 'x'; known stages: a, b"):
            plain.subscribe(Recorder(), stages=["b", "x"])
        assert plain._subscriptions == ()

    def test_empty_filter(self, plain: Pipeline) -> None:
        """An empty filter would select nothing: DataError saying to pass None."""
        with pytest.raises(DataError, match=r"kinds= is empty.*pass None to receive every kind"):
            plain.subscribe(Recorder(), kinds=[])
        with pytest.raises(DataError, match="pass None to receive every stage"):
            plain.subscribe(Recorder(), stages=())

    def test_handler_must_be_callable(self, plain: Pipeline) -> None:
        """A handler that is not callable raises DataError."""
        with pytest.raises(DataError, match="needs a callable handler"):
            plain.subscribe("print")  # type: ignore[arg-type]


class TestUnsubscribe:
    """The callable subscribe returns."""

    def test_unsubscribe_stops_calls_and_is_idempotent(self, plain: Pipeline) -> None:
        """After unsubscribing the handler is not called; calling it twice is harmless."""
        seen, other = Recorder(), Recorder()
        stop = plain.subscribe(seen)
        plain.subscribe(other)
        deal = plain.open_deal("D1", at=T0)
        stop()
        stop()
        deal.move("b", at=day(1))
        assert (seqs(seen), seqs(other)) == ([0, 1], [0, 1, 2])
        assert len(plain._subscriptions) == 1

    def test_subscribe_and_unsubscribe_during_dispatch(self, plain: Pipeline) -> None:
        """A handler added during dispatch gets the next events, not the current one; a
        handler removed during dispatch is not called again, even for the current event."""
        late = Recorder()
        removed = Recorder()

        def first(deal: Deal, event: Event) -> None:
            if event.seq == 1:
                plain.subscribe(late)
                stop_removed()

        plain.subscribe(first)
        stop_removed = plain.subscribe(removed)
        deal = plain.open_deal("D1", at=T0)
        deal.move("b", at=day(1))
        assert seqs(removed) == [0]
        assert seqs(late) == [2]

    def test_the_same_handler_twice_runs_twice(self, plain: Pipeline) -> None:
        """Each subscription is separate: one handler subscribed twice runs twice per event."""
        seen = Recorder()
        plain.subscribe(seen)
        stop = plain.subscribe(seen)
        plain.open_deal("D1", at=T0)
        stop()
        plain.open_deal("D2", at=T0)
        assert seqs(seen) == [0, 0, 1, 1, 0, 1]


class TestFailures:
    """A handler that raises: HandlerError after all handlers ran, the event recorded."""

    def test_all_handlers_run_then_handler_error(self, plain: Pipeline) -> None:
        """Two failing handlers and one good one: the good one runs, and HandlerError carries
        the event, both exceptions in order, and the deal; the move is recorded."""
        store = MemoryStore()
        deal = plain.open_deal("D1", at=T0, store=store)
        seen = Recorder()

        def boom(deal: Deal, event: Event) -> None:
            raise ValueError("boom")

        def bang(deal: Deal, event: Event) -> None:
            raise KeyError("bang")

        plain.subscribe(boom)
        plain.subscribe(seen)
        plain.subscribe(bang)
        with pytest.raises(HandlerError) as caught:
            deal.move("b", at=day(1))
        error = caught.value
        assert isinstance(error, SalesStagesError)
        assert [type(e) for e in error.exceptions] == [ValueError, KeyError]
        assert isinstance(error.exceptions, tuple)
        assert error.__cause__ is error.exceptions[0]
        assert (error.event.kind, error.event.stage, error.event.seq) == ("stage_entered", "b", 2)
        assert error.deal is deal
        assert "2 handler call(s) raised on deal 'D1'" in str(error)
        assert "ValueError: boom" in str(error)
        assert seqs(seen) == [2]
        assert deal.stage == "b"
        assert [e.stage for e in store.events("D1")] == [None, "a", "b"]
        assert plain.load_deal(store, "D1") == deal

    def test_failure_on_open_deal_carries_the_deal(self, plain: Pipeline) -> None:
        """open_deal's HandlerError carries the new deal, which is stored."""
        store = MemoryStore()

        def refuse_new(deal: Deal, event: Event) -> None:
            raise RuntimeError("no CRM task created")

        plain.subscribe(refuse_new, kinds="opened")
        with pytest.raises(HandlerError, match="first on its 'opened' event") as caught:
            plain.open_deal("D1", at=T0, store=store)
        assert caught.value.deal.stage == "a"
        assert caught.value.deal == plain.load_deal(store, "D1")

    def test_failures_across_a_calls_events(self) -> None:
        """When handlers raise on several events of one call, .event is the first and
        .exceptions holds them all."""
        p = small_pipeline(auto_advance=True)

        def fail_on_stage(deal: Deal, event: Event) -> None:
            raise RuntimeError(f"no {event.stage}")

        deal = p.open_deal("D1", at=T0)
        deal.record("document_sent", at=day(1), document="proposal")
        deal.record("meeting_booked", at=day(1), meeting="discovery")
        deal.record("meeting_accepted", at=day(1), meeting="discovery", party="prospect")
        p.subscribe(fail_on_stage, kinds="stage_entered")
        with pytest.raises(HandlerError) as caught:
            deal.record("meeting_accepted", at=day(2), meeting="discovery", party="rep")
        assert caught.value.event.stage == "discovery"
        assert [str(e) for e in caught.value.exceptions] == ["no discovery", "no proposal"]
        assert deal.stage == "proposal"

    def test_base_exceptions_are_not_swallowed(self, plain: Pipeline) -> None:
        """A KeyboardInterrupt in a handler propagates at once; the deal keeps working."""
        calls: list[int] = []

        def interrupt(deal: Deal, event: Event) -> None:
            calls.append(event.seq)
            if event.seq == 2:
                raise KeyboardInterrupt

        plain.subscribe(interrupt)
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(KeyboardInterrupt):
            deal.move("b", at=day(1))
        deal.move("c", at=day(2))
        assert calls == [0, 1, 2, 3]
        assert deal.stage == "c"


class TestReentrancy:
    """A handler that calls back into the same deal (the deal's lock is re-entrant)."""

    def test_handler_writes_to_the_same_deal(self, plain: Pipeline) -> None:
        """A handler that records a task on entering b does not deadlock, and every handler
        sees every event once, in seq order."""
        seen = Recorder()

        def create_task(deal: Deal, event: Event) -> None:
            if event.kind == "stage_entered" and event.stage == "b":
                deal.record("task_created", at=event.at, task="send proposal")

        plain.subscribe(create_task)
        plain.subscribe(seen)
        deal = plain.open_deal("D1", at=T0)
        deal.move("b", at=day(1))
        assert [(e.kind, e.name) for e in deal.events[2:]] == [
            ("stage_entered", None),
            ("activity", "task_created"),
        ]
        # the second handler sees the move (seq 2) before the handler's activity (seq 3)
        assert seqs(seen) == [0, 1, 2, 3]

    def test_failure_in_a_nested_call_is_raised_by_the_outer_call(self, plain: Pipeline) -> None:
        """A handler's own write whose handlers fail returns normally; the outermost call
        raises HandlerError for it once every event was delivered."""

        def follow_up(deal: Deal, event: Event) -> None:
            if event.stage == "b" and event.kind == "stage_entered":
                deal.record("follow_up", at=event.at)

        def reject_follow_up(deal: Deal, event: Event) -> None:
            if event.name == "follow_up":
                raise RuntimeError("no follow-ups")

        plain.subscribe(follow_up)
        plain.subscribe(reject_follow_up)
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(HandlerError) as caught:
            deal.move("b", at=day(1))
        assert (caught.value.event.seq, caught.value.event.name) == (3, "follow_up")
        assert len(deal.events) == 4

    def test_handler_refused_move_is_a_handler_error(self, plain: Pipeline) -> None:
        """A handler whose own move is refused raises TransitionRefused, which comes back
        inside HandlerError; the original move stays."""

        def skip_back(deal: Deal, event: Event) -> None:
            if event.stage == "b":
                deal.move("a", at=event.at)  # regressions are not allowed

        plain.subscribe(skip_back, kinds="stage_entered")
        deal = plain.open_deal("D1", at=T0)
        with pytest.raises(HandlerError) as caught:
            deal.move("b", at=day(1))
        assert isinstance(caught.value.exceptions[0], TransitionRefused)
        assert deal.stage == "b"


def test_subscribe_in_a_pipeline_from_a_preset() -> None:
    """A preset pipeline supports subscribe like any other (a notification on a win)."""
    pipeline = classic_b2b()
    wins: list[str] = []
    pipeline.subscribe(lambda deal, event: wins.append(deal.id), stages=["closed_won"])
    deal = pipeline.open_deal("D1", at=T0)
    deal.win(at=day(1), by="ana")
    assert wins == ["D1"]


@given(data=st.data())
def test_a_subscriber_sees_exactly_the_deals_log(data: st.DataObject) -> None:
    """For any deal the testing toolkit drives, a handler sees exactly the deal's events, in
    order, each once; and one filtered by stage sees exactly that stage's events."""
    pipeline = small_pipeline()
    every, in_proposal = Recorder(), Recorder()
    pipeline.subscribe(every)
    pipeline.subscribe(in_proposal, stages="proposal")
    deal = data.draw(deals(pipeline))
    assert seqs(every) == [e.seq for e in deal.events]
    assert seqs(in_proposal) == [e.seq for e in deal.events if e.stage == "proposal"]
