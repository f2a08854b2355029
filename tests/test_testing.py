"""salesstages.testing: the strategies, the state machine, and the bugs it finds."""

from __future__ import annotations

import inspect
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument, InvalidDefinition
from hypothesis.stateful import invariant, rule, run_state_machine_as_test

import salesstages.testing
from salesstages import (
    Deal,
    DealView,
    Event,
    Pipeline,
    Stage,
    TransitionRefused,
    activity,
    any_of,
    document_sent,
    field,
    guard,
)
from salesstages.presets import classic_b2b, inbound_b2b, modern_b2b
from salesstages.testing import PipelineMachine, deals, events, pipeline_machine
from salesstages.testing._store_suite import StoreSuite

PRESETS = [inbound_b2b, classic_b2b, modern_b2b]


def modern_auto_advance() -> Pipeline:
    """The modern preset with auto_advance on and skips off."""
    d = modern_b2b().to_dict()
    return Pipeline.from_dict(
        {**d, "name": "modern_auto", "auto_advance": True, "allow_skip": False}
    )


def flow_with_transitions() -> Pipeline:
    """The proposal flow with an explicit transition list (see flow())."""
    return flow(
        transitions=[
            ("lead", "qualified"),
            ("qualified", "proposal"),
            ("proposal", "closed_won"),
            ("closed_lost", "lead"),
        ]
    )


#: The presets plus pipelines that exercise auto_advance and explicit transitions.
VARIANTS = [*PRESETS, modern_auto_advance, flow_with_transitions]
START = datetime(2025, 3, 1, tzinfo=UTC)

#: Settings for tests that must pass: random, small, no deadline, no database.
SOUND = settings(max_examples=60, stateful_step_count=30, deadline=None, database=None)
#: Settings for runs that only need to show something works.
LIGHT = settings(SOUND, max_examples=20)
#: Settings for tests that assert some state is reached: deterministic, so they cannot flake.
COVER = settings(SOUND, derandomize=True)
#: Settings for planted-bug hunts: deterministic (no flakes), no shrinking (speed).
HUNT = settings(
    max_examples=600,
    stateful_step_count=30,
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
)


def entered(events_: Iterable[Event]) -> dict[str, set[str]]:
    """The stages each deal of a log entered, by deal id."""
    result: dict[str, set[str]] = {}
    for e in events_:
        result.setdefault(e.deal_id, set())
        if e.kind == "stage_entered" and e.stage is not None:
            result[e.deal_id].add(e.stage)
    return result


def flow(
    *,
    proposal_entry: Any = None,
    won_entry: Any = None,
    **flags: Any,
) -> Pipeline:
    """lead → qualified (call connected) → proposal (document, sub-states) → won / lost."""
    return Pipeline(
        "proposal_flow",
        [
            Stage("lead"),
            Stage("qualified", entry=activity("call_connected")),
            Stage(
                "proposal",
                entry=proposal_entry if proposal_entry is not None else document_sent("proposal"),
                substates=("delivered", "review", "signing"),
            ),
            Stage("closed_won", outcome="won", entry=won_entry),
            Stage("closed_lost", outcome="lost"),
        ],
        **flags,
    )


def run(machine: type[PipelineMachine], config: settings) -> None:
    """Run a machine as a test with the given settings."""
    run_state_machine_as_test(machine, settings=config)


# --------------------------------------------------------------------------- events()
class TestEvents:
    """The events() strategy."""

    @pytest.mark.parametrize("make", VARIANTS, ids=lambda f: f.__name__)
    def test_drawn_logs_replay_strictly(self, make: Callable[[], Pipeline]) -> None:
        """Every drawn log replays strictly, is in time order, and met every entry criterion."""
        pipeline = make()

        @SOUND
        @given(events(pipeline))
        def check(log: list[Event]) -> None:
            deals_ = pipeline.replay(log, strict=True)
            assert 1 <= len(deals_) <= 5
            assert [e.at for e in log] == sorted(e.at for e in log)
            assert pipeline.check(log, guards=True) == []

        check()

    @pytest.mark.parametrize("make", PRESETS, ids=lambda f: f.__name__)
    def test_every_stage_is_reached(self, make: Callable[[], Pipeline]) -> None:
        """The share of drawn deals reaching each stage is printed (see it with -s), never 0."""
        pipeline = make()
        reached: Counter[str] = Counter()
        total = 0

        @settings(COVER, max_examples=80)
        @given(events(pipeline))
        def collect(log: list[Event]) -> None:
            nonlocal total
            for stages in entered(log).values():
                total += 1
                reached.update(stages)

        collect()
        shares = {s.name: reached[s.name] / total for s in pipeline.stages}
        print(f"\n{pipeline.name}: share of {total} drawn deals reaching each stage")
        for name, share in shares.items():
            print(f"  {name:<24} {share:6.1%}")
        assert all(share > 0 for share in shares.values()), shares
        assert shares[pipeline.open_stages[-1].name] >= 0.03, shares

    def test_options_bound_the_log(self) -> None:
        """Deal counts, steps and the time window follow the options."""
        pipeline = classic_b2b()
        span = timedelta(days=10)

        @SOUND
        @given(
            events(
                pipeline,
                min_deals=2,
                max_deals=3,
                min_steps=1,
                max_steps=4,
                start=START,
                span=span,
                max_gap=timedelta(days=2),
            )
        )
        def check(log: list[Event]) -> None:
            by_deal = entered(log)
            assert 2 <= len(by_deal) <= 3
            assert all(START <= e.at <= START + span for e in log)
            for deal_id in by_deal:
                evs = [e for e in log if e.deal_id == deal_id]
                # opened + first stage, then 1–4 operations of at most two events each here
                # (an activity its stage needs and the move)
                assert 3 <= len(evs) <= 2 + 4 * 2

        check()

    def test_equal_timestamps_and_gaps_both_occur(self) -> None:
        """Drawn gaps include zero (equal timestamps) as well as positive gaps."""
        seen = {"equal": False, "gap": False}

        @settings(COVER, max_examples=40)
        @given(events(classic_b2b(), max_deals=1, min_steps=2))
        def collect(log: list[Event]) -> None:
            for a, b in pairwise(log):
                seen["equal" if a.at == b.at else "gap"] = True

        collect()
        assert seen == {"equal": True, "gap": True}

    def test_close_false_keeps_deals_open(self) -> None:
        """With close=False no deal enters a won or lost stage."""
        pipeline = inbound_b2b()
        closed = {s.name for s in pipeline.stages if not s.is_open}

        @settings(SOUND, max_examples=30)
        @given(events(pipeline, close=False, max_deals=2))
        def check(log: list[Event]) -> None:
            assert not any(stages & closed for stages in entered(log).values())

        check()

    def test_reopen_false_never_reopens(self) -> None:
        """With reopen=False nothing follows a lost stage but activities and updates."""
        pipeline = classic_b2b()

        @settings(SOUND, max_examples=30)
        @given(events(pipeline, reopen=False))
        def check(log: list[Event]) -> None:
            for deal in pipeline.replay(log).values():
                kinds = [e.kind for e in deal.events]
                stages = [e.stage for e in deal.events if e.kind == "stage_entered"]
                if "closed_lost" in stages:
                    assert stages[-1] == "closed_lost", kinds

        check()

    def test_attributes_named_like_open_deal_keywords(self) -> None:
        """Drawn attributes called "at", "store" or "stage" are opening attributes, not
        arguments of open_deal (they used to collide with its keywords)."""

        @LIGHT
        @given(
            events(
                inbound_b2b(),
                max_deals=2,
                attributes=st.fixed_dictionaries(
                    {"at": st.just("noon"), "store": st.just("north"), "stage": st.just("x")}
                ),
            )
        )
        def check(log: list[Event]) -> None:
            for e in log:
                if e.kind == "opened":
                    assert e.data == {"at": "noon", "store": "north", "stage": "x"}

        check()

    def test_fields_and_attributes_options(self) -> None:
        """fields= feeds field() guards with predicates; attributes= sets opening values."""
        pipeline = Pipeline(
            "sized",
            [
                Stage("lead"),
                Stage("big", entry=field("amount", lambda v: v >= 50_000)),
                Stage("won", outcome="won"),
                Stage("lost", outcome="lost"),
            ],
        )
        reached_big = False

        @COVER
        @given(
            events(
                pipeline,
                fields={"amount": st.integers(50_000, 90_000)},
                attributes=st.fixed_dictionaries({"lead_type": st.sampled_from(["inbound"])}),
            )
        )
        def check(log: list[Event]) -> None:
            nonlocal reached_big
            assert all(e.data == {"lead_type": "inbound"} for e in log if e.kind == "opened")
            amounts = [e.data["amount"] for e in log if e.kind == "updated"]
            assert all(50_000 <= a <= 90_000 for a in amounts)
            reached_big = reached_big or any("big" in s for s in entered(log).values())

        check()
        assert reached_big


# --------------------------------------------------------------------------- deals()
class TestDeals:
    """The deals() strategy."""

    @pytest.mark.parametrize("make", PRESETS, ids=lambda f: f.__name__)
    def test_drawn_deals_are_live_and_consistent(self, make: Callable[[], Pipeline]) -> None:
        """A drawn deal equals its replay, matches its store, and takes further calls."""
        pipeline = make()

        @SOUND
        @given(deals(pipeline, deal_id="X-9"))
        def check(deal: Deal) -> None:
            assert deal.id == "X-9"
            assert pipeline.replay(deal.events)["X-9"] == deal
            assert deal.store is not None
            assert list(deal.store.events("X-9")) == list(deal.events)
            if deal.outcome != "won":
                at = deal.events[-1].at
                deal.record("note", at=at)
                assert deal.events[-1].name == "note"

        check()

    def test_every_kind_of_state_is_reached(self) -> None:
        """Drawn deals include sub-states, won, lost and reopened deals."""
        seen: set[str] = set()

        # 400: with 150, one random stream in twelve missed a deal ending in a sub-state
        # (derandomized streams differ with what ran before in the process)
        @settings(COVER, max_examples=400)
        @given(deals(inbound_b2b()))
        def collect(deal: Deal) -> None:
            if deal.substate is not None:
                seen.add("substate")
            seen.add(deal.outcome)
            stages = [e.stage for e in deal.events if e.kind == "stage_entered"]
            if deal.is_open and "closed_lost" in stages:
                seen.add("reopened")

        collect()
        assert seen >= {"substate", "open", "won", "lost", "reopened"}, seen


# --------------------------------------------------------------------------- the machine
class TestMachine:
    """pipeline_machine(): the built-in run on the presets, and its shape."""

    @pytest.mark.parametrize("make", VARIANTS, ids=lambda f: f.__name__)
    def test_presets_keep_the_builtin_invariants(self, make: Callable[[], Pipeline]) -> None:
        """The machine runs every preset (and variant) without breaking a built-in invariant."""
        machine = pipeline_machine(make())
        run(machine, SOUND)
        assert machine.__name__.endswith("Machine")

    def test_test_case_runs_under_pytest(self) -> None:
        """``.TestCase`` is a unittest case that runs the machine."""
        machine = pipeline_machine(classic_b2b())
        case = machine.TestCase
        case.settings = LIGHT
        result = case("runTest").run()
        assert result is not None
        assert result.wasSuccessful(), result.failures + result.errors

    def test_machine_reaches_every_stage_and_substate(self) -> None:
        """Across runs the machine's deal enters every stage and sub-state of a preset."""
        pipeline = modern_b2b()
        seen: set[str] = set()

        class Watch(pipeline_machine(pipeline)):  # type: ignore[misc]
            def teardown(self) -> None:
                for e in self.deal.events:
                    if e.kind == "stage_entered" and e.stage is not None:
                        seen.add(e.stage)
                    if e.kind == "substate_entered" and e.name is not None:
                        seen.add(e.name)

        run(Watch, settings(COVER, max_examples=80))
        expected = {s.name for s in pipeline.stages} | {"first_demo", "second_demo"}
        assert seen >= expected, expected - seen

    def test_user_rules_and_attempt(self) -> None:
        """A subclass adds a @rule that uses attempt(); refusals are kept, not raised."""
        counts: Counter[bool] = Counter()

        class Extra(pipeline_machine(classic_b2b())):  # type: ignore[misc]
            @rule()
            def jump_to_negotiation(self) -> None:
                ok = self.attempt("jump", lambda: self.deal.move("negotiation", at=self.now))
                counts[ok] += 1

        run(Extra, settings(LIGHT, derandomize=True))
        assert counts[False] > 0

    def test_base_class_without_pipeline_is_refused(self) -> None:
        """Running PipelineMachine without a pipeline explains how to build one."""

        class Bare(PipelineMachine):
            @rule()
            def nothing(self) -> None:
                """Do nothing."""

        with pytest.raises(InvalidDefinition, match="pipeline_machine"):
            Bare()

    def test_class_name_follows_the_pipeline(self) -> None:
        """The generated class is named after the pipeline."""
        assert pipeline_machine(inbound_b2b()).__name__ == "InboundB2bMachine"
        assert pipeline_machine(flow()).pipeline.name == "proposal_flow"


# --------------------------------------------------------------------------- planted bugs
def went_through_proposal(deal: Deal) -> bool:
    """Whether the deal ever entered the proposal stage."""
    return any(e.kind == "stage_entered" and e.stage == "proposal" for e in deal.events)


class TestPlantedBugs:
    """The machine finds rule breaks planted in pipelines, and passes the sound versions."""

    @staticmethod
    def proposal_before_win(pipeline: Pipeline) -> type[PipelineMachine]:
        """A machine with the user rule "every won deal went through the proposal stage"."""

        class Rule(pipeline_machine(pipeline)):  # type: ignore[misc]
            @invariant()
            def won_deals_saw_the_proposal(self) -> None:
                if self.deal.outcome == "won":
                    assert went_through_proposal(self.deal), "won without a proposal"

        return Rule

    def test_skip_past_the_proposal(self) -> None:
        """A pipeline allowing skips lets a deal be won without a proposal; no skips is sound."""
        with pytest.raises(AssertionError, match="won without a proposal"):
            run(self.proposal_before_win(flow(allow_skip=True)), HUNT)
        run(self.proposal_before_win(flow(allow_skip=False)), SOUND)

    @staticmethod
    def proposal_sent_in_proposal(pipeline: Pipeline) -> type[PipelineMachine]:
        """A machine with the user rule "a deal in proposal has had the proposal sent"."""

        class Rule(pipeline_machine(pipeline)):  # type: ignore[misc]
            @invariant()
            def proposal_stage_has_the_document(self) -> None:
                if self.deal.stage == "proposal":
                    sent = [
                        e
                        for e in self.deal.events
                        if e.name == "document_sent" and e.data.get("document") == "proposal"
                    ]
                    assert sent, "in proposal without the proposal document"

        return Rule

    def test_guard_too_weak(self) -> None:
        """An entry guard that also accepts a pricing email is found; document_sent is sound."""
        weak = any_of(document_sent("proposal"), activity("pricing_email"))
        with pytest.raises(AssertionError, match="without the proposal document"):
            run(self.proposal_sent_in_proposal(flow(proposal_entry=weak, allow_skip=False)), HUNT)
        run(self.proposal_sent_in_proposal(flow(allow_skip=False)), SOUND)

    def test_custom_guard_too_weak(self) -> None:
        """A custom guard accepting any activity is found although it lists no steps."""

        @guard("a proposal was sent")
        def any_activity(deal: DealView) -> bool:
            return any(True for _ in deal.activities())

        with pytest.raises(AssertionError, match="without the proposal document"):
            run(
                self.proposal_sent_in_proposal(flow(proposal_entry=any_activity, allow_skip=False)),
                HUNT,
            )

    @staticmethod
    def won_from_signing(pipeline: Pipeline) -> type[PipelineMachine]:
        """A machine with the user rule "a deal is won only from the signing sub-state"."""

        class Rule(pipeline_machine(pipeline)):  # type: ignore[misc]
            @invariant()
            def won_only_when_signing(self) -> None:
                evs = self.deal.events
                for i, e in enumerate(evs):
                    if e.kind == "stage_entered" and e.stage == "closed_won":
                        moves = [
                            p for p in evs[:i] if p.kind in ("stage_entered", "substate_entered")
                        ]
                        last = moves[-1]
                        assert (last.kind, last.name) == ("substate_entered", "signing"), (
                            "won without signing"
                        )

        return Rule

    def test_win_before_signing(self) -> None:
        """Without a guard on the won stage a deal is won mid-review; a sub-state guard is sound."""

        @guard("the proposal is in signing")
        def in_signing(deal: DealView) -> bool:
            return deal.substate == "signing"

        with pytest.raises(AssertionError, match="won without signing"):
            run(self.won_from_signing(flow(allow_skip=False)), HUNT)
        run(self.won_from_signing(flow(allow_skip=False, won_entry=in_signing)), SOUND)

    @staticmethod
    def reopen_no_further(pipeline: Pipeline) -> type[PipelineMachine]:
        """A machine with the user rule "a reopened deal goes back no further than it got"."""

        class Rule(pipeline_machine(pipeline)):  # type: ignore[misc]
            @invariant()
            def reopened_at_or_before_lost_stage(self) -> None:
                stages = [e.stage for e in self.deal.events if e.kind == "stage_entered"]
                for before, lost, after in zip(stages, stages[1:], stages[2:], strict=False):
                    if lost == "closed_lost":
                        assert before is not None
                        assert after is not None
                        index = self.pipeline.index
                        assert index(after) <= index(before), "reopened past the lost stage"

        return Rule

    def test_reopen_jumps_ahead(self) -> None:
        """Reopening into any open stage is found; explicit transitions back to the lead are
        sound."""
        buggy = flow(allow_reopen=True)
        sound = flow_with_transitions()
        with pytest.raises(AssertionError, match="reopened past the lost stage"):
            run(self.reopen_no_further(buggy), HUNT)
        run(self.reopen_no_further(sound), SOUND)


class TestBuiltinInvariantsBite:
    """Each built-in invariant fails when what it guards is broken behind the library's back."""

    def test_refused_call_that_records(self) -> None:
        """A call that records and then refuses breaks "a refused call records nothing"."""

        class Sneaky(pipeline_machine(classic_b2b())):  # type: ignore[misc]
            @rule()
            def record_then_refuse(self) -> None:
                def call() -> None:
                    self.deal.record("note", at=self.now)
                    raise TransitionRefused("refused after recording", verdict=None)  # type: ignore[arg-type]

                self.attempt("record then refuse", call)

        with pytest.raises(AssertionError, match="refused call"):
            run(Sneaky, HUNT)

    def test_state_changed_behind_the_log(self) -> None:
        """Changing attributes without an event breaks "replay gives the live state"."""

        class Sneaky(pipeline_machine(classic_b2b())):  # type: ignore[misc]
            @rule()
            def silent_update(self) -> None:
                self.deal._attributes["amount"] = -1

        with pytest.raises(AssertionError, match="replay gave"):
            run(Sneaky, HUNT)

    def test_leaving_a_won_stage(self) -> None:
        """Forcing a won deal back open breaks "nothing leaves a won stage"."""

        class Sneaky(pipeline_machine(classic_b2b())):  # type: ignore[misc]
            @rule()
            def unwin(self) -> None:
                if self.deal.outcome == "won":
                    self.deal.state = "lead_generated"

        with pytest.raises(AssertionError, match="left won stage"):
            run(Sneaky, HUNT)

    def test_event_written_past_the_deal(self) -> None:
        """An event appended to the store behind the deal breaks the store check."""

        class Sneaky(pipeline_machine(classic_b2b())):  # type: ignore[misc]
            @rule()
            def write_behind(self) -> None:
                last = self.deal.events[-1]
                extra = Event(
                    deal_id=self.deal.id,
                    seq=len(list(self.store.events(self.deal.id))),
                    at=last.at,
                    kind="activity",
                    stage=last.stage or "lead_generated",
                    name="ghost",
                )
                self.store.append([extra])

        with pytest.raises(AssertionError, match="store's events differ"):
            run(Sneaky, HUNT)

    @pytest.fixture
    def metrics(self) -> Any:
        """The salesstages.metrics package (the metrics checks are skipped without it)."""
        return pytest.importorskip("salesstages.metrics")

    def test_negative_visit_duration_is_caught(
        self, metrics: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A visit with a negative duration from metrics.visits fails the machine."""
        bad = SimpleNamespace(stage="lead_generated", duration=timedelta(seconds=-1))
        monkeypatch.setattr(metrics, "visits", lambda events, pipeline: [bad])
        with pytest.raises(AssertionError, match="negative duration"):
            run(pipeline_machine(classic_b2b()), HUNT)

    def test_growing_funnel_is_caught(self, metrics: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """An imputed funnel whose counts grow down the funnel fails the machine."""
        rows = [SimpleNamespace(stage="a", reached=0), SimpleNamespace(stage="b", reached=1)]
        monkeypatch.setattr(metrics, "funnel", lambda events, pipeline, skips: rows)
        with pytest.raises(AssertionError, match="the funnel grows"):
            run(pipeline_machine(classic_b2b()), HUNT)

    def test_real_metrics_are_consulted(
        self, metrics: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The built-in run calls metrics.visits and metrics.funnel on the deal's events."""
        calls: Counter[str] = Counter()
        visits, funnel = metrics.visits, metrics.funnel

        def counted_visits(events: Any, pipeline: Pipeline) -> Any:
            calls["visits"] += 1
            return visits(events, pipeline)

        def counted_funnel(events: Any, pipeline: Pipeline, skips: str) -> Any:
            calls["funnel"] += 1
            return funnel(events, pipeline, skips=skips)

        monkeypatch.setattr(metrics, "visits", counted_visits)
        monkeypatch.setattr(metrics, "funnel", counted_funnel)
        run(pipeline_machine(inbound_b2b()), settings(SOUND, max_examples=5))
        assert calls["visits"] > 0
        assert calls["funnel"] == calls["visits"]


# --------------------------------------------------------------------------- validation
BAD_ARGUMENTS: list[tuple[str, dict[str, Any], str]] = [
    ("events", {"min_deals": -1}, r"min_deals=-1 must be at least 0"),
    ("events", {"max_deals": 1.5}, r"max_deals=1.5 must be an int"),
    ("events", {"min_deals": 3, "max_deals": 2}, r"max_deals=2 is less than min_deals=3"),
    ("events", {"min_steps": True}, r"min_steps=True must be an int"),
    ("deals", {"min_steps": 5, "max_steps": 1}, r"max_steps=1 is less than min_steps=5"),
    ("events", {"start": datetime(2024, 1, 1)}, r"start=.* is a naive datetime; pass an aware"),
    ("deals", {"start": "2024-01-01"}, r"start='2024-01-01' must be a datetime"),
    ("events", {"span": timedelta(days=-1)}, r"span=.* is negative"),
    ("deals", {"max_gap": 3}, r"max_gap=3 must be a timedelta"),
    ("events", {"close": "yes"}, r"close='yes' must be True or False"),
    ("deals", {"reopen": None}, r"reopen=None must be True or False"),
    ("events", {"fields": {"amount": 5}}, r"fields\['amount'\]=5 is not a strategy"),
    ("events", {"fields": [1]}, r"fields=\[1\] must be a mapping"),
    ("deals", {"attributes": {"a": 1}}, r"attributes=\{'a': 1\} is not a strategy"),
    ("deals", {"deal_id": ""}, r"deal_id='' must be a non-empty string"),
    ("pipeline_machine", {"max_wait": timedelta(seconds=-1)}, r"max_wait=.* is negative"),
    ("pipeline_machine", {"start": datetime(2024, 1, 1)}, r"start=.* is a naive datetime"),
]


class TestValidation:
    """Options are checked when the strategy or machine is built."""

    @pytest.mark.parametrize(("function", "kwargs", "message"), BAD_ARGUMENTS)
    def test_bad_option_is_refused_at_build_time(
        self, function: str, kwargs: dict[str, Any], message: str
    ) -> None:
        """A bad option raises InvalidArgument naming the function, argument and value."""
        build = getattr(salesstages.testing, function)
        with pytest.raises(InvalidArgument, match=rf"^{function}\(\): {message}"):
            build(classic_b2b(), **kwargs)

    @pytest.mark.parametrize("function", ["events", "deals", "pipeline_machine"])
    def test_not_a_pipeline(self, function: str) -> None:
        """Passing something other than a Pipeline says what to pass instead."""
        build = getattr(salesstages.testing, function)
        with pytest.raises(InvalidArgument, match="is not a Pipeline; pass a salesstages"):
            build("classic_b2b")

    def test_valid_options_build_lazily(self) -> None:
        """Valid options build a strategy without drawing anything."""
        strategy = events(classic_b2b(), min_deals=0, max_deals=0, span=timedelta(0))
        assert isinstance(strategy, st.SearchStrategy)

    def test_empty_log_when_no_deals(self) -> None:
        """max_deals=0 draws the empty log."""

        @SOUND
        @given(events(classic_b2b(), min_deals=0, max_deals=0))
        def check(log: list[Event]) -> None:
            assert log == []

        check()


class TestModule:
    """The public surface of salesstages.testing."""

    def test_all_is_sorted_and_exact(self) -> None:
        """``__all__`` is sorted and lists exactly the public, documented names."""
        module = salesstages.testing
        assert list(module.__all__) == sorted(module.__all__)
        defined_here = {
            name
            for name, obj in vars(module).items()
            if not name.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and getattr(obj, "__module__", None) == module.__name__
        }
        assert defined_here == {"PipelineMachine", "deals", "events", "pipeline_machine"}
        assert set(module.__all__) == defined_here | {"StoreSuite"}
        assert module.StoreSuite is StoreSuite
        for name in module.__all__:
            assert inspect.getdoc(getattr(module, name)), name

    def test_events_docstring_says_how_examples_shrink(self) -> None:
        """The strategies document how their examples shrink."""
        assert "Shrinking:" in (events.__doc__ or "")
        assert "Shrinking:" in (deals.__doc__ or "")
