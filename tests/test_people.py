"""Handovers and the scorecard, by hand.

The people log (pipeline a → b → c → won / lost; days after T0; ``as_of`` d10):

====  ======================================================================  ======
deal  events                                                                  result
====  ======================================================================  ======
P1    ana, 100, a d0; b d1; owner → bob d2 (in b); c d5; won d6                won
P2    ana, a d0; b d2; lost d3                                                lost
P3    bob, a d0; b d1; c d2; lost d4                                          lost
P4    bob, a d1; owner → ana d2 (in a; no move since)                         open
P5    ana, 50, a d1; b d2; owner → bob d3 (in b); c d4; won d8                 won
====  ======================================================================  ======
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from _helpers import day, plain_pipeline
from salesstages import DataError, Event, MemoryStore, metrics
from salesstages.metrics import Handover, Scorecard, ScorecardRow
from salesstages.metrics._people import MAX_PRIOR, prior_of

D = timedelta(days=1)
AS_OF = day(10)
P = plain_pipeline()


def log() -> list[Event]:
    """The people log of the module docstring."""
    store = MemoryStore()
    p1 = P.open_deal("P1", at=day(0), store=store, owner="ana", amount=100)
    p1.move("b", at=day(1))
    p1.update(at=day(2), owner="bob")
    p1.move("c", at=day(5))
    p1.win(at=day(6))
    p2 = P.open_deal("P2", at=day(0), store=store, owner="ana")
    p2.move("b", at=day(2))
    p2.lose(at=day(3), reason="price")
    p3 = P.open_deal("P3", at=day(0), store=store, owner="bob")
    p3.move("b", at=day(1))
    p3.move("c", at=day(2))
    p3.lose(at=day(4), reason="price")
    p4 = P.open_deal("P4", at=day(1), store=store, owner="bob")
    p4.update(at=day(2), owner="ana")
    p5 = P.open_deal("P5", at=day(1), store=store, owner="ana", amount=50)
    p5.move("b", at=day(2))
    p5.update(at=day(3), owner="bob")
    p5.move("c", at=day(4))
    p5.win(at=day(8))
    return list(store.events())


EV = log()


class TestHandovers:
    def test_by_hand(self) -> None:
        """ana → bob in b twice (P1 waits d2 → d5 = 3 d, P5 d3 → d4 = 1 d: median 2 d);
        bob → ana in a once (P4, still waiting)."""
        assert metrics.handovers(EV, P, as_of=AS_OF) == [
            Handover(
                from_value="ana", to_value="bob", stage="b", count=2, waiting=0, median_wait=2 * D
            ),
            Handover(
                from_value="bob", to_value="ana", stage="a", count=1, waiting=1, median_wait=None
            ),
        ]

    def test_as_of(self) -> None:
        """At d2 only P1's and P4's changes have happened; neither deal has moved since
        (one each: in stage order, a before b)."""
        got = metrics.handovers(EV, P, as_of=day(2))
        assert [(h.from_value, h.to_value, h.stage, h.waiting) for h in got] == [
            ("bob", "ana", "a", 1),
            ("ana", "bob", "b", 1),
        ]

    def test_text(self) -> None:
        """str() names both sides, the stage and the wait."""
        got = metrics.handovers(EV, P, as_of=AS_OF)
        assert str(got[0]) == "ana → bob in b: 2 handovers, next move after 2.0 days (median)"
        assert str(got[1]).endswith("1 still waiting")

    def test_unknown_attribute(self) -> None:
        """An attribute no deal holds: the by= error with a suggestion."""
        with pytest.raises(DataError, match="did you mean 'owner'"):
            metrics.handovers(EV, P, attribute="ownr")

    def test_histories_refused(self) -> None:
        """A Histories does not keep the changes: refused, saying to pass the events."""
        with pytest.raises(DataError, match="pass the events"):
            metrics.handovers(metrics.histories(EV, P), P)


def _cell(card: Scorecard, owner: str, stage: str) -> ScorecardRow:
    return next(r for r in card if r.owner == owner and r.stage == stage)


class TestScorecard:
    def test_counts_and_team(self) -> None:
        """Visits credited to the owner at entry.

        a: ana P1, P2, P5 (3 of 3 advanced), bob P3, P4 (1 of 2): team 4 / 5 = 0.8.
        b: ana P1, P2, P5 (P1, P5 advanced: 2 of 3), bob P3 (1 of 1): team 3 / 4.
        c: bob P1, P3, P5 (P1, P5 won: 2 of 3).
        """
        card = metrics.scorecard(EV, P, as_of=AS_OF)
        assert [(r.stage, r.owner, r.entered, r.advanced, r.rank) for r in card] == [
            ("a", "ana", 3, 3, 1),
            ("a", "bob", 2, 1, 2),
            ("b", "bob", 1, 1, 1),
            ("b", "ana", 3, 2, 2),
            ("c", "bob", 3, 2, 1),
        ]
        assert _cell(card, "ana", "a").team_rate == 0.8
        assert _cell(card, "ana", "b").team_rate == 0.75

    def test_estimated_prior_is_capped(self) -> None:
        """In a: rates 1.0 and 0.5, s² = (3·0.2² + 2·0.3²) / 5 = 0.06, p(1 − p)/n̄ =
        0.16 / 2.5 = 0.064, so τ² < 0: k = 1000 and ana's shrunk rate is
        (3 + 800) / 1003."""
        ana = _cell(metrics.scorecard(EV, P, as_of=AS_OF), "ana", "a")
        assert ana.prior_strength == MAX_PRIOR
        assert ana.shrunk == pytest.approx(803 / 1003)

    def test_given_prior(self) -> None:
        """prior_strength=2 in a: ana (3 + 1.6) / 5 = 0.92, bob (1 + 1.6) / 4 = 0.65."""
        card = metrics.scorecard(EV, P, as_of=AS_OF, prior_strength=2)
        assert _cell(card, "ana", "a").shrunk == pytest.approx(0.92)
        assert _cell(card, "bob", "a").shrunk == pytest.approx(0.65)
        zero = metrics.scorecard(EV, P, as_of=AS_OF, prior_strength=0)
        assert _cell(zero, "bob", "a").shrunk == 0.5  # no shrinkage: the raw rate

    def test_prior_formula(self) -> None:
        """entered 10 and 10, advanced 9 and 1: p = 0.5, n̄ = 10, s² = (10·0.16 + 10·0.16)
        / 20 = 0.16, τ² = 0.16 − 0.25 / 10 = 0.135, k = 0.25 / 0.135 − 1 = 0.85185…"""
        assert prior_of([10, 10], [9, 1], None) == pytest.approx(0.25 / 0.135 - 1)
        assert prior_of([10, 10], [5, 5], None) == MAX_PRIOR  # no spread at all
        assert prior_of([10, 10], [10, 0], None) == pytest.approx(0.25 / (0.25 - 0.025) - 1)
        assert prior_of([10, 10], [9, 1], 7.0) == 7.0

    def test_wilson_and_verdict(self) -> None:
        """ana in a, 3 of 3: Wilson centre (1 + 0.6402) / 2.2805 = 0.7193, half
        0.8595 × √0.1067 = 0.2808: [0.4385, 1]; the team's 0.8 lies inside."""
        ana = _cell(metrics.scorecard(EV, P, as_of=AS_OF), "ana", "a")
        assert ana.low == pytest.approx(0.4385, abs=1e-4)
        assert ana.high == 1.0
        assert not ana.differs
        assert "not different from the team" in str(ana)

    def test_times_and_owner_figures(self) -> None:
        """Times in b: ana 4, 1, 2 d (median 2), bob 1 d, team 1, 1, 2, 4 (median 1.5).
        Closings by owner then: bob P1 won (6 d, 100), P3 lost, P5 won (d1 → d8 = 7 d,
        50): 2 of 3, median 6.5 d, mean 75; ana P2 lost: 0 of 1."""
        card = metrics.scorecard(EV, P, as_of=AS_OF)
        ana, bob = _cell(card, "ana", "b"), _cell(card, "bob", "b")
        assert (ana.median_time, bob.median_time, ana.team_median_time) == (2 * D, D, 1.5 * D)
        assert (bob.win_rate, bob.median_cycle, bob.mean_won) == (2 / 3, 6.5 * D, 75.0)
        assert (ana.win_rate, ana.median_cycle, ana.mean_won) == (0.0, None, None)

    def test_period(self) -> None:
        """start=d1: only visits entered from d1 on (a: P4, P5; b: P1, P3, P5 …)."""
        card = metrics.scorecard(EV, P, start=day(1), end=day(3), as_of=AS_OF)
        a = [(r.owner, r.entered) for r in card if r.stage == "a"]
        assert a == [("ana", 1), ("bob", 1)]  # P5 (ana), P4 (bob)
        b = sorted((r.owner, r.entered) for r in card if r.stage == "b")
        assert b == [("ana", 3), ("bob", 1)]  # P1 d1, P2 d2, P5 d2 (ana); P3 d1 (bob)
        c = [(r.owner, r.entered) for r in card if r.stage == "c"]
        assert c == [("bob", 1)]  # P3 entered c on d2; P1 (d5), P5 (d4) after the end

    def test_leaderboard_and_rows(self) -> None:
        """str() prints one leaderboard per stage; the result is a list with rows."""
        card = metrics.scorecard(EV, P, as_of=AS_OF)
        assert isinstance(card, list)
        text = str(card)
        assert text.startswith("a: team 80.0%, prior strength 1,000.0")
        assert "not different from the team" in text
        assert len(metrics.records(card)) == 5
        assert metrics.records(card)[0]["owner"] == "ana"

    @pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), float("inf")])
    def test_negative_prior(self, bad: float) -> None:
        """prior_strength negative (or not finite) is a ValueError."""
        with pytest.raises(ValueError, match="prior_strength must be a finite number"):
            metrics.scorecard(EV, P, prior_strength=bad)

    @pytest.mark.parametrize("bad", ["2", True])
    def test_prior_not_a_number(self, bad: Any) -> None:
        """prior_strength must be a number."""
        with pytest.raises(TypeError, match="prior_strength must be a number"):
            metrics.scorecard(EV, P, prior_strength=bad)

    def test_bad_level_and_period(self) -> None:
        """level outside (0, 1) and end before start are ValueErrors."""
        with pytest.raises(ValueError, match="level"):
            metrics.scorecard(EV, P, level=1.5)
        with pytest.raises(ValueError, match="lies before start"):
            metrics.scorecard(EV, P, start=day(3), end=day(1))

    def test_unknown_attribute(self) -> None:
        """An attribute no deal holds: the by= error with a suggestion."""
        with pytest.raises(DataError, match="did you mean 'owner'"):
            metrics.scorecard(EV, P, attribute="onwer")

    def test_empty(self) -> None:
        """No events: no rows, and a readable text."""
        card = metrics.scorecard([], P)
        assert card == []
        assert str(card) == "(no visits)"
