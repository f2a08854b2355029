"""How the metrics' result records print: ``str`` in days with one decimal and percentages.

Every expected text is worked out from the log in ``test_metrics.py``.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from salesstages import metrics
from salesstages.metrics import DurationStats, Ratio, SnapshotRow, Stall
from test_metrics import EVENTS, P, day

D = timedelta(days=1)


def test_duration_stats_in_days() -> None:
    """Time in proposal prints as days with one decimal, not as a timedelta."""
    stats = metrics.stage_durations(EVENTS, P)["proposal"]
    # completed proposal visits: A d5→d10 (5), B d3→d4 (1), C d4→d6 (2), C d9→d12 (3);
    # F is still there (open). Sorted 1, 2, 3, 5: median (2 + 3) / 2 = 2.5,
    # p90 = 3 + 0.7 × (5 − 3) = 4.4, mean 11 / 4 = 2.75 → "2.8".
    assert str(stats) == "median 2.5 days, p90 4.4 days, mean 2.8 days (n=4, 1 open)"


def test_duration_stats_of_nothing() -> None:
    """No durations prints as such, with the open count."""
    empty = DurationStats(
        count=0, open_count=3, mean=None, median=None, p90=None, min=None, max=None
    )
    assert str(empty) == "no durations (n=0, 3 open)"


def test_ratio_and_funnel_row() -> None:
    """A win rate prints as a percentage with its parts; a funnel row with its rates."""
    # closed: A won, B lost, C won, E lost (D was reopened): 2 of 4.
    assert str(metrics.win_rate(EVENTS, P)) == "50.0% (2 of 4)"
    assert str(Ratio(numerator=1234.5, denominator=0, rate=None)) == "– (1,234.50 of 0)"
    row = metrics.funnel(EVENTS, P)[0]
    # 6 of 7 went on (G is still a lead); 2 won of the 4 closed.
    assert str(row) == "lead: 7 reached, 85.7% converted, 50.0% won"


def test_snapshot_stall_and_visit() -> None:
    """Snapshot rows, stalls and visits print with amounts and days."""
    assert str(SnapshotRow(count=2, amount=70.0)) == "2 open deals, amount 70"
    assert str(Stall(deal_id="D", stage="qualified", idle=5 * D)) == (
        "D in qualified, idle 5.0 days"
    )
    visit = metrics.visits(EVENTS, P)[0]
    assert str(visit) == (
        f"A in lead {day(0):%Y-%m-%d %H:%M} → {day(2):%Y-%m-%d %H:%M} (2.0 days), then qualified"
    )
    still = next(v for v in metrics.visits(EVENTS, P) if v.is_open and v.deal_id == "G")
    assert str(still).endswith("(1.0 days so far)")  # G opened d11, as_of d12


def test_substate_visit_and_flow() -> None:
    """A sub-state visit names stage/sub-state; a stage flow counts skips and regressions."""
    sub = metrics.substate_visits(EVENTS, P)[0]
    assert str(sub).startswith("A in proposal/review ")
    assert str(sub).endswith("(2.0 days)")  # d6 → d8
    flow = metrics.skips_and_regressions(EVENTS, P)[1]
    # qualified: entered by A, C, D, E; B and F jumped lead → proposal over it.
    assert (
        str(flow) == "qualified: 4 entered, 2 skipped (2 moves), 0 regressed (0 moves), 0 reopened"
    )


@given(st.integers(min_value=0, max_value=10**9))
def test_days_have_one_decimal(seconds: int) -> None:
    """Any duration prints as a number of days with exactly one decimal."""
    td = timedelta(seconds=seconds)
    stats = DurationStats(count=1, open_count=0, mean=td, median=td, p90=td, min=td, max=td)
    text = str(stats)
    number = text.split()[1]
    assert number == f"{seconds / 86400:.1f}"
    assert ":" not in text
