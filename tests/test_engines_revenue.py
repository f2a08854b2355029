"""Recurring revenue on an Ibis table agrees with the pure-Python engine (issue 25,
CONTRACT §10, §19): ARR, accounts, the movement, retention and cohorts."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from _engines import assert_same, close_all, loader
from salesstages import Event, metrics
from test_revenue import AS_OF, CONTRACTS, LOG, P, _drawn, at, quarter

pytest.importorskip("ibis")

_LOADERS: dict[str, Callable[[Sequence[Event]], Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_connections() -> Iterator[None]:
    """Close the loaders' connections when the module is done."""
    yield
    _LOADERS.clear()
    close_all()


@pytest.fixture(
    scope="module",
    params=[
        "duckdb",
        "postgres",
        pytest.param(
            "spark",
            marks=(
                pytest.mark.slow,
                pytest.mark.filterwarnings("ignore::ResourceWarning"),
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
            ),
        ),
    ],
)
def load(request: pytest.FixtureRequest) -> Callable[[Sequence[Event]], Any]:
    """Events → an Ibis table on one backend (PostgreSQL and Spark from conftest)."""
    name: str = request.param
    return loader(_LOADERS, name, request)


def _calls(period: dict[str, Any]) -> list[Callable[[Any], Any]]:
    return [
        lambda ev: metrics.arr(ev, P, as_of=AS_OF),
        lambda ev: metrics.arr(ev, P, as_of=at("2026-07-01T12:00"), by="account"),
        lambda ev: metrics.accounts(ev, P, as_of=AS_OF),
        lambda ev: metrics.accounts(ev, P, as_of=at("2027-01-15")),
        lambda ev: metrics.revenue_movement(ev, P, **period, as_of=AS_OF),
        lambda ev: metrics.revenue_movement(ev, P, **period, by="account"),
        lambda ev: metrics.retention(ev, P, **period, as_of=AS_OF),
        lambda ev: metrics.retention(ev, P, **period, by="account"),
        lambda ev: metrics.cohort_retention(ev, P, as_of=AS_OF),
        lambda ev: metrics.cohort_retention(ev, P, period="month"),
    ]


@pytest.mark.parametrize(
    "period", [quarter(2026, 3), quarter(2027, 1), {"start": date(2026, 4, 1), "end": AS_OF}]
)
def test_hand_log_agrees(load: Callable[[Sequence[Event]], Any], period: dict[str, Any]) -> None:
    """Every revenue figure of the hand-computed log is the same on the table."""
    table = load(LOG)
    for call in _calls(period):
        assert_same(call(table), call(LOG))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(CONTRACTS)
def test_drawn_contracts_agree(
    load: Callable[[Sequence[Event]], Any], contracts: list[tuple[str, int, int, int, int]]
) -> None:
    """Drawn contracts give the same movement, retention and cohorts on the table."""
    log = _drawn(contracts)
    if not log:
        return
    table = load(log)
    period = {"start": date(2026, 7, 1), "end": date(2027, 7, 1)}
    for call in _calls(period)[4:]:
        assert_same(call(table), call(log))
