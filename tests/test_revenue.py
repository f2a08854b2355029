"""Recurring revenue (issue 25, CONTRACT §19): ARR, accounts, the revenue movement,
retention and cohorts, hand-computed on a log where one account is new, expands,
contracts, churns and comes back, quarter after quarter, beside one that renews."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import plain_pipeline
from salesstages import DataError, Event, metrics
from salesstages.metrics import AccountRow, Tally
from salesstages.metrics._revenue_types import MOVEMENT_LINES

P = plain_pipeline()
US = timedelta(microseconds=1)


def at(text: str) -> datetime:
    """An ISO date or date-time, UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def won_deal(deal_id: str, opened: str, won: str, **attributes: Any) -> list[Event]:
    """A deal opened on ``opened`` and won on ``won`` holding ``attributes``."""
    deal = P.open_deal(deal_id, at=at(opened), **attributes)
    deal.win(at=at(won))
    return list(deal.events)


def book_log() -> list[Event]:
    """acme: new in 2026-Q1 (10,000), expands in Q2 (+5,000), renews smaller in Q3
    (8,000), lets it lapse in Q4 and comes back in 2027-Q1 (9,000). bolt: 6,000 all
    along (renewed). cyan: one open deal, never active."""
    log: list[Event] = []
    log += won_deal(
        "A1", "2025-12-01", "2026-01-10",
        account="acme", deal_type="new", arr=10_000,
        contract_start="2026-01-15", contract_end="2026-07-02",
    )  # fmt: skip
    log += won_deal(
        "A2", "2026-04-01", "2026-04-20",
        account="acme", deal_type="expansion", arr=5_000,
        contract_start="2026-05-01", contract_end="2026-07-02",
    )  # fmt: skip
    log += won_deal(
        "A3", "2026-06-01", "2026-06-25",
        account="acme", deal_type="renewal", arr=8_000,
        contract_start="2026-07-02", contract_end="2026-10-02",
    )  # fmt: skip
    log += won_deal(
        "A4", "2027-01-20", "2027-02-10",
        account="acme", deal_type="renewal", arr=9_000,
        contract_start="2027-02-15", contract_end="2028-02-15",
    )  # fmt: skip
    log += won_deal(
        "B1", "2025-10-01", "2025-11-01",
        account="bolt", deal_type="new", arr=6_000,
        contract_start="2025-11-01", contract_end="2026-11-01",
    )  # fmt: skip
    log += won_deal(
        "B2", "2026-10-01", "2026-10-20",
        account="bolt", deal_type="renewal", arr=6_000,
        contract_start="2026-11-01", contract_end="2027-11-01",
    )  # fmt: skip
    log += list(P.open_deal("C1", at=at("2027-03-01"), account="cyan", deal_type="new").events)
    return log


LOG = book_log()
AS_OF = at("2027-04-15")


def quarter(year: int, q: int) -> dict[str, date]:
    """``start`` and ``end`` of a calendar quarter."""
    first = date(year, 3 * q - 2, 1)
    nxt = date(year + (q == 4), 1 if q == 4 else 3 * q + 1, 1)
    return {"start": first, "end": nxt}


def test_arr_at_an_instant() -> None:
    """ARR counts won deals whose contract covers the instant's day (end exclusive)."""
    # acme A4 9,000 (2027-02-15 to 2028-02-15) + bolt B2 6,000 = 15,000
    assert metrics.arr(LOG, P, as_of=AS_OF) == 15_000.0
    # 2026-07-01: A1 10,000 and A2 5,000 still run (they end 2026-07-02), bolt 6,000
    assert metrics.arr(LOG, P, as_of=at("2026-07-01T12:00")) == 21_000.0
    # 2026-07-02: A1, A2 ended; A3 8,000 starts; bolt 6,000 = 14,000
    assert metrics.arr(LOG, P, as_of=at("2026-07-02")) == 14_000.0
    # A1 is won on 2026-01-10 but its contract starts on 2026-01-15: only bolt
    assert metrics.arr(LOG, P, as_of=at("2026-01-12")) == 6_000.0
    assert metrics.arr(LOG, P, as_of=AS_OF, by="account") == {
        "acme": 9_000.0,
        "bolt": 6_000.0,
        "cyan": 0.0,
    }


def test_the_movement_quarter_by_quarter() -> None:
    """New, expansion, contraction, churn and reactivation of acme, bolt flat at 6,000."""
    q = [quarter(2026, 1), quarter(2026, 2), quarter(2026, 3), quarter(2026, 4)]
    q.append(quarter(2027, 1))
    moves = [metrics.revenue_movement(LOG, P, **period, as_of=AS_OF) for period in q]
    # 2026-Q1: a(acme) = 0 at Jan 1, b = 10,000 at Apr 1, never before: new
    assert moves[0].opening == Tally(1, 6_000.0)
    assert moves[0].new == Tally(1, 10_000.0)
    assert moves[0].closing == Tally(2, 16_000.0)  # 6,000 + 10,000
    assert moves[0].quick_ratio is None  # nothing lost
    # 2026-Q2: 10,000 → 15,000 at Jul 1 (A1 + A2): expansion 5,000
    assert moves[1].expansion == Tally(1, 5_000.0)
    assert moves[1].closing == Tally(2, 21_000.0)
    # 2026-Q3: 15,000 → 8,000 at Oct 1 (A3): contraction 7,000; quick ratio 0 / 7,000
    assert moves[2].contraction == Tally(1, 7_000.0)
    assert moves[2].closing == Tally(2, 14_000.0)
    assert moves[2].quick_ratio == 0.0
    # 2026-Q4: 8,000 → 0 at Jan 1 2027 (A3 ended Oct 2): churn 8,000
    assert moves[3].churn == Tally(1, 8_000.0)
    assert moves[3].closing == Tally(1, 6_000.0)
    # 2027-Q1: 0 → 9,000 at Apr 1 (A4), ARR before Jan 1: reactivation, not new
    assert moves[4].reactivation == Tally(1, 9_000.0)
    assert moves[4].new == Tally(0, 0.0)
    assert moves[4].closing == Tally(2, 15_000.0)
    for m in moves:
        gained = m.new.amount + m.reactivation.amount + m.expansion.amount
        lost = m.contraction.amount + m.churn.amount
        assert m.closing.amount == m.opening.amount + gained - lost


def test_the_movement_over_a_year_nets_out() -> None:
    """Over 2026 as a whole acme goes 0 → 0 (new at Jan 15, gone by Jan 1): nothing moves
    for it; bolt stays; the printed table names every line and the quick ratio."""
    m = metrics.revenue_movement(LOG, P, start=date(2026, 1, 1), end=date(2027, 1, 1))
    assert m.opening == m.closing == Tally(1, 6_000.0)
    assert m.new == m.churn == Tally(0, 0.0)
    assert "reactivation" in str(m)
    assert "quick ratio" in str(m)
    assert [r["line"] for r in m.to_records()] == list(MOVEMENT_LINES)


def test_retention_over_the_trailing_year() -> None:
    """[2026-04-01, 2027-04-01): acme 10,000 → 9,000, bolt 6,000 → 6,000."""
    r = metrics.retention(LOG, P, start=date(2026, 4, 1), end=date(2027, 4, 1), as_of=AS_OF)
    assert (r.accounts, r.retained) == (2, 2)
    assert r.nrr == 15_000 / 16_000  # 0.9375
    assert r.grr == (9_000 + 6_000) / 16_000  # min(10,000, 9,000) + min(6,000, 6,000)
    assert r.logo_retention == 1.0
    assert r.lifetime_value() is None  # no account churned
    assert "NRR 93.8%" in str(r)


def test_retention_with_a_churned_account_and_its_lifetime_value() -> None:
    """[2026-07-01, 2027-01-01): acme 15,000 → 0, bolt 6,000 → 6,000; LTV annualises
    the half-year's logo retention."""
    r = metrics.retention(LOG, P, start=date(2026, 7, 1), end=date(2027, 1, 1), as_of=AS_OF)
    assert r.nrr == 6_000 / 21_000
    assert r.grr == 6_000 / 21_000
    assert r.logo_retention == 0.5
    years = 184 / 365.25  # Jul 1 to Jan 1
    churn = 1 - 0.5 ** (1 / years)  # 1 - 0.25... per year
    ltv = r.lifetime_value(gross_margin=0.8)
    assert ltv == pytest.approx(21_000 / 2 * 0.8 / churn)
    with pytest.raises(ValueError, match="gross_margin"):
        r.lifetime_value(gross_margin=1.5)


def test_retention_with_no_cohort_is_none_with_a_reason() -> None:
    """No account had ARR at the start: the ratios are None, never 0."""
    r = metrics.retention(LOG, P, start=date(2025, 1, 1), end=date(2025, 6, 1))
    assert (r.nrr, r.grr, r.logo_retention) == (None, None, None)
    assert r.reason is not None
    assert "no account had ARR" in r.reason
    assert "not measured" in str(r)


def test_grr_never_exceeds_nrr_or_one_on_expansion() -> None:
    """[2026-04-01, 2026-07-01): acme expands 10,000 → 15,000: NRR above 1, GRR 1."""
    r = metrics.retention(LOG, P, **quarter(2026, 2))
    assert r.nrr == 21_000 / 16_000
    assert r.grr == 1.0


def test_accounts_at_as_of() -> None:
    """Each account's ARR, status, first win, deals and renewal date."""
    rows = metrics.accounts(LOG, P, as_of=AS_OF)
    assert rows == [
        AccountRow(
            account="acme", arr=9_000.0, status="active", first_won=at("2026-01-10"),
            deals=4, renewal_due=date(2028, 2, 15),
        ),
        AccountRow(
            account="bolt", arr=6_000.0, status="active", first_won=at("2025-11-01"),
            deals=2, renewal_due=date(2027, 11, 1),
        ),
        AccountRow(
            account="cyan", arr=0.0, status="never_active", first_won=None,
            deals=1, renewal_due=None,
        ),
    ]  # fmt: skip
    lapsed = {r.account: r.status for r in metrics.accounts(LOG, P, as_of=at("2027-01-15"))}
    assert lapsed == {"acme": "churned", "bolt": "active"}  # cyan opens on 2027-03-01
    assert "renewal due 2028-02-15" in str(rows[0])


def test_cohort_retention_by_quarter() -> None:
    """acme's cohort is 2026-Q1 (first ARR 10,000 on Jan 15), measured at each quarter's
    end: 10,000, 15,000, 8,000, 0, 9,000, and 9,000 at as_of in 2027-Q2."""
    rows = [r for r in metrics.cohort_retention(LOG, P, as_of=AS_OF) if r.cohort == "2026-Q1"]
    assert [r.periods_since for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r.net_retained for r in rows] == [1.0, 1.5, 0.8, 0.0, 0.9, 0.9]
    assert [r.gross_retained for r in rows] == [1.0, 1.0, 0.8, 0.0, 0.9, 0.9]
    assert [r.logos_retained for r in rows] == [1, 1, 1, 0, 1, 1]
    cohorts = {r.cohort for r in metrics.cohort_retention(LOG, P, period="year", as_of=AS_OF)}
    assert cohorts == {"2025", "2026"}
    with pytest.raises(ValueError, match="period"):
        metrics.cohort_retention(LOG, P, period="week")  # type: ignore[arg-type]


def test_a_won_deal_without_account_or_dates_is_its_own_account() -> None:
    """No account: the deal's id; no contract_start: from its win; no end: runs on."""
    log = won_deal("X1", "2026-01-01", "2026-02-01T10:00", arr=1_200)
    assert metrics.arr(log, P, as_of=at("2026-02-01T09:00")) == 0.0
    assert metrics.arr(log, P, as_of=at("2030-01-01")) == 1_200.0
    assert [r.account for r in metrics.accounts(log, P)] == ["X1"]


def test_overlapping_contracts_add_up() -> None:
    """Two contracts of one account over the same days add."""
    log = won_deal("O1", "2026-01-01", "2026-01-02", account="o", arr=100)
    log += won_deal("O2", "2026-01-01", "2026-01-03", account="o", arr=50)
    assert metrics.arr(log, P, as_of=at("2026-02-01")) == 150.0


def test_a_period_ending_before_it_starts_is_refused() -> None:
    """end before start is a DataError, as for every period."""
    with pytest.raises(DataError, match="before start"):
        metrics.revenue_movement(LOG, P, start=date(2026, 4, 1), end=date(2026, 1, 1))


# ----------------------------------------------------------------- properties
CONTRACTS = st.lists(
    st.tuples(
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 700),  # won, days after 2026-01-01
        st.integers(0, 60),  # contract start, days after the win
        st.integers(1, 500),  # length in days
        st.integers(0, 50_000),  # arr
    ),
    max_size=10,
)


def _drawn(contracts: list[tuple[str, int, int, int, int]]) -> list[Event]:
    base = at("2026-01-01")
    log: list[Event] = []
    for i, (account, won, lag, length, value) in enumerate(contracts):
        won_at = base + timedelta(days=won)
        first = won_at.date() + timedelta(days=lag)
        deal = P.open_deal(
            f"D{i}", at=won_at - timedelta(days=3), account=account, arr=value,
            contract_start=first, contract_end=first + timedelta(days=length),
        )  # fmt: skip
        deal.win(at=won_at)
        log += deal.events
    return log


@settings(max_examples=60, deadline=None)
@given(CONTRACTS, st.integers(0, 800), st.integers(0, 400))
def test_movement_identity_and_retention_bounds(
    contracts: list[tuple[str, int, int, int, int]], offset: int, length: int
) -> None:
    """closing = opening + new + reactivation + expansion - contraction - churn exactly
    (accounts and whole-unit ARR); 0 <= grr <= 1 and grr <= nrr."""
    log = _drawn(contracts)
    start = date(2026, 1, 1) + timedelta(days=offset)
    period = {"start": start, "end": start + timedelta(days=length)}
    m = metrics.revenue_movement(log, P, **period, as_of=at("2029-01-01"))
    gained = m.new.count + m.reactivation.count
    assert m.closing.count == m.opening.count + gained - m.churn.count
    amounts = m.new.amount + m.reactivation.amount + m.expansion.amount
    assert m.closing.amount == m.opening.amount + amounts - m.contraction.amount - m.churn.amount
    r = metrics.retention(log, P, **period, as_of=at("2029-01-01"))
    if r.nrr is None:
        assert r.reason is not None
    else:
        assert r.grr is not None
        assert 0 <= r.grr <= 1
        assert r.grr <= r.nrr
