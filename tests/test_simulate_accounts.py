"""The account simulator (issue 25): three years of new business, renewals with churn
and contraction, and expansions, with the success journeys of the bow-tie."""

from __future__ import annotations

from datetime import UTC, datetime

from salesstages import metrics, presets
from salesstages._simulate_accounts import simulate_accounts

P = presets.classic_b2b()
S = presets.customer_success()
START = datetime(2024, 1, 1, tzinfo=UTC)


def test_three_years_of_accounts_replay_and_move() -> None:
    """Both logs replay strictly (the success log's criteria hold), and the movement
    over the third year shows renewals, churn and expansion."""
    sales, success = simulate_accounts(P, S, accounts=80, start=START, seed=3)
    P.replay(sales)
    S.replay(success)
    assert S.check(success, guards=True) == []
    move = metrics.revenue_movement(
        sales, P, start=datetime(2026, 1, 1, tzinfo=UTC), end=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert move.opening.count > 0
    assert move.churn.count > 0
    assert move.expansion.count + move.contraction.count > 0
    kinds = {e.data.get("deal_type") for e in sales if e.kind == "opened"}
    assert kinds == {"new", "renewal", "expansion"}
    assert {e.deal_id for e in success} <= {a.account for a in metrics.accounts(sales, P)}


def test_the_simulator_is_deterministic() -> None:
    """The same seed gives the same logs."""
    one = simulate_accounts(P, S, accounts=10, start=START, seed=5)
    two = simulate_accounts(P, S, accounts=10, start=START, seed=5)
    assert one == two
