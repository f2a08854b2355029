"""The live :class:`Deal`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from threading import RLock
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from transitions import MachineError

from ._activity_index import _ActivityIndex
from ._errors import (
    ConcurrencyError,
    DataError,
    DataTypeError,
    OutOfOrderError,
    SalesStagesError,
    TransitionRefused,
)
from ._events import Event, freeze_data
from ._machine import live_machine, move_trigger, substate_trigger
from ._refusal import allowed_sentence, refusal_message, requirements
from ._stage import SEPARATOR
from ._time import to_utc
from ._values import attribute_data, json_data
from .guards import DealView, Verdict, _Prefix, evaluate

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._stores import EventStore

__all__ = ["Deal", "load_deal", "open_deal"]

_T = TypeVar("_T")
#: Guards the lazy creation of each deal's lock.
_LOCK_INIT: Final = threading.Lock()


def _check_reason(reason: object) -> None:
    if reason is not None and not isinstance(reason, str):
        raise DataTypeError(f"reason must be a string, got {type(reason).__name__}", field="reason")


class Deal:
    """A deal moving through a pipeline, backed by an append-only event log.

    Create one with :meth:`Pipeline.open_deal` or load one with
    :meth:`EventStore.load`; do not call the constructor. Every method that
    changes the deal appends an :class:`Event` to the store *before* the
    in-memory state changes, so a failed append (for example a
    :class:`ConcurrencyError`) leaves the deal as it was.

    One deal may be shared by threads: its calls are serialised by a
    re-entrant lock, so checking the entry criteria, appending and changing the
    state happen as one step. Handlers registered with
    :meth:`Pipeline.subscribe` run under that lock too, after each call's
    events are appended; they may call back into the deal from the same thread.
    Two copies of one deal (loaded twice) are two deals: the store's
    :class:`ConcurrencyError` is what keeps them apart.

    Attributes:
        id: The deal's id.
        pipeline: The pipeline the deal follows.
        state: The live machine's state name (``stage`` or ``stage/substate``).
    """

    __slots__ = (
        "_activities",
        "_attributes",
        "_events",
        "_lock",
        "_lost_from",
        "_queue",
        "_store",
        "id",
        "pipeline",
        "state",
    )

    def __init__(
        self,
        pipeline: Pipeline,
        deal_id: str,
        *,
        state: str,
        events: list[Event],
        attributes: dict[str, Any],
        lost_from: str | None = None,
        store: EventStore | None = None,
    ) -> None:
        self.id = deal_id
        self.pipeline = pipeline
        self.state = state
        self._events = events
        self._attributes = attributes
        self._lost_from = lost_from
        self._store = store
        self._lock: RLock | None = None
        self._queue: list[Event] | None = None
        # activities by name (and by name and key), built on the first guard evaluation,
        # then extended by _append
        self._activities: _ActivityIndex | None = None

    # ----------------------------------------------------------------- reading
    @property
    def stage(self) -> str:
        """The current stage."""
        return self.state.split(SEPARATOR, 1)[0]

    @property
    def substate(self) -> str | None:
        """The current sub-state of the stage, or ``None``."""
        parts = self.state.split(SEPARATOR, 1)
        return parts[1] if len(parts) > 1 else None

    @property
    def outcome(self) -> Literal["open", "won", "lost"]:
        """``"open"``, ``"won"`` or ``"lost"``: the current stage's outcome."""
        return self.pipeline.stage(self.stage).outcome

    @property
    def is_open(self) -> bool:
        """True while the deal is in an open stage."""
        return self.outcome == "open"

    @property
    def attributes(self) -> Mapping[str, Any]:
        """The deal's attributes (read-only): opening values merged with every update."""
        return MappingProxyType(self._attributes)

    @property
    def events(self) -> tuple[Event, ...]:
        """Every event of the deal, in order."""
        return tuple(self._events)

    @property
    def lost_from(self) -> str | None:
        """The open stage the deal was last lost from (where ``reopen`` goes by default)."""
        return self._lost_from

    @property
    def store(self) -> EventStore | None:
        """The store events are appended to (``None`` for a detached, replayed deal)."""
        return self._store

    def view(self) -> DealView:
        """A read-only view of the deal, as guards see it.

        The view costs the same however long the log is: its ``events`` are the
        log as it is now, without a copy (the log only grows), and activities
        are looked up by name in an index the deal builds once and extends as
        they arrive.
        """
        index = self._activities
        if index is None:
            index = self._activities = _ActivityIndex(self._events)
        return DealView(
            id=self.id,
            stage=self.stage,
            substate=self.substate,
            attributes=MappingProxyType(dict(self._attributes)),
            events=_Prefix(self._events, len(self._events)),
            activity_index=index,
        )

    # ----------------------------------------------------------------- rules
    def can_move(self, to: str) -> Verdict:
        """Whether the graph allows moving to ``to`` and ``to``'s entry criteria hold.

        The reasons list everything that stands in the way. Raises
        :class:`UnknownStageError` for a stage the pipeline does not have.
        """
        target = self.pipeline.stage(to)
        with self._lock_of():
            return self._verdict(target.name)

    def _graph_reasons(self, to: str) -> list[str]:
        pipeline = self.pipeline
        current = self.stage
        if pipeline.stage(current).outcome == "won":
            return [f"the deal is closed won ({current!r}); nothing leaves a won stage"]
        if not pipeline.allowed(current, to):
            if to == current:
                return [f"the deal is already in {to!r}"]
            return [f"the pipeline does not allow moving from {current!r} to {to!r}"]
        return []

    def _verdict(self, to: str) -> Verdict:
        reasons = self._graph_reasons(to)
        entry = self.pipeline.stage(to).entry
        if entry is not None:
            verdict = evaluate(entry, self.view())
            if not verdict.ok:
                reasons.extend(verdict.reasons or (f"the entry criteria of {to!r} do not hold",))
        return Verdict(False, tuple(reasons)) if reasons else Verdict.yes()

    def _refuse_move(self, action: str, to: str, verdict: Verdict) -> TransitionRefused:
        """The refusal of a move into ``to``: the graph's reason, the unmet criteria as
        requirements, then (in its own sentence) the moves that would pass now."""
        entry = self.pipeline.stage(to).entry
        unmet = requirements(entry, self.view()) if entry is not None else []
        allowed: str | None = None
        if self.outcome != "won":
            passing = [
                t for t in self.pipeline.targets(self.stage) if t != to and self._verdict(t).ok
            ]
            allowed = allowed_sentence("move", passing)
        message = refusal_message(action, self._graph_reasons(to), unmet, allowed)
        return TransitionRefused(message, verdict)

    def _refuse(self, action: str, verdict: Verdict, *, hint: bool = True) -> TransitionRefused:
        allowed: str | None = None
        if hint and self.outcome != "won":
            passing = [t for t in self.pipeline.targets(self.stage) if self._verdict(t).ok]
            allowed = allowed_sentence("move", passing)
        return TransitionRefused(refusal_message(action, verdict.reasons, (), allowed), verdict)

    def _check_time(self, at: datetime, source: str = "") -> datetime:
        last = self._events[-1].at if self._events else None
        if last is not None and at < last:
            raise OutOfOrderError(
                f"deal {self.id!r}: at={at.isoformat()}{source} is earlier than its last event "
                f"({last.isoformat()}); events of a deal never go back in time"
            )
        return at

    def _append(self, events: list[Event]) -> None:
        if self._store is not None:
            self._store.append(events)
        self._events.extend(events)
        index = self._activities
        if index is not None:
            for event in events:
                index.add(event)

    def _make(
        self,
        kind: str,
        at: datetime,
        *,
        stage: str | None,
        name: str | None = None,
        data: Mapping[str, Any] | None = None,
        offset: int = 0,
    ) -> Event:
        return Event(
            deal_id=self.id,
            seq=len(self._events) + offset,
            at=at,
            kind=kind,  # type: ignore[arg-type]
            stage=stage,
            name=name,
            data=freeze_data(data),
        )

    def _fire(self, trigger: str) -> None:
        try:
            ok = live_machine(self.pipeline).fire(self, trigger)
        except MachineError as exc:  # pragma: no cover - the verdict said yes
            raise SalesStagesError(
                f"internal error: the live machine refused {trigger!r} from {self.state!r} "
                f"after the compiled table allowed it ({exc}); please report this"
            ) from exc
        if not ok:  # pragma: no cover
            raise SalesStagesError(f"internal error: trigger {trigger!r} did not fire")

    def _enter(self, to: str, at: datetime, data: Mapping[str, Any] | None = None) -> Event:
        event = self._make("stage_entered", at, stage=to, data=data)
        from_stage = self.stage
        self._append([event])
        self._fire(move_trigger(to))
        if self.pipeline.stage(to).outcome == "lost" and self.pipeline.stage(from_stage).is_open:
            self._lost_from = from_stage
        return event

    # ----------------------------------------------------------------- serialising
    def _lock_of(self) -> RLock:
        """The deal's re-entrant lock, created on first use (replayed deals never pay)."""
        lock = self._lock
        if lock is None:
            with _LOCK_INIT:
                lock = self._lock
                if lock is None:
                    lock = self._lock = RLock()
        return lock

    def _run(self, step: Callable[[], _T]) -> _T:
        """Run one call as one step under the deal's lock, then hand its new events
        to the pipeline's handlers (still under the lock, so they see events in order)."""
        with self._lock_of():
            start = len(self._events)
            try:
                result = step()
            except BaseException as exc:
                if len(self._events) > start:  # e.g. a hop failed after its activity
                    try:
                        self._dispatch(self._events[start:])
                    except HandlerError as failed:
                        exc.add_note(f"besides, {failed}")
                raise
            if len(self._events) > start:
                self._dispatch(self._events[start:])
            return result

    def _dispatch(self, events: list[Event]) -> None:
        """Call every matching handler for each event, in order; raise
        :class:`HandlerError` once all ran if any raised.

        A handler that calls back into this deal (same thread, re-entrant lock)
        appends to the queue of the dispatch already running, so every handler
        still sees the events in order; that outermost dispatch raises.
        """
        if self._queue is not None:
            self._queue.extend(events)
            return
        if not self.pipeline._subscriptions:
            return
        queue = self._queue = list(events)
        failures: list[tuple[Event, Exception]] = []
        try:
            i = 0
            while i < len(queue):
                event = queue[i]
                i += 1
                for sub in self.pipeline._subscriptions:
                    if sub.active and sub.matches(event):
                        try:
                            sub.handler(self, event)
                        except Exception as exc:  # every handler runs; reported below
                            failures.append((event, exc))
        finally:
            self._queue = None
        if failures:
            event, first = failures[0]
            exceptions = tuple(exc for _, exc in failures)
            raise HandlerError(
                f"{len(exceptions)} handler call(s) raised on deal {self.id!r}, first on its "
                f"{event.kind!r} event (seq {event.seq}): {type(first).__name__}: {first}; "
                "the events are recorded and the deal's state includes them; the other handlers "
                "ran; see .exceptions",
                deal=self,
                event=event,
                exceptions=exceptions,
            ) from first

    # ----------------------------------------------------------------- changing
    def _when(self, at: datetime | None) -> datetime:
        """``at`` (or the pipeline's clock when ``None``) in UTC, not before the last event."""
        if at is None:
            return self._check_time(self.pipeline.clock(), " (from pipeline.clock())")
        return self._check_time(to_utc(at, "at"))

    def move(self, to: str, *, at: datetime | None = None, **data: Any) -> Event:
        """Move the deal into stage ``to``.

        ``at=None`` takes the time from :meth:`Pipeline.clock`. Extra keyword
        data (JSON values, for example ``by="ana", note="call went well"``) is
        kept in the ``stage_entered`` event's data; into a lost stage,
        ``reason=`` is the lost reason (``None`` when left out), as for
        :meth:`lose`. ``to`` and ``at`` cannot be data keys.

        Raises:
            TransitionRefused: The graph or ``to``'s entry criteria refuse it;
                nothing is recorded. ``.verdict`` lists every reason.
            OutOfOrderError: ``at`` is earlier than the deal's last event.
            TypeError: A data value is not a JSON value.
        """
        return self._run(lambda: self._move(to, at, data))

    def _move(self, to: str, at: datetime | None, data: dict[str, Any]) -> Event:
        when = self._when(at)
        target = self.pipeline.stage(to)
        payload = json_data(data, f"move({to!r})") if data else {}
        if target.outcome == "lost":
            reason = payload.pop("reason", None)
            _check_reason(reason)
            payload = {"reason": reason, **payload}
        verdict = self._verdict(target.name)
        if not verdict.ok:
            raise self._refuse_move(
                f"move deal {self.id!r} from {self.stage!r} to {to!r}", target.name, verdict
            )
        return self._enter(target.name, when, payload)

    def can_enter_substate(self, name: str) -> Verdict:
        """Whether the deal may enter sub-state ``name`` of its current stage now.

        The sub-state must belong to the current stage, come after the current
        sub-state (skipping is fine; an earlier one only with the stage's
        ``substate_regress=True``; never the current one again), and its entry
        criteria must hold. The reasons list everything that stands in the way.
        """
        with self._lock_of():
            return self._substate_verdict(name)

    def _substate_reasons(self, name: str) -> list[str]:
        stage = self.pipeline.stage(self.stage)
        if name not in stage.substates:
            if stage.substates:
                return [
                    f"stage {stage.name!r} has no sub-state {name!r}; its sub-states: "
                    + ", ".join(stage.substates)
                ]
            return [f"stage {stage.name!r} has no sub-states (asked for {name!r})"]
        current = self.substate
        if name in self.pipeline.substate_targets(stage.name, current):
            return []
        if name == current:
            return [f"the deal is already in sub-state {name!r}"]
        return [
            f"sub-state {name!r} comes before the current sub-state {current!r} of "
            f"{stage.name!r}, and the stage does not allow going back (substate_regress=False)"
        ]

    def _substate_verdict(self, name: str) -> Verdict:
        reasons = self._substate_reasons(name)
        stage = self.pipeline.stage(self.stage)
        if name in stage.substates:
            entry = stage.substate(name).entry
            if entry is not None:
                verdict = evaluate(entry, self.view())
                if not verdict.ok:
                    reasons.extend(
                        verdict.reasons
                        or (f"the entry criteria of sub-state {name!r} do not hold",)
                    )
        return Verdict(False, tuple(reasons)) if reasons else Verdict.yes()

    def enter_substate(self, name: str, *, at: datetime | None = None) -> Event:
        """Enter sub-state ``name`` of the current stage (``at=None``: the pipeline's clock).

        Raises:
            TransitionRefused: :meth:`can_enter_substate` is false (an unknown
                sub-state, the current one again, an earlier one without
                ``substate_regress``, or unmet entry criteria); nothing is
                recorded.
        """
        return self._run(lambda: self._enter_substate(name, at))

    def _enter_substate(self, name: str, at: datetime | None) -> Event:
        when = self._when(at)
        stage = self.pipeline.stage(self.stage)
        verdict = self._substate_verdict(name)
        if not verdict.ok:
            raise self._refuse_substate(name, verdict)
        event = self._make("substate_entered", when, stage=stage.name, name=name)
        self._append([event])
        self._fire(substate_trigger(stage.name, name))
        return event

    def _refuse_substate(self, name: str, verdict: Verdict) -> TransitionRefused:
        action = f"enter sub-state {name!r} for deal {self.id!r}"
        stage = self.pipeline.stage(self.stage)
        if name not in stage.substates:
            return TransitionRefused(refusal_message(action, verdict.reasons, (), None), verdict)
        entry = stage.substate(name).entry
        unmet = requirements(entry, self.view()) if entry is not None else []
        passing = [
            sub
            for sub in self.pipeline.substate_targets(stage.name, self.substate)
            if sub != name and self._substate_verdict(sub).ok
        ]
        message = refusal_message(
            action,
            self._substate_reasons(name),
            unmet,
            allowed_sentence("sub-state", passing),
        )
        return TransitionRefused(message, verdict)

    def _closed_stage(self, stage: str | None, outcome: str) -> str:
        if stage is None:
            choices = self.pipeline.won_stages if outcome == "won" else self.pipeline.lost_stages
            return choices[0].name
        target = self.pipeline.stage(stage)
        if target.outcome != outcome:
            raise self._refuse(
                f"close deal {self.id!r} as {outcome} into {stage!r}",
                Verdict.no(f"stage {stage!r} is not a {outcome} stage"),
            )
        return target.name

    def win(self, *, at: datetime | None = None, stage: str | None = None, **data: Any) -> Event:
        """Move into a won stage (the pipeline's first by default); rules as :meth:`move`.

        Extra keyword data is kept in the event's data; ``stage`` and ``at``
        cannot be data keys.
        """
        return self._run(lambda: self._win(at, stage, data))

    def _win(self, at: datetime | None, stage: str | None, data: dict[str, Any]) -> Event:
        when = self._when(at)
        to = self._closed_stage(stage, "won")
        payload = json_data(data, "win()") if data else None
        verdict = self._verdict(to)
        if not verdict.ok:
            raise self._refuse_move(f"win deal {self.id!r} ({self.stage!r} to {to!r})", to, verdict)
        return self._enter(to, when, payload)

    def lose(
        self, *, at: datetime | None = None, reason: str, stage: str | None = None, **data: Any
    ) -> Event:
        """Move into a lost stage, keeping ``reason`` in the event's data.

        Extra keyword data is kept beside ``"reason"``; ``reason``, ``stage``
        and ``at`` cannot be data keys (``reason`` is always the lost reason).
        """
        return self._run(lambda: self._lose(at, reason, stage, data))

    def _lose(
        self, at: datetime | None, reason: str, stage: str | None, data: dict[str, Any]
    ) -> Event:
        when = self._when(at)
        _check_reason(reason)
        to = self._closed_stage(stage, "lost")
        payload = json_data(data, "lose()") if data else {}
        verdict = self._verdict(to)
        if not verdict.ok:
            raise self._refuse_move(
                f"lose deal {self.id!r} ({self.stage!r} to {to!r})", to, verdict
            )
        return self._enter(to, when, {"reason": reason, **payload})

    def reopen(self, *, at: datetime | None = None, to: str | None = None, **data: Any) -> Event:
        """Move a lost deal back to an open stage (by default the one it was lost from).

        Extra keyword data is kept in the event's data (a ``reason`` here is
        plain data, not a lost reason); ``to`` and ``at`` cannot be data keys.
        """
        return self._run(lambda: self._reopen(at, to, data))

    def _reopen(self, at: datetime | None, to: str | None, data: dict[str, Any]) -> Event:
        when = self._when(at)
        if self.outcome != "lost":
            raise self._refuse(
                f"reopen deal {self.id!r}",
                Verdict.no(f"the deal is {self.outcome} ({self.stage!r}); only lost deals reopen"),
            )
        target = to if to is not None else (self._lost_from or self.pipeline.first_stage.name)
        stage = self.pipeline.stage(target)
        if not stage.is_open:
            raise self._refuse(
                f"reopen deal {self.id!r} into {target!r}",
                Verdict.no(f"stage {target!r} is not an open stage"),
            )
        payload = json_data(data, "reopen()") if data else None
        verdict = self._verdict(target)
        if not verdict.ok:
            raise self._refuse_move(f"reopen deal {self.id!r} into {target!r}", target, verdict)
        return self._enter(target, when, payload)

    def _check_not_won(self, action: str) -> None:
        if self.outcome == "won":
            raise self._refuse(
                action,
                hint=False,
                verdict=Verdict.no(
                    f"the deal is closed won ({self.stage!r}); nothing follows a won stage"
                ),
            )

    def record(self, activity: str, *, at: datetime | None = None, **data: Any) -> Event:
        """Record an activity (a meeting booked, a document sent …) and return its event.

        With ``auto_advance=True`` the deal then moves, hop by hop, while the next
        open stage has entry criteria that hold; each hop is a ``stage_entered``
        event at the same ``at``, without data. ``at=None`` takes the time from
        :meth:`Pipeline.clock`.
        """
        return self._run(lambda: self._record(activity, at, data))

    def _record(self, activity: str, at: datetime | None, data: dict[str, Any]) -> Event:
        when = self._when(at)
        if not isinstance(activity, str) or not activity:
            error = DataError if isinstance(activity, str) else DataTypeError
            raise error(f"activity must be a non-empty string, got {activity!r}", field="activity")
        self._check_not_won(f"record {activity!r} on deal {self.id!r}")
        data = json_data(data, f"record({activity!r})")
        event = self._make("activity", when, stage=self.stage, name=activity, data=data)
        self._append([event])
        if self.pipeline.auto_advance:
            self._advance(when)
        return event

    def _advance(self, at: datetime) -> None:
        pipeline = self.pipeline
        while self.is_open:
            nxt = pipeline.next_stage(self.stage)
            if nxt is None or pipeline.stage(nxt).entry is None:
                return
            if not self._verdict(nxt).ok:
                return
            self._enter(nxt, at)

    def update(self, *, at: datetime | None = None, **attributes: Any) -> Event:
        """Change attributes (amount, owner, close date …); appends an ``updated`` event.

        ``at=None`` takes the time from :meth:`Pipeline.clock`.
        """
        return self._run(lambda: self._update(at, attributes))

    def _update(self, at: datetime | None, attributes: dict[str, Any]) -> Event:
        when = self._when(at)
        if not attributes:
            raise DataError("update() needs at least one attribute, e.g. update(at=..., amount=1)")
        self._check_not_won(f"update deal {self.id!r}")
        attributes = attribute_data(attributes, f"update() of deal {self.id!r}", self._attributes)
        event = self._make("updated", when, stage=self.stage, data=attributes)
        self._append([event])
        self._attributes.update(attributes)
        return event

    # ----------------------------------------------------------------- dunder
    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.state, self._attributes, self._events, self._lost_from)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Deal):
            return NotImplemented
        return self.pipeline is other.pipeline and self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Deal {self.id!r} in {self.state!r} ({len(self._events)} events)>"


def open_deal(
    pipeline: Pipeline,
    deal_id: str,
    *,
    at: datetime | None,
    store: EventStore | None,
    stage: str | None,
    attributes: Mapping[str, Any],
) -> Deal:
    """Implementation of :meth:`Pipeline.open_deal`."""
    from ._stores import MemoryStore

    if not isinstance(deal_id, str) or not deal_id:
        error = DataError if isinstance(deal_id, str) else DataTypeError
        raise error(f"deal_id must be a non-empty string, got {deal_id!r}", field="deal_id")
    at = pipeline.clock() if at is None else to_utc(at, "at")
    attributes = attribute_data(attributes, f"open_deal({deal_id!r})")
    first = pipeline.first_stage.name if stage is None else pipeline.stage(stage).name
    if not pipeline.stage(first).is_open:
        raise TransitionRefused(
            f"Cannot open deal {deal_id!r} in {first!r}: it is a closed stage; "
            "open deals start in an open stage",
            Verdict.no(f"stage {first!r} is not an open stage"),
        )
    if store is None:
        store = MemoryStore()
    opened = Event(
        deal_id=deal_id, seq=0, at=at, kind="opened", stage=None, data=freeze_data(attributes)
    )
    entered = Event(deal_id=deal_id, seq=1, at=at, kind="stage_entered", stage=first)
    try:
        store.append([opened, entered])
    except ConcurrencyError as exc:
        raise ConcurrencyError(
            f"deal {deal_id!r} already exists in this store (seq 0 is already taken); load it with "
            f"pipeline.load_deal(store, {deal_id!r}) or open the new deal under another id"
        ) from exc
    deal = Deal(
        pipeline,
        deal_id,
        state=first,
        events=[opened, entered],
        attributes=dict(attributes),
        store=store,
    )
    if pipeline._subscriptions:
        with deal._lock_of():
            deal._dispatch([opened, entered])
    return deal


def load_deal(pipeline: Pipeline, store: EventStore, deal_id: str, events: Iterable[Event]) -> Deal:
    """Replay one deal's events strictly and attach it to ``store``."""
    from ._replay import replay

    deals = replay(pipeline, events, strict=True)
    deal = deals.get(deal_id)
    if deal is None:
        raise UnknownDealError(f"the store has no deal {deal_id!r}")
    deal._store = store
    return deal


class UnknownDealError(SalesStagesError, KeyError):
    """A deal id that the store does not hold."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class HandlerError(SalesStagesError):
    """One or more handlers registered with :meth:`Pipeline.subscribe` raised.

    Every matching handler ran, and the events stay recorded: the deal's state
    already includes them. ``event`` is the first event a handler raised on,
    ``exceptions`` the tuple of every exception the handlers raised during the
    call (in the order they were raised; the first is also ``__cause__``) and
    ``deal`` the deal they were called with (useful after ``open_deal``, whose
    return value the error replaces).
    """

    def __init__(
        self,
        message: str,
        *,
        deal: Deal,
        event: Event,
        exceptions: tuple[Exception, ...],
    ) -> None:
        super().__init__(message)
        self.deal = deal
        self.event = event
        self.exceptions = exceptions
