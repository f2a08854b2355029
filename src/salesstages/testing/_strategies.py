"""The strategies of :mod:`salesstages.testing`: :func:`events` and :func:`deals`,
with the argument checks and the plan of how to reach each stage that the
state machine shares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias

import attrs

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
    from hypothesis.strategies import DrawFn, SearchStrategy
except ImportError as exc:  # pragma: no cover - hypothesis is in the dev extra
    raise ImportError(
        "salesstages.testing needs Hypothesis; install it with "
        "`pip install 'salesstages[testing]'` (or `pip install hypothesis`)"
    ) from exc

from .._deal import Deal, open_deal
from .._errors import OutOfOrderError, TransitionRefused
from .._events import Event
from .._pipeline import Pipeline
from .._stores import MemoryStore
from ..guards import GuardLike, Step

# Where generated time starts unless ``start=`` says otherwise.
_START: Final = datetime(2024, 1, 1, tzinfo=UTC)
# The lost reasons drawn for Deal.lose.
_LOST_REASONS: Final = ("price", "timing", "competitor", "no_decision")

_Activity: TypeAlias = tuple[str, dict[str, Any]]
_Op: TypeAlias = tuple[str, int, int]
_REFUSALS: Final = (TransitionRefused, OutOfOrderError)
# The menu of operations a drawn deal goes through. Hypothesis shrinks a choice
# towards the first entry, so shrunk examples are plain walks down the funnel;
# repeated entries are drawn more often.
_MENU: Final = (
    "next",
    "next",
    "next",
    "next",
    "next",
    "advance",
    "advance",
    "activity",
    "activity",
    "update",
    "substate",
    "substate",
    "win",
    "lose",
    "reopen",
)
_PICKS: Final = 255


def _default_field_values() -> SearchStrategy[Any]:
    return st.integers(min_value=1, max_value=1_000_000)


# --------------------------------------------------------------------------- validation
def _fail(function: str, message: str) -> InvalidArgument:
    return InvalidArgument(f"{function}(): {message}")


def _check_pipeline(function: str, pipeline: object) -> Pipeline:
    if not isinstance(pipeline, Pipeline):
        raise _fail(
            function,
            f"pipeline={pipeline!r} is not a Pipeline; pass a salesstages.Pipeline, "
            "for example salesstages.presets.classic_b2b()",
        )
    return pipeline


def _check_count(function: str, name: str, value: object, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail(
            function, f"{name}={value!r} must be an int; pass a whole number such as {name}=3"
        )
    if value < least:
        raise _fail(function, f"{name}={value!r} must be at least {least}; pass {name}={least}")
    return value


def _check_range(function: str, low: str, lo: int, high: str, hi: int) -> None:
    if hi < lo:
        raise _fail(
            function,
            f"{high}={hi!r} is less than {low}={lo!r}; pass {high} >= {low}, "
            f"for example {high}={lo}",
        )


def _check_bool(function: str, name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(function, f"{name}={value!r} must be True or False")
    return value


def _check_start(function: str, value: object) -> datetime:
    if not isinstance(value, datetime):
        raise _fail(
            function,
            f"start={value!r} must be a datetime; pass an aware one such as "
            "datetime(2024, 1, 1, tzinfo=datetime.UTC)",
        )
    if value.utcoffset() is None:
        raise _fail(
            function,
            f"start={value!r} is a naive datetime; pass an aware one, for example "
            f"{value.replace(tzinfo=UTC)!r}",
        )
    return value.astimezone(UTC)


def _check_duration(function: str, name: str, value: object) -> timedelta:
    if not isinstance(value, timedelta):
        raise _fail(
            function, f"{name}={value!r} must be a timedelta, such as {name}=timedelta(days=30)"
        )
    if value < timedelta(0):
        raise _fail(function, f"{name}={value!r} is negative; pass a timedelta of zero or more")
    return value


def _check_fields(function: str, value: object) -> dict[str, SearchStrategy[Any]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(
            function,
            f"fields={value!r} must be a mapping from attribute name to strategy, "
            "such as fields={'amount': st.integers(1, 10**6)}",
        )
    checked: dict[str, SearchStrategy[Any]] = {}
    for key, strategy in value.items():
        if not isinstance(key, str) or not key:
            raise _fail(function, f"fields has key {key!r}; keys must be attribute names")
        if not isinstance(strategy, SearchStrategy):
            raise _fail(
                function,
                f"fields[{key!r}]={strategy!r} is not a strategy; pass one such as "
                "st.integers(1, 10**6) or st.just(value)",
            )
        checked[key] = strategy
    return checked


def _check_attributes(function: str, value: object) -> SearchStrategy[Mapping[str, Any]]:
    if value is None:
        return st.just({})
    if not isinstance(value, SearchStrategy):
        raise _fail(
            function,
            f"attributes={value!r} is not a strategy; pass one that draws dicts of opening "
            "attributes, such as st.fixed_dictionaries({'amount': st.integers(1, 10**6)})",
        )
    return value


def _check_deal_id(function: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(function, f"deal_id={value!r} must be a non-empty string, such as 'D-1'")
    return value


# --------------------------------------------------------------------------- the plan
def _guard_tree(g: GuardLike) -> Iterator[GuardLike]:
    """The guard and every guard nested in it (``all_of``, ``any_of``, ``not_`` …)."""
    yield g
    for sub in getattr(g, "guards", None) or ():
        if callable(sub):
            yield from _guard_tree(sub)
    inner = getattr(g, "guard", None)
    if callable(inner):
        yield from _guard_tree(inner)


def _steps(g: GuardLike | None) -> tuple[Step, ...]:
    fn = getattr(g, "steps", None)
    return tuple(fn()) if callable(fn) else ()


@attrs.frozen
class _Plan:
    """What the tools know about one pipeline: its stages and what its guards look for."""

    pipeline: Pipeline
    stage_names: tuple[str, ...]
    open_names: tuple[str, ...]
    won_names: tuple[str, ...]
    lost_names: tuple[str, ...]
    entry_steps: Mapping[str, tuple[Step, ...]]
    activities: tuple[_Activity, ...]
    fields: tuple[str, ...]
    entry_fields: tuple[str, ...]
    substates: tuple[str, ...]
    #: What each sub-state's entry criteria look for, by ``(stage, sub-state)``.
    substate_steps: Mapping[tuple[str, str], tuple[Step, ...]] = attrs.field(factory=dict)

    @classmethod
    def of(cls, pipeline: Pipeline) -> _Plan:
        activities: dict[str, _Activity] = {}
        fields: dict[str, None] = {}

        def add(name: str, data: Mapping[str, Any]) -> None:
            activities.setdefault(f"{name}:{sorted(data.items())!r}", (name, dict(data)))

        entries = [s.entry for s in pipeline.stages]
        entries += [sub.entry for s in pipeline.stages for sub in s.substate_specs]
        for entry in entries:
            if entry is None:
                continue
            for g in _guard_tree(entry):
                for step in _steps(g):
                    if step.kind == "field":
                        fields.setdefault(step.name, None)
                    elif step.kind == "activity":
                        add(step.name, step.data)
        # A meeting that was booked can also be declined or cancelled, which undoes
        # its acceptance: try those too.
        for name, data in list(activities.values()):
            meeting = data.get("meeting")
            if name == "meeting_booked" and isinstance(meeting, str):
                add("meeting_declined", {"meeting": meeting, "party": "prospect"})
                add("meeting_cancelled", {"meeting": meeting})
        add("note", {})
        fields.setdefault("amount", None)
        entry_steps = {s.name: _steps(s.entry) for s in pipeline.stages}
        substate_steps = {
            (s.name, sub.name): _steps(sub.entry)
            for s in pipeline.stages
            for sub in s.substate_specs
        }
        substates: dict[str, None] = {}
        for s in pipeline.stages:
            for sub in s.substates:
                substates.setdefault(sub, None)
        return cls(
            pipeline=pipeline,
            stage_names=tuple(s.name for s in pipeline.stages),
            open_names=tuple(s.name for s in pipeline.open_stages),
            won_names=tuple(s.name for s in pipeline.won_stages),
            lost_names=tuple(s.name for s in pipeline.lost_stages),
            entry_steps=entry_steps,
            activities=tuple(activities.values()),
            fields=tuple(fields),
            entry_fields=tuple(
                dict.fromkeys(
                    step.name
                    for steps in (*entry_steps.values(), *substate_steps.values())
                    for step in steps
                    if step.kind == "field"
                )
            ),
            substates=tuple(substates),
            substate_steps=substate_steps,
        )

    def next_target(self, deal: Deal) -> str | None:
        """The stage a deal would go to next: the next open stage, a won stage after the
        last open stage, or (for a lost deal) the stage it was lost from."""
        if deal.outcome == "lost":
            return deal.lost_from or self.pipeline.first_stage.name
        if deal.outcome == "won":
            return None
        nxt = self.pipeline.next_stage(deal.stage)
        return nxt if nxt is not None else self.won_names[0]


def _next_substate(deal: Deal) -> str | None:
    """The sub-state after the deal's current one in its stage (the first when in none);
    ``None`` after the last one."""
    subs = deal.pipeline.stage(deal.stage).substates
    current = deal.substate
    index = subs.index(current) + 1 if current in subs else 0
    return subs[index] if index < len(subs) else None


def _enter(deal: Deal, target: str, at: datetime, reason: str) -> Event:
    """Enter ``target`` with the call that fits it (win, lose, reopen or move)."""
    outcome = deal.pipeline.stage(target).outcome
    if outcome == "won":
        return deal.win(at=at, stage=target)
    if outcome == "lost":
        return deal.lose(at=at, reason=reason, stage=target)
    if deal.outcome == "lost":
        return deal.reopen(at=at, to=target)
    return deal.move(target, at=at)


# --------------------------------------------------------------------------- strategies
@attrs.frozen
class _Options:
    min_steps: int
    max_steps: int
    start: datetime
    span: timedelta
    max_gap: timedelta
    close: bool
    reopen: bool
    fields: Mapping[str, SearchStrategy[Any]]
    attributes: SearchStrategy[Mapping[str, Any]]

    def menu(self) -> tuple[str, ...]:
        skip = set()
        if not self.close:
            skip |= {"win", "lose", "reopen"}
        if not self.reopen:
            skip.add("reopen")
        return tuple(k for k in _MENU if k not in skip)

    def value(self, field_name: str) -> SearchStrategy[Any]:
        strategy = self.fields.get(field_name)
        return _default_field_values() if strategy is None else strategy


class _Driver:
    """Applies drawn operations to one live deal; every call it makes is allowed."""

    def __init__(self, draw: DrawFn, plan: _Plan, options: _Options, deal: Deal) -> None:
        self.draw = draw
        self.plan = plan
        self.options = options
        self.deal = deal

    def apply(self, kind: str, pick: int, at: datetime) -> None:
        deal = self.deal
        before = len(deal.events)
        handler = getattr(self, f"_op_{kind}")
        handler(pick, at)
        if len(deal.events) == before and deal.outcome != "won":
            self._op_activity(pick, at)

    def _allowed(self, target: str) -> bool:
        """Whether the options let the deal go to ``target`` at all."""
        stage = self.plan.pipeline.stage(target)
        if not stage.is_open:
            return self.options.close
        if self.deal.outcome == "lost":
            return self.options.reopen
        return True

    def _satisfy(self, steps: tuple[Step, ...], at: datetime, depth: int = 0) -> None:
        """Record the activities, set the fields and enter the sub-states ``steps`` name."""
        deal = self.deal
        for step in steps:
            if step.kind == "field":
                value = self.draw(self.options.value(step.name))
                deal.update(at=at, **{step.name: value})
            elif step.kind == "activity":
                deal.record(step.name, at=at, **step.data)
            elif step.kind == "substate" and step.data.get("stage") == deal.stage and depth < 3:
                self._reach_substate(step.name, at, depth + 1)

    def _reach_substate(self, name: str, at: datetime, depth: int = 0) -> None:
        """Record what sub-state ``name``'s entry criteria look for, then enter it if allowed."""
        deal = self.deal
        if not deal.is_open or name not in deal.pipeline.substate_targets(
            deal.stage, deal.substate
        ):
            return
        if not deal.can_enter_substate(name).ok:
            self._satisfy(self.plan.substate_steps.get((deal.stage, name), ()), at, depth)
            if not deal.can_enter_substate(name).ok:
                return
        deal.enter_substate(name, at=at)

    def _reach(self, target: str | None, pick: int, at: datetime) -> None:
        """Record what ``target``'s entry criteria look for, then enter it if allowed."""
        deal = self.deal
        if target is None or deal.outcome == "won" or not self._allowed(target):
            return
        if not deal.pipeline.allowed(deal.stage, target):
            return
        if not deal.can_move(target).ok:
            self._satisfy(self.plan.entry_steps[target], at)
            if not deal.can_move(target).ok:
                return
        _enter(deal, target, at, _LOST_REASONS[pick % len(_LOST_REASONS)])

    def _op_next(self, pick: int, at: datetime) -> None:
        # Walk a stage's sub-states in order before moving on to the next stage. A lost
        # deal stays lost (only "reopen" reopens it), so that lost deals are drawn too.
        deal = self.deal
        if deal.outcome == "lost":
            return
        sub = _next_substate(deal) if deal.is_open else None
        if sub is not None:
            self._reach_substate(sub, at)
            if deal.substate == sub:
                return
        self._reach(self.plan.next_target(deal), pick, at)

    def _op_advance(self, pick: int, at: datetime) -> None:
        deal = self.deal
        if deal.outcome != "open":
            return
        targets = [
            t
            for t in deal.pipeline.targets(deal.stage)
            if self._allowed(t) and deal.pipeline.stage(t).is_open
        ]
        if targets:
            self._reach(targets[pick % len(targets)], pick, at)

    def _op_activity(self, pick: int, at: datetime) -> None:
        if self.deal.outcome == "won":
            return
        name, data = self.plan.activities[pick % len(self.plan.activities)]
        self.deal.record(name, at=at, **data)

    def _op_update(self, pick: int, at: datetime) -> None:
        if self.deal.outcome == "won":
            return
        name = self.plan.fields[pick % len(self.plan.fields)]
        self.deal.update(at=at, **{name: self.draw(self.options.value(name))})

    def _op_substate(self, pick: int, at: datetime) -> None:
        deal = self.deal
        if not deal.is_open:
            return
        # Candidates the rules allow, in funnel order starting after the current
        # sub-state (the earlier ones last), so that the simplest choice is the next one.
        candidates = deal.pipeline.substate_targets(deal.stage, deal.substate)
        subs = deal.pipeline.stage(deal.stage).substates
        current = deal.substate
        start = subs.index(current) + 1 if current in subs else 0
        ordered = [s for s in subs[start:] + subs[:start] if s in candidates]
        if ordered:
            self._reach_substate(ordered[pick % len(ordered)], at)

    def _op_win(self, pick: int, at: datetime) -> None:
        # From the last open stage a deal is won; from an earlier one it is won
        # straight away one time in four (where the pipeline allows skipping)
        # and otherwise walks on, so that most deals see the later stages first.
        deal = self.deal
        won = self.plan.won_names
        if deal.is_open and (pick % 4 == 0 or deal.pipeline.next_stage(deal.stage) is None):
            self._reach(won[pick % len(won)], pick, at)
        else:
            self._op_next(pick, at)

    def _op_lose(self, pick: int, at: datetime) -> None:
        if self.deal.is_open:
            lost = self.plan.lost_names
            self._reach(lost[pick % len(lost)], pick, at)

    def _op_reopen(self, pick: int, at: datetime) -> None:
        deal = self.deal
        if deal.outcome != "lost":
            return
        choices = [self.plan.next_target(deal), *self.plan.open_names]
        self._reach(choices[pick % len(choices)], pick, at)


def _seconds(delta: timedelta) -> int:
    return int(delta.total_seconds())


def _draw_deal(
    draw: DrawFn,
    plan: _Plan,
    options: _Options,
    deal_id: str,
    store: MemoryStore,
) -> Deal:
    start, end = options.start, options.start + options.span
    at = start + timedelta(seconds=draw(st.integers(0, _seconds(options.span))))
    attributes = draw(options.attributes)
    # by mapping, not as keywords: an attribute may be called "at", "store" or "stage"
    deal = open_deal(plan.pipeline, deal_id, at=at, store=store, stage=None, attributes=attributes)
    op: SearchStrategy[_Op] = st.tuples(
        st.sampled_from(options.menu()),
        st.integers(0, _PICKS),
        st.integers(0, _seconds(options.max_gap)),
    )
    # Hypothesis keeps lists short on average (about five items); drawing a floor
    # first spreads the number of operations over the whole range, and both the
    # floor and the list still shrink.
    floor = draw(st.integers(options.min_steps, options.max_steps))
    ops = draw(st.lists(op, min_size=floor, max_size=options.max_steps))
    driver = _Driver(draw, plan, options, deal)
    for kind, pick, gap in ops:
        if deal.outcome == "won":
            break
        at = min(at + timedelta(seconds=gap), end)
        driver.apply(kind, pick, at)
    return deal


def _options(
    function: str,
    *,
    min_steps: object,
    max_steps: object,
    start: object,
    span: object,
    max_gap: object,
    close: object,
    reopen: object,
    fields: object,
    attributes: object,
) -> _Options:
    lo = _check_count(function, "min_steps", min_steps, 0)
    hi = _check_count(function, "max_steps", max_steps, 0)
    _check_range(function, "min_steps", lo, "max_steps", hi)
    return _Options(
        min_steps=lo,
        max_steps=hi,
        start=_check_start(function, start),
        span=_check_duration(function, "span", span),
        max_gap=_check_duration(function, "max_gap", max_gap),
        close=_check_bool(function, "close", close),
        reopen=_check_bool(function, "reopen", reopen),
        fields=_check_fields(function, fields),
        attributes=_check_attributes(function, attributes),
    )


def events(
    pipeline: Pipeline,
    *,
    min_deals: int = 1,
    max_deals: int = 5,
    min_steps: int = 0,
    max_steps: int = 20,
    start: datetime = _START,
    span: timedelta = timedelta(days=365),
    max_gap: timedelta = timedelta(days=14),
    close: bool = True,
    reopen: bool = True,
    fields: Mapping[str, SearchStrategy[Any]] | None = None,
    attributes: SearchStrategy[Mapping[str, Any]] | None = None,
) -> SearchStrategy[list[Event]]:
    """A strategy for valid event logs of several deals following ``pipeline``.

    Each deal is opened and then driven by real :class:`~salesstages.Deal`
    calls (sharing one :class:`~salesstages.MemoryStore`), so every drawn log
    replays with ``pipeline.replay(log, strict=True)``. Before a move the deal
    records what the target stage's entry criteria look for (the built-in
    guards' ``steps()``), so guarded stages are reached in a good share of
    examples. The log is in time order (ties broken by deal, then ``seq``).

    Args:
        pipeline: The pipeline the deals follow.
        min_deals: Fewest deals in a log (deal ids ``"D-1"``, ``"D-2"`` …).
        max_deals: Most deals in a log.
        min_steps: Fewest operations applied to each deal after it is opened.
            An operation records one or more events (an activity, an update, a
            sub-state, a move with the activities that allow it …); a won deal
            takes no further operations.
        max_steps: Most operations per deal.
        start: The earliest timestamp (timezone-aware).
        span: Every event falls in ``[start, start + span]``; deals open at a
            drawn time in that window.
        max_gap: The largest time between two consecutive operations of a deal;
            gaps are drawn from zero (equal timestamps happen) to ``max_gap``.
        close: Whether deals may be won or lost.
        reopen: Whether lost deals may be reopened (only when ``close``).
        fields: Strategies for attribute values, by name, used when a
            ``field()`` guard or an update needs a value; the default draws
            integers from 1 to 1,000,000.
        attributes: A strategy for each deal's opening attributes (a dict);
            none by default.

    Shrinking:
        Examples shrink towards fewer deals, fewer operations per deal,
        operations that walk a deal to its next sub-state or stage (the first
        entry of the menu), zero gaps (all of a deal's events at one moment) and deals that
        open at ``start``. A shrunk failing log is therefore usually one deal
        taking the shortest walk through the funnel that shows the problem.

    Raises:
        hypothesis.errors.InvalidArgument: An option is invalid (raised when
            the strategy is built, not when it is drawn from).
    """
    plan = _Plan.of(_check_pipeline("events", pipeline))
    lo = _check_count("events", "min_deals", min_deals, 0)
    hi = _check_count("events", "max_deals", max_deals, 0)
    _check_range("events", "min_deals", lo, "max_deals", hi)
    options = _options(
        "events",
        min_steps=min_steps,
        max_steps=max_steps,
        start=start,
        span=span,
        max_gap=max_gap,
        close=close,
        reopen=reopen,
        fields=fields,
        attributes=attributes,
    )

    @st.composite
    def draw_log(draw: DrawFn) -> list[Event]:
        store = MemoryStore()
        n = draw(st.integers(lo, hi))
        order = {}
        for i in range(n):
            deal_id = f"D-{i + 1}"
            order[deal_id] = i
            _draw_deal(draw, plan, options, deal_id, store)
        return sorted(store.events(), key=lambda e: (e.at, order[e.deal_id], e.seq))

    return draw_log()


def deals(
    pipeline: Pipeline,
    *,
    min_steps: int = 0,
    max_steps: int = 20,
    start: datetime = _START,
    span: timedelta = timedelta(days=365),
    max_gap: timedelta = timedelta(days=14),
    close: bool = True,
    reopen: bool = True,
    fields: Mapping[str, SearchStrategy[Any]] | None = None,
    attributes: SearchStrategy[Mapping[str, Any]] | None = None,
    deal_id: str = "D-1",
) -> SearchStrategy[Deal]:
    """A strategy for live deals of ``pipeline`` in reachable states.

    The deal is opened and driven exactly as in :func:`events` (same options,
    same shrinking), so it may sit in any open stage or sub-state, be won,
    lost, or lost and reopened. It is attached to its own
    :class:`~salesstages.MemoryStore` (``deal.store``), so you can go on
    calling its methods.

    Args:
        deal_id: The id of the drawn deal.

    The other options are those of :func:`events`.

    Shrinking:
        Towards fewer operations (a deal just opened in the first stage), walks
        to the next stage, and zero time gaps.

    Raises:
        hypothesis.errors.InvalidArgument: An option is invalid (raised when
            the strategy is built).
    """
    plan = _Plan.of(_check_pipeline("deals", pipeline))
    options = _options(
        "deals",
        min_steps=min_steps,
        max_steps=max_steps,
        start=start,
        span=span,
        max_gap=max_gap,
        close=close,
        reopen=reopen,
        fields=fields,
        attributes=attributes,
    )
    checked_id = _check_deal_id("deals", deal_id)

    @st.composite
    def draw_deal(draw: DrawFn) -> Deal:
        return _draw_deal(draw, plan, options, checked_id, MemoryStore())

    return draw_deal()
