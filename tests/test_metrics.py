"""Hand-computed metrics over a small log whose every number is worked out below.

The log (days after T0; ``amount`` and ``region`` at opening):

====  ==========  =========================================================
deal  opened       path
====  ==========  =========================================================
A     d0 100 eu   lead; d2 qualified; d5 proposal (d6 review, d8 negotiation;
                  d9 amount → 120); d10 won
B     d0  50 us   lead; d3 proposal (skips qualified); d4 lost "price"
C     d1  80 eu   lead; d2 qualified; d4 proposal; d6 qualified (regression);
                  d9 proposal; d12 won
D     d1  30 us   lead; d3 lost "timing"; d5 reopened into lead; d7 qualified
                  (open)
E     d2  60 eu   lead; d4 qualified; d5 lost "price"
F     d3  40 us   lead; d6 proposal (skips qualified); d7 review (open, still
                  in the sub-state)
G     d11 10 —    lead (open, no region)
====  ==========  =========================================================

The latest event is C's win at d12, so ``as_of`` defaults to d12.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Any

import pytest

from salesstages import (
    Event,
    InvalidLogError,
    MemoryStore,
    NaiveTimeError,
    Pipeline,
    Stage,
    UnknownStageError,
    metrics,
)
from salesstages.metrics import (
    DurationStats,
    FunnelRow,
    Ratio,
    SnapshotRow,
    StageFlow,
    Stall,
    SubstateVisit,
    Visit,
)
from strategies import T0

D = timedelta(days=1)


def day(n: float) -> datetime:
    """T0 plus ``n`` days."""
    return T0 + n * D


def scenario_pipeline() -> Pipeline:
    """lead → qualified → proposal (review, negotiation) → won / lost."""
    return Pipeline(
        "scenario",
        [
            Stage("lead", rot_after=10 * D),
            Stage("qualified", rot_after=10 * D),
            Stage("proposal", substates=("review", "negotiation"), rot_after=4 * D),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_skip=True,
        allow_regress=True,
        allow_reopen=True,
    )


P = scenario_pipeline()


def scenario_events() -> list[Event]:
    """The log of the module docstring, written through the live Deal API."""
    store = MemoryStore()
    a = P.open_deal("A", at=day(0), store=store, amount=100, region="eu")
    b = P.open_deal("B", at=day(0), store=store, amount=50, region="us")
    c = P.open_deal("C", at=day(1), store=store, amount=80, region="eu")
    d = P.open_deal("D", at=day(1), store=store, amount=30, region="us")
    a.move("qualified", at=day(2))
    c.move("qualified", at=day(2))
    e = P.open_deal("E", at=day(2), store=store, amount=60, region="eu")
    b.move("proposal", at=day(3))
    d.lose(at=day(3), reason="timing")
    f = P.open_deal("F", at=day(3), store=store, amount=40, region="us")
    b.lose(at=day(4), reason="price")
    c.move("proposal", at=day(4))
    e.move("qualified", at=day(4))
    a.move("proposal", at=day(5))
    d.reopen(at=day(5), to="lead")
    e.lose(at=day(5), reason="price")
    a.enter_substate("review", at=day(6))
    c.move("qualified", at=day(6))
    f.move("proposal", at=day(6))
    d.move("qualified", at=day(7))
    f.enter_substate("review", at=day(7))
    a.enter_substate("negotiation", at=day(8))
    a.update(at=day(9), amount=120)
    c.move("proposal", at=day(9))
    a.win(at=day(10))
    P.open_deal("G", at=day(11), store=store, amount=10)
    c.win(at=day(12))
    events = list(store.events())
    assert P.check(events) == []
    return events


EVENTS = scenario_events()
SHUFFLED = sorted(EVENTS, key=lambda e: (e.at, e.deal_id, e.seq), reverse=True)


def stats(
    count: int,
    open_count: int,
    mean: float | None = None,
    median: float | None = None,
    p90: float | None = None,
    lo: float | None = None,
    hi: float | None = None,
) -> DurationStats:
    """DurationStats from numbers of days."""

    def td(x: float | None) -> timedelta | None:
        return None if x is None else x * D

    return DurationStats(
        count=count,
        open_count=open_count,
        mean=td(mean),
        median=td(median),
        p90=td(p90),
        min=td(lo),
        max=td(hi),
    )


class TestVisits:
    """visits(): one record per stay in an open stage."""

    def test_count_and_order(self) -> None:
        """A 3 + B 2 + C 5 + D 3 + E 2 + F 2 + G 1 = 18 visits, deal by deal."""
        vs = metrics.visits(EVENTS, P)
        assert len(vs) == 18
        assert [v.deal_id for v in vs] == list("AAABBCCCCCDDDEEFFG")

    def test_regression_gives_new_visits(self) -> None:
        """C: lead 1d, qualified 2d, proposal 2d, qualified again 3d, proposal 3d → won."""
        vs = [v for v in metrics.visits(EVENTS, P) if v.deal_id == "C"]
        assert [(v.stage, v.duration / D, v.next_stage) for v in vs] == [
            ("lead", 1, "qualified"),
            ("qualified", 2, "proposal"),
            ("proposal", 2, "qualified"),
            ("qualified", 3, "proposal"),
            ("proposal", 3, "won"),
        ]

    def test_open_visit_runs_to_as_of(self) -> None:
        """D's qualified visit from d7 is open: 12 − 7 = 5 days at the default as_of."""
        last = [v for v in metrics.visits(EVENTS, P) if v.deal_id == "D"][-1]
        assert last == Visit(
            deal_id="D",
            stage="qualified",
            entered_at=day(7),
            exited_at=None,
            next_stage=None,
            duration=5 * D,
            is_open=True,
        )

    def test_lost_time_is_not_a_visit(self) -> None:
        """D: lead [1, 3] → lost, lead again [5, 7]; the two lost days are no visit."""
        vs = [v for v in metrics.visits(EVENTS, P) if v.deal_id == "D"]
        assert [(v.stage, v.entered_at, v.exited_at) for v in vs] == [
            ("lead", day(1), day(3)),
            ("lead", day(5), day(7)),
            ("qualified", day(7), None),
        ]
        assert sum((v.duration for v in vs), timedelta()) == (12 - 1 - 2) * D

    def test_as_of_cuts_and_excludes_later_deals(self) -> None:
        """As of d1.5 only A, B, C, D exist; A is in lead for 1.5 days, still open."""
        vs = metrics.visits(EVENTS, P, as_of=day(1.5))
        assert sorted({v.deal_id for v in vs}) == ["A", "B", "C", "D"]
        a = vs[0]
        assert (a.deal_id, a.duration, a.is_open) == ("A", 1.5 * D, True)

    def test_any_order(self) -> None:
        """Events in reverse time order give the same visits."""
        key = lambda v: (v.deal_id, v.entered_at)  # noqa: E731
        assert sorted(metrics.visits(SHUFFLED, P), key=key) == metrics.visits(EVENTS, P)

    def test_iterator_input(self) -> None:
        """A one-shot iterator works as well as a list."""
        assert metrics.visits(iter(EVENTS), P) == metrics.visits(EVENTS, P)

    def test_repr_is_readable(self) -> None:
        """The repr shows ISO timestamps and a plain duration."""
        text = repr(metrics.visits(EVENTS, P)[0])
        assert text == (
            "Visit(deal_id='A', stage='lead', entered_at=2026-01-05T09:00:00+00:00, "
            "exited_at=2026-01-07T09:00:00+00:00, next_stage='qualified', "
            "duration=2 days, 0:00:00, is_open=False)"
        )


class TestStageDurations:
    """stage_durations(): per visit and per deal, with and without open visits."""

    def test_per_visit_completed(self) -> None:
        """Completed visits only; open ones are counted in open_count."""
        got = metrics.stage_durations(EVENTS, P)
        # lead: A2 B3 C1 D2 D2 E2 F3 → [1,2,2,2,2,3,3]: mean 15/7; median x[3] = 2;
        # p90 at (7−1)·0.9 = 5.4 → x5 + 0.4·(x6 − x5) = 3; G is open
        assert got["lead"] == stats(7, 1, 15 / 7, 2, 3, 1, 3)
        # qualified: A3 C2 C3 E1 → [1,2,3,3]: mean 9/4; median at 1.5 → 2 + 0.5·1 = 2.5;
        # p90 at 2.7 → 3 + 0.7·0 = 3; D is open
        assert got["qualified"] == stats(4, 1, 9 / 4, 2.5, 3, 1, 3)
        # proposal: A5 B1 C2 C3 → [1,2,3,5]: mean 11/4; median 2.5; p90 at 2.7 → 3 + 0.7·2 = 4.4
        assert got["proposal"] == stats(4, 1, 11 / 4, 2.5, 4.4, 1, 5)
        assert list(got) == ["lead", "qualified", "proposal"]

    def test_per_visit_include_open(self) -> None:
        """Open visits join at their age: G 1d in lead, D 5d in qualified, F 6d in proposal."""
        got = metrics.stage_durations(EVENTS, P, include_open=True)
        # lead [1,1,2,2,2,2,3,3]: mean 16/8 = 2; median 2; p90 at 6.3 → 3
        assert got["lead"] == stats(8, 1, 2, 2, 3, 1, 3)
        # qualified [1,2,3,3,5]: mean 14/5; median 3; p90 at 3.6 → 3 + 0.6·2 = 4.2
        assert got["qualified"] == stats(5, 1, 14 / 5, 3, 4.2, 1, 5)
        # proposal [1,2,3,5,6]: mean 17/5; median 3; p90 at 3.6 → 5 + 0.6·1 = 5.6
        assert got["proposal"] == stats(5, 1, 17 / 5, 3, 5.6, 1, 6)

    def test_per_deal(self) -> None:
        """Per deal adds up a deal's visits; deals still in the stage are left out."""
        got = metrics.stage_durations(EVENTS, P, per="deal")
        # lead: A2 B3 C1 D(2+2)=4 E2 F3 → [1,2,2,3,3,4]: mean 15/6; median 2.5;
        # p90 at 4.5 → 3 + 0.5·1 = 3.5
        assert got["lead"] == stats(6, 1, 2.5, 2.5, 3.5, 1, 4)
        # qualified: A3 C(2+3)=5 E1 → [1,3,5]: mean 3; median 3; p90 at 1.8 → 3 + 0.8·2 = 4.6
        assert got["qualified"] == stats(3, 1, 3, 3, 4.6, 1, 5)
        # proposal: A5 B1 C(2+3)=5 → [1,5,5]: mean 11/3; median 5; p90 5
        assert got["proposal"] == stats(3, 1, 11 / 3, 5, 5, 1, 5)

    def test_per_deal_include_open(self) -> None:
        """D's qualified time while open is its current age: 5 days."""
        got = metrics.stage_durations(EVENTS, P, per="deal", include_open=True)
        # qualified: [1,3,5,5] (D open 5d): mean 14/4
        q = got["qualified"]
        assert (q.count, q.mean) == (4, 3.5 * D)

    def test_by_region(self) -> None:
        """by= segments on the attribute at opening; G (no region) goes under None, last."""
        got = metrics.stage_durations(EVENTS, P, by="region")
        assert list(got) == ["eu", "us", None]
        # eu lead: A2 C1 E2 → mean 5/3
        assert got["eu"]["lead"].mean == 5 / 3 * D
        # None: only G, open in lead
        assert got[None]["lead"] == stats(0, 1)

    def test_empty_stage_has_none(self) -> None:
        """A stage nobody completed reports count 0 and None statistics."""
        got = metrics.stage_durations(EVENTS, P, as_of=day(0.5))
        assert got["qualified"] == stats(0, 0)
        assert got["lead"].open_count == 2


class TestFunnel:
    """funnel(): the three skip policies."""

    def test_imputed(self) -> None:
        """Reached = entered this or any later stage; won counts after proposal."""
        # furthest position (lead 0, qualified 1, proposal 2, won 3):
        # A3 B2 C3 D1 E1 F2 G0 → lead 7, qualified 6, proposal 4 (A B C F), won 2 (A C)
        # win rates by outcome now (A, C won; B, E lost):
        # lead 2/(2+2); qualified (A..F) 2/4; proposal (A B C F) 2/3
        assert metrics.funnel(EVENTS, P) == [
            FunnelRow(stage="lead", reached=7, conversion_rate=6 / 7, win_rate=0.5),
            FunnelRow(stage="qualified", reached=6, conversion_rate=4 / 6, win_rate=0.5),
            FunnelRow(stage="proposal", reached=4, conversion_rate=2 / 4, win_rate=2 / 3),
        ]

    def test_touched(self) -> None:
        """Reached = entered the stage: B and F skipped qualified."""
        # qualified: A C D E = 4 (win A C / lost E → 2/3); proposal: A B C F (2/3)
        assert metrics.funnel(EVENTS, P, skips="touched") == [
            FunnelRow(stage="lead", reached=7, conversion_rate=4 / 7, win_rate=0.5),
            FunnelRow(stage="qualified", reached=4, conversion_rate=4 / 4, win_rate=2 / 3),
            FunnelRow(stage="proposal", reached=4, conversion_rate=2 / 4, win_rate=2 / 3),
        ]

    def test_ordered(self) -> None:
        """Reached = entered the stage and every one before it."""
        # qualified: A C D E = 4; proposal: A C (B, F skipped qualified) = 2 → both won
        assert metrics.funnel(EVENTS, P, skips="ordered") == [
            FunnelRow(stage="lead", reached=7, conversion_rate=4 / 7, win_rate=0.5),
            FunnelRow(stage="qualified", reached=4, conversion_rate=2 / 4, win_rate=2 / 3),
            FunnelRow(stage="proposal", reached=2, conversion_rate=2 / 2, win_rate=1.0),
        ]

    def test_no_closed_deal_gives_none(self) -> None:
        """Before any deal closed (as of d2), win rates are None."""
        rows = metrics.funnel(EVENTS, P, as_of=day(2))
        assert [r.win_rate for r in rows] == [None, None, None]
        # reached: lead 5 (A B C D E), qualified 2 (A C), proposal 0 → conversion None
        assert [r.reached for r in rows] == [5, 2, 0]
        assert rows[2].conversion_rate is None

    def test_by(self) -> None:
        """by= gives one funnel per region."""
        got = metrics.funnel(EVENTS, P, by="region")
        assert isinstance(got, dict)
        # us: B (furthest proposal), D (qualified), F (proposal)
        assert [r.reached for r in got["us"]] == [3, 3, 2]


class TestConversion:
    """conversion() and period_conversion()."""

    def test_cohort(self) -> None:
        """Deals entering to_stage after their first entry into from_stage."""
        # lead → proposal: A B C F of 7
        assert metrics.conversion(EVENTS, P, from_stage="lead", to_stage="proposal") == Ratio(
            numerator=4, denominator=7, rate=4 / 7
        )
        # qualified → won: A C of A C D E
        assert metrics.conversion(EVENTS, P, from_stage="qualified", to_stage="won") == Ratio(
            numerator=2, denominator=4, rate=0.5
        )
        # proposal → qualified (backwards): C of A B C F
        assert (
            metrics.conversion(EVENTS, P, from_stage="proposal", to_stage="qualified").rate == 0.25
        )

    def test_empty_denominator(self) -> None:
        """Nobody entered proposal by d2.5: the rate is None."""
        r = metrics.conversion(EVENTS, P, from_stage="proposal", to_stage="won", as_of=day(2.5))
        assert r == Ratio(numerator=0, denominator=0, rate=None)

    def test_period(self) -> None:
        """Window [d3, d8): A, C, D, E were in qualified; A and C moved forward in it."""
        # A [2,5]→proposal: moved at 5. C [2,4]→proposal: moved at 4 (and [6, 9) still in
        # qualified at d8). D [7, …) present, no move. E [4,5]→lost: present, not forward.
        r = metrics.period_conversion(EVENTS, P, stage="qualified", start=day(3), end=day(8))
        assert r == Ratio(numerator=2, denominator=4, rate=0.5)
        lost = metrics.period_conversion(
            EVENTS, P, stage="qualified", start=day(3), end=day(8), to_stage="lost"
        )
        assert lost == Ratio(numerator=1, denominator=4, rate=0.25)

    def test_period_window_edges(self) -> None:
        """[d5, d6): A leaves qualified at d5 (in), E at d5 (in); C re-enters only at d6 (out)."""
        r = metrics.period_conversion(EVENTS, P, stage="qualified", start=day(5), end=day(6))
        assert r == Ratio(numerator=1, denominator=2, rate=0.5)


class TestOutcomes:
    """win_rate, sales_cycle, lost_reasons, velocity."""

    def test_win_rate(self) -> None:
        """Won A, C; lost B, E; D reopened so it is open now: 2 / 4."""
        assert metrics.win_rate(EVENTS, P) == Ratio(numerator=2, denominator=4, rate=0.5)

    def test_win_rate_by_value(self) -> None:
        """Amount at closing: A 120 (updated d9) + C 80 won, B 50 + E 60 lost: 200 / 310."""
        assert metrics.win_rate(EVENTS, P, by_value=True) == Ratio(
            numerator=200.0, denominator=310.0, rate=200 / 310
        )

    def test_win_rate_by_region(self) -> None:
        """eu: A C won, E lost → 2/3; us: B lost → 0; no region: G open → None."""
        assert metrics.win_rate(EVENTS, P, by="region") == {
            "eu": Ratio(numerator=2, denominator=3, rate=2 / 3),
            "us": Ratio(numerator=0, denominator=1, rate=0.0),
            None: Ratio(numerator=0, denominator=0, rate=None),
        }

    def test_sales_cycle(self) -> None:
        """Won: A 10 − 0 = 10d, C 12 − 1 = 11d; three deals still open."""
        # mean 10.5; median 10.5; p90 at 0.9 → 10 + 0.9·1 = 10.9
        assert metrics.sales_cycle(EVENTS, P) == stats(2, 3, 10.5, 10.5, 10.9, 10, 11)

    def test_sales_cycle_lost(self) -> None:
        """Lost now: B 4 − 0 = 4d, E 5 − 2 = 3d (D reopened, so not lost now)."""
        assert metrics.sales_cycle(EVENTS, P, outcome="lost") == stats(2, 3, 3.5, 3.5, 3.9, 3, 4)

    def test_lost_reasons(self) -> None:
        """B and E lost on price (50 + 60); D's 'timing' loss was reopened."""
        assert metrics.lost_reasons(EVENTS, P) == [("price", 2, 110.0)]

    def test_lost_reasons_as_of(self) -> None:
        """As of d4, D (timing, 30) and B (price, 50) are lost: one each, then by reason."""
        assert metrics.lost_reasons(EVENTS, P, as_of=day(4)) == [
            ("price", 1, 50.0),
            ("timing", 1, 30.0),
        ]

    def test_lost_reasons_order_by_count_not_amount(self) -> None:
        """Most deals first even when fewer deals lost more: price 2 deals (10 + 10), then
        budget and timing with one each, by reason, though timing's 100 is the largest."""
        store = MemoryStore()
        for deal_id, amount, reason in [
            ("L1", 10, "price"),
            ("L2", 100, "timing"),
            ("L3", 10, "price"),
            ("L4", 5, "budget"),
        ]:
            P.open_deal(deal_id, at=day(0), store=store, amount=amount).lose(
                at=day(1), reason=reason
            )
        assert metrics.lost_reasons(list(store.events()), P) == [
            ("price", 2, 20.0),
            ("budget", 1, 5.0),
            ("timing", 1, 100.0),
        ]

    def test_velocity(self) -> None:
        """3 open (D F G) × 0.5 × mean won amount (120 + 80)/2 / mean cycle 10.5 days."""
        assert metrics.velocity(EVENTS, P) == pytest.approx(3 * 0.5 * 100 / 10.5)

    def test_velocity_without_wins(self) -> None:
        """No won deal yet (as of d9): velocity is 0."""
        assert metrics.velocity(EVENTS, P, as_of=day(9)) == 0.0


class TestState:
    """snapshot and stalled."""

    def test_snapshot(self) -> None:
        """At d6: D in lead (30), C back in qualified (80), A and F in proposal (100 + 40)."""
        assert metrics.snapshot(EVENTS, P, as_of=day(6)) == {
            "lead": SnapshotRow(count=1, amount=30.0),
            "qualified": SnapshotRow(count=1, amount=80.0),
            "proposal": SnapshotRow(count=2, amount=140.0),
        }

    def test_snapshot_uses_amount_then(self) -> None:
        """At d9.5 A's amount is the updated 120, plus C (80) in proposal."""
        assert metrics.snapshot(EVENTS, P, as_of=day(9.5))["proposal"] == SnapshotRow(
            count=3, amount=240.0
        )

    def test_stalled(self) -> None:
        """At d12 only F is stalled: idle 12 − 7 = 5d > proposal's 4d."""
        assert metrics.stalled(EVENTS, P) == [Stall(deal_id="F", stage="proposal", idle=5 * D)]

    def test_stalled_later(self) -> None:
        """At d20: D idle 13d > 10d, F idle 13d > 4d (tie → by id); G idle 9d ≤ 10d."""
        assert metrics.stalled(EVENTS, P, as_of=day(20)) == [
            Stall(deal_id="D", stage="qualified", idle=13 * D),
            Stall(deal_id="F", stage="proposal", idle=13 * D),
        ]


class TestBeyond:
    """Sub-states and the skips-and-regressions report."""

    def test_substate_visit_ends_when_the_deal_leaves_the_stage(self) -> None:
        """Review d1 → d2 (left for lead), proposal again d9, negotiation d10: review lasted 1d, not 9d."""
        store = MemoryStore()
        deal = P.open_deal("R", at=day(0), store=store)
        deal.move("proposal", at=day(1))
        deal.enter_substate("review", at=day(1))
        deal.move("lead", at=day(2))
        deal.move("proposal", at=day(9))
        deal.enter_substate("negotiation", at=day(10))
        events = list(store.events())
        assert metrics.substate_visits(events, P) == [
            SubstateVisit(
                deal_id="R",
                stage="proposal",
                substate="review",
                entered_at=day(1),
                exited_at=day(2),  # the move back to lead, not the next sub-state at d10
                duration=1 * D,
                is_open=False,
            ),
            SubstateVisit(
                deal_id="R",
                stage="proposal",
                substate="negotiation",
                entered_at=day(10),
                exited_at=None,
                duration=0 * D,  # as_of defaults to the latest event, d10
                is_open=True,
            ),
        ]
        review = metrics.substate_durations(events, P, stage="proposal")["review"]
        assert (review.count, review.mean) == (1, 1 * D)

    def test_substate_visit_ends_at_re_entry_into_the_same_substate(self) -> None:
        """Review d1 → d2 (left), review again from d9: two visits of 1d and (open) 3d at d12."""
        store = MemoryStore()
        deal = P.open_deal("R", at=day(0), store=store)
        deal.move("proposal", at=day(1))
        deal.enter_substate("review", at=day(1))
        deal.move("qualified", at=day(2))
        deal.move("proposal", at=day(9))
        deal.enter_substate("review", at=day(9))
        durations = [
            (v.entered_at, v.exited_at, v.duration, v.is_open)
            for v in metrics.substate_visits(list(store.events()), P, as_of=day(12))
        ]
        # 2 − 1 = 1 day closed; 12 − 9 = 3 days open at as_of
        assert durations == [(day(1), day(2), 1 * D, False), (day(9), None, 3 * D, True)]

    def test_substate_visits(self) -> None:
        """A: review [6, 8], negotiation [8, 10] (ends with the win); F: review open from d7."""
        assert metrics.substate_visits(EVENTS, P) == [
            SubstateVisit(
                deal_id="A",
                stage="proposal",
                substate="review",
                entered_at=day(6),
                exited_at=day(8),
                duration=2 * D,
                is_open=False,
            ),
            SubstateVisit(
                deal_id="A",
                stage="proposal",
                substate="negotiation",
                entered_at=day(8),
                exited_at=day(10),
                duration=2 * D,
                is_open=False,
            ),
            SubstateVisit(
                deal_id="F",
                stage="proposal",
                substate="review",
                entered_at=day(7),
                exited_at=None,
                duration=5 * D,
                is_open=True,
            ),
        ]

    def test_substate_durations(self) -> None:
        """review: A 2d (F open); with open ones: [2, 5] → mean 3.5d."""
        got = metrics.substate_durations(EVENTS, P, stage="proposal")
        assert got == {
            "review": stats(1, 1, 2, 2, 2, 2, 2),
            "negotiation": stats(1, 0, 2, 2, 2, 2, 2),
        }
        both = metrics.substate_durations(EVENTS, P, stage="proposal", include_open=True)
        assert both["review"].mean == 3.5 * D

    def test_lost_to_won_is_no_reopening(self) -> None:
        """With explicit transitions a deal may go lost → won: that reopens no open stage."""
        p = Pipeline(
            "p",
            [Stage("a"), Stage("b"), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
            transitions=[("a", "b"), ("b", "won"), ("lost", "won")],
        )
        store = MemoryStore()
        deal = p.open_deal("D", at=day(0), store=store)
        deal.lose(at=day(1), reason="price")
        deal.move("won", at=day(2))
        flows = metrics.skips_and_regressions(list(store.events()), p)
        assert [(f.stage, f.entered, f.reopened) for f in flows] == [("a", 1, 0), ("b", 0, 0)]

    def test_skips_and_regressions(self) -> None:
        """B and F skipped qualified; C moved back out of proposal; D reopened into lead."""
        assert metrics.skips_and_regressions(EVENTS, P) == [
            StageFlow(
                stage="lead",
                entered=7,
                skipped=0,
                skip_moves=0,
                regressed=0,
                regress_moves=0,
                reopened=1,
            ),
            StageFlow(
                stage="qualified",
                entered=4,
                skipped=2,
                skip_moves=2,
                regressed=0,
                regress_moves=0,
                reopened=0,
            ),
            StageFlow(
                stage="proposal",
                entered=4,
                skipped=0,
                skip_moves=0,
                regressed=1,
                regress_moves=1,
                reopened=0,
            ),
        ]


class TestErrors:
    """Every argument check names the problem."""

    def test_unknown_stage_names(self) -> None:
        """conversion, substate_durations and period_conversion refuse unknown stages."""
        with pytest.raises(UnknownStageError, match="nope"):
            metrics.conversion(EVENTS, P, from_stage="nope", to_stage="won")
        with pytest.raises(UnknownStageError, match="nope"):
            metrics.conversion(EVENTS, P, from_stage="lead", to_stage="nope")
        with pytest.raises(UnknownStageError, match="nope"):
            metrics.substate_durations(EVENTS, P, stage="nope")
        with pytest.raises(UnknownStageError, match="nope"):
            metrics.substate_visits(EVENTS, P, stage="nope")
        with pytest.raises(UnknownStageError, match="nope"):
            metrics.period_conversion(EVENTS, P, stage="nope", start=day(0), end=day(1))

    def test_bad_choices(self) -> None:
        """Bad skips, per and outcome values list the allowed ones."""
        with pytest.raises(ValueError, match="skips must be one of 'touched', 'imputed'"):
            metrics.funnel(EVENTS, P, skips="all")  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="per must be one of 'visit', 'deal'"):
            metrics.stage_durations(EVENTS, P, per="stage")  # type: ignore[call-overload]
        with pytest.raises(ValueError, match="outcome must be one of 'won', 'lost'"):
            metrics.sales_cycle(EVENTS, P, outcome="open")  # type: ignore[call-overload]

    def test_naive_as_of(self) -> None:
        """A naive as_of (or window) raises NaiveTimeError."""
        naive = datetime(2026, 1, 6)
        for call in (
            lambda: metrics.visits(EVENTS, P, as_of=naive),
            lambda: metrics.stage_durations(EVENTS, P, as_of=naive),
            lambda: metrics.snapshot(EVENTS, P, as_of=naive),
            lambda: metrics.stalled(EVENTS, P, as_of=naive),
            lambda: metrics.period_conversion(EVENTS, P, stage="lead", start=naive, end=day(3)),
        ):
            with pytest.raises(NaiveTimeError, match="naive"):
                call()

    def test_substates_on_a_stage_without_them(self) -> None:
        """substate_durations on a stage without sub-states names the ones that have them."""
        with pytest.raises(ValueError, match=r"'lead' has no sub-states; .*proposal"):
            metrics.substate_durations(EVENTS, P, stage="lead")

    def test_period_arguments(self) -> None:
        """period_conversion needs an open stage and end after start."""
        with pytest.raises(ValueError, match="open stage"):
            metrics.period_conversion(EVENTS, P, stage="won", start=day(0), end=day(1))
        with pytest.raises(ValueError, match="must be after start"):
            metrics.period_conversion(EVENTS, P, stage="lead", start=day(1), end=day(1))

    @pytest.mark.parametrize(
        "call",
        [
            lambda by: metrics.stage_durations(EVENTS, P, by=by),
            lambda by: metrics.substate_durations(EVENTS, P, stage="proposal", by=by),
            lambda by: metrics.funnel(EVENTS, P, by=by),
            lambda by: metrics.conversion(EVENTS, P, from_stage="lead", to_stage="won", by=by),
            lambda by: metrics.period_conversion(
                EVENTS, P, stage="lead", start=day(0), end=day(12), by=by
            ),
            lambda by: metrics.win_rate(EVENTS, P, by=by),
            lambda by: metrics.sales_cycle(EVENTS, P, by=by),
            lambda by: metrics.velocity(EVENTS, P, by=by),
        ],
        ids=[
            "stage_durations",
            "substate_durations",
            "funnel",
            "conversion",
            "period_conversion",
            "win_rate",
            "sales_cycle",
            "velocity",
        ],
    )
    @pytest.mark.parametrize("by", [3, ""])
    def test_every_segmented_metric_checks_by(self, call: Any, by: object) -> None:
        """Every metric that segments refuses a by that is not a non-empty attribute name."""
        with pytest.raises(TypeError, match="by must be an attribute name"):
            call(by)

    def test_only_ibis_tables_go_to_the_ibis_engine(self) -> None:
        """A class merely named Table (say, another library's) is not taken for an Ibis table."""
        from salesstages.metrics._engine import is_ibis_table

        class Table:
            pass

        assert not is_ibis_table(Table())
        assert not is_ibis_table(EVENTS)
        assert metrics.visits(iter(EVENTS), P) == metrics.visits(EVENTS, P)

    def test_bad_by_and_pipeline(self) -> None:
        """by must be a string; the pipeline must be a Pipeline; events must be iterable."""
        with pytest.raises(TypeError, match="by must be an attribute name"):
            metrics.win_rate(EVENTS, P, by=3)  # type: ignore[call-overload]
        with pytest.raises(TypeError, match=r"pipeline must be a salesstages\.Pipeline"):
            metrics.visits(EVENTS, "scenario")  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="events must be an iterable"):
            metrics.visits(42, P)  # type: ignore[arg-type]

    def test_unhashable_by_value(self) -> None:
        """A dict-valued attribute cannot be a by= key; a list is used as a tuple."""
        evs = [
            Event.create(deal_id="X", seq=0, at=T0, kind="opened", data={"tags": {"a": 1}}),
            Event.create(deal_id="X", seq=1, at=T0, kind="stage_entered", stage="lead"),
            Event.create(deal_id="Y", seq=0, at=T0, kind="opened", data={"tags": ["a"]}),
            Event.create(deal_id="Y", seq=1, at=T0, kind="stage_entered", stage="lead"),
        ]
        with pytest.raises(TypeError, match="deal 'X' has tags="):
            metrics.win_rate(evs, P, by="tags")
        assert list(metrics.win_rate(evs[2:], P, by="tags")) == [("a",)]

    def test_unknown_stage_in_log(self) -> None:
        """An event naming a stage the pipeline lacks raises InvalidLogError with deal and seq."""
        evs = [
            *EVENTS,
            Event.create(deal_id="G", seq=2, at=day(13), kind="stage_entered", stage="demo"),
        ]
        with pytest.raises(InvalidLogError, match="unknown stage 'demo'") as info:
            metrics.funnel(evs, P)
        assert (info.value.deal_id, info.value.seq) == ("G", 2)


class TestEmpty:
    """An empty log gives empty results, not errors."""

    def test_empty(self) -> None:
        """Every metric copes with no events."""
        assert metrics.visits([], P) == []
        assert metrics.stage_durations([], P)["lead"] == stats(0, 0)
        assert [r.reached for r in metrics.funnel([], P)] == [0, 0, 0]
        assert metrics.win_rate([], P) == Ratio(numerator=0, denominator=0, rate=None)
        assert metrics.sales_cycle([], P) == stats(0, 0)
        assert metrics.stalled([], P) == []
        assert metrics.lost_reasons([], P) == []
        assert metrics.velocity([], P) == 0.0
        assert metrics.snapshot([], P, as_of=T0)["lead"] == SnapshotRow(count=0, amount=0.0)


class TestExports:
    """The metrics module's public surface."""

    def test_all_is_sorted_and_complete(self) -> None:
        """__all__ is sorted, unique, holds every contract name, and each is documented."""
        names = metrics.__all__
        assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        assert len(set(names)) == len(names)
        contract = {
            "visits", "stage_durations", "funnel", "conversion", "win_rate", "sales_cycle",
            "snapshot", "stalled", "lost_reasons", "velocity", "Visit", "DurationStats",
            "FunnelRow", "Ratio", "SnapshotRow", "Stall",
        }  # fmt: skip
        assert contract <= set(names)
        for name in names:
            obj = getattr(metrics, name)
            if callable(obj):
                assert obj.__doc__, name

    def test_records_are_frozen(self) -> None:
        """Result records cannot be changed in place."""
        r = metrics.win_rate(EVENTS, P)
        with pytest.raises(AttributeError):
            r.rate = 1.0  # type: ignore[misc]

    def test_does_not_import_pandas(self) -> None:
        """Computing metrics never imports pandas or numpy."""
        code = (
            "import sys; from salesstages import metrics, presets; "
            "from salesstages._simulate import simulate; from datetime import datetime, UTC; "
            "p = presets.inbound_b2b(); "
            "e = simulate(p, deals=20, start=datetime(2026, 1, 1, tzinfo=UTC)); "
            "metrics.funnel(e, p); metrics.stage_durations(e, p); "
            "assert 'pandas' not in sys.modules and 'numpy' not in sys.modules"
        )
        import subprocess

        subprocess.run([sys.executable, "-c", code], check=True)
