"""Stage and Pipeline: the definition, its validation, and its compiled transition table."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeAlias, overload

from ._diagram import dot, main_path_targets
from ._errors import DataError, NaiveTimeError, PipelineError, UnknownStageError, typed_faults
from ._events import EVENT_KINDS
from ._mermaid import mermaid
from ._stage import SEPARATOR, Outcome, Stage, Substate, substate_table
from ._substates import SubstateTable, check_references
from ._time import as_utc

if TYPE_CHECKING:
    from ._deal import Deal
    from ._events import Event
    from ._replay import Problem
    from ._stores import EventStore

__all__ = [
    "SEPARATOR",
    "Clock",
    "Handler",
    "Outcome",
    "Pipeline",
    "Stage",
    "Subscription",
    "Substate",
]

#: A zero-argument callable returning the current time as an aware datetime.
Clock: TypeAlias = Callable[[], datetime]
#: A handler registered with :meth:`Pipeline.subscribe`: called as ``handler(deal, event)``.
Handler: TypeAlias = "Callable[[Deal, Event], object]"
#: Guards every pipeline's subscription list (changes are rare; reads take no lock).
_SUBSCRIBE_LOCK: Final = threading.Lock()
_FORMAT: Final = 1
#: The most stages a pipeline may have (in Python and in files, CONTRACT section 12):
#: its compiled move table grows with the square of their number.
MAX_STAGES: Final = 500


def _check_kind(kind: str) -> None:
    if kind not in EVENT_KINDS:
        raise DataError(
            f"subscribe(): unknown event kind {kind!r}; the kinds are "
            + ", ".join(sorted(EVENT_KINDS)),
            field="kinds",
        )


def _callable_name(fn: Callable[..., object]) -> str:
    """``module.qualname`` of a function, else its repr (for error messages)."""
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if isinstance(qualname, str):
        return f"{module}.{qualname}" if isinstance(module, str) else qualname
    return repr(fn)


def _name_filter(
    what: str, value: str | Iterable[str] | None, known: Callable[[str], object]
) -> frozenset[str] | None:
    """``None``, or the set of names in ``value`` (one string is one name), each checked."""
    if value is None:
        return None
    names = (value,) if isinstance(value, str) else tuple(value)
    if not names:
        raise DataError(
            f"subscribe(): {what}= is empty, so the handler would never run; "
            f"pass None to receive every {what[:-1]}",
            field=what,
        )
    for name in names:
        known(name)
    return frozenset(names)


class Subscription:
    """One handler registered with :meth:`Pipeline.subscribe` and its filters."""

    __slots__ = ("active", "handler", "kinds", "stages")

    def __init__(
        self, handler: Handler, kinds: frozenset[str] | None, stages: frozenset[str] | None
    ) -> None:
        self.handler = handler
        self.kinds = kinds
        self.stages = stages
        self.active = True

    def matches(self, event: Event) -> bool:
        """Whether the handler wants ``event`` (its kind and stage pass the filters)."""
        return (self.kinds is None or event.kind in self.kinds) and (
            self.stages is None or event.stage in self.stages
        )


#: The yes/no settings of a pipeline; in :meth:`Pipeline.from_dict` each must be a bool.
_FLAGS: Final = ("allow_skip", "allow_regress", "allow_reopen", "auto_advance")


class Pipeline:
    """A sales pipeline: ordered stages and the moves allowed between them.

    Args:
        name: The pipeline's name.
        stages: Open stages first (in funnel order), then at least one ``"won"``
            and one ``"lost"`` stage.
        allow_skip: Allow moves to any later open stage, and to a won stage from
            any open stage.
        allow_regress: Allow moves back to an earlier open stage.
        allow_reopen: Allow moves from a lost stage back to an open stage.
        auto_advance: After :meth:`Deal.record`, move the deal forward while the
            next stage's entry criteria hold.
        transitions: When given, exactly these ``(from, to)`` moves are allowed,
            plus any open stage to any lost stage.
        clock: A zero-argument callable returning the current time as an aware
            datetime; :meth:`clock` calls it whenever a deal method or
            :meth:`open_deal` is called without ``at``. ``None`` means the
            current UTC time. The clock belongs to the running program, not to
            the definition: :meth:`to_dict` leaves it out and equality ignores
            it (as it ignores :meth:`subscribe`'s handlers).

    Raises:
        PipelineError: The definition is invalid; the message names the problem.
    """

    __slots__ = (
        "_by_name",
        "_clock",
        "_index",
        "_machine",
        "_next",
        "_subscriptions",
        "_subtargets",
        "_targets",
        "allow_regress",
        "allow_reopen",
        "allow_skip",
        "auto_advance",
        "lost_stages",
        "name",
        "open_stages",
        "stages",
        "transitions",
        "won_stages",
    )

    def __init__(
        self,
        name: str,
        stages: Sequence[Stage],
        *,
        allow_skip: bool = True,
        allow_regress: bool = False,
        allow_reopen: bool = True,
        auto_advance: bool = False,
        transitions: Sequence[tuple[str, str]] | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise PipelineError(f"a pipeline needs a non-empty name, got {name!r}")
        if clock is not None and not callable(clock):
            raise PipelineError(
                f"pipeline {name!r}: clock must be a zero-argument callable returning an aware "
                f"datetime (or None for the current UTC time), got {clock!r}"
            )
        self._clock: Clock | None = clock
        self._subscriptions: tuple[Subscription, ...] = ()
        if isinstance(stages, str | bytes) or not isinstance(stages, Iterable):
            raise PipelineError(f"stages must be a sequence of Stage, got {stages!r}")
        stage_list = tuple(itertools.islice(stages, MAX_STAGES + 1))
        if len(stage_list) > MAX_STAGES:
            raise PipelineError(
                f"pipeline {name!r} has more than {MAX_STAGES} stages, the limit; a sales "
                "pipeline has a handful: use sub-states, or split it into several pipelines"
            )
        for s in stage_list:
            if not isinstance(s, Stage):
                raise PipelineError(f"stages must be Stage objects, got {s!r}")
        self.name: str = name
        self.stages: tuple[Stage, ...] = stage_list
        self.allow_skip: bool = bool(allow_skip)
        self.allow_regress: bool = bool(allow_regress)
        self.allow_reopen: bool = bool(allow_reopen)
        self.auto_advance: bool = bool(auto_advance)
        self.transitions: tuple[tuple[str, str], ...] | None = None
        self._machine: Any = None
        self._validate_stages()
        self._by_name: dict[str, Stage] = {s.name: s for s in stage_list}
        self._index: dict[str, int] = {s.name: i for i, s in enumerate(stage_list)}
        self.open_stages: tuple[Stage, ...] = tuple(s for s in stage_list if s.is_open)
        self.won_stages: tuple[Stage, ...] = tuple(s for s in stage_list if s.outcome == "won")
        self.lost_stages: tuple[Stage, ...] = tuple(s for s in stage_list if s.outcome == "lost")
        if transitions is not None:
            self.transitions = self._check_transitions(transitions)
        self._targets: dict[str, frozenset[str]] = self._compile()
        opens = self.open_stages
        self._next: dict[str, str | None] = {
            s.name: (opens[i + 1].name if i + 1 < len(opens) else None) for i, s in enumerate(opens)
        }
        self._check_reachability()
        check_references(self)
        #: For each stage, and each current sub-state (None: none yet), the
        #: sub-states a deal may enter.
        self._subtargets: dict[str, SubstateTable] = {
            s.name: substate_table(s) for s in stage_list if s.substates
        }

    # ----------------------------------------------------------------- validation
    def _validate_stages(self) -> None:
        stages = self.stages
        if not stages:
            raise PipelineError(f"pipeline {self.name!r} has no stages")
        seen: set[str] = set()
        for s in stages:
            if s.name in seen:
                raise PipelineError(f"pipeline {self.name!r} has duplicate stage name {s.name!r}")
            seen.add(s.name)
        closed_seen: str | None = None
        for s in stages:
            if s.is_open and closed_seen is not None:
                raise PipelineError(
                    f"pipeline {self.name!r}: open stage {s.name!r} comes after closed stage "
                    f"{closed_seen!r}; list open stages first, then the won and lost stages"
                )
            if not s.is_open:
                closed_seen = s.name
        outcomes = {s.outcome for s in stages}
        if "open" not in outcomes:
            raise PipelineError(f"pipeline {self.name!r} has no open stage")
        if "won" not in outcomes:
            raise PipelineError(
                f"pipeline {self.name!r} has no won stage; add Stage('closed_won', outcome='won')"
            )
        if "lost" not in outcomes:
            raise PipelineError(
                f"pipeline {self.name!r} has no lost stage; "
                "add Stage('closed_lost', outcome='lost')"
            )

    def _check_transitions(
        self, transitions: Sequence[tuple[str, str]]
    ) -> tuple[tuple[str, str], ...]:
        pairs: list[tuple[str, str]] = []
        for pair in transitions:
            if isinstance(pair, str) or len(pair) != 2:
                raise PipelineError(f"transitions must be (from, to) pairs, got {pair!r}")
            a, b = pair
            for n in (a, b):
                if n not in self._by_name:
                    raise PipelineError(
                        f"transitions name unknown stage {n!r}; known stages: "
                        + ", ".join(s.name for s in self.stages)
                    )
            if a == b:
                raise PipelineError(f"transition ({a!r}, {b!r}) goes from a stage to itself")
            if self._by_name[a].outcome == "won":
                raise PipelineError(
                    f"transition ({a!r}, {b!r}) leaves won stage {a!r}; nothing leaves a won stage"
                )
            pairs.append((a, b))
        return tuple(pairs)

    def _compile(self) -> dict[str, frozenset[str]]:
        targets: dict[str, set[str]] = {s.name: set() for s in self.stages}
        opens = [s.name for s in self.open_stages]
        lost = [s.name for s in self.lost_stages]
        won = [s.name for s in self.won_stages]
        for o in opens:
            targets[o].update(lost)
        if self.transitions is not None:
            for a, b in self.transitions:
                targets[a].add(b)
        else:
            # Slices, not a loop over pairs: the table still has n² entries with
            # allow_skip, but they are built at C speed (500 stages in milliseconds).
            last = len(opens) - 1
            for i, o in enumerate(opens):
                t = targets[o]
                t.update(opens[i + 1 :] if self.allow_skip else opens[i + 1 : i + 2])
                if self.allow_regress:
                    t.update(opens[:i])
                if i == last or self.allow_skip:
                    t.update(won)
            if self.allow_reopen:
                for lo in lost:
                    targets[lo].update(opens)
        return {k: frozenset(v) for k, v in targets.items()}

    def _check_reachability(self) -> None:
        if self.transitions is None:
            return  # each open stage moves to the next, the last one to a won stage
        first = self.open_stages[0].name
        seen = {first}
        queue = deque([first])
        while queue:
            for nxt in self._targets[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        for s in self.open_stages:
            if s.name not in seen:
                raise PipelineError(
                    f"pipeline {self.name!r}: open stage {s.name!r} cannot be reached from "
                    f"the first stage {first!r}; allow a move into it"
                )
        reverse: dict[str, set[str]] = {s.name: set() for s in self.stages}
        for a, bs in self._targets.items():
            for b in bs:
                reverse[b].add(a)
        can_win = {s.name for s in self.won_stages}
        queue = deque(can_win)
        while queue:
            for prev in reverse[queue.popleft()]:
                if prev not in can_win:
                    can_win.add(prev)
                    queue.append(prev)
        for s in self.open_stages:
            if s.name not in can_win:
                raise PipelineError(
                    f"pipeline {self.name!r}: no won stage can be reached from open stage "
                    f"{s.name!r}; allow a move out of it towards a won stage"
                )

    # ----------------------------------------------------------------- queries
    def stage(self, name: str) -> Stage:
        """The stage called ``name``; raises :class:`UnknownStageError`."""
        try:
            return self._by_name[name]
        except (KeyError, TypeError):
            raise UnknownStageError(
                f"pipeline {self.name!r} has no stage {name!r}; known stages: "
                + ", ".join(s.name for s in self.stages)
            ) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._by_name

    def index(self, name: str) -> int:
        """Position of stage ``name`` in the pipeline's order."""
        self.stage(name)
        return self._index[name]

    def next_stage(self, name: str) -> str | None:
        """The open stage after open stage ``name``; ``None`` after the last open stage
        and for closed stages."""
        self.stage(name)
        return self._next.get(name)

    def allowed(self, from_stage: str, to_stage: str) -> bool:
        """Whether the stage graph allows a move from ``from_stage`` to ``to_stage``.

        Entry criteria are not looked at; see :meth:`Deal.can_move` for both.
        """
        self.stage(from_stage)
        self.stage(to_stage)
        return to_stage in self._targets[from_stage]

    def substate_targets(self, stage: str, current: str | None = None) -> tuple[str, ...]:
        """The sub-states of ``stage`` a deal in sub-state ``current`` (``None``: in
        none yet) may enter, in order; entry criteria are not looked at."""
        table = self._subtargets.get(self.stage(stage).name)
        if table is None:
            return ()
        allowed = table.get(current)
        return () if allowed is None else tuple(allowed)

    def targets(self, from_stage: str) -> tuple[str, ...]:
        """Every stage the graph allows a move to from ``from_stage``, in pipeline order."""
        self.stage(from_stage)
        allowed = self._targets[from_stage]
        return tuple(s.name for s in self.stages if s.name in allowed)

    @property
    def first_stage(self) -> Stage:
        """The first open stage, where new deals start."""
        return self.open_stages[0]

    # ----------------------------------------------------------------- time and handlers
    def clock(self) -> datetime:
        """The time a deal method (or :meth:`open_deal`) uses when called without ``at``.

        The ``clock`` given to the pipeline, converted to UTC, or the current UTC time.

        Raises:
            NaiveTimeError: The clock returned a naive datetime (or no datetime);
                the message names the clock.
        """
        clock = self._clock
        if clock is None:
            return datetime.now(UTC)
        value = clock()
        if not isinstance(value, datetime) or value.utcoffset() is None:
            what = (
                f"the naive datetime {value.isoformat()}"
                if isinstance(value, datetime)
                else f"{value!r} (a {type(value).__name__})"
            )
            raise NaiveTimeError(
                f"pipeline {self.name!r}: its clock {_callable_name(clock)} returned {what}; "
                "a clock must return an aware datetime, for example datetime.now(UTC)"
            )
        return value if value.tzinfo is UTC else as_utc(value, "clock()")

    def subscribe(
        self,
        handler: Handler,
        *,
        kinds: str | Iterable[str] | None = None,
        stages: str | Iterable[str] | None = None,
    ) -> Callable[[], None]:
        """Call ``handler(deal, event)`` for every event a deal of this pipeline appends.

        Only live changes count: :meth:`open_deal` and the :class:`Deal` methods
        (each event of an auto-advance, too), never :meth:`replay` or a store's
        ``load``. ``kinds`` keeps only those event kinds, ``stages`` only events
        whose ``stage`` is one of those stages (an ``opened`` event has no stage,
        so it never passes a ``stages`` filter); one string counts as one name.

        Handlers run in the calling thread, after the append has succeeded and
        the deal's state includes the change, in event order, while the deal's
        (re-entrant) lock is held: a handler may call back into the same deal,
        and the events it appends are handed to every handler after the current
        event's. Every matching handler runs; when any raised, the outermost
        deal call raises :class:`HandlerError` afterwards, and the events stay
        recorded. A handler runs in the writer's process only: to react from
        another process, read the store instead.

        Returns:
            A callable that unsubscribes the handler (calling it again does
            nothing). Once it returns, the handler is not called again, even
            for an event being dispatched at that moment.

        Raises:
            DataError: ``handler`` is not callable, or ``kinds`` names an
                unknown event kind.
            UnknownStageError: ``stages`` names a stage the pipeline does not have.
        """
        if not callable(handler):
            raise DataError(
                f"subscribe() needs a callable handler(deal, event), got {handler!r}",
                field="handler",
            )
        sub = Subscription(
            handler,
            _name_filter("kinds", kinds, _check_kind),
            _name_filter("stages", stages, self.stage),
        )
        with _SUBSCRIBE_LOCK:
            self._subscriptions = (*self._subscriptions, sub)

        def unsubscribe() -> None:
            with _SUBSCRIBE_LOCK:
                sub.active = False
                self._subscriptions = tuple(s for s in self._subscriptions if s is not sub)

        return unsubscribe

    # ----------------------------------------------------------------- deals and logs
    def open_deal(
        self,
        deal_id: str,
        *,
        at: datetime | None = None,
        store: EventStore | None = None,
        stage: str | None = None,
        **attributes: Any,
    ) -> Deal:
        """Open a new deal: appends ``opened`` and ``stage_entered`` for the first
        open stage (or ``stage``, which must be open).

        Entry criteria of the starting stage are not evaluated: a new deal has
        no activities yet. ``store=None`` keeps the events in a fresh
        :class:`MemoryStore`; ``at=None`` takes the time from :meth:`clock`.
        Handlers registered with :meth:`subscribe` see both events.
        """
        from ._deal import open_deal

        return open_deal(self, deal_id, at=at, store=store, stage=stage, attributes=attributes)

    def replay(self, events: Iterable[Event], *, strict: bool = True) -> dict[str, Deal]:
        """Rebuild deals from events in any order, checking the graph's rules.

        Raises:
            InvalidLogError: With ``strict=True``, at the first event that breaks
                a rule. With ``strict=False`` each deal is kept as far as its
                events make sense.
        """
        from ._replay import replay

        return replay(self, events, strict=strict)

    @overload
    def load_deal(self, store: EventStore, deal_id: str) -> Deal: ...

    @overload
    def load_deal(self, deal_id: str, events: Iterable[Event], *, store: EventStore) -> Deal: ...

    def load_deal(self, *args: Any, **kwargs: Any) -> Deal:
        """Rebuild deal ``deal_id`` from ``store``'s events; later changes to the deal
        are appended to ``store``.

        The deal's events are replayed strictly. This is how a deal comes back
        from any store: stores hold events only, the live layer rebuilds deals.

        Raises:
            UnknownDealError: ``store`` holds no event of ``deal_id``.
            InvalidLogError: The events break one of the pipeline's rules.

        The spelling of 0.1, ``load_deal(deal_id, events, store=store)``, still
        works for one release and warns (:class:`DeprecationWarning`).
        """
        from ._deal import load_deal

        store, deal_id, events = _load_deal_arguments(args, kwargs)
        if events is None:
            events = store.events(deal_id)
        return load_deal(self, store, deal_id, events)

    def check(self, events: Iterable[Event], *, guards: bool = False) -> list[Problem]:
        """List every problem in a log; with ``guards=True`` also re-evaluate each
        move's entry criteria."""
        from ._replay import check

        return check(self, events, guards=guards)

    # ----------------------------------------------------------------- export
    def to_mermaid(self, main_path: bool = False) -> str:
        """The pipeline as a Mermaid ``stateDiagram-v2``.

        Stage names that are not plain identifiers get safe ids and keep their
        name as the label; entry criteria label the edges into guarded stages
        (and sub-states). With ``main_path=True`` only the moves to the next
        open stage, the won and lost exits of the last open stage and the
        sub-states in order are drawn, so each criterion is written once.
        """
        targets = main_path_targets(self) if main_path else self.targets
        return mermaid(self.stages, targets)

    def to_dot(self, main_path: bool = False) -> str:
        """The pipeline as a Graphviz ``digraph``, ranked left to right in stage order.

        Entry criteria are written once, under each stage's name (sub-states'
        criteria beside them). ``main_path`` draws the same edges as in
        :meth:`to_mermaid`; moves back are dashed.
        """
        return dot(self, main_path=main_path)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-, TOML- and YAML-friendly dict that :meth:`from_dict` turns back into
        an equal pipeline.

        The clock and the subscribed handlers are not part of it: pass ``clock``
        to :meth:`from_dict` and subscribe again after loading.

        Raises:
            PipelineError: A stage's entry criteria hold a custom Python callable.
        """
        d: dict[str, Any] = {
            "format": _FORMAT,
            "name": self.name,
            "allow_skip": self.allow_skip,
            "allow_regress": self.allow_regress,
            "allow_reopen": self.allow_reopen,
            "auto_advance": self.auto_advance,
            "stages": [s.to_dict() for s in self.stages],
        }
        if self.transitions is not None:
            d["transitions"] = [list(p) for p in self.transitions]
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, clock: Clock | None = None) -> Pipeline:
        """Rebuild a pipeline from :meth:`to_dict`'s form (never runs code).

        ``clock`` is the new pipeline's clock (see :class:`Pipeline`).

        Raises:
            PipelineError: Anything wrong with ``d``, including values of the
                wrong type, guards nested deeper than 64 levels and numbers out
                of range; never a bare ``TypeError``, ``OverflowError`` or
                ``RecursionError``.
        """
        with typed_faults(
            PipelineError, "the pipeline definition", also=(TypeError, ValueError, KeyError)
        ):
            return cls._from_dict(d, clock)

    @classmethod
    def _from_dict(cls, d: Mapping[str, Any], clock: Clock | None) -> Pipeline:
        if not isinstance(d, Mapping):
            raise PipelineError(f"a pipeline must be a mapping, got {type(d).__name__}")
        fmt = d.get("format", _FORMAT)
        if fmt != _FORMAT:
            raise PipelineError(
                f"unsupported pipeline format {fmt!r}; this version reads {_FORMAT}"
            )
        unknown = set(d) - {
            "format",
            "name",
            "stages",
            "allow_skip",
            "allow_regress",
            "allow_reopen",
            "auto_advance",
            "transitions",
        }
        if unknown:
            raise PipelineError(f"pipeline has unknown key(s): {sorted(unknown)}")
        if "name" not in d or "stages" not in d:
            raise PipelineError("a pipeline mapping needs 'name' and 'stages'")
        stages = d["stages"]
        if not isinstance(stages, list | tuple):
            raise PipelineError("'stages' must be a list of stage mappings")
        transitions = d.get("transitions")
        for flag in _FLAGS:
            if flag in d and not isinstance(d[flag], bool):
                raise PipelineError(
                    f"{flag!r} must be true or false, got {d[flag]!r}; a string such as "
                    '"no" is not a boolean'
                )
        return cls(
            d["name"],
            [Stage.from_dict(s) for s in stages],
            allow_skip=d.get("allow_skip", True),
            allow_regress=d.get("allow_regress", False),
            allow_reopen=d.get("allow_reopen", True),
            auto_advance=d.get("auto_advance", False),
            transitions=[tuple(p) for p in transitions] if transitions is not None else None,
            clock=clock,
        )

    # ----------------------------------------------------------------- dunder
    def _key(self) -> tuple[Any, ...]:
        return (
            self.name,
            self.stages,
            self.allow_skip,
            self.allow_regress,
            self.allow_reopen,
            self.auto_advance,
            self.transitions,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        names = ", ".join(s.name for s in self.stages)
        return f"Pipeline({self.name!r}, stages=[{names}])"


def _load_deal_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[EventStore, str, Iterable[Event] | None]:
    """``(store, deal_id, events)`` of a :meth:`Pipeline.load_deal` call, in either
    spelling (the old one, ``(deal_id, events, store=store)``, warns)."""
    import warnings

    first = args[0] if args else kwargs.get("deal_id")
    if isinstance(first, str) and (len(args) >= 2 or "events" in kwargs):
        if len(args) > 2 or set(kwargs) - {"events", "store"} or "store" not in kwargs:
            raise TypeError(
                "load_deal(deal_id, events, store=store) takes the deal id, its events and "
                "store=; use pipeline.load_deal(store, deal_id)"
            )
        warnings.warn(
            "pipeline.load_deal(deal_id, events, store=store) is deprecated; use "
            "pipeline.load_deal(store, deal_id)",
            DeprecationWarning,
            stacklevel=3,
        )
        events = args[1] if len(args) == 2 else kwargs["events"]
        return kwargs["store"], first, events
    named = dict(zip(("store", "deal_id"), args, strict=False))
    for key, value in kwargs.items():
        if key not in ("store", "deal_id"):
            raise TypeError(
                f"load_deal() got an unexpected keyword argument {key!r}; it takes store "
                "and deal_id"
            )
        if key in named:
            raise TypeError(f"load_deal() got multiple values for argument {key!r}")
        named[key] = value
    if len(args) > 2 or set(named) != {"store", "deal_id"}:
        raise TypeError("load_deal() takes a store and a deal id: load_deal(store, deal_id)")
    store, deal_id = named["store"], named["deal_id"]
    if not isinstance(deal_id, str):
        raise TypeError(f"deal_id must be a str, got {type(deal_id).__name__}")
    if not callable(getattr(store, "events", None)):
        raise TypeError(f"store must be an event store (with events()), got {type(store).__name__}")
    return store, deal_id, None
