"""salesstages.testing reaches every state: every stage (each lost one too), every
sub-state, sub-states with criteria, and stages behind custom guards through the
``satisfied_by`` hook."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis.stateful import run_state_machine_as_test

from salesstages import (
    Deal,
    DealView,
    Pipeline,
    PipelineError,
    Stage,
    Substate,
    activity,
    guard,
    substate_reached,
)
from salesstages.guards import Step
from salesstages.presets import inbound_b2b
from salesstages.testing import deals, pipeline_machine

#: Deterministic, so a share that must not be 0 cannot flake.
COVER = settings(max_examples=200, deadline=None, database=None, derandomize=True)


@guard(
    "an economic buyer named and a budget set",
    satisfied_by=[Step.activity("buyer_named", role="economic"), Step.field("budget")],
)
def buyer_and_budget(deal: DealView) -> bool:
    """A custom guard: an economic buyer activity and a budget attribute."""
    named = any(e.data.get("role") == "economic" for e in deal.activities("buyer_named"))
    return named and bool(deal.attributes.get("budget"))


def five_stages() -> Pipeline:
    """The issue's five-stage pipeline with skipping, plus two lost stages, a custom
    guard, sub-state criteria and a won stage that needs signing reached."""
    return Pipeline(
        "five",
        [
            Stage("lead"),
            Stage("qualified", entry=buyer_and_budget),
            Stage(
                "proposal",
                substates=(
                    "delivered",
                    Substate("review", entry=activity("review_call")),
                    Substate("signing", entry=substate_reached("proposal", "review")),
                ),
            ),
            Stage("won", outcome="won", entry=substate_reached("proposal", "signing")),
            Stage("lost_price", outcome="lost"),
            Stage("lost_silence", outcome="lost"),
        ],
    )


def states_of(deal: Deal) -> set[str]:
    """Every stage and ``stage/sub-state`` the deal entered."""
    out: set[str] = set()
    for e in deal.events:
        if e.kind == "stage_entered" and e.stage is not None:
            out.add(e.stage)
        elif e.kind == "substate_entered":
            out.add(f"{e.stage}/{e.name}")
    return out


@pytest.mark.parametrize("make", [five_stages, inbound_b2b], ids=lambda f: f.__name__)
def test_deals_reach_every_state(make: object) -> None:
    """The share of drawn deals that entered each state, and that ended in each outcome,
    is never 0: every lost stage, every sub-state, the custom-guarded stage and won."""
    pipeline: Pipeline = make()  # type: ignore[operator]
    visited: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    total = 0

    @COVER
    @given(deals(pipeline))
    def collect(deal: Deal) -> None:
        nonlocal total
        total += 1
        visited.update(states_of(deal))
        ended[deal.stage if not deal.is_open else "open"] += 1

    collect()
    states = [s.name for s in pipeline.stages]
    states += [f"{s.name}/{sub}" for s in pipeline.stages for sub in s.substates]
    shares = {name: visited[name] / total for name in states}
    print(f"\n{pipeline.name}: share of {total} drawn deals entering each state")
    for name, share in shares.items():
        print(f"  {name:<36} {share:6.1%}")
    print("  ending: " + ", ".join(f"{k} {v / total:.1%}" for k, v in ended.items()))
    assert all(share > 0 for share in shares.values()), shares
    for s in pipeline.lost_stages:
        assert ended[s.name] > 0, (s.name, ended)
    assert ended[pipeline.won_stages[0].name] > 0, ended


def test_deals_respect_substate_rules() -> None:
    """No drawn deal enters a sub-state twice in a row or goes back (no substate_regress),
    and every entry met its criteria."""
    pipeline = five_stages()
    order = pipeline.stage("proposal").substates

    @settings(max_examples=80, deadline=None, database=None)
    @given(deals(pipeline))
    def check(deal: Deal) -> None:
        assert pipeline.check(deal.events, guards=True) == []
        current: list[int] = []
        for e in deal.events:
            if e.kind == "stage_entered":
                current = []
            elif e.kind == "substate_entered" and e.name is not None:
                index = order.index(e.name)
                assert not current or index > current[-1]
                current.append(index)

    check()


def test_machine_satisfies_custom_guards() -> None:
    """The state machine reaches the stage behind the custom guard and every sub-state."""
    pipeline = five_stages()
    seen: set[str] = set()

    class Watch(pipeline_machine(pipeline)):  # type: ignore[misc]
        def teardown(self) -> None:
            seen.update(states_of(self.deal))

    run_state_machine_as_test(
        Watch,
        settings=settings(
            max_examples=60, stateful_step_count=30, deadline=None, database=None, derandomize=True
        ),
    )
    assert {"qualified", "proposal/review", "proposal/signing", "won"} <= seen, seen


def test_without_the_hook_the_guarded_stage_is_never_reached() -> None:
    """The same custom guard without satisfied_by is never satisfied: the hook is what works."""
    bare = guard("an economic buyer named and a budget set")(buyer_and_budget.fn)  # type: ignore[attr-defined]
    pipeline = Pipeline(
        "bare",
        [
            Stage("lead"),
            Stage("qualified", entry=bare),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_skip=False,
    )
    reached = 0

    @settings(max_examples=50, deadline=None, database=None, derandomize=True)
    @given(deals(pipeline))
    def collect(deal: Deal) -> None:
        nonlocal reached
        reached += "qualified" in states_of(deal)

    collect()
    assert reached == 0


@pytest.mark.parametrize(
    ("satisfied_by", "words"),
    [
        ("buyer_named", "takes a list of Step objects"),
        ([3], "holds 3"),
        ([""], "holds ''"),
    ],
)
def test_bad_satisfied_by(satisfied_by: object, words: str) -> None:
    """guard(satisfied_by=...) refuses anything but Steps and activity names."""
    with pytest.raises(PipelineError, match=words):
        guard("x", satisfied_by=satisfied_by)  # type: ignore[arg-type]


def test_satisfied_by_accepts_activity_names() -> None:
    """A plain name stands for that activity with no data."""
    g = guard("called", satisfied_by=["call"])(lambda deal: True)
    assert g.steps() == (Step("activity", "call"),)


@pytest.mark.parametrize("call", [lambda: Step.activity(""), lambda: Step.field("")])
def test_step_constructors_refuse_empty_names(call: object) -> None:
    """Step.activity and Step.field need a name."""
    with pytest.raises(PipelineError, match="needs"):
        call()  # type: ignore[operator]
