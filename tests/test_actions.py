"""What moves deals forward: ``metrics.action_conversion`` and ``forecast.next_actions``.

The conversion log (days after T0; within = 10 days unless a test says otherwise):

====  ================================================================
deal  path
====  ================================================================
A     d0 lead, d1 call; d3 qualified, d4 demo; d20 won
B     d0 lead, d1 email; d15 qualified
C     d0 lead, d2 call; d5 lost; d6 reopened into lead, d6 email; d8 qualified
D     d2 lead; d3 qualified, d4 call; d5 lead (regression), d5 call; d6 qualified;
      d20 proposal
E     d1 lead, d1 call, d2 call; d4 proposal (skips qualified), d5 contract; d9 won
====  ================================================================

The advice log (all in lead unless said; every deal opened on d0):

====  ================================================================
deal  activities in order, then the outcome
====  ================================================================
W1    call, demo; won            W2    call, demo; won
L1    call, email; lost          L2    email, call; lost
W3    demo; qualified: call; won
L3    call; lost; reopened into lead: email; lost again
W4    call, call, demo; won
O1    call (open: the deal advised)       O2    call, demo (open)
====  ================================================================
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import T0, day
from salesstages import (
    DataError,
    DataTypeError,
    Deal,
    Event,
    MemoryStore,
    NaiveTimeError,
    Pipeline,
    Stage,
    UnknownDealError,
    forecast,
    metrics,
    presets,
)
from salesstages._simulate import simulate
from salesstages.forecast import ActionAdvice
from salesstages.metrics import ActionRow
from salesstages.report import Report

D = timedelta(days=1)
W = 10 * D


def pipeline() -> Pipeline:
    """lead → qualified → proposal → won / lost; skips, regressions and reopenings allowed."""
    return Pipeline(
        "actions",
        [
            Stage("lead"),
            Stage("qualified"),
            Stage("proposal"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_skip=True,
        allow_regress=True,
        allow_reopen=True,
    )


P = pipeline()
INBOUND = presets.inbound_b2b()


def conversion_log() -> list[Event]:
    """The conversion log of the module docstring, written through live deals."""
    store = MemoryStore()
    a = P.open_deal("A", at=day(0), store=store)
    b = P.open_deal("B", at=day(0), store=store)
    c = P.open_deal("C", at=day(0), store=store)
    e = P.open_deal("E", at=day(1), store=store)
    d = P.open_deal("D", at=day(2), store=store)
    a.record("call", at=day(1))
    b.record("email", at=day(1))
    e.record("call", at=day(1))
    c.record("call", at=day(2))
    e.record("call", at=day(2))
    a.move("qualified", at=day(3))
    d.move("qualified", at=day(3))
    a.record("demo", at=day(4))
    d.record("call", at=day(4))
    e.move("proposal", at=day(4))
    c.lose(at=day(5), reason="price")
    d.move("lead", at=day(5))
    d.record("call", at=day(5))
    e.record("contract", at=day(5))
    c.reopen(at=day(6), to="lead")
    c.record("email", at=day(6))
    d.move("qualified", at=day(6))
    c.move("qualified", at=day(8))
    e.win(at=day(9))
    b.move("qualified", at=day(15))
    a.win(at=day(20))
    d.move("proposal", at=day(20))
    events = list(store.events())
    assert P.check(events) == []
    return events


CONVERSION = conversion_log()


def row(stage: str, activity: str, dw: int, aw: int, dwo: int, awo: int) -> ActionRow:
    """An ActionRow from its counts (rates and lift computed as the contract says)."""
    rw = aw / dw if dw else None
    rwo = awo / dwo if dwo else None
    return ActionRow(
        stage=stage,
        activity=activity,
        deals_with=dw,
        advanced_with=aw,
        deals_without=dwo,
        advanced_without=awo,
        rate_with=rw,
        rate_without=rwo,
        lift=rw / rwo if rw is not None and rwo else None,
    )


class TestActionConversion:
    """``metrics.action_conversion`` on the hand-computed log."""

    def test_hand_computed_rows(self) -> None:
        """Every row at the latest event (d20), in stage order then by activity name."""
        rows = metrics.action_conversion(CONVERSION, P, horizon=W)
        assert rows == [
            # lead, first visits: A {call}, B {email}, C {call}, D {}, E {call} (C's email
            # and D's second call came in later visits). Advanced within 10 days of the
            # first entry: A (qualified d3), C (qualified d8; losing is not advancing),
            # D (qualified d3), E (proposal d4); not B (qualified d15 > d10).
            # call: with A, C, E → 3/3 = 1.0; without B, D → 1/2 = 0.5; lift 2.0
            row("lead", "call", 3, 3, 2, 1),
            # email: with B → 0/1 = 0.0; without A, C, D, E → 4/4 = 1.0; lift 0.0
            row("lead", "email", 1, 0, 4, 4),
            # qualified: A (d3), B (d15), C (d8), D (d3): none advanced in 10 days
            # (A won d20, D reached proposal d20, 17 days on); rate_without 0 → lift None
            row("qualified", "call", 1, 0, 3, 0),
            row("qualified", "demo", 1, 0, 3, 0),
            # proposal: E (d4, won d9: advanced) recorded contract; D (d20) did not
            # contract: with 1/1 = 1.0; without 0/1 = 0.0 → lift None
            row("proposal", "contract", 1, 1, 1, 0),
        ]
        assert rows[0].lift == 2.0
        assert rows[1].lift == 0.0
        assert rows[2].lift is None

    def test_as_of_counts_first_visits_started_by_then(self) -> None:
        """As of d7: only what had happened by then counts, advancing included."""
        rows = metrics.action_conversion(CONVERSION, P, horizon=W, as_of=day(7))
        assert rows == [
            # lead: C is back in lead (qualified only on d8), B still in lead.
            # call: with A (yes), C (no), E (yes) → 2/3; without B (no), D (yes) → 1/2;
            # lift (2/3) / (1/2) = 4/3
            row("lead", "call", 3, 2, 2, 1),
            # email: with B → 0/1; without A, C, D, E → A, D, E = 3/4; lift 0
            row("lead", "email", 1, 0, 4, 3),
            # qualified by d7: A and D (C enters on d8, B on d15), neither advanced
            row("qualified", "call", 1, 0, 1, 0),
            row("qualified", "demo", 1, 0, 1, 0),
            # proposal by d7: E only, won on d9 (after as_of): with 0/1, without none
            row("proposal", "contract", 1, 0, 0, 0),
        ]
        assert rows[0].lift == pytest.approx(4 / 3)
        assert rows[4].rate_without is None
        assert rows[4].lift is None

    def test_within_is_inclusive(self) -> None:
        """C's qualified on d8 counts with within = 8 days (8 ≤ 8), not with 7 days."""
        eight = metrics.action_conversion(CONVERSION, P, horizon=8 * D)
        seven = metrics.action_conversion(CONVERSION, P, horizon=7 * D)
        # lead/call with A, C, E: 3/3 at 8 days; A (d3) and E (d4) only at 7 days → 2/3
        assert (eight[0].activity, eight[0].advanced_with) == ("call", 3)
        assert (seven[0].activity, seven[0].advanced_with) == ("call", 2)

    def test_histories_give_the_same_rows(self) -> None:
        """A fold passed in gives the rows the events give, at its own as_of too."""
        for as_of in (None, day(7)):
            hist = metrics.histories(CONVERSION, P, as_of=as_of)
            assert metrics.action_conversion(hist, P, horizon=W) == metrics.action_conversion(
                CONVERSION, P, horizon=W, as_of=as_of
            )

    def test_shuffled_events_give_the_same_rows(self) -> None:
        """The order of the events does not matter."""
        shuffled = sorted(CONVERSION, key=lambda e: (e.at, e.deal_id, e.seq), reverse=True)
        assert metrics.action_conversion(shuffled, P, horizon=W) == metrics.action_conversion(
            CONVERSION, P, horizon=W
        )

    def test_empty_log_and_no_activities(self) -> None:
        """No events, or no activity recorded: no rows."""
        assert metrics.action_conversion([], P, horizon=W) == []
        plain = [e for e in CONVERSION if e.kind != "activity"]
        assert metrics.action_conversion(plain, P, horizon=W) == []

    def test_rewound_fold_keeps_the_activities_up_to_then(self) -> None:
        """A fold rewound to d7 gives the rows of a fold made at d7."""
        from salesstages.metrics._history import rewind

        hist = rewind(metrics.histories(CONVERSION, P), day(7))
        assert metrics.action_conversion(hist, P, horizon=W) == metrics.action_conversion(
            CONVERSION, P, horizon=W, as_of=day(7)
        )

    def test_repr_shows_rates(self) -> None:
        """The row's repr rounds rates to four places."""
        r = metrics.action_conversion(CONVERSION, P, horizon=W, as_of=day(7))[0]
        assert "lift=1.3333" in repr(r)
        assert "rate_with=0.6667" in repr(r)

    @pytest.mark.parametrize("within", [timedelta(0), -D])
    def test_non_positive_within_is_refused(self, within: timedelta) -> None:
        """A zero or negative ``within`` is a DataError saying to pass a positive timedelta."""
        with pytest.raises(DataError, match=r"horizon must be a positive timedelta.*days=30"):
            metrics.action_conversion(CONVERSION, P, horizon=within)

    @pytest.mark.parametrize("within", [30, "30 days", None])
    def test_within_of_another_type_is_refused(self, within: object) -> None:
        """A ``within`` that is not a timedelta is a DataTypeError (also a TypeError)."""
        with pytest.raises(DataTypeError, match="horizon must be a timedelta") as info:
            metrics.action_conversion(CONVERSION, P, horizon=within)  # type: ignore[arg-type]
        assert isinstance(info.value, TypeError)

    def test_naive_as_of_is_refused(self) -> None:
        """A naive ``as_of`` is a NaiveTimeError, as in every metric."""
        with pytest.raises(NaiveTimeError):
            metrics.action_conversion(CONVERSION, P, horizon=W, as_of=datetime(2026, 1, 9))

    def test_within_is_the_old_name_of_horizon(self) -> None:
        """``within=`` still works for one release, warning that it is now ``horizon=``."""
        with pytest.warns(DeprecationWarning, match="within= is deprecated; use horizon="):
            old = metrics.action_conversion(CONVERSION, P, within=W)  # type: ignore[call-arg]
        assert old == metrics.action_conversion(CONVERSION, P, horizon=W)
        with pytest.raises(TypeError, match=r"both within= .* and horizon="):
            metrics.action_conversion(CONVERSION, P, within=W, horizon=W)  # type: ignore[call-arg]


# ------------------------------------------------------------------ next_actions
def advice_log() -> list[Event]:
    """The advice log of the module docstring, written through live deals."""
    store = MemoryStore()

    def deal(name: str, acts: list[str], end: str | None) -> Deal:
        d = P.open_deal(name, at=day(0), store=store)
        for k, act in enumerate(acts, 1):
            d.record(act, at=day(k))
        if end == "won":
            d.win(at=day(10))
        elif end == "lost":
            d.lose(at=day(10), reason="price")
        return d

    deal("W1", ["call", "demo"], "won")
    deal("W2", ["call", "demo"], "won")
    deal("L1", ["call", "email"], "lost")
    deal("L2", ["email", "call"], "lost")
    w3 = deal("W3", ["demo"], None)
    w3.move("qualified", at=day(2))
    w3.record("call", at=day(3))
    w3.win(at=day(4))
    l3 = deal("L3", ["call"], "lost")
    l3.record("note", at=day(10))  # recorded in the lost stage: not a lead activity
    l3.reopen(at=day(11), to="lead")
    l3.record("email", at=day(12))
    l3.lose(at=day(13), reason="price")
    deal("W4", ["call", "call", "demo"], "won")
    deal("O1", ["call"], None)
    deal("O2", ["call", "demo"], None)
    events = list(store.events())
    assert P.check(events) == []
    return events


ADVICE = advice_log()


def advice(activity: str, wins: int, n: int, low: float, high: float) -> ActionAdvice:
    """An ActionAdvice with a hand-computed Wilson interval (checked to 1e-4)."""
    return ActionAdvice(
        activity=activity,
        support=n,
        win_rate=wins / n,
        low=pytest.approx(low, abs=1e-4),  # type: ignore[arg-type]
        high=pytest.approx(high, abs=1e-4),  # type: ignore[arg-type]
    )


class TestNextActions:
    """``forecast.next_actions`` on the hand-computed log."""

    def test_after_a_call_in_lead(self) -> None:
        """O1 is in (lead, call): demo backed by W1, W2, W4; call by W4; email by L1."""
        got = forecast.next_actions(ADVICE, P, deal="O1", min_support=1)
        # Wilson, z = 1.96, z² = 3.8416:
        # demo 3/3: denom = 1 + 3.8416/3 = 2.28053, centre = (1 + 3.8416/6) / 2.28053
        #   = 0.71924, half = 1.96 / 2.28053 × √(3.8416/36) = 0.28076 → [0.43849, 1]
        # call 1/1 (W4's second call follows its first): denom = 4.8416,
        #   centre = 2.9208 / 4.8416 = 0.60326, half = 0.40483 × 0.98 = 0.39673
        #   → [0.20652, 1]
        # email 0/1: the mirror image → [0, 0.79348]
        # O2 is open and L3's call ends its visit: neither backs anything.
        assert got == [
            advice("demo", 3, 3, 0.43849, 1.0),
            advice("call", 1, 1, 0.20652, 1.0),
            advice("email", 0, 1, 0.0, 0.79348),
        ]

    def test_before_the_first_activity(self) -> None:
        """A deal in lead with no activity yet is in (lead, None): each visit's first activity."""
        store = MemoryStore()
        fresh = P.open_deal("N1", at=day(0), store=store)
        got = forecast.next_actions(ADVICE, P, deal=fresh, min_support=1)
        # call: W1, W2, L1, L3 (first visit), W4 → 5 deals, 3 won (W1, W2, W4)
        #   3/5: denom = 1 + 3.8416/5 = 1.76832, centre = (0.6 + 0.38416) / 1.76832
        #   = 0.55655, half = 1.10839 × √(0.048 + 0.038416) = 0.32583 → [0.23072, 0.88238]
        # demo: W3 → 1/1 → [0.20652, 1]; email: L2, L3 (after its reopening) → 0/2
        #   0/2: denom = 2.9208, centre = 0.9604 / 2.9208 = 0.32881 = half → [0, 0.65763]
        assert got == [
            advice("call", 3, 5, 0.23072, 0.88238),
            advice("demo", 1, 1, 0.20652, 1.0),
            advice("email", 0, 2, 0.0, 0.65763),
        ]

    def test_a_live_deal_reads_its_own_state(self) -> None:
        """A live Deal not in the log is advised from its own events: (lead, call) like O1."""
        d = P.open_deal("N2", at=day(0), store=MemoryStore())
        d.record("email", at=day(1))
        d.record("call", at=day(2))
        assert forecast.next_actions(ADVICE, P, deal=d, min_support=1) == forecast.next_actions(
            ADVICE, P, deal="O1", min_support=1
        )

    def test_other_stage(self) -> None:
        """(qualified, None) is backed by W3's call only."""
        d = P.open_deal("N3", at=day(0), store=MemoryStore())
        d.move("qualified", at=day(1))
        assert [
            (a.activity, a.support, a.win_rate)
            for a in forecast.next_actions(ADVICE, P, deal=d, min_support=1)
        ] == [("call", 1, 1.0)]

    def test_min_support_filters(self) -> None:
        """Only activities backed by at least ``min_support`` deals; none at the default 10."""
        assert [a.activity for a in forecast.next_actions(ADVICE, P, deal="O1", min_support=2)] == [
            "demo"
        ]
        assert forecast.next_actions(ADVICE, P, deal="O1") == []
        assert len(forecast.next_actions(ADVICE, P, deal="O1", min_support=0)) == 3

    def test_as_of_counts_deals_closed_by_then(self) -> None:
        """As of d5 only W3 (won on d4) is closed: it backs demo from (lead, None)."""
        d = P.open_deal("N4", at=day(0), store=MemoryStore())
        got = forecast.next_actions(ADVICE, P, deal=d, as_of=day(5), min_support=1)
        assert [(a.activity, a.support, a.win_rate) for a in got] == [("demo", 1, 1.0)]

    def test_histories_give_the_same_advice(self) -> None:
        """A fold passed in gives the advice the events give."""
        hist = metrics.histories(ADVICE, P)
        assert forecast.next_actions(hist, P, deal="O1", min_support=1) == forecast.next_actions(
            ADVICE, P, deal="O1", min_support=1
        )

    def test_unknown_id_is_refused(self) -> None:
        """An id no deal has is an UnknownDealError (a KeyError) saying what to pass."""
        with pytest.raises(UnknownDealError, match=r"no deal 'ghost' in events.*open in events"):
            forecast.next_actions(ADVICE, P, deal="ghost")

    def test_id_not_yet_opened_at_as_of_is_refused(self) -> None:
        """An id whose deal opened after ``as_of`` is unknown then."""
        late = [*ADVICE, *P.open_deal("LATE", at=day(30), store=MemoryStore()).events]
        with pytest.raises(UnknownDealError, match="no deal 'LATE'"):
            forecast.next_actions(late, P, deal="LATE", as_of=day(20))

    @pytest.mark.parametrize("deal_id", ["W1", "L3"])
    def test_closed_id_is_refused(self, deal_id: str) -> None:
        """A won or lost deal is a DataError asking for an open deal."""
        with pytest.raises(DataError, match=rf"deal '{deal_id}' is (won|lost).*pass an open deal"):
            forecast.next_actions(ADVICE, P, deal=deal_id)

    def test_closed_live_deal_is_refused(self) -> None:
        """A live Deal that is closed is refused the same way."""
        d = P.open_deal("N5", at=day(0), store=MemoryStore())
        d.lose(at=day(1), reason="price")
        with pytest.raises(DataError, match="deal 'N5' is lost"):
            forecast.next_actions(ADVICE, P, deal=d)

    def test_live_deal_opened_after_as_of_is_refused(self) -> None:
        """A live Deal with no stage by ``as_of`` is an UnknownDealError."""
        d = P.open_deal("N6", at=day(30), store=MemoryStore())
        with pytest.raises(UnknownDealError, match="had entered no stage"):
            forecast.next_actions(ADVICE, P, deal=d, as_of=day(20))

    @pytest.mark.parametrize("deal", [7, None, b"O1"])
    def test_deal_of_another_type_is_refused(self, deal: object) -> None:
        """A deal that is neither a Deal nor an id is a DataTypeError."""
        with pytest.raises(DataTypeError, match=r"deal must be a salesstages\.Deal or the id"):
            forecast.next_actions(ADVICE, P, deal=deal)  # type: ignore[arg-type]

    @pytest.mark.parametrize("min_support", ["10", 2.5, True])
    def test_min_support_of_another_type_is_refused(self, min_support: object) -> None:
        """A ``min_support`` that is not a whole number is a DataTypeError."""
        with pytest.raises(DataTypeError, match="min_support must be a whole number"):
            forecast.next_actions(ADVICE, P, deal="O1", min_support=min_support)  # type: ignore[arg-type]

    def test_negative_min_support_is_refused(self) -> None:
        """A negative ``min_support`` is a DataError."""
        with pytest.raises(DataError, match="min_support must be 0 or more"):
            forecast.next_actions(ADVICE, P, deal="O1", min_support=-1)

    def test_repr(self) -> None:
        """The advice's repr shows its fields."""
        got = forecast.next_actions(ADVICE, P, deal="O1", min_support=3)
        assert repr(got[0]).startswith("ActionAdvice(activity='demo', support=3, win_rate=1,")


def test_next_actions_on_a_duckdb_table() -> None:
    """On a DuckDB table the hand log gives the same advice, by id, by live deal and as of
    day 5, and the same refusals."""
    pytest.importorskip("duckdb")
    from _engines import duckdb_loader

    table = duckdb_loader()(ADVICE)
    assert forecast.next_actions(table, P, deal="O1", min_support=1) == forecast.next_actions(
        ADVICE, P, deal="O1", min_support=1
    )
    assert [a.activity for a in forecast.next_actions(table, P, deal="O1", min_support=1)] == [
        "demo",  # 3 of 3 won, as test_after_a_call_in_lead computes
        "call",
        "email",
    ]
    fresh = P.open_deal("N7", at=day(0), store=MemoryStore())
    assert forecast.next_actions(table, P, deal=fresh, as_of=day(5), min_support=1) == (
        forecast.next_actions(ADVICE, P, deal=fresh, as_of=day(5), min_support=1)
    )
    with pytest.raises(UnknownDealError, match="no deal 'ghost'"):
        forecast.next_actions(table, P, deal="ghost")
    with pytest.raises(DataError, match="deal 'W1' is won"):
        forecast.next_actions(table, P, deal="W1")
    with pytest.raises(DataError, match="min_support must be 0 or more"):
        forecast.next_actions(table, P, deal="O1", min_support=-1)
    with pytest.raises(DataTypeError, match="deal must be a salesstages"):
        forecast.next_actions(table, P, deal=7)  # type: ignore[arg-type]


@pytest.mark.parametrize("as_of", [None, day(7)])
@pytest.mark.parametrize("within", [7 * D, 8 * D, W, 30 * D])
def test_duckdb_engine_agrees(as_of: datetime | None, within: timedelta) -> None:
    """On a DuckDB table, action_conversion gives the rows the pure-Python engine gives."""
    pytest.importorskip("duckdb")
    from _engines import duckdb_loader

    table = duckdb_loader()(CONVERSION)
    assert metrics.action_conversion(
        table, P, horizon=within, as_of=as_of
    ) == metrics.action_conversion(CONVERSION, P, horizon=within, as_of=as_of)


def test_duckdb_engine_agrees_on_a_simulated_quarter() -> None:
    """On 150 simulated deals with plays (reopenings, regressions, skips), both engines agree."""
    pytest.importorskip("duckdb")
    from _engines import duckdb_loader

    events = simulate(INBOUND, deals=150, start=T0, days=90, seed=5, action_effect=0.6)
    table = duckdb_loader()(events)
    for as_of in (None, day(40)):
        python = metrics.action_conversion(events, INBOUND, horizon=30 * D, as_of=as_of)
        assert python
        assert metrics.action_conversion(table, INBOUND, horizon=30 * D, as_of=as_of) == python

    with pytest.raises(DataError, match="horizon must be a positive timedelta"):
        metrics.action_conversion(table, INBOUND, horizon=-D)


# ------------------------------------------------------------------ properties


@st.composite
def played_logs(draw: st.DrawFn) -> tuple[list[Event], datetime | None]:
    """A simulated inbound log with sales plays, and an ``as_of`` (or None)."""
    events = simulate(
        INBOUND,
        deals=draw(st.integers(0, 25)),
        start=T0,
        days=draw(st.sampled_from([10.0, 60.0])),
        seed=draw(st.integers(0, 2**16)),
        action_effect=draw(st.sampled_from([0.0, 0.5, 1.0])),
    )
    as_of = draw(st.one_of(st.none(), st.integers(0, 60).map(day)))
    return events, as_of


@settings(max_examples=40, deadline=None)
@given(played_logs(), st.sampled_from([D, 7 * D, 30 * D]))
def test_conversion_counts_every_first_visit(
    drawn: tuple[list[Event], datetime | None], within: timedelta
) -> None:
    """deals_with + deals_without is the number of deals whose first visit started by
    as_of; advanced counts stay within them, rates in [0, 1], rows in order."""
    events, as_of = drawn
    hist = metrics.histories(events, INBOUND, as_of=as_of)
    rows = metrics.action_conversion(hist, INBOUND, horizon=within)
    opens = [s.name for s in INBOUND.open_stages]
    reached = {
        s: sum(any(e[1] == s for e in h.entries) for h in hist.deals.values()) for s in opens
    }
    assert [(opens.index(r.stage), r.activity) for r in rows] == sorted(
        (opens.index(r.stage), r.activity) for r in rows
    )
    for r in rows:
        assert r.deals_with + r.deals_without == reached[r.stage]
        assert 0 <= r.advanced_with <= r.deals_with
        assert 0 <= r.advanced_without <= r.deals_without
        for rate in (r.rate_with, r.rate_without):
            assert rate is None or 0.0 <= rate <= 1.0
        assert (r.lift is None) == (r.rate_with is None or not r.rate_without)
    assert rows == metrics.action_conversion(events, INBOUND, horizon=within, as_of=as_of)


@settings(max_examples=40, deadline=None)
@given(played_logs(), st.integers(0, 4))
def test_advice_is_sorted_and_supported(
    drawn: tuple[list[Event], datetime | None], min_support: int
) -> None:
    """For every open deal: supported by ≥ min_support deals, highest low first then
    name, low ≤ win_rate ≤ high, and the fold gives the same advice."""
    events, as_of = drawn
    hist = metrics.histories(events, INBOUND, as_of=as_of)
    closed = sum(h.outcome != "open" for h in hist.deals.values())
    for deal_id in [d for d, h in hist.deals.items() if h.is_open][:5]:
        got = forecast.next_actions(hist, INBOUND, deal=deal_id, min_support=min_support)
        assert [(-a.low, a.activity) for a in got] == sorted((-a.low, a.activity) for a in got)
        for a in got:
            assert min_support <= a.support <= closed
            assert 0.0 <= a.low <= a.win_rate <= a.high <= 1.0
        assert got == forecast.next_actions(
            events, INBOUND, deal=deal_id, as_of=as_of, min_support=min_support
        )


# ------------------------------------------------------------------ the report
@pytest.fixture(scope="module")
def report() -> Report:
    """The report of the conversion log (within 30 days)."""
    from salesstages.report import build_report

    return build_report(CONVERSION, P)


class TestReportSection:
    """The report's "what moves deals forward" section, in every format."""

    def test_json(self, report: Report) -> None:
        """Per stage, every activity largest lift first, with counts and a Wilson interval."""
        rows = report.section("action-conversion").records()
        assert report.section("actions").title == (
            "What moves deals forward (advanced within 30 days)"
        )
        # Within 30 days every lead deal advanced (B's qualified on d15 too): call 3/3
        # and email 1/1 against 2/2 and 4/4 → lift 1.0 each, by name.
        # qualified: A (won d20, 17 days on) and D (proposal d20, 17 days on) advanced,
        # B and C did not: call (D) 1/1 against 1/3 → ×3; demo (A) 1/1 against 1/3 → ×3.
        # proposal: contract (E, won) 1/1 against D 0/1 → lift None.
        stages = list(dict.fromkeys(r["stage"] for r in rows))
        got = [
            (
                stage,
                next(r["deals"] for r in rows if r["stage"] == stage),
                next(r["advanced"] for r in rows if r["stage"] == stage),
                [(r["activity"], r["lift_value"]) for r in rows if r["stage"] == stage],
            )
            for stage in stages
        ]
        assert got == [
            ("lead", 5, 5, [("call", 1.0), ("email", 1.0)]),
            ("qualified", 4, 2, [("call", 3.0), ("demo", 3.0)]),
            ("proposal", 2, 1, [("contract", None)]),
        ]
        call = next(r for r in rows if (r["stage"], r["activity"]) == ("qualified", "call"))
        # Wilson 1/1: [0.20652, 1] (see TestNextActions)
        assert call["rate_with_low"] == pytest.approx(0.20652, abs=1e-4)
        assert call["rate_with_high"] == 1.0
        assert (call["deals_with"], call["advanced_with"]) == (1, 1)
        assert (call["deals_without"], call["advanced_without"]) == (3, 1)
        assert call["criterion"] is False
        import json

        from salesstages.report._model import records

        assert records(json.loads(json.dumps(report.to_dict())), "action-conversion") == rows

    def test_text(self, report: Report) -> None:
        """The text names the window and shows counts, the interval and the lift."""
        from salesstages.report import render_text

        text = render_text(report)
        title = "What moves deals forward (advanced within 30 days)"
        assert f"{title}\n{'=' * len(title)}" in text
        block = text.split(title)[1]
        assert "qualified  call" in block
        line = next(x for x in block.splitlines() if x.startswith("qualified  call"))
        assert line.split() == [
            "qualified",
            "call",
            "1/1",
            "100%",
            "(21%–100%)",
            "1/3",
            "33%",
            "×3.00",
        ]
        assert "×3.00" in block
        assert "contract" not in block  # no lift to rank it by

    def test_csv(self, report: Report) -> None:
        """The CSV holds every activity's every figure."""
        from salesstages.report import render_csv

        lines = render_csv(report).splitlines()
        assert "action-conversion,qualified/call,lift_value,3.0" in lines
        assert "action-conversion,proposal/contract,lift_value," in lines
        assert "action-conversion,lead/email,deals_without,4" in lines
        assert "actions,qualified/call,lift,×3.00" in lines

    def test_html_chart(self, report: Report) -> None:
        """The HTML page draws the section as a chart, with counts in its tooltips."""
        from salesstages.report import render_html

        page = render_html(report)
        assert 'data-chart="actions"' in page
        assert "What moves deals forward (advanced within 30 days)" in page
        assert "qualified · call: 1/1 advanced with it (100%, 95% CI 21%–100%)" in page

    def test_criterion_activities_are_marked_and_left_out_of_the_short_forms(self) -> None:
        """An activity an entry criterion asks for is kept in JSON, marked, and not ranked in text."""
        from _helpers import small_pipeline
        from salesstages.report import build_report, render_text

        p = small_pipeline()
        d = p.open_deal("X", at=day(0))
        d.record("call", at=day(0.5))
        for step in p.stage("discovery").entry.steps():  # type: ignore[union-attr]
            d.record(step.name, at=day(1), **step.data)
        d.move("discovery", at=day(2))
        other = p.open_deal("Y", at=day(0))
        report = build_report([*d.events, *other.events], p)
        rows = [r for r in report.section("action-conversion").records() if r["stage"] == "lead"]
        # lead: X (call, the meeting's activities, advanced) against Y (nothing, not
        # advanced): each 1/1 against 0/1 → lift None, so all ranked last, by name
        assert [(a["activity"], a["criterion"]) for a in rows] == [
            ("call", False),
            ("meeting_accepted", True),
            ("meeting_booked", True),
        ]
        assert "meeting_accepted" not in render_text(report).split("What moves deals")[1]

    def test_empty_report(self) -> None:
        """A report of no events has the section, with no stages; the text says so."""
        from salesstages.report import build_report, render_html, render_text

        report = build_report([], P)
        assert report.section("actions").rows == ()
        assert report.section("action-conversion").rows == ()
        assert "no activities recorded" in render_text(report)
        assert 'data-chart="actions"' in render_html(report)

    def test_demo_quarter_shows_plays_that_help(self) -> None:
        """On the demo's simulated quarter, a demo lifts advancing in most stages (the
        simulator gives it the largest effect) and email, which has none, rarely leads."""
        from salesstages.report import build_report

        events = simulate(INBOUND, deals=400, start=T0, days=90, seed=7, action_effect=0.6)
        section = build_report(events, INBOUND).section("action-conversion")
        lifts = {(r["stage"], r["activity"]): r["lift_value"] for r in section.records()}
        stages = [s.name for s in INBOUND.open_stages]
        demo_wins = sum(lifts[(s, "demo")] > lifts[(s, "email")] for s in stages)
        assert demo_wins >= 4
        assert sum(lifts[(s, "demo")] > 1.0 for s in stages) == len(stages)
