"""Stage and Pipeline: validation, the allowed-move rules, queries and export."""

from __future__ import annotations

import inspect
import json
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from _helpers import plain_pipeline, small_pipeline
from salesstages import (
    Pipeline,
    PipelineError,
    Stage,
    UnknownStageError,
    activity,
    all_of,
    at_least,
    field,
    guard,
    meeting_accepted,
    not_,
)
from salesstages import presets as presets_mod

WON = Stage("won", outcome="won")
LOST = Stage("lost", outcome="lost")
#: The boolean flags of Pipeline, which from_dict may find left out.
FLAGS = ("allow_skip", "allow_regress", "allow_reopen", "auto_advance")


class TestStageValidation:
    """A bad Stage raises PipelineError naming the problem."""

    @pytest.mark.parametrize("name", ["", "   ", None, 3])
    def test_empty_or_non_string_name(self, name: Any) -> None:
        """Stage names must be non-empty strings."""
        with pytest.raises(PipelineError, match="non-empty strings"):
            Stage(name)

    def test_separator_in_name(self) -> None:
        """The sub-state separator may not appear in a stage name."""
        with pytest.raises(PipelineError, match="may not contain '/'"):
            Stage("a/b")

    def test_substates_on_closed_stage(self) -> None:
        """Closed stages cannot have sub-states."""
        with pytest.raises(
            PipelineError, match="closed \\(won\\) stage and cannot have sub-states"
        ):
            Stage("won", outcome="won", substates=("x",))

    def test_duplicate_substate(self) -> None:
        """Sub-state names are unique within a stage."""
        with pytest.raises(PipelineError, match="duplicate sub-state 'x'"):
            Stage("p", substates=("x", "x"))

    def test_substates_as_string(self) -> None:
        """A bare string is not taken as a sequence of one-letter sub-states."""
        with pytest.raises(PipelineError, match="not the single"):
            Stage("p", substates="review")

    @pytest.mark.parametrize("p", [-0.1, 1.01, True, "0.5", float("nan")])
    def test_probability_outside_unit_interval(self, p: Any) -> None:
        """Probabilities are numbers in [0, 1]."""
        with pytest.raises(PipelineError, match="probability must be a number in \\[0, 1\\]"):
            Stage("a", probability=p)

    @pytest.mark.parametrize("rot", [timedelta(0), timedelta(days=-1), 7])
    def test_rot_after_must_be_positive_timedelta(self, rot: Any) -> None:
        """rot_after is a positive timedelta."""
        with pytest.raises(PipelineError, match="rot_after must be a positive timedelta"):
            Stage("a", rot_after=rot)

    def test_bad_outcome(self) -> None:
        """Outcome is one of open, won, lost."""
        with pytest.raises(PipelineError, match="outcome must be 'open', 'won' or 'lost'"):
            Stage("a", outcome="maybe")  # type: ignore[arg-type]

    def test_entry_must_be_callable(self) -> None:
        """An entry guard must be callable."""
        with pytest.raises(PipelineError, match="entry must be a guard"):
            Stage("a", entry="meeting")  # type: ignore[arg-type]

    def test_title_defaults_to_name(self) -> None:
        """title is the label, or the name without one."""
        assert Stage("a").title == "a"
        assert Stage("a", label="Alpha").title == "Alpha"


class TestPipelineValidation:
    """A bad Pipeline raises PipelineError naming the problem."""

    @pytest.mark.parametrize("stages", ["abc", b"abc", 3])
    def test_stages_must_be_a_sequence_of_stages(self, stages: Any) -> None:
        """A string (although iterable) or a non-iterable is refused as a whole."""
        with pytest.raises(PipelineError, match="stages must be a sequence of Stage"):
            Pipeline("p", stages)

    def test_duplicate_stage_names(self) -> None:
        """Stage names are unique."""
        with pytest.raises(PipelineError, match="duplicate stage name 'a'"):
            Pipeline("p", [Stage("a"), Stage("a"), WON, LOST])

    def test_no_won_stage(self) -> None:
        """A pipeline needs a won stage."""
        with pytest.raises(PipelineError, match="has no won stage"):
            Pipeline("p", [Stage("a"), LOST])

    def test_no_lost_stage(self) -> None:
        """A pipeline needs a lost stage."""
        with pytest.raises(PipelineError, match="has no lost stage"):
            Pipeline("p", [Stage("a"), WON])

    def test_no_open_stage(self) -> None:
        """A pipeline needs an open stage."""
        with pytest.raises(PipelineError, match="has no open stage"):
            Pipeline("p", [WON, LOST])

    def test_no_stages(self) -> None:
        """An empty stage list is refused."""
        with pytest.raises(PipelineError, match="has no stages"):
            Pipeline("p", [])

    def test_open_stage_after_closed(self) -> None:
        """Open stages come first."""
        with pytest.raises(PipelineError, match="comes after closed stage 'won'"):
            Pipeline("p", [Stage("a"), WON, Stage("b"), LOST])

    def test_not_a_stage(self) -> None:
        """Stages must be Stage objects."""
        with pytest.raises(PipelineError, match="must be Stage objects"):
            Pipeline("p", ["a", WON, LOST])  # type: ignore[list-item]

    def test_empty_name(self) -> None:
        """The pipeline itself needs a name."""
        with pytest.raises(PipelineError, match="non-empty name"):
            Pipeline("", [Stage("a"), WON, LOST])

    def test_unknown_name_in_transitions(self) -> None:
        """Every name in transitions is a stage."""
        with pytest.raises(PipelineError, match="unknown stage 'zz'"):
            Pipeline("p", [Stage("a"), WON, LOST], transitions=[("a", "zz")])

    def test_transition_from_won(self) -> None:
        """Nothing leaves a won stage, even when listed."""
        with pytest.raises(PipelineError, match="nothing leaves a won stage"):
            Pipeline("p", [Stage("a"), WON, LOST], transitions=[("a", "won"), ("won", "a")])

    def test_transition_to_itself(self) -> None:
        """A stage cannot move to itself."""
        with pytest.raises(PipelineError, match="from a stage to itself"):
            Pipeline("p", [Stage("a"), WON, LOST], transitions=[("a", "a")])

    def test_malformed_transition_pair(self) -> None:
        """Transitions are pairs."""
        with pytest.raises(PipelineError, match="\\(from, to\\) pairs"):
            Pipeline("p", [Stage("a"), WON, LOST], transitions=[("a", "won", "lost")])  # type: ignore[list-item]

    def test_unreachable_open_stage(self) -> None:
        """Every open stage can be reached from the first."""
        with pytest.raises(PipelineError, match="open stage 'b' cannot be reached"):
            Pipeline(
                "p",
                [Stage("a"), Stage("b"), WON, LOST],
                transitions=[("a", "won"), ("b", "won")],
                allow_reopen=False,
            )

    def test_open_stage_that_cannot_win(self) -> None:
        """From every open stage some won stage can be reached."""
        with pytest.raises(PipelineError, match="no won stage can be reached from open stage 'b'"):
            Pipeline(
                "p", [Stage("a"), Stage("b"), WON, LOST], transitions=[("a", "b"), ("a", "won")]
            )

    def test_without_skip_only_last_open_stage_wins(self) -> None:
        """With allow_skip=False the default graph still lets every stage reach won."""
        p = plain_pipeline(allow_skip=False)
        assert p.allowed("c", "won")
        assert not p.allowed("a", "won")


def _expected_allowed(p: Pipeline, a: str, b: str) -> bool:
    """The contract's rule for the default graph, written independently."""
    opens = [s.name for s in p.open_stages]
    sa, sb = p.stage(a), p.stage(b)
    if sa.outcome == "won":
        return False
    if sa.outcome == "lost":
        return sb.is_open and p.allow_reopen
    if sb.outcome == "lost":
        return True
    if sb.outcome == "won":
        return a == opens[-1] or p.allow_skip
    i, j = opens.index(a), opens.index(b)
    return j == i + 1 or (j > i + 1 and p.allow_skip) or (j < i and p.allow_regress)


class TestAllowedMoves:
    """pipeline.allowed follows the contract's rules."""

    @given(skip=st.booleans(), regress=st.booleans(), reopen=st.booleans())
    def test_default_graph_matches_the_rules(self, skip: bool, regress: bool, reopen: bool) -> None:
        """Every (from, to) pair is allowed exactly as the contract says, for every flag mix."""
        p = plain_pipeline(allow_skip=skip, allow_regress=regress, allow_reopen=reopen)
        for a in p.stages:
            for b in p.stages:
                assert p.allowed(a.name, b.name) == _expected_allowed(p, a.name, b.name), (
                    a.name,
                    b.name,
                )

    def test_explicit_transitions_plus_open_to_lost(self) -> None:
        """With transitions, exactly those moves plus any open stage to any lost stage."""
        p = Pipeline(
            "p",
            [Stage("a"), Stage("b"), WON, LOST, Stage("lost2", outcome="lost")],
            transitions=[("a", "b"), ("b", "won"), ("lost", "a")],
        )
        allowed = {
            (a.name, b.name) for a in p.stages for b in p.stages if p.allowed(a.name, b.name)
        }
        assert allowed == {
            ("a", "b"),
            ("b", "won"),
            ("lost", "a"),
            ("a", "lost"),
            ("a", "lost2"),
            ("b", "lost"),
            ("b", "lost2"),
        }

    @pytest.mark.parametrize(
        "query",
        [
            lambda p: p.allowed("a", "x"),
            lambda p: p.allowed("x", "a"),
            lambda p: p.targets("x"),
            lambda p: p.next_stage("x"),
            lambda p: p.index("x"),
        ],
        ids=["allowed-to", "allowed-from", "targets", "next_stage", "index"],
    )
    def test_queries_refuse_unknown_stage(self, plain: Pipeline, query: Any) -> None:
        """Every query with an unknown name raises UnknownStageError listing the stages."""
        with pytest.raises(UnknownStageError, match="no stage 'x'; known stages: a, b, c"):
            query(plain)

    def test_targets_in_pipeline_order(self, plain: Pipeline) -> None:
        """targets() lists allowed destinations in stage order."""
        assert plain.targets("a") == ("b", "c", "won", "lost")
        assert plain.targets("won") == ()


class TestQueries:
    """stage(), next_stage(), open_stages and friends."""

    def test_stage_lookup(self, pipeline: Pipeline) -> None:
        """stage(name) returns the Stage."""
        assert pipeline.stage("proposal").substates == (
            "delivered",
            "review",
            "negotiation",
            "signing",
        )

    def test_stage_unknown(self, pipeline: Pipeline) -> None:
        """stage() of an unknown name raises UnknownStageError (a KeyError)."""
        with pytest.raises(KeyError):
            pipeline.stage("nope")

    def test_next_stage(self, pipeline: Pipeline) -> None:
        """next_stage walks the open stages and ends with None."""
        assert pipeline.next_stage("lead") == "discovery"
        assert pipeline.next_stage("discovery") == "proposal"
        assert pipeline.next_stage("proposal") is None
        assert pipeline.next_stage("closed_won") is None

    def test_stage_groups(self, pipeline: Pipeline) -> None:
        """open, won and lost stages are split in order."""
        assert [s.name for s in pipeline.open_stages] == ["lead", "discovery", "proposal"]
        assert [s.name for s in pipeline.won_stages] == ["closed_won"]
        assert [s.name for s in pipeline.lost_stages] == ["closed_lost"]
        assert pipeline.first_stage.name == "lead"
        assert "lead" in pipeline
        assert "nope" not in pipeline

    def test_equality_and_repr(self) -> None:
        """Pipelines built from the same definition are equal; repr lists stages."""
        assert small_pipeline() == small_pipeline()
        assert small_pipeline() != small_pipeline(allow_skip=False)
        assert "lead, discovery, proposal" in repr(small_pipeline())


class TestExport:
    """to_mermaid, to_dict and from_dict."""

    def test_mermaid(self, pipeline: Pipeline) -> None:
        """The diagram is a stateDiagram-v2 with the start, the edges and composite sub-states."""
        text = pipeline.to_mermaid()
        assert text.startswith("stateDiagram-v2\n")
        assert "    [*] --> lead\n" in text
        assert "lead --> discovery : meeting 'discovery' booked and accepted" in text
        assert "state proposal {" in text
        assert "proposal__review_1 --> proposal__negotiation_2" in text
        assert "closed_won --> [*]" in text
        assert "closed_won --> lead" not in text

    @pytest.mark.parametrize(
        "factory", [presets_mod.inbound_b2b, presets_mod.classic_b2b, presets_mod.modern_b2b]
    )
    def test_presets_round_trip_through_json_and_yaml(self, factory: Any) -> None:
        """Every preset (all built-in guards) round-trips through JSON and YAML."""
        p = factory()
        assert Pipeline.from_dict(json.loads(json.dumps(p.to_dict()))) == p
        assert Pipeline.from_dict(yaml.safe_load(yaml.safe_dump(p.to_dict()))) == p

    def test_every_builtin_guard_round_trips(self) -> None:
        """Nested built-in guards and explicit transitions survive to_dict/from_dict."""
        entry = all_of(
            at_least(1, activity("call", outcome="ok"), field("budget")),
            not_(activity("churned")),
            meeting_accepted("m", by=("cfo",)),
        )
        p = Pipeline(
            "p",
            [Stage("a"), Stage("b", entry=entry, rot_after=timedelta(hours=36)), WON, LOST],
            transitions=[("a", "b"), ("b", "won"), ("lost", "a")],
        )
        d = p.to_dict()
        assert "None" not in json.dumps(d)  # TOML-friendly: no nulls
        assert "null" not in json.dumps(d)
        assert Pipeline.from_dict(json.loads(json.dumps(d))) == p

    def test_from_dict_gives_constructor_defaults_for_left_out_flags(self) -> None:
        """A hand-written mapping with no flags builds the same pipeline as the bare constructor."""
        stages = [s.to_dict() for s in plain_pipeline().stages]
        rebuilt = Pipeline.from_dict({"name": "plain", "stages": stages})
        assert rebuilt == plain_pipeline()
        # CONTRACT.md §1: allow_skip=True, allow_regress=False, allow_reopen=True,
        # auto_advance=False, transitions=None
        assert (
            rebuilt.allow_skip,
            rebuilt.allow_regress,
            rebuilt.allow_reopen,
            rebuilt.auto_advance,
            rebuilt.transitions,
        ) == (True, False, True, False, None)

    @pytest.mark.parametrize("left_out", FLAGS)
    def test_from_dict_defaults_each_flag_on_its_own(self, left_out: str) -> None:
        """With every other flag set against its default, the left-out flag still gets its default."""
        defaults = {
            name: param.default
            for name, param in inspect.signature(Pipeline.__init__).parameters.items()
            if name in FLAGS
        }
        assert set(defaults) == set(FLAGS)
        d: dict[str, Any] = {
            "name": "plain",
            "stages": [s.to_dict() for s in plain_pipeline().stages],
        }
        d.update({flag: not defaults[flag] for flag in FLAGS if flag != left_out})
        rebuilt = Pipeline.from_dict(d)
        got = {flag: getattr(rebuilt, flag) for flag in FLAGS}
        assert got == {**{f: not defaults[f] for f in FLAGS}, left_out: defaults[left_out]}

    def test_format_is_1_both_ways(self) -> None:
        """to_dict writes format 1, and a mapping that says format 1 (or none) loads."""
        p = plain_pipeline()
        d = p.to_dict()
        assert d["format"] == 1
        assert Pipeline.from_dict({**d, "format": 1}) == p
        assert Pipeline.from_dict({k: v for k, v in d.items() if k != "format"}) == p
        with pytest.raises(
            PipelineError, match="unsupported pipeline format 2; this version reads 1"
        ):
            Pipeline.from_dict({**d, "format": 2})

    def test_stage_from_dict_gives_constructor_defaults(self) -> None:
        """A stage mapping with only a name is the bare Stage: open, no criteria, no extras."""
        assert Stage.from_dict({"name": "a"}) == Stage("a")
        assert Stage.from_dict({"name": "a"}).outcome == "open"

    def test_mermaid_safe_ids_and_labels(self) -> None:
        """Names that are not identifiers get safe ids; labels lose Mermaid's special characters."""
        p = Pipeline(
            "p",
            [
                Stage("first-call", label='Call "one": intro'),
                Stage("2nd", entry=all_of(activity("a"), activity("b"))),
                WON,
                LOST,
            ],
        )
        text = p.to_mermaid()
        assert "state \"Call 'one' - intro\" as first_call" in text
        assert 'state "2nd" as s_2nd' in text
        assert (
            "first_call --> s_2nd : all of - activity 'a' recorded, activity 'b' recorded" in text
        )

    def test_mermaid_ids_number_every_clash(self) -> None:
        """Names that become the same id are numbered from 2, each clash on its own."""
        p = Pipeline(
            "p", [Stage("a-b"), Stage("a_b"), Stage("a.b"), Stage("c-d"), Stage("c_d"), WON, LOST]
        )
        text = p.to_mermaid()
        # a-b → a_b; a_b clashes → a_b_2; a.b → a_b_3; c-d → c_d; c_d clashes → c_d_2
        for line in ("as a_b\n", "as a_b_2\n", "as a_b_3\n", "as c_d\n", "as c_d_2\n"):
            assert line in text

    def test_custom_guard_refuses_to_dict(self) -> None:
        """A pipeline with a custom callable guard cannot be serialised."""

        @guard("the amount is big")
        def big(deal: Any) -> bool:
            return True

        p = Pipeline("p", [Stage("a"), Stage("b", entry=big), WON, LOST])
        with pytest.raises(
            PipelineError, match=r"custom guard 'the amount is big'.*cannot be serialised"
        ):
            p.to_dict()

    def test_field_predicate_refuses_to_dict(self) -> None:
        """field() with a predicate holds Python code and cannot be serialised."""
        p = Pipeline("p", [Stage("a"), Stage("b", entry=field("amount", bool)), WON, LOST])
        with pytest.raises(PipelineError, match="predicate"):
            p.to_dict()

    def test_plain_callable_refuses_to_dict(self) -> None:
        """A bare lambda as guard cannot be serialised."""
        p = Pipeline("p", [Stage("a"), Stage("b", entry=lambda d: True), WON, LOST])
        with pytest.raises(PipelineError, match="plain callable"):
            p.to_dict()

    @pytest.mark.parametrize(
        ("d", "message"),
        [
            ("nope", "must be a mapping"),
            ({"name": "p"}, "needs 'name' and 'stages'"),
            ({"name": "p", "stages": [], "colour": 1}, "unknown key"),
            ({"format": 9, "name": "p", "stages": []}, "unsupported pipeline format 9"),
            ({"name": "p", "stages": "a"}, "must be a list"),
            ({"name": "p", "stages": [{"label": "x"}]}, "mapping with a 'name'"),
            ({"name": "p", "stages": [{"name": "a", "shape": 1}]}, "unknown key"),
            (
                {"name": "p", "stages": [{"name": "a", "entry": {"type": "magic"}}]},
                "unknown guard type 'magic'",
            ),
            (
                {"name": "p", "stages": [{"name": "a", "entry": {"type": "field"}}]},
                "missing key 'name'",
            ),
            (
                {"name": "p", "stages": [{"name": "a", "rot_after_seconds": "x"}]},
                "must be a number",
            ),
        ],
    )
    def test_from_dict_errors(self, d: Any, message: str) -> None:
        """Malformed pipeline dicts raise PipelineError saying what is wrong."""
        with pytest.raises(PipelineError, match=message):
            Pipeline.from_dict(d)
