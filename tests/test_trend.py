"""Period-scoped figures and their change (issue 27, CONTRACT §17, §21): metrics.trend,
hand-computed on a small log, and its two tests against their textbook values."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import plain_pipeline
from salesstages import DataError, Event, MemoryStore, UnknownStageError, metrics
from salesstages.metrics import TrendRow
from salesstages.metrics._trend import mann_whitney, two_proportions


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 9, tzinfo=UTC)


def log() -> list[Event]:
    """January: J1 (100, eu) won Jan 20 after reaching c; J2 (50, us) lost Jan 25;
    J3 (30, eu) won Feb 10. February: F1 (200, us) won Feb 15 after reaching c;
    F2 (70, eu) lost Feb 20; F3 (10, eu) still open. M1 (5, us) opened March 1."""
    p = plain_pipeline()
    s = MemoryStore()

    j1 = p.open_deal("J1", at=at(1, 5), store=s, amount=100, region="eu")
    j1.move("b", at=at(1, 10))
    j1.move("c", at=at(1, 12))
    j1.win(at=at(1, 20))  # cycle 15 days
    p.open_deal("J2", at=at(1, 6), store=s, amount=50, region="us").lose(at=at(1, 25), reason="x")
    j3 = p.open_deal("J3", at=at(1, 7), store=s, amount=30, region="eu")
    j3.win(at=at(2, 10))  # cycle 34 days
    f1 = p.open_deal("F1", at=at(2, 1), store=s, amount=200, region="us")
    f1.move("c", at=at(2, 3))
    f1.win(at=at(2, 15))  # cycle 14 days
    p.open_deal("F2", at=at(2, 2), store=s, amount=70, region="eu").lose(at=at(2, 20), reason="x")
    p.open_deal("F3", at=at(2, 3), store=s, amount=10, region="eu")
    p.open_deal("M1", at=at(3, 1), store=s, amount=5, region="us")
    return list(s.events())


def test_created_by_month() -> None:
    jan, feb, mar = metrics.trend(log(), plain_pipeline(), measure="created")
    assert isinstance(jan, TrendRow)
    assert (jan.period, jan.count, jan.amount, jan.value) == ("2026-01", 3, 180, 3)  # 100+50+30
    assert (feb.count, feb.amount, feb.change) == (3, 280, 0)  # 200+70+10; 3 - 3
    assert (mar.count, mar.amount, mar.change) == (1, 5, -2)
    assert mar.end == datetime(2026, 4, 1, tzinfo=UTC)
    assert jan.p_value is None
    assert jan.significant is None


def test_won_is_the_bookings() -> None:
    jan, feb, mar = metrics.trend(log(), plain_pipeline(), measure="won")
    assert (jan.count, jan.value) == (1, 100)  # J1
    assert (feb.count, feb.value, feb.change) == (2, 230, 130)  # J3 30 + F1 200; 230 - 100
    assert (mar.count, mar.value, mar.change) == (0, 0, -230)


def test_win_rate_of_the_deals_closed_in_the_period() -> None:
    jan, feb, _ = metrics.trend(log(), plain_pipeline(), measure="win_rate")
    assert (jan.count, jan.value) == (2, 0.5)  # J1 won, J2 lost
    assert (feb.count, feb.value) == (3, 2 / 3)  # J3, F1 won, F2 lost
    assert feb.change == pytest.approx(2 / 3 - 0.5)
    # pooled 3/5: se = √(0.6·0.4·(1/2 + 1/3)) = √0.2 ; z = (2/3 − 1/2)/√0.2 = 0.3727
    z = (2 / 3 - 0.5) / math.sqrt(0.6 * 0.4 * (1 / 2 + 1 / 3))
    assert feb.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert feb.significant is False


def test_cycle_is_the_median_of_the_won_in_the_period() -> None:
    jan, feb, mar = metrics.trend(log(), plain_pipeline(), measure="cycle")
    assert jan.value == 15  # J1: Jan 5 → Jan 20
    assert feb.value == 24  # median(34 (J3), 14 (F1))
    assert feb.change == 9
    assert feb.p_value is not None
    assert mar.value is None
    assert mar.change is None
    assert mar.p_value is None


def test_conversion_of_the_deals_entering_the_first_stage() -> None:
    """Default pair: a → won. January's three entered a: J1 and J3 won → 2/3;
    February's three: F1 won → 1/3. With (a, c): J1 / F1 reached c → 1/3 each."""
    jan, feb, mar = metrics.trend(log(), plain_pipeline(), measure="conversion")
    assert (jan.count, jan.value, feb.count, feb.value) == (3, 2 / 3, 3, 1 / 3)
    assert (mar.count, mar.value) == (1, 0)
    jan, feb, _ = metrics.trend(log(), plain_pipeline(), measure="conversion", stages=("a", "c"))
    assert (jan.value, feb.value) == (1 / 3, 1 / 3)
    assert feb.change == 0
    assert feb.p_value == 1.0


def test_as_of_cuts_the_last_period() -> None:
    """As of Feb 12, February holds F1–F3 opened and J3 won (Feb 10), not F1's win."""
    _jan, feb = metrics.trend(log(), plain_pipeline(), measure="won", as_of=at(2, 12))
    assert (feb.count, feb.value) == (1, 30)


def test_quarters_years_and_segments() -> None:
    (q1,) = metrics.trend(log(), plain_pipeline(), measure="won", period="quarter")
    assert (q1.period, q1.count, q1.value) == ("2026-Q1", 3, 330)
    (y,) = metrics.trend(log(), plain_pipeline(), measure="created", period="year")
    assert (y.period, y.count) == ("2026", 7)
    by = metrics.trend(log(), plain_pipeline(), measure="won", period="quarter", by="region")
    assert isinstance(by, dict)
    assert [(k, rows[0].value) for k, rows in by.items()] == [("eu", 130), ("us", 200)]
    assert metrics.trend([], plain_pipeline(), measure="won") == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="measure"):
        metrics.trend(log(), plain_pipeline(), measure="speed")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="period"):
        metrics.trend(log(), plain_pipeline(), measure="won", period="week")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="pair"):
        metrics.trend(log(), plain_pipeline(), measure="conversion", stages=("a",))  # type: ignore[arg-type]
    with pytest.raises(UnknownStageError):
        metrics.trend(log(), plain_pipeline(), measure="conversion", stages=("a", "zz"))
    with pytest.raises(DataError):
        metrics.trend(log(), plain_pipeline(), measure="won", by="nope")


def test_two_proportions_textbook() -> None:
    # 45/100 against 60/100: pooled 0.525, se = √(0.525·0.475·0.02) = 0.07062, z = 2.124
    assert two_proportions(45, 100, 60, 100) == pytest.approx(0.03367, abs=1e-4)
    assert two_proportions(0, 0, 1, 2) is None
    assert two_proportions(0, 3, 0, 4) == 1.0


def test_mann_whitney_against_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    a = [1.0, 2.5, 3.0, 3.0, 7.0, 8.5]
    b = [2.0, 3.0, 9.0, 10.0, 11.0, 12.5, 14.0]
    want = scipy_stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").pvalue
    assert mann_whitney(a, b) == pytest.approx(want)
    assert mann_whitney([], b) is None
    assert mann_whitney([1.0, 1.0], [1.0]) == 1.0


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.floats(0, 100), min_size=1, max_size=12),
    st.lists(st.floats(0, 100), min_size=1, max_size=12),
)
def test_mann_whitney_is_a_symmetric_probability(a: list[float], b: list[float]) -> None:
    p = mann_whitney(a, b)
    assert p is not None
    assert 0 <= p <= 1
    assert p == pytest.approx(mann_whitney(b, a))


def test_rows_print() -> None:
    rows = metrics.trend(log(), plain_pipeline(), measure="win_rate")
    assert str(rows[1]).startswith("2026-02: 0.667 (change 0.167")
    assert rows[0].to_records()[0]["period"] == "2026-01"
    assert timedelta(0) < rows[1].end - rows[1].start
