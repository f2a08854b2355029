"""Entry criteria: :class:`Verdict`, the read-only :class:`DealView`, and built-in guards.

A guard is any callable that takes a :class:`DealView` and returns a
:class:`Verdict` (a plain ``bool`` is accepted too and turned into one).
The built-in guards also know how to describe themselves, serialise to a dict
(:meth:`Guard.to_dict`) and list activities that would satisfy them (used by
:mod:`salesstages.testing` to reach guarded stages).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeAlias, overload, runtime_checkable

import attrs

from ._activity_index import _ActivityIndex, _hashable
from ._errors import DataError, PipelineError
from ._values import MAX_DEPTH, json_data
from ._verdict import _YES, Verdict

if TYPE_CHECKING:
    from ._events import Event

__all__ = [
    "DealView",
    "Guard",
    "GuardLike",
    "Step",
    "Verdict",
    "activity",
    "all_of",
    "any_of",
    "at_least",
    "document_sent",
    "field",
    "guard",
    "guard_from_dict",
    "meeting_accepted",
    "not_",
    "substate_reached",
]


class _Prefix(Sequence["Event"]):
    """The first ``n`` events of a deal's growing log, without copying them.

    A deal's log only grows, so a prefix of it never changes: a guard may keep
    the view and still see the events as they were when it was asked.
    """

    __slots__ = ("_items", "_n")

    def __init__(self, items: Sequence[Event], n: int) -> None:
        self._items = items
        self._n = n

    def __len__(self) -> int:
        return self._n

    @overload
    def __getitem__(self, index: int) -> Event: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Event, ...]: ...

    def __getitem__(self, index: int | slice) -> Event | tuple[Event, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        i = index + self._n if index < 0 else index
        if not 0 <= i < self._n:
            raise IndexError("event index out of range")
        return self._items[i]

    def __iter__(self) -> Iterator[Event]:
        return itertools.islice(self._items, self._n)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Prefix | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


@attrs.frozen(kw_only=True)
class DealView:
    """A read-only view of a deal, as guards see it.

    Attributes:
        id: The deal's id.
        stage: The current stage.
        substate: The current sub-state, or ``None``.
        attributes: The deal's attributes (read-only).
        events: Every event so far, oldest first (a read-only sequence).
    """

    id: str
    stage: str
    substate: str | None
    attributes: Mapping[str, Any]
    events: Sequence[Event]
    #: Internal: a deal's activities by name, in ``seq`` order (possibly holding events
    #: beyond ``events``, which are ignored). Lets guards look activities up without
    #: scanning the log; a view built by hand leaves it out.
    _index: _ActivityIndex | None = attrs.field(
        default=None, eq=False, repr=False, alias="activity_index"
    )

    def activities(self, name: str | None = None) -> Iterator[Event]:
        """Iterate over activity events, oldest first, optionally only those named ``name``."""
        index = self._index
        if index is None or name is None:
            for event in self.events:
                if event.kind == "activity" and (name is None or event.name == name):
                    yield event
            return
        yield from self._before_end(index.by_name.get(name, ()))

    def _before_end(self, events: Sequence[Event]) -> Iterator[Event]:
        n = len(self.events)
        for event in events:
            if event.seq >= n:
                return
            yield event

    def _activities_where(self, names: tuple[str, ...], key: str, value: Any) -> Iterator[Event]:
        """Activities with any of ``names`` whose ``data[key] == value``, oldest first:
        through the index, reading only those events, when the view has one."""
        index = self._index
        if index is None or not _hashable(value):
            wanted = frozenset(names)
            return (
                e
                for e in self.events
                if e.kind == "activity" and e.name in wanted and _matches(e.data, {key: value})
            )
        found = (self._before_end(index.where(n, key, value)) for n in names)
        return heapq.merge(*found, key=_seq)


def _seq(event: Event) -> int:
    return event.seq


@attrs.frozen
class Step:
    """Something that would help satisfy a guard: an activity to record, a field to
    set or a sub-state to enter.

    ``kind`` is ``"activity"`` (record activity ``name`` with ``data``),
    ``"field"`` (set attribute ``name`` to a non-empty value) or ``"substate"``
    (enter sub-state ``name`` of stage ``data["stage"]``). Build them with
    :meth:`Step.activity` and :meth:`Step.field`; a custom guard lists them in
    ``@guard(..., satisfied_by=...)`` so that :mod:`salesstages.testing` can
    satisfy it.
    """

    kind: str  # "activity" | "field" | "substate"
    name: str
    data: Mapping[str, Any] = attrs.field(factory=dict, hash=False)

    @classmethod
    def activity(cls, name: str, **data: Any) -> Step:
        """Record activity ``name`` with ``data``."""
        if not isinstance(name, str) or not name:
            raise PipelineError(f"Step.activity() needs an activity name, got {name!r}")
        return cls("activity", name, data)

    @classmethod
    def field(cls, name: str) -> Step:
        """Set deal attribute ``name`` to a non-empty value."""
        if not isinstance(name, str) or not name:
            raise PipelineError(f"Step.field() needs an attribute name, got {name!r}")
        return cls("field", name)


@runtime_checkable
class Guard(Protocol):
    """The protocol of built-in guards (any ``DealView -> Verdict`` callable also works)."""

    @property
    def description(self) -> str:
        """One sentence saying what the guard requires."""
        ...

    def __call__(self, deal: DealView) -> Verdict: ...

    def to_dict(self) -> dict[str, Any]: ...

    def steps(self) -> tuple[Step, ...]: ...


GuardLike: TypeAlias = Callable[[DealView], "Verdict | bool"]


def evaluate(guard_: GuardLike, deal: DealView) -> Verdict:
    """Run a guard and normalise its answer to a :class:`Verdict`."""
    result = guard_(deal)
    if isinstance(result, Verdict):
        return result
    if result:
        return _YES
    description = getattr(guard_, "description", None) or getattr(guard_, "__name__", "guard")
    return Verdict(False, (f"{description} does not hold",))


def _matches(data: Mapping[str, Any], match: Mapping[str, Any]) -> bool:
    return all(k in data and data[k] == v for k, v in match.items())


_MEETING_ACTIVITIES: Final = (
    "meeting_booked",
    "meeting_accepted",
    "meeting_declined",
    "meeting_cancelled",
)


@attrs.frozen
class _MeetingAccepted:
    meeting: str
    by: tuple[str, ...]

    @property
    def description(self) -> str:
        return f"meeting {self.meeting!r} booked and accepted by {' and '.join(self.by)}"

    def __call__(self, deal: DealView) -> Verdict:
        booked = False
        undone: str | None = None
        accepted: set[str] = set()
        for event in deal._activities_where(_MEETING_ACTIVITIES, "meeting", self.meeting):
            name = event.name
            if name == "meeting_booked":
                booked, undone = True, None
                accepted = set()
            elif name == "meeting_accepted" and booked:
                party = event.data.get("party")
                if isinstance(party, str):
                    accepted.add(party)
            elif name in ("meeting_declined", "meeting_cancelled") and booked:
                booked = False
                undone = "declined" if name == "meeting_declined" else "cancelled"
                accepted = set()
        if not booked:
            if undone:
                return Verdict.no(
                    f"meeting {self.meeting!r} was {undone} and has not been booked again"
                )
            return Verdict.no(f"meeting {self.meeting!r} has not been booked")
        missing = [p for p in self.by if p not in accepted]
        if missing:
            return Verdict.no(
                f"meeting {self.meeting!r} has not been accepted by {' and '.join(missing)}"
            )
        return _YES

    def to_dict(self) -> dict[str, Any]:
        return {"type": "meeting_accepted", "meeting": self.meeting, "by": list(self.by)}

    def steps(self) -> tuple[Step, ...]:
        booked = Step("activity", "meeting_booked", {"meeting": self.meeting})
        accepted = (
            Step("activity", "meeting_accepted", {"meeting": self.meeting, "party": p})
            for p in self.by
        )
        return (booked, *accepted)


@attrs.frozen
class _ActivityGuard:
    name: str
    match: tuple[tuple[str, Any], ...]
    reason: str | None = None

    @property
    def description(self) -> str:
        if self.name == "document_sent" and self.reason:
            return f"document {dict(self.match)['document']!r} sent"
        if not self.match:
            return f"activity {self.name!r} recorded"
        items = ", ".join(f"{k}={v!r}" for k, v in self.match)
        return f"activity {self.name!r} with {items} recorded"

    def __call__(self, deal: DealView) -> Verdict:
        match = dict(self.match)
        found = (
            deal._activities_where((self.name,), *self.match[0])
            if self.match
            else deal.activities(self.name)
        )
        for event in found:
            if _matches(event.data, match):
                return _YES
        if self.reason:
            return Verdict.no(self.reason)
        if not self.match:
            return Verdict.no(f"no activity {self.name!r} has been recorded")
        items = ", ".join(f"{k}={v!r}" for k, v in self.match)
        return Verdict.no(f"no activity {self.name!r} with {items} has been recorded")

    def to_dict(self) -> dict[str, Any]:
        if self.name == "document_sent" and self.reason:
            return {"type": "document_sent", "document": dict(self.match)["document"]}
        return {"type": "activity", "name": self.name, "match": dict(self.match)}

    def steps(self) -> tuple[Step, ...]:
        return (Step("activity", self.name, dict(self.match)),)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value) == 0
    return False


@attrs.frozen
class _FieldGuard:
    name: str
    predicate: Callable[[Any], bool] | None = attrs.field(default=None, eq=False)

    @property
    def description(self) -> str:
        if self.predicate is None:
            return f"field {self.name!r} set"
        return f"field {self.name!r} satisfies {_callable_name(self.predicate)}"

    def __call__(self, deal: DealView) -> Verdict:
        value = deal.attributes.get(self.name)
        if _empty(value):
            return Verdict.no(f"field {self.name!r} is missing or empty")
        if self.predicate is not None and not self.predicate(value):
            return Verdict.no(
                f"field {self.name!r} (= {value!r}) does not satisfy "
                f"{_callable_name(self.predicate)}"
            )
        return _YES

    def to_dict(self) -> dict[str, Any]:
        if self.predicate is not None:
            raise PipelineError(
                f"guard field({self.name!r}, predicate=...) holds a Python callable and "
                "cannot be serialised; use field() without a predicate, or keep the "
                "pipeline in code"
            )
        return {"type": "field", "name": self.name}

    def steps(self) -> tuple[Step, ...]:
        return (Step("field", self.name),)


def _callable_name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


@attrs.frozen
class _AllOf:
    guards: tuple[GuardLike, ...]
    depth: int = attrs.field(init=False, eq=False, repr=False)

    @depth.default
    def _depth_default(self) -> int:
        return 1 + max((_depth(g) for g in self.guards), default=0)

    @property
    def description(self) -> str:
        return "all of: " + "; ".join(_describe(g) for g in self.guards)

    def __call__(self, deal: DealView) -> Verdict:
        reasons: list[str] = []
        for g in self.guards:
            verdict = evaluate(g, deal)
            if not verdict.ok:
                reasons.extend(verdict.reasons)
        return Verdict(False, tuple(reasons)) if reasons else _YES

    def to_dict(self) -> dict[str, Any]:
        return {"type": "all_of", "guards": [_guard_to_dict(g) for g in self.guards]}

    def steps(self) -> tuple[Step, ...]:
        return tuple(s for g in self.guards for s in _steps(g))


@attrs.frozen
class _AtLeast:
    k: int
    guards: tuple[GuardLike, ...]
    kind: str = "at_least"
    depth: int = attrs.field(init=False, eq=False, repr=False)

    @depth.default
    def _depth_default(self) -> int:
        return 1 + max((_depth(g) for g in self.guards), default=0)

    @property
    def description(self) -> str:
        inner = "; ".join(_describe(g) for g in self.guards)
        if self.kind == "any_of":
            return f"any of: {inner}"
        return f"at least {self.k} of: {inner}"

    def __call__(self, deal: DealView) -> Verdict:
        if self.k <= 0:  # at least none of them: holds whatever the deal
            return _YES
        met = 0
        reasons: list[str] = []
        for g in self.guards:
            verdict = evaluate(g, deal)
            if verdict.ok:
                met += 1
                if met >= self.k:
                    return _YES
            else:
                reasons.extend(verdict.reasons)
        if self.kind == "any_of":
            return Verdict(False, ("none of the alternatives holds: " + "; or ".join(reasons),))
        return Verdict(
            False,
            (
                f"needs at least {self.k} of {len(self.guards)} criteria, "
                f"{met} met; missing: " + "; ".join(reasons),
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "guards": [_guard_to_dict(g) for g in self.guards]}
        if self.kind == "at_least":
            d["k"] = self.k
        return d

    def steps(self) -> tuple[Step, ...]:
        return tuple(s for g in self.guards[: self.k] for s in _steps(g))


@attrs.frozen
class _Not:
    guard: GuardLike
    depth: int = attrs.field(init=False, eq=False, repr=False)

    @depth.default
    def _depth_default(self) -> int:
        return 1 + _depth(self.guard)

    @property
    def description(self) -> str:
        return f"not ({_describe(self.guard)})"

    def __call__(self, deal: DealView) -> Verdict:
        if evaluate(self.guard, deal).ok:
            return Verdict.no(f"must not hold: {_describe(self.guard)}")
        return _YES

    def to_dict(self) -> dict[str, Any]:
        return {"type": "not", "guard": _guard_to_dict(self.guard)}

    def steps(self) -> tuple[Step, ...]:
        return ()


@attrs.frozen
class _SubstateReached:
    stage: str
    substate: str

    @property
    def description(self) -> str:
        return f"sub-state {self.substate!r} of {self.stage!r} reached"

    def __call__(self, deal: DealView) -> Verdict:
        for event in deal.events:
            if (
                event.kind == "substate_entered"
                and event.stage == self.stage
                and event.name == self.substate
            ):
                return _YES
        return Verdict.no(f"sub-state {self.substate!r} of {self.stage!r} has not been reached")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "substate_reached", "stage": self.stage, "substate": self.substate}

    def steps(self) -> tuple[Step, ...]:
        return (Step("substate", self.substate, {"stage": self.stage}),)


@attrs.frozen
class _FunctionGuard:
    fn: Callable[[DealView], bool] = attrs.field(eq=False)
    description: str
    satisfied_by: tuple[Step, ...] = ()

    def __call__(self, deal: DealView) -> Verdict:
        return _YES if self.fn(deal) else Verdict.no(self.description)

    def to_dict(self) -> dict[str, Any]:
        raise PipelineError(
            f"custom guard {self.description!r} ({_callable_name(self.fn)}) is Python code "
            "and cannot be serialised; build the pipeline in code, or express the rule "
            "with the built-in guards"
        )

    def steps(self) -> tuple[Step, ...]:
        return self.satisfied_by


def _describe(g: GuardLike) -> str:
    return str(getattr(g, "description", None) or _callable_name(g))


def _steps(g: GuardLike) -> tuple[Step, ...]:
    fn = getattr(g, "steps", None)
    return tuple(fn()) if callable(fn) else ()


def _guard_to_dict(g: GuardLike) -> dict[str, Any]:
    fn = getattr(g, "to_dict", None)
    if not callable(fn):
        raise PipelineError(
            f"guard {_describe(g)!r} is a plain callable and cannot be serialised; "
            "use the built-in guards of salesstages.guards to make the pipeline serialisable"
        )
    result: dict[str, Any] = fn()
    return result


def _depth(g: GuardLike) -> int:
    """How many guards deep ``g`` nests (1 for a guard that holds no other guard)."""
    depth = getattr(g, "depth", 1)
    return depth if isinstance(depth, int) else 1


def _check_guards(name: str, guards: Sequence[Any]) -> tuple[GuardLike, ...]:
    for g in guards:
        if not callable(g):
            raise PipelineError(f"{name}() takes guards (callables), got {g!r}")
        if _depth(g) >= MAX_DEPTH:
            raise PipelineError(
                f"{name}() would nest guards deeper than {MAX_DEPTH} levels; "
                "flatten the criteria (all_of, any_of and at_least take many guards at once)"
            )
    return tuple(guards)


def meeting_accepted(meeting: str, by: Sequence[str] = ("prospect", "rep")) -> Guard:
    """Meeting ``meeting`` is booked and, since that booking, accepted by every party in ``by``.

    Looks for activity ``meeting_booked`` with ``meeting=<meeting>`` and, after
    it, ``meeting_accepted`` with the same ``meeting`` and ``party=<name>`` for
    each party. A later ``meeting_declined`` or ``meeting_cancelled`` for that
    meeting undoes it until it is booked and accepted again.
    """
    if not isinstance(meeting, str) or not meeting:
        raise PipelineError(f"meeting_accepted() needs a meeting name, got {meeting!r}")
    parties = (by,) if isinstance(by, str) else tuple(by)
    if not parties or not all(isinstance(p, str) and p for p in parties):
        raise PipelineError(f"meeting_accepted(by=...) needs party names, got {by!r}")
    return _MeetingAccepted(meeting, parties)


def document_sent(document: str) -> Guard:
    """Activity ``document_sent`` with ``document=<document>`` has been recorded."""
    if not isinstance(document, str) or not document:
        raise PipelineError(f"document_sent() needs a document name, got {document!r}")
    return _ActivityGuard(
        "document_sent",
        (("document", document),),
        reason=f"document {document!r} has not been sent",
    )


def activity(name: str, **match: Any) -> Guard:
    """An activity called ``name`` whose data contains every ``match`` item has been recorded."""
    if not isinstance(name, str) or not name:
        raise PipelineError(f"activity() needs an activity name, got {name!r}")
    try:
        json_data(match, f"activity({name!r})")  # match values are compared with JSON data
    except DataError as exc:
        raise PipelineError(f"{exc}; match values are JSON values") from None
    return _ActivityGuard(name, tuple(sorted(match.items())))


def field(name: str, predicate: Callable[[Any], bool] | None = None) -> Guard:
    """Deal attribute ``name`` is present and not empty, and ``predicate(value)`` holds if given."""
    if not isinstance(name, str) or not name:
        raise PipelineError(f"field() needs an attribute name, got {name!r}")
    if predicate is not None and not callable(predicate):
        raise PipelineError(f"field(predicate=...) must be callable, got {predicate!r}")
    return _FieldGuard(name, predicate)


def substate_reached(stage: str, substate: str) -> Guard:
    """The deal has entered sub-state ``substate`` of ``stage`` at some time.

    The pipeline checks, when it is built, that ``stage`` exists and has that
    sub-state.
    """
    for what, value in (("stage", stage), ("substate", substate)):
        if not isinstance(value, str) or not value:
            raise PipelineError(f"substate_reached() needs a {what} name, got {value!r}")
    return _SubstateReached(stage, substate)


def all_of(*guards: GuardLike) -> Guard:
    """Every guard holds; the reasons list every one that does not."""
    return _AllOf(_check_guards("all_of", guards))


def any_of(*guards: GuardLike) -> Guard:
    """At least one guard holds."""
    checked = _check_guards("any_of", guards)
    if not checked:
        raise PipelineError("any_of() needs at least one guard")
    return _AtLeast(1, checked, kind="any_of")


def at_least(k: int, *guards: GuardLike) -> Guard:
    """At least ``k`` of the guards hold (for example an MQL rule: 3 of the 4 BANT answers)."""
    checked = _check_guards("at_least", guards)
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= len(checked):
        raise PipelineError(
            f"at_least(k, ...) needs 0 <= k <= {len(checked)} (the number of guards), got {k!r}"
        )
    return _AtLeast(k, checked)


def not_(guard_: GuardLike) -> Guard:
    """The guard does not hold."""
    return _Not(_check_guards("not_", (guard_,))[0])


def guard(
    description: str, *, satisfied_by: Sequence[Step | str] = ()
) -> Callable[[Callable[[DealView], bool]], Guard]:
    """Decorator: turn a ``deal -> bool`` function into a guard failing with ``description``.

    ``description`` says what the guard requires, phrased as a requirement
    ("an amount of at least 10,000"): a refusal lists it after "not met:".
    ``satisfied_by`` lists what would make the guard hold, for the testing
    toolkit (:mod:`salesstages.testing`), which records these activities and
    sets these fields before trying to enter the guarded stage: each item is a
    :class:`Step` (``Step.activity("trial_converted")``, ``Step.field("budget")``)
    or an activity name.

    Example::

        @guard("an amount of at least 10,000", satisfied_by=[Step.field("amount")])
        def big_enough(deal):
            return deal.attributes.get("amount", 0) >= 10_000
    """
    if not isinstance(description, str) or not description:
        raise PipelineError("guard(description) needs a non-empty description")
    steps = _satisfied_by(satisfied_by)

    def decorate(fn: Callable[[DealView], bool]) -> Guard:
        if not callable(fn):
            raise PipelineError(f"@guard(...) decorates a function, got {fn!r}")
        return _FunctionGuard(fn, description, steps)

    return decorate


def _satisfied_by(items: object) -> tuple[Step, ...]:
    if isinstance(items, str | Step) or not isinstance(items, Sequence):
        raise PipelineError(
            f"guard(satisfied_by=...) takes a list of Step objects or activity names, got {items!r}"
        )
    steps: list[Step] = []
    for item in items:
        if isinstance(item, str) and item:
            steps.append(Step("activity", item))
        elif isinstance(item, Step):
            steps.append(item)
        else:
            raise PipelineError(
                f"guard(satisfied_by=...) holds {item!r}; pass Step.activity(name, **data), "
                "Step.field(name) or an activity name"
            )
    return tuple(steps)


def guard_from_dict(d: Mapping[str, Any]) -> Guard:
    """Rebuild a built-in guard from its :meth:`Guard.to_dict` form.

    Raises :class:`PipelineError` for anything it cannot rebuild, including
    guards nested deeper than 64 levels.
    """
    return _guard_from_dict(d, 1)


def _guard_from_dict(d: Mapping[str, Any], depth: int) -> Guard:
    if depth > MAX_DEPTH:
        raise PipelineError(
            f"guards nest deeper than {MAX_DEPTH} levels; flatten the criteria "
            "(all_of, any_of and at_least take many guards at once)"
        )
    if not isinstance(d, Mapping) or "type" not in d:
        raise PipelineError(f"a guard must be a mapping with a 'type' key, got {d!r}")
    kind = d["type"]
    try:
        if kind == "meeting_accepted":
            return meeting_accepted(d["meeting"], tuple(d.get("by", ("prospect", "rep"))))
        if kind == "document_sent":
            return document_sent(d["document"])
        if kind == "activity":
            return activity(d["name"], **dict(d.get("match") or {}))
        if kind == "field":
            return field(d["name"])
        if kind == "substate_reached":
            return substate_reached(d["stage"], d["substate"])
        if kind == "all_of":
            return all_of(*_inner(d["guards"], depth))
        if kind == "any_of":
            return any_of(*_inner(d["guards"], depth))
        if kind == "at_least":
            return at_least(_k(d["k"]), *_inner(d["guards"], depth))
        if kind == "not":
            return not_(_guard_from_dict(d["guard"], depth + 1))
    except KeyError as exc:
        raise PipelineError(f"guard of type {kind!r} is missing key {exc.args[0]!r}") from None
    raise PipelineError(
        f"unknown guard type {kind!r}; known: meeting_accepted, document_sent, activity, "
        "field, substate_reached, all_of, any_of, at_least, not"
    )


def _inner(guards: object, depth: int) -> list[Guard]:
    if not isinstance(guards, list | tuple):
        raise PipelineError(f"a guard's 'guards' must be a list of guards, got {guards!r}")
    return [_guard_from_dict(g, depth + 1) for g in guards]


def _k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int):
        raise PipelineError(f"at_least's 'k' must be a whole number, got {k!r}")
    return k
