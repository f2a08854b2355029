"""Deal behaviours no other test pinned down: lost → lost moves and unguarded auto-advance stops."""

from __future__ import annotations

from typing import Any

import pytest

from _helpers import T0, day
from salesstages import MemoryStore, Pipeline, Stage, TransitionRefused, activity

WON = Stage("won", outcome="won")
LOST = Stage("lost", outcome="lost")


def two_lost_pipeline() -> Pipeline:
    """a → b → won, two lost stages, and explicit moves from lost to disqualified and back."""
    return Pipeline(
        "two_lost",
        [Stage("a"), Stage("b"), WON, LOST, Stage("disqualified", outcome="lost")],
        transitions=[
            ("a", "b"),
            ("b", "won"),
            ("lost", "disqualified"),
            ("lost", "a"),
            ("lost", "b"),
            ("disqualified", "a"),
            ("disqualified", "b"),
        ],
    )


class TestLostToLost:
    """A move between two lost stages keeps the open stage the deal was lost from."""

    def test_live_deal_remembers_the_open_stage(self) -> None:
        """lose from b, then lost → disqualified: lost_from stays b and reopen() goes back to b."""
        p = two_lost_pipeline()
        deal = p.open_deal("D", at=T0)
        deal.move("b", at=day(1))
        deal.lose(at=day(2), reason="price")
        deal.move("disqualified", at=day(3))
        assert (deal.stage, deal.lost_from) == ("disqualified", "b")
        deal.reopen(at=day(4))
        # b is not the first stage, so a deal that forgot lost_from would land in a
        assert (deal.stage, deal.outcome) == ("b", "open")

    def test_replayed_and_loaded_deal_equals_the_live_one(self) -> None:
        """The replay keeps lost_from across lost → lost too, so the live deal equals its replay."""
        p = two_lost_pipeline()
        store = MemoryStore()
        deal = p.open_deal("D", at=T0, store=store)
        deal.move("b", at=day(1))
        deal.lose(at=day(2), reason="price")
        deal.move("disqualified", at=day(3))
        replayed = p.replay(deal.events)["D"]
        assert replayed.lost_from == "b"
        assert replayed == deal
        loaded = p.load_deal(store, "D")
        assert loaded == deal
        loaded.reopen(at=day(4))
        assert loaded.stage == "b"
        assert p.replay(store.events())["D"] == loaded

    def test_lost_to_lost_move_is_a_valid_log(self) -> None:
        """check() finds nothing wrong with the lost → disqualified → reopen log."""
        p = two_lost_pipeline()
        deal = p.open_deal("D", at=T0)
        deal.move("b", at=day(1))
        deal.lose(at=day(2), reason="price")
        deal.move("disqualified", at=day(3))
        deal.reopen(at=day(4))
        assert p.check(deal.events) == []


class TestAutoAdvanceStopsBeforeUnguardedStage:
    """auto_advance only hops into stages whose entry criteria exist and hold."""

    @staticmethod
    def pipeline() -> Pipeline:
        """a → b (needs x) → c (no criteria) → d (needs x) → won / lost, auto-advancing."""
        return Pipeline(
            "hops",
            [
                Stage("a"),
                Stage("b", entry=activity("x")),
                Stage("c"),
                Stage("d", entry=activity("x")),
                WON,
                LOST,
            ],
            auto_advance=True,
        )

    def test_stops_before_an_unguarded_stage(self) -> None:
        """Recording x hops a → b, then stops: c has no criteria, so d is not reached either."""
        deal = self.pipeline().open_deal("D", at=T0)
        deal.record("x", at=day(1))
        assert deal.stage == "b"
        kinds = [(e.kind, e.stage) for e in deal.events]
        assert kinds == [
            ("opened", None),
            ("stage_entered", "a"),
            ("activity", "a"),
            ("stage_entered", "b"),
        ]

    def test_never_hops_when_the_next_stage_is_unguarded(self) -> None:
        """From b (next: the unguarded c) any activity leaves the deal where it is."""
        deal = self.pipeline().open_deal("D", at=T0, stage="b")
        deal.record("x", at=day(1))
        deal.record("call", at=day(2))
        assert deal.stage == "b"
        assert [e.kind for e in deal.events].count("stage_entered") == 1

    def test_hops_again_past_a_manual_move(self) -> None:
        """Moved by hand into c, the next activity hops into d because its criteria hold."""
        deal = self.pipeline().open_deal("D", at=T0)
        deal.record("x", at=day(1))
        deal.move("c", at=day(2))
        deal.record("call", at=day(3))
        assert deal.stage == "d"


class TestLoseReason:
    """lose() keeps its reason, which may be left empty with None."""

    def test_reason_none_is_recorded_as_none(self) -> None:
        """lose(reason=None) is accepted and the lost stage's event holds reason None."""
        deal = two_lost_pipeline().open_deal("D", at=T0)
        event = deal.lose(at=day(1), reason=None)  # type: ignore[arg-type]
        assert (deal.stage, dict(event.data)) == ("lost", {"reason": None})


class TestEquality:
    """Deals are equal only when they follow the same pipeline object and hold the same log."""

    def test_a_move_or_another_pipeline_makes_deals_unequal(self) -> None:
        """Same opening: equal; one moved: unequal; an equal but separate pipeline: unequal."""
        p = two_lost_pipeline()
        a = p.open_deal("D", at=T0)
        b = p.open_deal("D", at=T0)  # each in its own MemoryStore
        assert a == b
        b.move("b", at=day(1))
        assert a != b
        other = two_lost_pipeline()
        c = other.open_deal("D", at=T0)
        assert other == p
        assert c != a
        assert a.__eq__("D") is NotImplemented


class TestRefusalsWithoutHint:
    """Refusals that are not about the stage graph do not list the allowed moves."""

    def test_substate_refusal_names_only_the_problem(self) -> None:
        """A stage without sub-states refuses one, with no 'allowed next' hint."""
        deal = two_lost_pipeline().open_deal("D", at=T0)
        with pytest.raises(TransitionRefused) as info:
            deal.enter_substate("x", at=day(1))
        assert str(info.value) == (
            "Cannot enter sub-state 'x' for deal 'D': stage 'a' has no sub-states (asked for 'x')."
        )

    @pytest.mark.parametrize("activity", ["", 3, None])
    def test_record_needs_an_activity_name(self, activity: Any) -> None:
        """record() refuses an empty or non-string activity and records nothing."""
        deal = two_lost_pipeline().open_deal("D", at=T0)
        with pytest.raises(ValueError, match="activity must be a non-empty string"):
            deal.record(activity, at=day(1))
        assert len(deal.events) == 2
