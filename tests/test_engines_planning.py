"""forecast.categories, forecast.coverage, metrics.slippage and metrics.movement on
an Ibis table agree with the pure-Python engine (issue 14, CONTRACT §10)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _engines import assert_same, close_all, loader
from _helpers import T0, day, plain_pipeline
from salesstages import Event, forecast, metrics
from salesstages._simulate import simulate
from salesstages.presets import inbound_b2b
from salesstages.testing import events as event_logs
from test_planning import Q1, category_log, category_pipeline, movement_log, slippage_log

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


def test_hand_log_agrees(load: Callable[[Sequence[Event]], Any]) -> None:
    """The hand-computed log gives the same categories and coverage on the backend."""
    events = category_log()
    p = category_pipeline()
    table = load(events)
    for as_of in (day(30), day(45), None):
        assert forecast.categories(
            table, p, start=Q1[0], end=Q1[1], as_of=as_of
        ) == forecast.categories(events, p, start=Q1[0], end=Q1[1], as_of=as_of)
    targets = {"ana": 1000, "bob": 2000, "cy": 10}
    assert_same(
        forecast.coverage(
            table, p, start=Q1[0], end=Q1[1], target=targets, by="owner", as_of=day(30)
        ),
        forecast.coverage(
            events, p, start=Q1[0], end=Q1[1], target=targets, by="owner", as_of=day(30)
        ),
    )
    assert_same(
        forecast.coverage(table, p, start=Q1[0], end=Q1[1], target=1000, as_of=day(30)),
        forecast.coverage(events, p, start=Q1[0], end=Q1[1], target=1000, as_of=day(30)),
    )


def test_simulated_quarter_agrees(load: Callable[[Sequence[Event]], Any]) -> None:
    """A simulated quarter with slipping close dates agrees, by month and by owner."""
    p = inbound_b2b()
    events = simulate(p, deals=150, start=datetime(2026, 1, 1, tzinfo=UTC), days=90, seed=5)
    table = load(events)
    as_of = datetime(2026, 3, 10, tzinfo=UTC)
    for start, end in [Q1, (date(2026, 3, 1), date(2026, 4, 1)), (day(3), day(70))]:
        got = forecast.categories(table, p, start=start, end=end, as_of=as_of)
        want = forecast.categories(events, p, start=start, end=end, as_of=as_of)
        assert_same(got, want)
    targets = {"ana": 1e5, "ben": 2e5, "nobody": 1.0}
    assert_same(
        forecast.coverage(
            table, p, start=Q1[0], end=Q1[1], target=targets, by="owner", as_of=as_of
        ),
        forecast.coverage(
            events, p, start=Q1[0], end=Q1[1], target=targets, by="owner", as_of=as_of
        ),
    )


def test_slippage_agrees(load: Callable[[Sequence[Event]], Any]) -> None:
    """Slipping deals on the backend are the pure-Python engine's, at several dates."""
    p = inbound_b2b()
    events = simulate(p, deals=150, start=datetime(2026, 1, 1, tzinfo=UTC), days=90, seed=5)
    table = load(events)
    for as_of in (datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC), None):
        want = metrics.slippage(events, p, as_of=as_of)
        assert metrics.slippage(table, p, as_of=as_of) == want
        assert any(s.pushes for s in want)
    hand = slippage_log()
    assert metrics.slippage(load(hand), plain_pipeline(), as_of=day(30)) == metrics.slippage(
        hand, plain_pipeline(), as_of=day(30)
    )


def test_movement_agrees(load: Callable[[Sequence[Event]], Any]) -> None:
    """The movement on the backend is the pure-Python engine's: the hand log, by
    owner, and a simulated quarter over several periods."""
    hand = movement_log()
    p = plain_pipeline()
    table = load(hand)
    assert metrics.movement(table, p, start=day(10), end=day(20)) == metrics.movement(
        hand, p, start=day(10), end=day(20)
    )
    assert_same(
        metrics.movement(table, p, start=day(10), end=day(20), by="owner"),
        metrics.movement(hand, p, start=day(10), end=day(20), by="owner"),
    )
    q = inbound_b2b()
    events = simulate(q, deals=150, start=datetime(2026, 1, 1, tzinfo=UTC), days=90, seed=5)
    sim = load(events)
    for start, end in [Q1, (date(2026, 2, 1), date(2026, 3, 1)), (day(3), day(40))]:
        want = metrics.movement(events, q, start=start, end=end)
        assert_same(metrics.movement(sim, q, start=start, end=end), want)
        assert want.won.count > 0
        assert_same(
            metrics.movement(sim, q, start=start, end=end, by="lead_source"),
            metrics.movement(events, q, start=start, end=end, by="lead_source"),
        )


AMOUNTS = st.integers(0, 10_000)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    log=event_logs(
        plain_pipeline(allow_regress=True),
        max_deals=5,
        max_steps=10,
        span=timedelta(days=40),
        max_gap=timedelta(days=5),
        fields={"amount": AMOUNTS},
        attributes=st.fixed_dictionaries({"amount": AMOUNTS}),
    ),
    a=st.integers(-3, 45),
    length=st.integers(0, 60),
    cut=st.none() | st.integers(-2, 50),
)
def test_drawn_movement_agrees(
    load: Callable[[Sequence[Event]], Any], log: list[Event], a: int, length: int, cut: int | None
) -> None:
    """On drawn logs (equal timestamps included), periods and as_of, the backend's
    movement, categories' closed and period status are the pure-Python engine's."""
    p = plain_pipeline(allow_regress=True)
    start = T0 + timedelta(days=a)
    end = start + timedelta(hours=12 * length)
    as_of = None if cut is None else T0 + timedelta(days=cut)
    table = load(log)
    assert_same(
        metrics.movement(table, p, start=start, end=end, as_of=as_of),
        metrics.movement(log, p, start=start, end=end, as_of=as_of),
    )
    assert_same(
        forecast.categories(table, p, start=start, end=end, as_of=as_of),
        forecast.categories(log, p, start=start, end=end, as_of=as_of),
    )
