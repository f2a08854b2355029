"""Planning a quarter (issue 14, CONTRACT §14): movement, slippage, forecast
categories and coverage, on hand-built logs with the arithmetic in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import T0, day, plain_pipeline
from salesstages import (
    DataError,
    DataTypeError,
    Event,
    MemoryStore,
    NaiveTimeError,
    Pipeline,
    SalesStagesError,
    Stage,
    forecast,
    metrics,
)
from salesstages.forecast import Coverage
from salesstages.forecast import _planning as forecast_planning
from salesstages.metrics import Movement, Slip, Tally
from salesstages.testing import events as event_logs


# ------------------------------------------------------------------- movement
def movement_log() -> list[Event]:
    """Seven deals around the period [day 10, day 20) (T0 = 2026-01-05 09:00 UTC)."""
    p = plain_pipeline()
    store = MemoryStore()
    d1 = p.open_deal("D1", at=day(0), store=store, amount=100, owner="ana")
    d1.update(at=day(12), amount=150)  # +50 while open
    d1.move("b", at=day(14))
    d1.move("c", at=day(14))
    d1.win(at=day(15))  # won at 150
    d2 = p.open_deal("D2", at=day(2), store=store, amount=200, owner="ana")
    d2.lose(at=day(5), reason="price")  # closed before the period starts
    d2.reopen(at=day(11))  # reopened at 200
    d2.update(at=day(13), amount=120)  # -80 while open
    d3 = p.open_deal("D3", at=day(14), store=store, amount=50, owner="bob")  # created
    d3.move("b", at=day(16))
    d3.lose(at=day(25), reason="late")  # after the end: not counted
    d4 = p.open_deal("D4", at=day(1), store=store, amount=300, owner="bob")
    d4.update(at=day(22), amount=400)  # after the end
    p.open_deal("D5", at=day(21), store=store, amount=1000, owner="bob")  # after the end
    p.open_deal("D6", at=day(10), store=store, amount=10, owner="bob")  # at start: created
    d7 = p.open_deal("D7", at=day(3), store=store, amount=70, owner="bob")
    d7.lose(at=day(20), reason="no budget")  # exactly at end: after the period
    return list(store.events())


def test_movement_by_hand() -> None:
    """Every line of the movement over [day 10, day 20) matches the hand count."""
    m = metrics.movement(movement_log(), plain_pipeline(), start=day(10), end=day(20))
    # opening (just before start): D1 100 + D4 300 + D7 70 = (3, 470); D2 was lost,
    # D6 opens at start itself
    assert m.opening == (3, 470.0)
    assert m.created == (2, 60.0)  # D3 50 + D6 10 (opened exactly at start)
    assert m.reopened == (1, 200.0)  # D2 at its amount then
    assert m.won == (1, 150.0)  # D1 after its raise
    assert m.lost == (0, 0.0)  # D7 is lost at the end itself: after the period
    assert m.increased == (1, 50.0)  # D1: 100 -> 150
    assert m.decreased == (1, 80.0)  # D2: 200 -> 120
    # closing: D2 120 + D3 50 + D4 300 + D6 10 + D7 70 = (5, 550)
    assert m.closing == (5, 550.0)
    # identity: 3 + 2 + 1 - 1 - 0 = 5; 470 + 60 + 200 - 150 - 0 + 50 - 80 = 550
    assert isinstance(m, Movement)
    assert isinstance(m.won, Tally)
    assert m.won.count == 1
    assert m.won.amount == 150.0


def test_movement_by_owner() -> None:
    """With by='owner' each owner gets the movement of their own deals."""
    got = metrics.movement(movement_log(), plain_pipeline(), start=day(10), end=day(20), by="owner")
    assert list(got) == ["ana", "bob"]
    ana = got["ana"]
    # ana: D1 open at start (100), D2 reopened (200), D1 won (150), +50, -80; closing D2 120
    assert (ana.opening, ana.reopened, ana.won, ana.closing) == (
        (1, 100.0),
        (1, 200.0),
        (1, 150.0),
        (1, 120.0),
    )
    assert (ana.increased, ana.decreased, ana.created) == ((1, 50.0), (1, 80.0), (0, 0.0))
    # bob: opening D4 300 + D7 70 = (2, 370); closing D3 50 + D4 300 + D6 10 + D7 70 = (4, 430)
    assert got["bob"].opening == (2, 370.0)
    assert got["bob"].closing == (4, 430.0)


def test_movement_takes_dates_as_midnight_utc() -> None:
    """A date bound is its midnight UTC: the same movement as those datetimes."""
    log = movement_log()
    p = plain_pipeline()
    by_date = metrics.movement(log, p, start=date(2026, 1, 15), end=date(2026, 1, 25))
    by_time = metrics.movement(
        log, p, start=datetime(2026, 1, 15, tzinfo=UTC), end=datetime(2026, 1, 25, tzinfo=UTC)
    )
    assert by_date == by_time
    # D6 opens on Jan 15 at 09:00, after midnight: created, not opening
    assert by_date.created == (2, 60.0)


def test_movement_accepts_histories() -> None:
    """A Histories gives the same movement as the events it was folded from."""
    log = movement_log()
    p = plain_pipeline()
    hist = metrics.histories(log, p)
    assert metrics.movement(hist, p, start=day(10), end=day(20)) == metrics.movement(
        log, p, start=day(10), end=day(20)
    )


def test_movement_empty_period_and_log() -> None:
    """An empty log moves nothing; a period of one instant has opening == closing."""
    p = plain_pipeline()
    zero = Tally(0, 0.0)
    empty = metrics.movement([], p, start=day(0), end=day(1))
    assert empty.period is not None
    assert empty.period.state == "no_data"
    assert attrs.evolve(empty, period=None) == Movement(
        opening=zero,
        created=zero,
        reopened=zero,
        won=zero,
        lost=zero,
        increased=zero,
        decreased=zero,
        closing=zero,
    )
    m = metrics.movement(movement_log(), p, start=day(12), end=day(12))
    assert m.opening == m.closing
    assert m.created == m.won == m.increased == zero


def _check_identity(m: Movement) -> None:
    count = m.opening.count + m.created.count + m.reopened.count - m.won.count - m.lost.count
    assert count == m.closing.count
    amount = (
        m.opening.amount
        + m.created.amount
        + m.reopened.amount
        - m.won.amount
        - m.lost.amount
        + m.increased.amount
        - m.decreased.amount
    )
    assert amount == m.closing.amount


AMOUNTS = st.integers(0, 10_000)
LOGS = event_logs(
    plain_pipeline(allow_regress=True),
    max_deals=6,
    max_steps=12,
    span=timedelta(days=60),
    max_gap=timedelta(days=6),
    fields={"amount": AMOUNTS},
    attributes=st.fixed_dictionaries({"amount": AMOUNTS, "owner": st.sampled_from(["a", "b"])}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=LOGS, a=st.integers(-5, 70), length=st.integers(0, 70))
def test_movement_identity_holds(log: list[Event], a: int, length: int) -> None:
    """opening + created + reopened - won - lost (+ increased - decreased) == closing,
    for counts and amounts, over random logs and periods; opening and closing are
    the snapshot's open deals at start and end."""
    p = plain_pipeline(allow_regress=True)
    start = T0 + timedelta(days=a)
    end = start + timedelta(hours=length * 12)
    m = metrics.movement(log, p, start=start, end=end)
    _check_identity(m)
    for moment, tally in ((start, m.opening), (end, m.closing)):
        rows = metrics.snapshot(log, p, as_of=moment).values()
        assert tally.count == sum(r.count for r in rows)
        assert tally.amount == sum(r.amount for r in rows)
    for segment in metrics.movement(log, p, start=start, end=end, by="owner").values():
        _check_identity(segment)


@pytest.mark.parametrize(
    ("start", "end", "error", "words"),
    [
        (day(5), day(4), DataError, ("end=", "before start=")),
        (datetime(2026, 1, 1), day(4), NaiveTimeError, ("start=2026-01-01",)),
        (day(1), datetime(2026, 3, 1), NaiveTimeError, ("end=2026-03-01",)),
        ("2026-01-01", day(4), DataTypeError, ("start", "'2026-01-01'")),
        (day(1), 20260301, DataTypeError, ("end", "20260301")),
    ],
)
def test_bad_periods_are_refused(start: Any, end: Any, error: type, words: tuple[str, ...]) -> None:
    """A naive, reversed or non-date bound is a typed error naming the value, everywhere."""
    p = plain_pipeline()
    calls = [
        lambda: metrics.movement([], p, start=start, end=end),
        lambda: forecast.categories([], p, start=start, end=end),
        lambda: forecast.coverage([], p, start=start, end=end, target=1),
    ]
    for call in calls:
        with pytest.raises(error) as info:
            call()
        assert isinstance(info.value, SalesStagesError)
        for word in words:
            assert word in str(info.value), (word, str(info.value))


def test_aware_bounds_in_other_zones_are_converted() -> None:
    """Bounds in another timezone mean the same instants in UTC."""
    plus2 = timezone(timedelta(hours=2))
    log = movement_log()
    p = plain_pipeline()
    assert metrics.movement(
        log, p, start=day(10).astimezone(plus2), end=day(20)
    ) == metrics.movement(log, p, start=day(10), end=day(20))


# ------------------------------------------------------------------- slippage
def slippage_log() -> list[Event]:
    """Six deals whose close dates move (as of day 30 = 2026-02-04 09:00 UTC)."""
    p = plain_pipeline()
    s = MemoryStore()
    d = p.open_deal("S1", at=day(0), store=s, close_date="2026-01-31")
    d.update(at=day(10), close_date="2026-02-15")  # push 1
    d.update(at=day(20), close_date=date(2026, 2, 28))  # push 2
    p.open_deal("S2", at=day(0), store=s, close_date="2026-01-20")  # never moved, overdue
    d = p.open_deal("S3", at=day(0), store=s, close_date="2026-03-31")
    d.update(at=day(5), close_date="2026-03-15")  # pulled in: not a push
    d.update(at=day(6), close_date="2026-03-20")  # pushed: 1
    d = p.open_deal("S4", at=day(0), store=s, close_date="2026-02-10")
    d.update(at=day(3), close_date="2026-03-12")
    d.win(at=day(25))  # won: not open, not listed
    p.open_deal("S5", at=day(0), store=s, amount=5)  # no close date
    d = p.open_deal("S6", at=day(0), store=s)
    d.update(at=day(3), close_date="2026-02-01")  # first close date: not a push
    d.update(at=day(4), owner="ana")
    d.update(at=day(4), close_date="2026-02-11")  # push 1
    return list(s.events())


def test_slippage_by_hand() -> None:
    """Pushed and overdue open deals, most days slipped first."""
    got = metrics.slippage(slippage_log(), plain_pipeline(), as_of=day(30))
    assert got == [
        # Jan 31 -> Feb 28: 28 days, two pushes
        Slip(
            deal_id="S1",
            pushes=2,
            days_slipped=28,
            first_close_date=date(2026, 1, 31),
            close_date=date(2026, 2, 28),
            overdue=False,
        ),
        # Feb 1 -> Feb 11: 10 days
        Slip(
            deal_id="S6",
            pushes=1,
            days_slipped=10,
            first_close_date=date(2026, 2, 1),
            close_date=date(2026, 2, 11),
            overdue=False,
        ),
        # never moved, but Jan 20 is before Feb 4
        Slip(
            deal_id="S2",
            pushes=0,
            days_slipped=0,
            first_close_date=date(2026, 1, 20),
            close_date=date(2026, 1, 20),
            overdue=True,
        ),
        # Mar 31 -> Mar 15 -> Mar 20: one push, 11 days earlier than first
        Slip(
            deal_id="S3",
            pushes=1,
            days_slipped=-11,
            first_close_date=date(2026, 3, 31),
            close_date=date(2026, 3, 20),
            overdue=False,
        ),
    ]


def test_slippage_as_of_earlier() -> None:
    """As of day 10 (Jan 15), S1 was pushed once and S2 not yet overdue (Jan 20)."""
    got = metrics.slippage(slippage_log(), plain_pipeline(), as_of=day(10))
    assert [(s.deal_id, s.pushes, s.days_slipped) for s in got] == [
        ("S4", 1, 30),  # Feb 10 -> Mar 12, still open then
        ("S1", 1, 15),  # Jan 31 -> Feb 15
        ("S6", 1, 10),
        ("S3", 1, -11),
    ]


def test_slippage_accepts_histories_and_checks_as_of() -> None:
    """A Histories gives the same list; an as_of it was not folded for is refused."""
    p = plain_pipeline()
    hist = metrics.histories(slippage_log(), p, as_of=day(30))
    assert metrics.slippage(hist, p) == metrics.slippage(slippage_log(), p, as_of=day(30))
    with pytest.raises(DataError, match="differs"):
        metrics.slippage(hist, p, as_of=day(20))
    assert metrics.slippage([], p) == []


def test_rewound_histories_keep_close_dates() -> None:
    """rewind() cuts the close-date history at the earlier as_of too."""
    from salesstages.metrics._history import rewind

    p = plain_pipeline()
    hist = rewind(metrics.histories(slippage_log(), p), day(10))
    assert metrics.slippage(hist, p) == metrics.slippage(slippage_log(), p, as_of=day(10))


# ------------------------------------------------------------ categories, coverage
def category_pipeline() -> Pipeline:
    """a (no default) → b (best case) → c (commit) → won / lost."""
    return Pipeline(
        "cats",
        [
            Stage("a"),
            Stage("b", forecast_category="best_case"),
            Stage("c", forecast_category="commit"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def category_log() -> list[Event]:
    """Eight deals with close dates around 2026-Q1 (as of day 30 = 2026-02-04)."""
    p = category_pipeline()
    s = MemoryStore()
    kw: dict[str, Any] = {"store": s, "at": day(0)}
    p.open_deal("C1", close_date="2026-02-15", amount=100, owner="ana", **kw)
    p.open_deal("C2", stage="b", close_date="2026-03-31", amount=200, owner="ana", **kw)
    p.open_deal(
        "C3", stage="c", close_date="2026-03-01", forecast_category="omitted", amount=50, **kw
    )
    p.open_deal("C4", stage="c", close_date="2026-04-01", amount=999, owner="bob", **kw)
    d = p.open_deal("C5", stage="c", close_date="2026-01-31", amount=400, owner="bob", **kw)
    d.update(at=day(18), amount=500)
    d.win(at=day(20))  # won on Jan 25 at 500
    p.open_deal("C6", stage="c", close_date="2026-01-10", amount=300, owner="bob", **kw)
    p.open_deal("C7", close_date="2026-02-01", amount=80, **kw).lose(at=day(2), reason="x")
    d = p.open_deal("C8", stage="c", close_date="2026-03-05", amount=70, owner="bob", **kw)
    d.win(at=day(40))  # after as_of: still open in c then
    return list(s.events())


Q1 = (date(2026, 1, 1), date(2026, 4, 1))


def test_categories_by_hand() -> None:
    """Open deals closing in Q1 by category, plus the deals won in Q1."""
    got = forecast.categories(
        category_log(), category_pipeline(), start=Q1[0], end=Q1[1], as_of=day(30)
    )
    assert got == {
        "closed": (1, 500.0),  # C5, at its amount when won
        "commit": (2, 370.0),  # C6 300 + C8 70 (stage c's default)
        "best_case": (1, 200.0),  # C2 (stage b's default)
        "pipeline": (1, 100.0),  # C1 (stage a has none)
        "omitted": (1, 50.0),  # C3's own category wins over its stage's
    }
    assert list(got) == ["closed", "commit", "best_case", "pipeline", "omitted"]
    # C4 closes on Apr 1: outside [Jan 1, Apr 1); C7 is lost


def test_categories_later_as_of_counts_c8_closed() -> None:
    """As of day 45 (Feb 19) C8 is won in Q1: it moves from commit to closed."""
    got = forecast.categories(
        category_log(), category_pipeline(), start=Q1[0], end=Q1[1], as_of=day(45)
    )
    assert got["closed"] == (2, 570.0)  # 500 + 70
    assert got["commit"] == (1, 300.0)


def test_coverage_by_hand() -> None:
    """target 1000: won 500, remaining 500, open 670, coverage 1.34, attainment 0.5."""
    got = forecast.coverage(
        category_log(), category_pipeline(), start=Q1[0], end=Q1[1], target=1000, as_of=day(30)
    )
    assert got == Coverage(
        target=1000.0,
        won=500.0,
        remaining=500.0,  # 1000 - 500
        open_amount=670.0,  # commit 370 + best case 200 + pipeline 100; omitted left out
        coverage=670.0 / 500.0,
        attainment=0.5,  # 500 / 1000
    )


def test_coverage_when_nothing_remains() -> None:
    """A target already met leaves nothing to cover: coverage None, attainment above 1."""
    got = forecast.coverage(
        category_log(), category_pipeline(), start=Q1[0], end=Q1[1], target=400, as_of=day(30)
    )
    assert got.remaining == 0.0  # max(400 - 500, 0)
    assert got.coverage is None
    assert got.attainment == 1.25  # 500 / 400
    zero = forecast.coverage(
        category_log(), category_pipeline(), start=Q1[0], end=Q1[1], target=0, as_of=day(30)
    )
    assert zero.attainment is None


def test_coverage_by_owner() -> None:
    """With by, targets per owner give one Coverage per owner, keyed like the targets."""
    got = forecast.coverage(
        category_log(),
        category_pipeline(),
        start=Q1[0],
        end=Q1[1],
        target={"ana": 1000, "bob": 2000, "cy": 10},
        as_of=day(30),
        by="owner",
    )
    assert list(got) == ["ana", "bob", "cy"]
    # ana: C1 100 + C2 200 open, nothing won: coverage 300 / 1000
    assert (got["ana"].won, got["ana"].open_amount, got["ana"].coverage) == (0.0, 300.0, 0.3)
    # bob: won C5 500; open C6 300 + C8 70; remaining 1500
    assert got["bob"].won == 500.0
    assert got["bob"].open_amount == 370.0
    assert got["bob"].coverage == 370.0 / 1500.0
    assert got["bob"].attainment == 0.25  # 500 / 2000
    # cy: no open deal closes in Q1, so coverage is not known (not 0)
    assert got["cy"] == Coverage(
        target=10.0,
        won=0.0,
        remaining=10.0,
        open_amount=0.0,
        coverage=None,
        attainment=0.0,
        reason=forecast_planning.NO_CLOSE_DATES,
    )


@pytest.mark.parametrize(
    ("target", "by", "error", "word"),
    [
        (-1, None, DataError, "-1"),
        (float("nan"), None, DataError, "nan"),
        ("1000", None, DataTypeError, "'1000'"),
        (True, None, DataTypeError, "True"),
        ({"ana": 1}, None, DataTypeError, "by="),
        (1000, "owner", DataTypeError, "1000"),
        ({"ana": -5}, "owner", DataError, "-5"),
        ({"ana": "5"}, "owner", DataTypeError, "'ana'"),
    ],
)
def test_bad_targets_are_refused(target: Any, by: Any, error: type, word: str) -> None:
    """A negative, non-finite or non-numeric target is a typed error naming it."""
    with pytest.raises(error) as info:
        forecast.coverage(
            category_log(), category_pipeline(), start=Q1[0], end=Q1[1], target=target, by=by
        )
    assert isinstance(info.value, SalesStagesError)
    assert word in str(info.value)


def test_categories_and_coverage_accept_histories() -> None:
    """A Histories gives the same figures as the events it was folded from."""
    p = category_pipeline()
    hist = metrics.histories(category_log(), p, as_of=day(30))
    assert forecast.categories(hist, p, start=Q1[0], end=Q1[1]) == forecast.categories(
        category_log(), p, start=Q1[0], end=Q1[1], as_of=day(30)
    )
    assert forecast.coverage(hist, p, start=Q1[0], end=Q1[1], target=5) == forecast.coverage(
        category_log(), p, start=Q1[0], end=Q1[1], target=5, as_of=day(30)
    )


def test_categories_ignore_bad_values_in_a_foreign_log() -> None:
    """A log written elsewhere with a bad close date or category is read leniently."""
    p = category_pipeline()
    opened = Event(
        deal_id="X",
        seq=0,
        at=day(0),
        kind="opened",
        stage=None,
        name=None,
        data={"close_date": "2026-02-01", "forecast_category": "Upside", "amount": 5},
    )
    entered = Event(deal_id="X", seq=1, at=day(0), kind="stage_entered", stage="b", name=None)
    bad = Event(
        deal_id="Y",
        seq=0,
        at=day(0),
        kind="opened",
        stage=None,
        name=None,
        data={"close_date": "soon"},
    )
    bad_entered = Event(deal_id="Y", seq=1, at=day(0), kind="stage_entered", stage="a", name=None)
    got = forecast.categories([opened, entered, bad, bad_entered], p, start=Q1[0], end=Q1[1])
    assert got["best_case"] == (1, 5.0)  # the stage's default replaces "Upside"
    assert sum(n for n, _ in got.values()) == 1  # Y's "soon" is no date
