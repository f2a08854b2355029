"""The shared test suite every event store runs, reusable for your own backend.

Subclass :class:`StoreSuite` in a pytest test module, name the subclass
``Test…`` and implement :meth:`StoreSuite.make_store` (and
:meth:`StoreSuite.reopen` when your store keeps its data outside the
object)::

    from salesstages.testing import StoreSuite

    class TestMyStore(StoreSuite):
        def make_store(self, tmp_path):
            return MyStore(tmp_path / "events")

        def reopen(self, store, tmp_path):
            return MyStore(tmp_path / "events")

Every ``test_*`` method then runs against your store: ordering, optimistic
concurrency, all-or-nothing appends, time order, global positions, following, reopening,
loading deals and the error types and messages.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .._errors import ConcurrencyError, DataError, OutOfOrderError, SalesStagesError
from .._events import Event, freeze_data
from .._pipeline import Pipeline, Stage
from .._stores import EventStore

__all__ = ["StoreSuite"]

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def _raises(exc: type[BaseException], match: str) -> AbstractContextManager[Any]:
    import pytest  # only needed when the suite runs

    return pytest.raises(exc, match=match)


def _pipeline() -> Pipeline:
    return Pipeline(
        "suite",
        [
            Stage("lead"),
            Stage("qualified"),
            Stage("proposal"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def ev(
    deal_id: str,
    seq: int,
    minutes: float = 0,
    kind: str = "activity",
    *,
    stage: str | None = "lead",
    name: str | None = "call",
    data: dict[str, Any] | None = None,
) -> Event:
    """An event of ``deal_id`` at ``minutes`` after the suite's start time."""
    if kind == "opened":
        stage = name = None
    elif kind != "activity":
        name = None
    return Event(
        deal_id=deal_id,
        seq=seq,
        at=T0 + timedelta(minutes=minutes),
        kind=kind,  # type: ignore[arg-type]
        stage=stage,
        name=name,
        data=freeze_data(data),
    )


def opening(deal_id: str, minutes: float = 0, **data: Any) -> list[Event]:
    """The ``opened`` + ``stage_entered`` pair that ``open_deal`` appends."""
    return [
        ev(deal_id, 0, minutes, "opened", data=data),
        ev(deal_id, 1, minutes, "stage_entered", stage="lead"),
    ]


class StoreSuite:
    """Abstract pytest suite for an :class:`~salesstages.EventStore` implementation.

    Subclass it as ``Test<YourStore>`` and implement :meth:`make_store`. The
    tests use only the public store API (``append``, ``events``,
    ``deal_ids``, ``events_after``, ``follow``, ``load``), so any backend can run them.
    """

    def make_store(self, tmp_path: Path) -> EventStore:
        """Return a new, empty store; files, if any, go under ``tmp_path``."""
        raise NotImplementedError("subclass StoreSuite and implement make_store(tmp_path)")

    def reopen(self, store: EventStore, tmp_path: Path) -> EventStore:
        """Return a second handle on the same data (a new object for file stores).

        The default returns ``store`` itself, right for in-memory stores.
        """
        return store

    # ------------------------------------------------------------------ helpers
    def _store(self, tmp_path: Path) -> EventStore:
        store = self.make_store(tmp_path)
        assert list(store.events()) == [], "make_store() must return an empty store"
        return store

    @staticmethod
    def _all(store: EventStore) -> list[Event]:
        return list(store.events())

    # ------------------------------------------------------------------ reading
    def test_empty_store_has_nothing(self, tmp_path: Path) -> None:
        """A new store has no events, no deals and no positions."""
        store = self._store(tmp_path)
        assert list(store.events()) == []
        assert list(store.events("nobody")) == []
        assert store.deal_ids() == []
        assert list(store.events_after(0)) == []

    def test_events_round_trip_every_field(self, tmp_path: Path) -> None:
        """Events come back equal, field by field, including nested JSON data."""
        store = self._store(tmp_path)
        data = {"amount": 12.5, "owner": "Zoë", "tags": ["a", "b"], "nested": {"x": None}}
        batch = [
            ev("D-1", 0, 0, "opened", data=data),
            ev("D-1", 1, 0, "stage_entered", stage="lead"),
            ev("D-1", 2, 1.5, name='note "quoted"\nnew line', data={"ok": True}),
            ev("D-1", 3, 2, "updated", data={"amount": 99}),
        ]
        store.append(batch)
        back = self._all(store)
        assert back == batch
        assert [e.at for e in back] == [e.at for e in batch]
        assert all(e.at.utcoffset() == timedelta(0) for e in back)
        assert dict(back[0].data) == data

    def test_microseconds_survive(self, tmp_path: Path) -> None:
        """Timestamps keep their microseconds."""
        store = self._store(tmp_path)
        at = T0 + timedelta(microseconds=123_456)
        store.append([Event(deal_id="D-1", seq=0, at=at, kind="opened")])
        assert next(store.events()).at == at

    def test_events_grouped_by_deal_in_seq_order(self, tmp_path: Path) -> None:
        """Interleaved appends read back grouped by deal, in order of first append."""
        store = self._store(tmp_path)
        store.append(opening("B"))
        store.append(opening("A"))
        store.append([ev("B", 2, 1)])
        store.append([ev("A", 2, 1), ev("A", 3, 2)])
        got = [(e.deal_id, e.seq) for e in store.events()]
        assert got == [("B", 0), ("B", 1), ("B", 2), ("A", 0), ("A", 1), ("A", 2), ("A", 3)]
        assert store.deal_ids() == ["B", "A"]
        assert [e.seq for e in store.events("A")] == [0, 1, 2, 3]
        assert list(store.events("C")) == []

    def test_events_is_an_iterator(self, tmp_path: Path) -> None:
        """``events()`` returns an iterator (``next`` works on it)."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        it = store.events()
        assert isinstance(it, Iterator)
        assert next(it).seq == 0

    def test_unicode_deal_ids(self, tmp_path: Path) -> None:
        """Deal ids with spaces, quotes and non-ASCII letters are kept exactly."""
        store = self._store(tmp_path)
        ids = ['Ünïcødé "deal" 1', "with,comma", "日本"]
        for deal_id in ids:
            store.append(opening(deal_id))
        assert store.deal_ids() == ids

    # ------------------------------------------------------------------ concurrency
    def test_taken_seq_raises_concurrency_error(self, tmp_path: Path) -> None:
        """Appending a seq that is already taken raises ConcurrencyError and writes nothing."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        with _raises(ConcurrencyError, r"deal 'A': seq 1 is already taken .*reload the deal"):
            store.append([ev("A", 1, 5, data={"lost": True})])
        assert [e.seq for e in store.events("A")] == [0, 1]
        assert len(list(store.events_after(0))) == 2

    def test_gap_seq_raises_concurrency_error(self, tmp_path: Path) -> None:
        """A seq beyond the deal's length raises ConcurrencyError ("not the next one")."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        with _raises(ConcurrencyError, r"seq 5 is not the next one \(the deal has 2 events\)"):
            store.append([ev("A", 5, 1)])
        with _raises(ConcurrencyError, r"deal 'B': seq 1 is not the next one"):
            store.append([ev("B", 1, 1)])
        assert store.deal_ids() == ["A"]

    def test_concurrency_error_is_a_salesstages_error(self, tmp_path: Path) -> None:
        """The conflict is raised as ConcurrencyError, part of the library's hierarchy."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        with _raises(SalesStagesError, "already taken") as info:
            store.append(opening("A"))
        assert info.type is ConcurrencyError

    def test_second_handle_loses_the_race(self, tmp_path: Path) -> None:
        """Two handles on one store: the second writer of a seq gets ConcurrencyError."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        other = self.reopen(store, tmp_path)
        store.append([ev("A", 2, 1, name="first")])
        with _raises(ConcurrencyError, "already taken"):
            other.append([ev("A", 2, 1, name="second")])
        other.append([ev("A", 3, 2, name="third")])
        assert [e.name for e in store.events("A")][2:] == ["first", "third"]

    def test_stale_deal_cannot_overwrite(self, tmp_path: Path) -> None:
        """A deal loaded twice: the stale copy's change raises and leaves it unchanged."""
        pipeline = _pipeline()
        store = self._store(tmp_path)
        pipeline.open_deal("A", at=T0, store=store)
        one = pipeline.load_deal(store, "A")
        two = pipeline.load_deal(self.reopen(store, tmp_path), "A")
        one.move("qualified", at=T0 + timedelta(hours=1))
        with _raises(ConcurrencyError, "already taken"):
            two.move("proposal", at=T0 + timedelta(hours=2))
        assert two.stage == "lead"
        assert pipeline.load_deal(store, "A").stage == "qualified"

    # ------------------------------------------------------------------ all or nothing
    def test_batch_is_all_or_nothing_on_time(self, tmp_path: Path) -> None:
        """A batch whose last event goes back in time writes none of its events."""
        store = self._store(tmp_path)
        store.append(opening("A", 10))
        with _raises(OutOfOrderError, r"deal 'A': event seq 3 at .* is earlier than"):
            store.append([ev("A", 2, 20), ev("A", 3, 15)])
        assert [e.seq for e in store.events("A")] == [0, 1]
        assert [p for p, _ in store.events_after(0)] == [1, 2]

    def test_time_going_back_is_refused(self, tmp_path: Path) -> None:
        """An event earlier than the deal's last one raises OutOfOrderError and writes nothing."""
        store = self._store(tmp_path)
        store.append(opening("A", 10))
        with _raises(OutOfOrderError, "is earlier than the previous event"):
            store.append([ev("A", 2, 9)])
        assert len(list(store.events("A"))) == 2

    def test_equal_timestamps_are_fine(self, tmp_path: Path) -> None:
        """Several events at one moment are accepted (several hops at once)."""
        store = self._store(tmp_path)
        store.append(opening("A", 10))
        store.append([ev("A", 2, 10), ev("A", 3, 10)])
        assert [e.seq for e in store.events("A")] == [0, 1, 2, 3]

    def test_other_deals_times_do_not_matter(self, tmp_path: Path) -> None:
        """Time order is per deal: a new deal may start before another's last event."""
        store = self._store(tmp_path)
        store.append(opening("A", 100))
        store.append(opening("B", 1))
        assert store.deal_ids() == ["A", "B"]

    def test_malformed_batches_are_refused(self, tmp_path: Path) -> None:
        """Empty, mixed-deal, non-consecutive and non-Event batches raise and write nothing."""
        store = self._store(tmp_path)
        with _raises(ValueError, "at least one event"):
            store.append([])
        with _raises(ValueError, "must belong to one deal; got 'A' and 'B'"):
            store.append([ev("A", 0, 0, "opened"), ev("B", 1, 0, "stage_entered")])
        with _raises(ValueError, "must carry consecutive seq; got 0 then 2"):
            store.append([ev("A", 0, 0, "opened"), ev("A", 2, 0, "stage_entered")])
        with _raises(TypeError, "takes Event objects, got dict"):
            store.append([{"deal_id": "A"}])  # type: ignore[list-item]
        assert self._all(store) == []
        assert store.deal_ids() == []

    def test_text_no_store_can_keep_is_refused(self, tmp_path: Path) -> None:
        """A lone surrogate in any text field, key or nested value raises DataError naming
        the field, and writes nothing."""
        store = self._store(tmp_path)
        bad = "x\ud800y"
        cases = [
            ([ev(bad, 0, 0, "opened")], "field 'deal_id'"),
            ([*opening("A")[:1], ev("A", 1, 0, "stage_entered", stage=bad)], "field 'stage'"),
            ([ev("A", 0, 0, "opened", data={"notes": ["fine", {"deep": bad}]})], "notes"),
            ([ev("A", 0, 0, "opened", data={bad: 1})], "key"),
        ]
        for batch, field in cases:
            with _raises(DataError, f"{field}.*lone surrogate"):
                store.append(batch)
        assert self._all(store) == []
        store.append(opening("A", owner="Zoë 日本 \U0001f600"))
        assert self._all(store)[0].data == {"owner": "Zoë 日本 \U0001f600"}

    def test_accepts_any_sequence(self, tmp_path: Path) -> None:
        """``append`` takes a tuple as well as a list."""
        store = self._store(tmp_path)
        store.append(tuple(opening("A")))
        assert len(self._all(store)) == 2

    # ------------------------------------------------------------------ positions
    def test_positions_follow_append_order(self, tmp_path: Path) -> None:
        """``events_after`` yields 1, 2, 3 … in append order across deals."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        store.append(opening("B"))
        store.append([ev("A", 2, 1)])
        got = [(p, e.deal_id, e.seq) for p, e in store.events_after(0)]
        assert got == [(1, "A", 0), (2, "A", 1), (3, "B", 0), (4, "B", 1), (5, "A", 2)]

    def test_following_the_log_incrementally(self, tmp_path: Path) -> None:
        """A reader that keeps its last position sees each event exactly once."""
        store = self._store(tmp_path)
        seen: list[tuple[str, int]] = []
        last = 0
        for step in range(4):
            store.append(opening(f"D{step}", step))
            for position, e in store.events_after(last):
                seen.append((e.deal_id, e.seq))
                last = position
            if step % 2:
                store.append([ev(f"D{step}", 2, step + 1)])
        for position, e in store.events_after(last):
            seen.append((e.deal_id, e.seq))
            last = position
        assert last == 10
        assert len(seen) == len(set(seen)) == 10
        assert list(store.events_after(last)) == []
        assert [e for _, e in store.events_after(8)] == [
            ev("D3", 1, 3, "stage_entered"),
            ev("D3", 2, 4),
        ]

    def test_bad_position_is_refused(self, tmp_path: Path) -> None:
        """A negative position raises DataError (a ValueError) naming it."""
        store = self._store(tmp_path)
        with _raises(DataError, "position must be an int >= 0, got -1"):
            list(store.events_after(-1))

    # ------------------------------------------------------------------ following
    def test_follow_yields_what_is_there_then_ends_when_idle(self, tmp_path: Path) -> None:
        """``follow`` yields the events after ``after`` like ``events_after``, then
        stops once ``idle_timeout`` passes without a new event."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        store.append(opening("B", 1))
        store.append([ev("A", 2, 2)])
        started = time.monotonic()
        got = list(store.follow(0, poll=0.01, idle_timeout=0.2))
        assert time.monotonic() - started >= 0.2
        assert got == list(store.events_after(0))
        assert [p for p, _ in got] == [1, 2, 3, 4, 5]
        assert [(p, e.deal_id, e.seq) for p, e in store.follow(3, poll=0.01, idle_timeout=0)] == [
            (4, "B", 1),
            (5, "A", 2),
        ]
        assert list(store.follow(5, poll=0.01, idle_timeout=0)) == []

    def test_follow_waits_for_new_events(self, tmp_path: Path) -> None:
        """A follower started on an empty store receives events appended later through
        another handle, in position order."""
        store = self._store(tmp_path)
        writer = self.reopen(store, tmp_path)

        def write() -> None:
            for k in range(3):
                time.sleep(0.05)
                writer.append(opening(f"D{k}", k))

        thread = threading.Thread(target=write)
        thread.start()
        try:
            got = []
            for position, e in store.follow(poll=0.01, idle_timeout=2.0):
                got.append((position, e.deal_id, e.seq))
                if len(got) == 6:
                    break
        finally:
            thread.join()
        assert got == [
            (1, "D0", 0),
            (2, "D0", 1),
            (3, "D1", 0),
            (4, "D1", 1),
            (5, "D2", 0),
            (6, "D2", 1),
        ]

    def test_follow_never_skips_under_concurrent_writers(self, tmp_path: Path) -> None:
        """Three writers on handles of their own append while a follower reads: it sees
        every event exactly once, positions strictly increasing, none skipped."""
        store = self._store(tmp_path)
        writers, per_writer = 3, 30
        handles = [self.reopen(store, tmp_path) for _ in range(writers)]
        errors: list[BaseException] = []

        def write(w: int) -> None:
            try:
                for k in range(per_writer):
                    deal = f"W{w}-{k // 3}"
                    seq = k % 3
                    kind = "opened" if seq == 0 else "activity"
                    handles[w].append([ev(deal, seq, seq, kind)])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        for t in threads:
            t.start()
        got: list[tuple[int, str, int]] = []
        try:
            for position, e in self.reopen(store, tmp_path).follow(poll=0.005, idle_timeout=3.0):
                got.append((position, e.deal_id, e.seq))
                if len(got) == writers * per_writer:
                    break
        finally:
            for t in threads:
                t.join()
        assert errors == []
        positions = [p for p, _, _ in got]
        # 3 writers x 30 appends of one event each = 90 events at positions 1..90
        assert positions == list(range(1, writers * per_writer + 1))
        assert len({(d, s) for _, d, s in got}) == writers * per_writer
        assert got == [(p, e.deal_id, e.seq) for p, e in store.events_after(0)]

    def test_follow_bad_arguments_are_refused(self, tmp_path: Path) -> None:
        """A negative ``after``, a non-positive ``poll`` or a negative ``idle_timeout``
        raises DataError (a ValueError) naming the argument."""
        store = self._store(tmp_path)
        with _raises(DataError, "after must be an int >= 0, got -1"):
            store.follow(-1)
        with _raises(ValueError, "after must be an int >= 0, got True"):
            store.follow(True)
        with _raises(DataError, "poll must be a number of seconds > 0, got 0"):
            store.follow(poll=0)
        with _raises(DataError, r"idle_timeout must be a number of seconds >= 0 or None, got -1"):
            store.follow(idle_timeout=-1)
        with _raises(DataError, r"idle_timeout .* got 'soon'"):
            store.follow(idle_timeout="soon")  # type: ignore[arg-type]

    # ------------------------------------------------------------------ reopening
    def test_reopened_store_sees_everything(self, tmp_path: Path) -> None:
        """A second handle reads every event and can go on appending."""
        store = self._store(tmp_path)
        store.append(opening("A"))
        store.append([ev("A", 2, 1)])
        again = self.reopen(store, tmp_path)
        assert self._all(again) == self._all(store)
        again.append([ev("A", 3, 2)])
        assert [e.seq for e in store.events("A")] == [0, 1, 2, 3]
        assert [p for p, _ in again.events_after(2)] == [3, 4]

    # ------------------------------------------------------------------ deals
    def test_load_rebuilds_and_attaches_the_deal(self, tmp_path: Path) -> None:
        """``load`` rebuilds the deal; its further changes land in the same store."""
        pipeline = _pipeline()
        store = self._store(tmp_path)
        deal = pipeline.open_deal("A", at=T0, store=store, amount=100)
        deal.move("qualified", at=T0 + timedelta(days=1))
        loaded = pipeline.load_deal(store, "A")
        assert (loaded.stage, dict(loaded.attributes)) == ("qualified", {"amount": 100})
        assert loaded.events == deal.events
        loaded.lose(at=T0 + timedelta(days=2), reason="budget")
        final = pipeline.load_deal(self.reopen(store, tmp_path), "A")
        assert final.outcome == "lost"
        assert final.events[-1].data == {"reason": "budget"}

    def test_load_unknown_deal_raises_key_error(self, tmp_path: Path) -> None:
        """Loading a deal the store does not hold raises a KeyError naming it."""
        store = self._store(tmp_path)
        with _raises(KeyError, "the store has no deal 'ghost'"):
            _pipeline().load_deal(store, "ghost")

    def test_open_deal_writes_both_events(self, tmp_path: Path) -> None:
        """``open_deal`` appends ``opened`` then ``stage_entered`` in one go."""
        store = self._store(tmp_path)
        _pipeline().open_deal("A", at=T0, store=store, owner="ann")
        kinds = [(e.kind, e.stage) for e in store.events("A")]
        assert kinds == [("opened", None), ("stage_entered", "lead")]
        with _raises(ConcurrencyError, "already taken"):
            _pipeline().open_deal("A", at=T0, store=store)
