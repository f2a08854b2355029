"""The live :class:`Deal`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from transitions import MachineError

from ._errors import (
    ConcurrencyError,
    OutOfOrderError,
    SalesStagesError,
    TransitionRefused,
)
from ._events import Event, freeze_data, json_data
from ._machine import live_machine, move_trigger, substate_trigger
from ._pipeline import SEPARATOR
from ._time import to_utc
from .guards import DealView, Verdict, evaluate

if TYPE_CHECKING:
    from ._pipeline import Pipeline
    from ._stores import EventStore

__all__ = ["Deal", "load_deal", "open_deal"]


class Deal:
    """A deal moving through a pipeline, backed by an append-only event log.

    Create one with :meth:`Pipeline.open_deal` or load one with
    :meth:`EventStore.load`; do not call the constructor. Every method that
    changes the deal appends an :class:`Event` to the store *before* the
    in-memory state changes, so a failed append (for example a
    :class:`ConcurrencyError`) leaves the deal as it was.

    Attributes:
        id: The deal's id.
        pipeline: The pipeline the deal follows.
        state: The live machine's state name (``stage`` or ``stage/substate``).
    """

    __slots__ = ("_attributes", "_events", "_lost_from", "_store", "id", "pipeline", "state")

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
        """A read-only view of the deal, as guards see it."""
        return DealView(
            id=self.id,
            stage=self.stage,
            substate=self.substate,
            attributes=MappingProxyType(dict(self._attributes)),
            events=tuple(self._events),
        )

    # ----------------------------------------------------------------- rules
    def can_move(self, to: str) -> Verdict:
        """Whether the graph allows moving to ``to`` and ``to``'s entry criteria hold.

        The reasons list everything that stands in the way. Raises
        :class:`UnknownStageError` for a stage the pipeline does not have.
        """
        target = self.pipeline.stage(to)
        return self._verdict(target.name)

    def _verdict(self, to: str) -> Verdict:
        pipeline = self.pipeline
        current = self.stage
        reasons: list[str] = []
        if pipeline.stage(current).outcome == "won":
            reasons.append(f"the deal is closed won ({current!r}); nothing leaves a won stage")
        elif not pipeline.allowed(current, to):
            allowed = pipeline.targets(current)
            if to == current:
                reasons.append(f"the deal is already in {to!r}")
            else:
                reasons.append(
                    f"the pipeline does not allow moving from {current!r} to {to!r}; "
                    + (f"allowed next: {', '.join(allowed)}" if allowed else "no move is allowed")
                )
        entry = pipeline.stage(to).entry
        if entry is not None:
            verdict = evaluate(entry, self.view())
            if not verdict.ok:
                reasons.extend(verdict.reasons or (f"the entry criteria of {to!r} do not hold",))
        return Verdict(False, tuple(reasons)) if reasons else Verdict.yes()

    def _refuse(self, action: str, verdict: Verdict, *, hint: bool = True) -> TransitionRefused:
        message = f"Cannot {action}: " + "; ".join(verdict.reasons)
        if hint and not any("allowed next" in r for r in verdict.reasons):
            allowed = self.pipeline.targets(self.stage)
            if allowed:
                message += f"; allowed next: {', '.join(allowed)}"
        return TransitionRefused(message + ".", verdict)

    def _check_time(self, at: datetime) -> datetime:
        at = to_utc(at, "at")
        last = self._events[-1].at if self._events else None
        if last is not None and at < last:
            raise OutOfOrderError(
                f"deal {self.id!r}: at={at.isoformat()} is earlier than its last event "
                f"({last.isoformat()}); events of a deal never go back in time"
            )
        return at

    def _append(self, events: list[Event]) -> None:
        if self._store is not None:
            self._store.append(events)
        self._events.extend(events)

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

    # ----------------------------------------------------------------- changing
    def move(self, to: str, *, at: datetime) -> Event:
        """Move the deal into stage ``to``.

        Raises:
            TransitionRefused: The graph or ``to``'s entry criteria refuse it;
                nothing is recorded. ``.verdict`` lists every reason.
            OutOfOrderError: ``at`` is earlier than the deal's last event.
        """
        at = self._check_time(at)
        target = self.pipeline.stage(to)
        verdict = self._verdict(target.name)
        if not verdict.ok:
            raise self._refuse(f"move deal {self.id!r} from {self.stage!r} to {to!r}", verdict)
        data = {"reason": None} if target.outcome == "lost" else None
        return self._enter(to, at, data)

    def enter_substate(self, name: str, *, at: datetime) -> Event:
        """Enter sub-state ``name`` of the current stage."""
        at = self._check_time(at)
        stage = self.pipeline.stage(self.stage)
        if name not in stage.substates:
            if stage.substates:
                reason = (
                    f"stage {stage.name!r} has no sub-state {name!r}; its sub-states: "
                    + ", ".join(stage.substates)
                )
            else:
                reason = f"stage {stage.name!r} has no sub-states (asked for {name!r})"
            raise self._refuse(
                f"enter sub-state {name!r} for deal {self.id!r}", Verdict.no(reason), hint=False
            )
        event = self._make("substate_entered", at, stage=stage.name, name=name)
        self._append([event])
        self._fire(substate_trigger(stage.name, name))
        return event

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

    def win(self, *, at: datetime, stage: str | None = None) -> Event:
        """Move into a won stage (the pipeline's first by default); rules as :meth:`move`."""
        at = self._check_time(at)
        to = self._closed_stage(stage, "won")
        verdict = self._verdict(to)
        if not verdict.ok:
            raise self._refuse(f"win deal {self.id!r} ({self.stage!r} to {to!r})", verdict)
        return self._enter(to, at)

    def lose(self, *, at: datetime, reason: str, stage: str | None = None) -> Event:
        """Move into a lost stage, keeping ``reason`` in the event's data."""
        at = self._check_time(at)
        if reason is not None and not isinstance(reason, str):
            raise TypeError(f"reason must be a string, got {type(reason).__name__}")
        to = self._closed_stage(stage, "lost")
        verdict = self._verdict(to)
        if not verdict.ok:
            raise self._refuse(f"lose deal {self.id!r} ({self.stage!r} to {to!r})", verdict)
        return self._enter(to, at, {"reason": reason})

    def reopen(self, *, at: datetime, to: str | None = None) -> Event:
        """Move a lost deal back to an open stage (by default the one it was lost from)."""
        at = self._check_time(at)
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
        verdict = self._verdict(target)
        if not verdict.ok:
            raise self._refuse(f"reopen deal {self.id!r} into {target!r}", verdict)
        return self._enter(target, at)

    def _check_not_won(self, action: str) -> None:
        if self.outcome == "won":
            raise self._refuse(
                action,
                hint=False,
                verdict=Verdict.no(
                    f"the deal is closed won ({self.stage!r}); nothing follows a won stage"
                ),
            )

    def record(self, activity: str, *, at: datetime, **data: Any) -> Event:
        """Record an activity (a meeting booked, a document sent …) and return its event.

        With ``auto_advance=True`` the deal then moves, hop by hop, while the next
        open stage has entry criteria that hold; each hop is a ``stage_entered``
        event at the same ``at``.
        """
        at = self._check_time(at)
        if not isinstance(activity, str) or not activity:
            raise ValueError(f"activity must be a non-empty string, got {activity!r}")
        self._check_not_won(f"record {activity!r} on deal {self.id!r}")
        data = json_data(data, f"record({activity!r})")
        event = self._make("activity", at, stage=self.stage, name=activity, data=data)
        self._append([event])
        if self.pipeline.auto_advance:
            self._advance(at)
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

    def update(self, *, at: datetime, **attributes: Any) -> Event:
        """Change attributes (amount, owner, close date …); appends an ``updated`` event."""
        at = self._check_time(at)
        if not attributes:
            raise ValueError("update() needs at least one attribute, e.g. update(at=..., amount=1)")
        self._check_not_won(f"update deal {self.id!r}")
        attributes = json_data(attributes, "update()")
        event = self._make("updated", at, stage=self.stage, data=attributes)
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
    at: datetime,
    store: EventStore | None,
    stage: str | None,
    attributes: Mapping[str, Any],
) -> Deal:
    """Implementation of :meth:`Pipeline.open_deal`."""
    from ._stores import MemoryStore

    if not isinstance(deal_id, str) or not deal_id:
        raise ValueError(f"deal_id must be a non-empty string, got {deal_id!r}")
    at = to_utc(at, "at")
    attributes = json_data(attributes, "open_deal()")
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
            f"store.load(pipeline, {deal_id!r}) or open the new deal under another id"
        ) from exc
    return Deal(
        pipeline,
        deal_id,
        state=first,
        events=[opened, entered],
        attributes=dict(attributes),
        store=store,
    )


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
