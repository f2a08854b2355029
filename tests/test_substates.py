"""Sub-states as real states (contract §13): definitions, rules, replay, the guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _cli_data import Runner
from _helpers import T0, day
from salesstages import (
    Deal,
    Event,
    InvalidLogError,
    Pipeline,
    PipelineError,
    Stage,
    Substate,
    TransitionRefused,
    UnknownStageError,
    activity,
    all_of,
    document_sent,
    not_,
    substate_reached,
)
from salesstages.guards import guard_from_dict

WON = Stage("won", outcome="won")
LOST = Stage("lost", outcome="lost")
SUBS = ("delivered", "review", "negotiation", "signing")


def proposal_pipeline(*, regress: bool = False, **flags: object) -> Pipeline:
    """lead → proposal (four sub-states; negotiation needs a call, signing needs review)
    → won / lost."""
    return Pipeline(
        "subs",
        [
            Stage("lead"),
            Stage(
                "proposal",
                substates=(
                    "delivered",
                    Substate("review", label="In review"),
                    Substate("negotiation", entry=activity("pricing_call")),
                    Substate("signing", entry=substate_reached("proposal", "review")),
                ),
                substate_regress=regress,
            ),
            Stage("won", outcome="won", entry=substate_reached("proposal", "signing")),
            LOST,
        ],
        **flags,  # type: ignore[arg-type]
    )


def in_proposal(pipeline: Pipeline | None = None) -> Deal:
    """A deal moved into the proposal stage at day 1."""
    deal = (pipeline or proposal_pipeline()).open_deal("D", at=T0)
    deal.move("proposal", at=day(1))
    return deal


def subs_of(deal: Deal) -> list[str | None]:
    """The sub-states the deal entered, in order."""
    return [e.name for e in deal.events if e.kind == "substate_entered"]


# --------------------------------------------------------------------------- definitions
class TestDefinition:
    """Substate, Stage(substates=..., substate_regress=...) and their checks."""

    def test_names_and_substate_objects_mix(self) -> None:
        """Names become plain Substates; the names stay available in order."""
        stage = proposal_pipeline().stage("proposal")
        assert stage.substates == SUBS
        assert stage.substate_specs[0] == Substate("delivered")
        assert stage.substate("review").title == "In review"
        assert stage.substate("delivered").title == "delivered"
        assert stage.substate_regress is False

    def test_unknown_substate_lookup(self) -> None:
        """Stage.substate() names the known sub-states when asked for another."""
        with pytest.raises(UnknownStageError, match="its sub-states: delivered, review"):
            proposal_pipeline().stage("proposal").substate("nope")

    @pytest.mark.parametrize(
        ("make", "words"),
        [
            (lambda: Stage("won", outcome="won", substates=("a",)), "closed (won) stage"),
            (
                lambda: Stage("lost", outcome="lost", substates=(Substate("a"),)),
                "closed (lost) stage",
            ),
            (lambda: Stage("p", substates=("a", Substate("a"))), "duplicate sub-state 'a'"),
            (lambda: Stage("p", substates="review"), "not the single 'review'"),
            (lambda: Stage("p", substates=Substate("review")), "not the single"),
            (lambda: Stage("p", substates=5), "got 5"),
            (lambda: Stage("p", substates=("a", 3)), "a sub-state must be a name or a Substate"),
            (lambda: Stage("p", substates=("a/b",)), "may not contain '/'"),
            (lambda: Stage("p", substates=("a",), substate_regress="yes"), "True or False"),
            (lambda: Substate(""), "non-empty strings"),
            (lambda: Substate("a", entry="call"), "entry must be a guard"),
            (lambda: Substate("a", label=3), "label must be a string"),
            (lambda: substate_reached("", "a"), "needs a stage name"),
            (lambda: substate_reached("p", ""), "needs a substate name"),
        ],
    )
    def test_bad_stage_definitions(self, make: Callable[[], object], words: str) -> None:
        """Each bad sub-state definition raises PipelineError naming the problem."""
        with pytest.raises(PipelineError, match=words.replace("(", r"\(").replace(")", r"\)")):
            make()

    @pytest.mark.parametrize(
        ("entry_on", "guard", "words"),
        [
            ("stage", substate_reached("nowhere", "x"), "unknown stage 'nowhere'"),
            ("stage", substate_reached("a", "x"), "unknown sub-state 'x' of stage 'a'"),
            ("sub", substate_reached("nowhere", "x"), "unknown stage 'nowhere'"),
            ("sub", not_(substate_reached("p", "zz")), "unknown sub-state 'zz' of stage 'p'"),
            ("sub", all_of(activity("c"), substate_reached("won", "x")), "its sub-states: none"),
        ],
    )
    def test_criteria_naming_unknown_states(self, entry_on: str, guard: object, words: str) -> None:
        """A substate_reached criterion naming an unknown stage or sub-state fails at build time."""
        sub = Substate("s2", entry=guard) if entry_on == "sub" else "s2"  # type: ignore[arg-type]
        stages = [
            Stage("a"),
            Stage("p", substates=("s1", sub), entry=guard if entry_on == "stage" else None),  # type: ignore[arg-type]
            WON,
            LOST,
        ]
        with pytest.raises(PipelineError, match=words) as info:
            Pipeline("bad", stages)
        where = "sub-state 's2' of stage 'p'" if entry_on == "sub" else "stage 'p'"
        assert where in str(info.value)

    def test_round_trip_through_json(self) -> None:
        """Substate objects, their criteria and substate_regress survive to_dict/from_dict;
        plain sub-states stay plain names."""
        p = proposal_pipeline(regress=True)
        d = json.loads(json.dumps(p.to_dict()))
        stage = d["stages"][1]
        assert stage["substates"][0] == "delivered"
        assert stage["substates"][1] == {"name": "review", "label": "In review"}
        assert stage["substates"][2] == {
            "name": "negotiation",
            "entry": {"type": "activity", "name": "pricing_call", "match": {}},
        }
        assert stage["substate_regress"] is True
        assert d["stages"][2]["entry"] == {
            "type": "substate_reached",
            "stage": "proposal",
            "substate": "signing",
        }
        assert Pipeline.from_dict(d) == p
        assert Pipeline.from_dict(d) != proposal_pipeline(regress=False)

    @pytest.mark.parametrize(
        ("substates", "words"),
        [
            ([{"label": "x"}], "a mapping with a 'name'"),
            ([{"name": "a", "colour": "red"}], "unknown key"),
            ([3], "a name or a mapping"),
            ("a", "must be a list of names"),
        ],
    )
    def test_from_dict_refuses_bad_substates(self, substates: object, words: str) -> None:
        """A malformed sub-state in a definition is a PipelineError naming it."""
        d = proposal_pipeline().to_dict()
        d["stages"][1]["substates"] = substates
        with pytest.raises(PipelineError, match=words):
            Pipeline.from_dict(d)

    def test_from_dict_refuses_non_boolean_regress(self) -> None:
        """substate_regress in a definition must be a real boolean."""
        d = proposal_pipeline().to_dict()
        d["stages"][1]["substate_regress"] = "no"
        with pytest.raises(PipelineError, match="'substate_regress' must be true or false"):
            Pipeline.from_dict(d)

    def test_diagram_json_works_without_custom_guards(self, run: Runner, tmp_path: Path) -> None:
        """A pipeline whose criteria use substate_reached prints as JSON from the command line."""
        path = tmp_path / "p.json"
        path.write_text(json.dumps(proposal_pipeline().to_dict()))
        status, out, _ = run("diagram", "-p", str(path), "-f", "json")
        assert status == 0
        assert Pipeline.from_dict(json.loads(out)) == proposal_pipeline()


# --------------------------------------------------------------------------- the rules
class TestRules:
    """Forward only (skipping fine), never the current one again, back only with regress."""

    def test_later_substates_and_skipping(self) -> None:
        """A deal enters delivered, then skips to review; both are recorded."""
        deal = in_proposal()
        deal.enter_substate("delivered", at=day(2))
        deal.enter_substate("review", at=day(3))
        assert deal.substate == "review"
        assert subs_of(deal) == ["delivered", "review"]

    def test_same_substate_twice_is_refused_and_writes_nothing(self) -> None:
        """The old label-only behaviour is gone: entering the current sub-state again
        raises TransitionRefused and appends no event."""
        deal = in_proposal()
        deal.enter_substate("delivered", at=day(2))
        before = deal.events
        assert deal.can_enter_substate("delivered").reasons == (
            "the deal is already in sub-state 'delivered'",
        )
        with pytest.raises(TransitionRefused) as info:
            deal.enter_substate("delivered", at=day(3))
        assert deal.events == before
        assert deal.store is not None
        assert len(list(deal.store.events())) == len(before)
        assert str(info.value) == (
            "Cannot enter sub-state 'delivered' for deal 'D': the deal is already in "
            "sub-state 'delivered'. Allowed next: review."
        )

    def test_earlier_substate_refused_without_regress(self) -> None:
        """Going back to an earlier sub-state is refused by default."""
        deal = in_proposal()
        deal.enter_substate("review", at=day(2))
        verdict = deal.can_enter_substate("delivered")
        assert not verdict
        assert "comes before the current sub-state 'review'" in verdict.reasons[0]
        with pytest.raises(TransitionRefused, match="substate_regress=False"):
            deal.enter_substate("delivered", at=day(3))
        assert subs_of(deal) == ["review"]

    def test_earlier_substate_allowed_with_regress(self) -> None:
        """With substate_regress=True an earlier sub-state may be entered, the current one not."""
        deal = in_proposal(proposal_pipeline(regress=True))
        deal.enter_substate("review", at=day(2))
        deal.enter_substate("delivered", at=day(3))
        assert deal.substate == "delivered"
        assert not deal.can_enter_substate("delivered")

    def test_unknown_substate(self) -> None:
        """A sub-state the stage does not have is refused, naming its sub-states."""
        deal = in_proposal()
        with pytest.raises(TransitionRefused, match="its sub-states: delivered, review"):
            deal.enter_substate("nope", at=day(2))
        assert subs_of(deal) == []

    def test_substate_entry_criteria(self) -> None:
        """Negotiation needs a pricing call: refused with a requirement, then allowed."""
        deal = in_proposal()
        verdict = deal.can_enter_substate("negotiation")
        assert verdict.reasons == ("no activity 'pricing_call' has been recorded",)
        with pytest.raises(TransitionRefused) as info:
            deal.enter_substate("negotiation", at=day(2))
        assert str(info.value) == (
            "Cannot enter sub-state 'negotiation' for deal 'D': not met: activity "
            "'pricing_call' recorded. Allowed next: delivered, review."
        )
        assert info.value.verdict == verdict
        deal.record("pricing_call", at=day(2))
        assert deal.can_enter_substate("negotiation").ok
        deal.enter_substate("negotiation", at=day(2))
        assert deal.substate == "negotiation"

    def test_order_and_criteria_reasons_together(self) -> None:
        """An earlier sub-state with unmet criteria lists both reasons; at the end of the
        stage no sub-state would pass."""
        pipeline = proposal_pipeline()
        deal = in_proposal(pipeline)
        deal.enter_substate("review", at=day(2))
        deal.enter_substate("signing", at=day(3))
        with pytest.raises(TransitionRefused) as info:
            deal.enter_substate("negotiation", at=day(4))
        assert len(info.value.verdict.reasons) == 2
        assert str(info.value).endswith(
            "not met: activity 'pricing_call' recorded. No sub-state would pass now."
        )

    def test_reentering_the_stage_starts_over(self) -> None:
        """After leaving and re-entering the stage the sub-states may be entered again."""
        pipeline = proposal_pipeline()
        deal = in_proposal(pipeline)
        deal.enter_substate("delivered", at=day(2))
        deal.lose(at=day(3), reason="price")
        deal.reopen(at=day(4))
        assert deal.substate is None
        deal.enter_substate("delivered", at=day(5))
        assert subs_of(deal) == ["delivered", "delivered"]

    def test_substate_reached_on_a_stage(self) -> None:
        """Winning needs signing reached; signing needs review reached at some time."""
        deal = in_proposal()
        with pytest.raises(TransitionRefused, match="not met: sub-state 'signing' of 'proposal'"):
            deal.win(at=day(2))
        assert not deal.can_enter_substate("signing")
        deal.enter_substate("review", at=day(2))
        deal.enter_substate("signing", at=day(3))
        deal.win(at=day(4))
        assert deal.outcome == "won"


# --------------------------------------------------------------------------- replay and check
def _log(*subs: str) -> list[Event]:
    """A deal opened in lead, moved to proposal, entering ``subs`` one a day."""
    events = [
        Event(deal_id="D", seq=0, at=T0, kind="opened"),
        Event(deal_id="D", seq=1, at=T0, kind="stage_entered", stage="lead"),
        Event(deal_id="D", seq=2, at=day(1), kind="stage_entered", stage="proposal"),
    ]
    for i, sub in enumerate(subs):
        events.append(
            Event(
                deal_id="D",
                seq=3 + i,
                at=day(2 + i),
                kind="substate_entered",
                stage="proposal",
                name=sub,
            )
        )
    return events


class TestReplay:
    """Replay and check apply the same sub-state rules (rule name substate_order)."""

    def test_repeated_substate_breaks_substate_order(self) -> None:
        """A sub-state entered twice in a row fails strict replay with rule substate_order."""
        with pytest.raises(InvalidLogError) as info:
            proposal_pipeline().replay(_log("delivered", "delivered"))
        assert (info.value.deal_id, info.value.seq, info.value.rule) == ("D", 4, "substate_order")
        assert "entered again" in str(info.value)

    def test_going_back_breaks_substate_order_unless_regress(self) -> None:
        """Review then delivered is a problem without substate_regress and fine with it."""
        log = _log("review", "delivered")
        problems = proposal_pipeline().check(log)
        assert [(p.seq, p.rule) for p in problems] == [(4, "substate_order")]
        assert "comes before the current sub-state 'review'" in problems[0].message
        assert proposal_pipeline(regress=True).check(log) == []
        lenient = proposal_pipeline().replay(log, strict=False)["D"]
        assert lenient.substate == "review"

    def test_check_with_guards_reevaluates_substate_criteria(self) -> None:
        """Only check(guards=True) looks at a sub-state's entry criteria."""
        log = _log("delivered", "negotiation")
        pipeline = proposal_pipeline()
        assert pipeline.check(log) == []
        problems = pipeline.check(log, guards=True)
        assert [(p.seq, p.rule) for p in problems] == [(4, "entry_criteria")]
        assert "sub-state 'negotiation' of 'proposal'" in problems[0].message
        assert pipeline.replay(log)["D"].substate == "negotiation"

    def test_live_deal_replays_to_itself(self) -> None:
        """A live deal through every sub-state replays to an equal deal with no problems."""
        deal = in_proposal()
        deal.record("pricing_call", at=day(2))
        for i, sub in enumerate(SUBS):
            deal.enter_substate(sub, at=day(3 + i))
        pipeline = deal.pipeline
        assert pipeline.replay(deal.events)["D"] == deal
        assert pipeline.check(deal.events, guards=True) == []


@settings(max_examples=120, deadline=None)
@given(
    regress=st.booleans(),
    tries=st.lists(st.tuples(st.sampled_from([*SUBS, "nope"]), st.booleans()), max_size=15),
)
def test_substate_rules_property(regress: bool, tries: list[tuple[str, bool]]) -> None:
    """Whatever is tried, the recorded sub-states never repeat in a row, only go back with
    regress, each entry met its criteria, a refusal records nothing, and replay agrees."""
    pipeline = proposal_pipeline(regress=regress)
    deal = in_proposal(pipeline)
    at = day(2)
    for name, call in tries:
        if call:
            deal.record("pricing_call", at=at)
        expected = deal.can_enter_substate(name).ok
        before = deal.events
        try:
            deal.enter_substate(name, at=at)
        except TransitionRefused:
            assert not expected
            assert deal.events == before
        else:
            assert expected
            assert deal.substate == name
    entered = [SUBS.index(s) for s in subs_of(deal) if s is not None]
    for a, b in pairwise(entered):
        assert a != b
        assert regress or a < b
    assert pipeline.replay(deal.events)["D"] == deal
    assert pipeline.check(deal.events, guards=True) == []


# --------------------------------------------------------------------------- the guard
class TestSubstateReached:
    """substate_reached(stage, substate): entered at some time."""

    def test_describes_and_serialises_like_the_built_ins(self) -> None:
        """It has a description, a to_dict form that guard_from_dict rebuilds, and steps."""
        g = substate_reached("proposal", "review")
        assert g.description == "sub-state 'review' of 'proposal' reached"
        assert guard_from_dict(g.to_dict()) == g
        assert [(s.kind, s.name, dict(s.data)) for s in g.steps()] == [
            ("substate", "review", {"stage": "proposal"})
        ]

    def test_holds_once_reached_even_after_leaving(self) -> None:
        """The guard keeps holding after the deal moved on from the sub-state."""
        g = substate_reached("proposal", "delivered")
        deal = in_proposal()
        assert g(deal.view()).reasons == (
            "sub-state 'delivered' of 'proposal' has not been reached",
        )
        deal.enter_substate("delivered", at=day(2))
        deal.enter_substate("review", at=day(3))
        deal.lose(at=day(4), reason="price")
        assert g(deal.view()).ok

    def test_works_inside_combinators(self) -> None:
        """Inside all_of it lists its requirement in a refusal; document_sent beside it."""
        p = Pipeline(
            "p",
            [
                Stage("a", substates=("x",)),
                Stage("b", entry=all_of(substate_reached("a", "x"), document_sent("d"))),
                WON,
                LOST,
            ],
        )
        deal = p.open_deal("D", at=T0)
        with pytest.raises(TransitionRefused) as info:
            deal.move("b", at=day(1))
        assert "not met: sub-state 'x' of 'a' reached; document 'd' sent." in str(info.value)


# --------------------------------------------------------------------------- metrics
def _funnel_log() -> list[Event]:
    """Four deals: D1 through delivered, review and signing to won; D2 to review then
    lost; D3 in proposal without a sub-state; D4 still a lead."""
    pipeline = proposal_pipeline()
    d1 = in_proposal(pipeline)
    for i, sub in enumerate(("delivered", "review", "signing")):
        d1.enter_substate(sub, at=day(2 + i))
    d1.win(at=day(5))
    d2 = pipeline.open_deal("D2", at=T0)
    d2.move("proposal", at=day(1))
    d2.enter_substate("review", at=day(2))
    d2.lose(at=day(3), reason="price")
    d3 = pipeline.open_deal("D3", at=T0)
    d3.move("proposal", at=day(1))
    d4 = pipeline.open_deal("D4", at=T0)
    return [*d1.events, *d2.events, *d3.events, *d4.events]


class TestFunnelBySubstate:
    """metrics.funnel(..., stage=...) over one stage's sub-states."""

    def test_imputed(self) -> None:
        """Hand-computed: a skipped sub-state counts as passed when a later one was entered."""
        from salesstages import metrics

        rows = metrics.funnel(_funnel_log(), proposal_pipeline(), stage="proposal")
        # D1 tops out at "moved on" (won), D2 at review, D3 entered none, D4 never came
        # delivered: D1, D2 (imputed) = 2 → review 2 → conversion 2/2 = 1.0
        # review: D1, D2 = 2 → negotiation: D1 (imputed) = 1 → 1/2 = 0.5
        # negotiation 1 → signing 1 → 1.0; signing 1 → moved on 1 → 1.0
        # win rate among D1 (won) and D2 (lost) = 1/2; later rows only D1 = 1.0
        assert [(r.stage, r.reached, r.conversion_rate, r.win_rate) for r in rows] == [
            ("delivered", 2, 1.0, 0.5),
            ("review", 2, 0.5, 0.5),
            ("negotiation", 1, 1.0, 1.0),
            ("signing", 1, 1.0, 1.0),
        ]

    def test_touched(self) -> None:
        """Under "touched" only the sub-states entered count."""
        from salesstages import metrics

        rows = metrics.funnel(_funnel_log(), proposal_pipeline(), stage="proposal", skips="touched")
        # delivered: D1 = 1; review: D1, D2 = 2 → 2/1; negotiation: none → 0/2 = 0.0
        # signing: D1 = 1 → moved on: D1 = 1 → 1/1
        assert [(r.stage, r.reached, r.conversion_rate) for r in rows] == [
            ("delivered", 1, 2.0),
            ("review", 2, 0.0),
            ("negotiation", 0, None),
            ("signing", 1, 1.0),
        ]

    def test_stage_without_substates(self) -> None:
        """Asking for a stage without sub-states names the stages that have some."""
        from salesstages import metrics

        with pytest.raises(ValueError, match="stages with sub-states: proposal"):
            metrics.funnel(_funnel_log(), proposal_pipeline(), stage="lead")

    def test_substate_durations_still_work(self) -> None:
        """Sub-state visits and durations keep working with the new rules."""
        from salesstages import metrics

        visits = metrics.substate_durations(_funnel_log(), proposal_pipeline(), stage="proposal")
        assert visits["delivered"].count == 1
        assert visits["review"].count == 2


def test_funnel_by_substate_on_a_duckdb_table() -> None:
    """On an Ibis table, funnel(stage=...) gives the hand-computed rows of the events (each
    policy), and refuses a stage without sub-states the same way."""
    pytest.importorskip("ibis")
    from _engines import close_all, duckdb_loader
    from salesstages import metrics

    try:
        table = duckdb_loader()(_funnel_log())
        p = proposal_pipeline()
        rows = metrics.funnel(table, p, stage="proposal")
        # as TestFunnelBySubstate.test_imputed: 2, 2, 1, 1 reached
        assert [r.reached for r in rows] == [2, 2, 1, 1]
        for skips in ("imputed", "touched", "ordered"):
            assert metrics.funnel(table, p, stage="proposal", skips=skips) == metrics.funnel(
                _funnel_log(), p, stage="proposal", skips=skips
            )
        with pytest.raises(ValueError, match="stages with sub-states: proposal"):
            metrics.funnel(table, p, stage="lead")
    finally:
        close_all()
