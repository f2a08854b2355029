"""The state machine of :mod:`salesstages.testing`: :class:`PipelineMachine` and
:func:`pipeline_machine`."""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from itertools import pairwise
from typing import Any, ClassVar

import attrs

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidDefinition
    from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
    from hypothesis.strategies import SearchStrategy
except ImportError as exc:  # pragma: no cover - hypothesis is in the dev extra
    raise ImportError(
        "salesstages.testing needs Hypothesis; install it with "
        "`pip install 'salesstages[testing]'` (or `pip install hypothesis`)"
    ) from exc

from .._deal import Deal
from .._errors import OutOfOrderError
from .._events import Event
from .._pipeline import Pipeline
from .._stores import MemoryStore
from ..guards import Step
from ._strategies import (
    _LOST_REASONS,
    _REFUSALS,
    _START,
    _Activity,
    _check_duration,
    _check_fields,
    _check_pipeline,
    _check_start,
    _default_field_values,
    _enter,
    _next_substate,
    _Plan,
    _seconds,
)


# --------------------------------------------------------------------------- the machine
@attrs.frozen
class _Snapshot:
    state: str
    events: tuple[Event, ...]
    attributes: dict[str, Any]
    lost_from: str | None
    stored: tuple[Event, ...]

    @classmethod
    def of(cls, deal: Deal) -> _Snapshot:
        store = deal.store
        stored = tuple(store.events(deal.id)) if store is not None else ()
        return cls(deal.state, deal.events, dict(deal.attributes), deal.lost_from, stored)


def _metrics() -> Any:
    """``salesstages.metrics``, or ``None`` while that package does not exist."""
    spec = importlib.util.find_spec("salesstages.metrics")
    if spec is None or spec.origin is None:  # pragma: no cover - absent, or a bare folder
        return None
    return importlib.import_module("salesstages.metrics")


class PipelineMachine(RuleBasedStateMachine):
    """The base of the machines :func:`pipeline_machine` builds.

    Use :func:`pipeline_machine` to get a runnable subclass for a pipeline (it
    adds the rules); this class holds the state and the built-in invariants,
    and is what to annotate with.

    Attributes:
        pipeline: The pipeline under test (a class attribute).
        start: When the deal is opened (a class attribute).
        deal: The live deal the rules drive, opened in the first stage.
        store: The :class:`~salesstages.MemoryStore` the deal writes to.
        now: The machine's clock; rules use it as ``at`` and ``wait`` moves it on.
        refusals: Every refused call so far, as ``(description, error)``.
        field_values: The values :meth:`prepare` gives fields that entry criteria
            look for (drawn once per run when the pipeline has ``field()`` guards).
    """

    pipeline: ClassVar[Pipeline]
    start: ClassVar[datetime] = _START

    def __init__(self) -> None:
        super().__init__()
        pipeline = getattr(type(self), "pipeline", None)
        if not isinstance(pipeline, Pipeline):
            raise InvalidDefinition(
                f"{type(self).__name__} has no pipeline; build the machine with "
                "salesstages.testing.pipeline_machine(your_pipeline) and subclass that"
            )
        self.now: datetime = self.start
        self.store: MemoryStore = MemoryStore()
        self.deal: Deal = pipeline.open_deal("deal", at=self.now, store=self.store)
        self.refusals: list[tuple[str, Exception]] = []
        self.field_values: dict[str, Any] = {}
        self._pending: list[tuple[str, _Snapshot, _Snapshot]] = []
        self._won: tuple[str, int] | None = None
        self._seen: tuple[Event, ...] = self.deal.events

    # ------------------------------------------------------------------- helpers
    def attempt(self, description: str, call: Callable[[], object]) -> bool:
        """Make one call on the deal that the library may refuse.

        Returns ``True`` when it went through. A ``TransitionRefused`` or
        ``OutOfOrderError`` is caught, kept in :attr:`refusals`, and the deal is
        checked (by an invariant) to be exactly as it was before the call. Any
        other error propagates and fails the test.
        """
        before = _Snapshot.of(self.deal)
        try:
            call()
        except _REFUSALS as exc:
            self.refusals.append((description, exc))
            self._pending.append((description, before, _Snapshot.of(self.deal)))
            return False
        return True

    def prepare(self, target: str) -> None:
        """Record the activities and set the fields ``target``'s entry criteria look for,
        unless they already hold."""
        if self.deal.can_move(target).ok:
            return
        self._satisfy(self._plan().entry_steps[target])

    def prepare_substate(self, name: str) -> None:
        """Record the activities and set the fields sub-state ``name`` of the deal's
        stage looks for, unless its entry criteria already hold."""
        if self.deal.can_enter_substate(name).ok:
            return
        self._satisfy(self._plan().substate_steps.get((self.deal.stage, name), ()))

    def _satisfy(self, steps: tuple[Step, ...]) -> None:
        for step in steps:
            if step.kind == "activity":
                call = partial(self.deal.record, step.name, at=self.now, **step.data)
                self.attempt(f"record {step.name!r}", call)
            elif step.kind == "substate":
                if step.data.get("stage") == self.deal.stage:
                    call = partial(self.deal.enter_substate, step.name, at=self.now)
                    self.attempt(f"enter sub-state {step.name!r}", call)
            elif step.name in self.field_values:
                value = self.field_values[step.name]
                call = partial(self.deal.update, at=self.now, **{step.name: value})
                self.attempt(f"update {step.name!r}", call)

    def enter(self, target: str) -> bool:
        """Try to enter ``target`` with the call that fits it (move, win, lose or reopen)."""
        return self.attempt(
            f"enter {target!r}", lambda: _enter(self.deal, target, self.now, _LOST_REASONS[0])
        )

    @classmethod
    def _plan(cls) -> _Plan:
        plan = cls._plan_cache
        if plan is None or plan.pipeline is not cls.pipeline:
            plan = cls._plan_cache = _Plan.of(cls.pipeline)
        return plan

    _plan_cache: ClassVar[_Plan | None] = None

    # ------------------------------------------------------------------- invariants
    @invariant()
    def builtin_invariants(self) -> None:
        """The library's own invariants, checked after every step (one line in reports).

        Override one of the ``check_*`` methods to change or skip a check.
        """
        self.check_nothing_leaves_a_won_stage()
        self.check_refused_calls_record_nothing()
        self.check_log_is_append_only()
        self.check_replay_gives_the_live_state()
        self.check_visits_have_non_negative_durations()
        self.check_imputed_funnel_never_grows()

    def check_nothing_leaves_a_won_stage(self) -> None:
        """Once won, the deal stays in that stage and records nothing more."""
        deal = self.deal
        if self._won is None:
            if deal.outcome == "won":
                self._won = (deal.state, len(deal.events))
            return
        state, count = self._won
        assert deal.state == state, f"the deal left won stage {state!r} for {deal.state!r}"
        assert len(deal.events) == count, (
            f"the won deal recorded {len(deal.events) - count} more event(s): "
            f"{deal.events[count:]!r}"
        )

    def check_refused_calls_record_nothing(self) -> None:
        """A call that raised ``TransitionRefused`` or ``OutOfOrderError`` changed nothing."""
        pending, self._pending = self._pending, []
        for description, before, after in pending:
            assert after == before, (
                f"the refused call ({description}) changed the deal: {before!r} -> {after!r}"
            )

    def check_log_is_append_only(self) -> None:
        """Events are only ever added at the end, and the store holds exactly them."""
        events = self.deal.events
        seen = self._seen
        assert events[: len(seen)] == seen, "an event already recorded was changed or removed"
        self._seen = events
        stored = tuple(self.store.events(self.deal.id))
        assert stored == events, "the store's events differ from the deal's"

    def check_replay_gives_the_live_state(self) -> None:
        """Replaying the deal's events strictly rebuilds a deal equal to the live one."""
        live = self.deal
        replayed = self.pipeline.replay(live.events, strict=True).get(live.id)
        assert replayed is not None, f"replay lost deal {live.id!r}"
        if replayed != live:
            differences = [
                f"{name}: replayed {getattr(replayed, name)!r}, live {getattr(live, name)!r}"
                for name in ("state", "lost_from", "attributes", "events")
                if getattr(replayed, name) != getattr(live, name)
            ]
            raise AssertionError(
                "replay gave a different deal than the live one; " + "; ".join(differences)
            )

    def check_visits_have_non_negative_durations(self) -> None:
        """Every visit of ``salesstages.metrics.visits`` lasts zero or more."""
        metrics = _metrics()
        if metrics is None:  # pragma: no cover - skipped only while metrics is missing
            return
        for visit in metrics.visits(self.deal.events, self.pipeline):
            assert visit.duration >= timedelta(0), f"negative duration in {visit!r}"

    def check_imputed_funnel_never_grows(self) -> None:
        """``funnel(skips="imputed")`` counts never grow from one stage to the next."""
        metrics = _metrics()
        if metrics is None:  # pragma: no cover - skipped only while metrics is missing
            return
        rows = metrics.funnel(self.deal.events, self.pipeline, skips="imputed")
        for a, b in pairwise(rows):
            assert b.reached <= a.reached, f"the funnel grows from {a!r} to {b!r}"


def _class_name(pipeline: Pipeline) -> str:
    words = re.split(r"[^0-9A-Za-z]+", pipeline.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    if not name or not name[0].isalpha():
        name = "Pipeline" + name
    return f"{name}Machine"


def pipeline_machine(
    pipeline: Pipeline,
    *,
    fields: Mapping[str, SearchStrategy[Any]] | None = None,
    start: datetime = _START,
    max_wait: timedelta = timedelta(days=30),
) -> type[PipelineMachine]:
    """A Hypothesis state machine that drives one deal of ``pipeline``.

    The deal (``self.deal``) is opened in the first stage at ``start``. Its
    rules, picked at random at every step:

    - ``record(activity=...)``: an activity the pipeline's guards look for
      (every alternative of ``any_of``/``at_least``, and those under
      ``not_``), a booked meeting declined or cancelled, or a plain ``note``;
    - ``update(field=...)``: a field a ``field()`` guard looks for, or ``amount``;
    - ``walk(hops=...)``: down the open stages, through the stage's
      sub-states in order, then into the next stage after recording what its
      entry criteria look for (a lost deal reopens; the walk stops short of
      winning, so that deals live longer);
    - ``advance(to=...)``: record what stage ``to`` needs, then try to enter
      it; ``reopen(to=...)``: the same for reopening a lost deal;
    - ``move(to=...)``, ``enter_substate(name=...)`` (only when the pipeline
      has sub-states), ``win(stage=...)``, ``lose(stage=..., reason=...)``:
      the raw calls, allowed or not;
    - ``wait(seconds=...)``: let time pass (calls at one moment happen too);
    - ``record_in_the_past()``: a call dated before the last event must be
      refused with ``OutOfOrderError``.

    After every step these invariants are checked:

    - nothing leaves a won stage (and a won deal records nothing more);
    - a refused call records nothing: events, state, attributes and store
      unchanged;
    - the log is append-only and the store holds exactly the deal's events;
    - ``pipeline.replay(deal.events)`` gives a deal equal to the live one;
    - every visit of :func:`salesstages.metrics.visits` has a non-negative
      duration, and :func:`salesstages.metrics.funnel` counts (skips imputed)
      never grow down the funnel.

    They run as one invariant, ``builtin_invariants``, which calls the
    ``check_*`` methods of :class:`PipelineMachine`; override one to change it.

    Subclass the result and add your own ``@rule`` and ``@invariant`` methods
    over ``self.deal`` (use :meth:`PipelineMachine.attempt` for calls that may
    be refused); run it under pytest through its ``TestCase`` attribute, and
    tune it with ``@settings(max_examples=..., stateful_step_count=...)`` on
    the class.

    Args:
        pipeline: The pipeline under test.
        fields: Strategies for attribute values by name (see :func:`events`).
        start: When the deal is opened (timezone-aware).
        max_wait: The longest time one ``wait`` step lets pass.

    Raises:
        hypothesis.errors.InvalidArgument: An option is invalid.
    """
    checked = _check_pipeline("pipeline_machine", pipeline)
    field_values = _check_fields("pipeline_machine", fields)
    opened_at = _check_start("pipeline_machine", start)
    wait_seconds = _seconds(_check_duration("pipeline_machine", "max_wait", max_wait))
    plan = _Plan.of(checked)

    def value(name: str) -> SearchStrategy[Any]:
        strategy = field_values.get(name)
        return _default_field_values() if strategy is None else strategy

    updates: SearchStrategy[tuple[str, Any]] = st.one_of(
        *(st.tuples(st.just(name), value(name)) for name in plan.fields)
    )
    stages = st.sampled_from(plan.stage_names)
    substates = st.sampled_from((*plan.substates, "no_such_substate"))
    reopen_to: SearchStrategy[str | None] = st.none() | st.sampled_from(plan.open_names)

    class Machine(PipelineMachine):
        if plan.entry_fields:

            @initialize(values=st.fixed_dictionaries({f: value(f) for f in plan.entry_fields}))
            def choose_field_values(self, values: dict[str, Any]) -> None:
                """Choose the values that prepare() gives the fields entry criteria need."""
                self.field_values = dict(values)

        @rule(activity=st.sampled_from(plan.activities))
        def record(self, activity: _Activity) -> None:
            """Record one activity (maybe refused: a won deal records nothing)."""
            name, data = activity
            self.attempt(f"record {name!r}", lambda: self.deal.record(name, at=self.now, **data))

        @rule(field=updates)
        def update(self, field: tuple[str, Any]) -> None:
            """Set one attribute (maybe refused on a won deal)."""
            name, new = field
            self.attempt(f"update {name!r}", lambda: self.deal.update(at=self.now, **{name: new}))

        @rule(hops=st.integers(1, len(plan.open_names)))
        def walk(self, hops: int) -> None:
            """Walk ``hops`` steps down the open stages: into the stage's next sub-state, or
            (after its last) into the next open stage with what that stage needs recorded
            first. A lost deal reopens; the walk stops before a won stage (winning is left
            to the other rules, so that deals live longer); a won deal tries to leave,
            which must be refused."""
            for _ in range(hops):
                deal = self.deal
                sub = _next_substate(deal) if deal.is_open else None
                if sub is not None:
                    self.prepare_substate(sub)
                    call = partial(deal.enter_substate, sub, at=self.now)
                    ok = self.attempt(f"enter sub-state {sub!r}", call)
                else:
                    target = self._plan().next_target(deal)
                    if target is None:
                        self.enter(self.pipeline.first_stage.name)
                        return
                    if target in self._plan().won_names:
                        return
                    self.prepare(target)
                    ok = self.enter(target)
                if not ok:
                    return

        @rule(to=stages)
        def advance(self, to: str) -> None:
            """Record what stage ``to`` needs, then try to enter it."""
            self.prepare(to)
            self.enter(to)

        @rule(to=stages)
        def move(self, to: str) -> None:
            """Try a plain move, allowed or not."""
            self.attempt(f"move to {to!r}", lambda: self.deal.move(to, at=self.now))

        if plan.substates:  # without sub-states every try would be refused: a wasted step

            @rule(name=substates)
            def enter_substate(self, name: str) -> None:
                """Try to enter a sub-state (of this stage, another one, or none)."""
                self.attempt(
                    f"enter sub-state {name!r}",
                    lambda: self.deal.enter_substate(name, at=self.now),
                )

        @rule(stage=st.sampled_from(plan.won_names))
        def win(self, stage: str) -> None:
            """Try to win the deal."""
            self.attempt(f"win into {stage!r}", lambda: self.deal.win(at=self.now, stage=stage))

        @rule(stage=st.sampled_from(plan.lost_names), reason=st.sampled_from(_LOST_REASONS))
        def lose(self, stage: str, reason: str) -> None:
            """Try to lose the deal."""
            self.attempt(
                f"lose into {stage!r}",
                lambda: self.deal.lose(at=self.now, reason=reason, stage=stage),
            )

        @rule(to=reopen_to)
        def reopen(self, to: str | None) -> None:
            """Try to reopen the deal (to where it was lost from, or to ``to``), after
            recording what the target stage needs."""
            target = to if to is not None else self._plan().next_target(self.deal)
            if target is not None and self.deal.outcome == "lost":
                self.prepare(target)
            self.attempt(f"reopen to {to!r}", lambda: self.deal.reopen(at=self.now, to=to))

        @rule(seconds=st.integers(0, wait_seconds))
        def wait(self, seconds: int) -> None:
            """Let time pass."""
            self.now += timedelta(seconds=seconds)

        @rule()
        def record_in_the_past(self) -> None:
            """A call dated before the deal's last event is refused with OutOfOrderError."""
            past = self.deal.events[-1].at - timedelta(microseconds=1)
            ok = self.attempt(
                "record 'note' in the past", lambda: self.deal.record("note", at=past)
            )
            assert not ok, f"a call at {past.isoformat()} before the last event went through"
            assert isinstance(self.refusals[-1][1], OutOfOrderError), (
                f"expected OutOfOrderError, got {self.refusals[-1][1]!r}"
            )

    name = _class_name(checked)
    Machine.__name__ = name
    Machine.__qualname__ = name
    Machine.pipeline = checked
    Machine.start = opened_at
    Machine._plan_cache = plan
    return Machine
