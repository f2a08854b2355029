"""One period rule (issue 22, CONTRACT §17): ``[start, min(end, as_of⁺))`` for movement,
categories, coverage, slippage and the backtest, on both engines, with hand-computed
figures at midnight boundaries (events exactly at ``start``, at ``end``, at ``as_of``)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _helpers import T0, plain_pipeline
from salesstages import Event, MemoryStore, Pipeline, Stage, forecast, metrics
from salesstages.forecast import _planning as forecast_planning
from salesstages.forecast._backtest import NO_ESTIMATE
from salesstages.metrics import Tally
from salesstages.testing import events as event_logs

US = timedelta(microseconds=1)
DAY = timedelta(days=1)


def at(text: str) -> datetime:
    """An ISO date or date-time, UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


Q2 = (date(2026, 4, 1), date(2026, 7, 1))


def boundary_pipeline() -> Pipeline:
    """a (no default) → b (best case) → c (commit) → won / lost."""
    return Pipeline(
        "bounds",
        [
            Stage("a"),
            Stage("b", forecast_category="best_case"),
            Stage("c", forecast_category="commit"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def boundary_log() -> list[Event]:
    """Six deals around 2026-Q2 = [Apr 1, Jul 1) with events exactly at its midnights."""
    p = boundary_pipeline()
    s = MemoryStore()
    e1 = p.open_deal("E1", at=at("2026-03-01"), store=s, amount=100, close_date="2026-06-15")
    e1.win(at=at("2026-04-01"))  # exactly at start: in the period
    p.open_deal("E2", at=at("2026-04-01"), store=s, amount=200, close_date="2026-05-10")
    e3 = p.open_deal(
        "E3", at=at("2026-03-10"), store=s, stage="c", amount=300, close_date="2026-06-30"
    )
    e3.lose(at=at("2026-07-01"), reason="late")  # exactly at end: after the period
    e4 = p.open_deal("E4", at=at("2026-03-15"), store=s, amount=400, close_date="2026-05-01")
    e4.win(at=at("2026-05-20T12:00"))  # the as_of of some tests
    p.open_deal("E5", at=at("2026-07-01"), store=s, amount=500)  # opened at end
    e6 = p.open_deal(
        "E6", at=at("2026-02-01"), store=s, stage="b", amount=600, close_date="2026-04-15"
    )
    e6.update(at=at("2026-04-01"), close_date="2026-06-20")  # pushed at start: counts
    e6.update(at=at("2026-07-01"), close_date="2026-07-10")  # pushed at end: does not
    return list(s.events())


_LOADERS: dict[str, Callable[[Sequence[Event]], Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_connections() -> Iterator[None]:
    """Close the DuckDB connection when the module is done."""
    yield
    if _LOADERS:
        from _engines import close_all

        _LOADERS.clear()
        close_all()


@pytest.fixture(params=["python", "duckdb", "postgres"])
def load(request: pytest.FixtureRequest) -> Callable[[Sequence[Event]], Any]:
    """Events → what each engine reads: the events themselves, or a DuckDB or
    PostgreSQL table (PostgreSQL from conftest's throw-away server)."""
    name: str = request.param
    if name == "python":
        return lambda events: list(events)
    pytest.importorskip("ibis")
    if name not in _LOADERS:
        from _engines import duckdb_loader, postgres_loader

        if name == "duckdb":
            pytest.importorskip("duckdb")
            _LOADERS[name] = duckdb_loader()
        else:
            _LOADERS[name] = postgres_loader(request.getfixturevalue("pg_conninfo"))
    return _LOADERS[name]


# ------------------------------------------------------------------- midnights
def test_movement_at_the_midnights(load: Callable[[Sequence[Event]], Any]) -> None:
    """Events at start count, events at end do not; opening is the state just before start."""
    data, p = load(boundary_log()), boundary_pipeline()
    m = metrics.movement(data, p, start=Q2[0], end=Q2[1])
    # opening (before Apr 1 00:00): E1 100 + E3 300 + E4 400 + E6 600 = (4, 1400)
    assert m.opening == (4, 1400.0)
    assert m.created == (1, 200.0)  # E2 at start; E5 at end is not in the period
    assert m.won == (2, 500.0)  # E1 at start 100 + E4 400
    assert m.lost == (0, 0.0)  # E3 is lost at end: after the period
    assert m.reopened == m.increased == m.decreased == (0, 0.0)
    # closing: E2 200 + E3 300 + E6 600 = (3, 1100); 4 + 1 - 2 = 3, 1400 + 200 - 500 = 1100
    assert m.closing == (3, 1100.0)
    assert m.period is not None
    assert (m.period.state, m.period.closing, m.period.note) == ("ended", at("2026-07-01"), None)


def test_movement_counts_events_at_as_of(load: Callable[[Sequence[Event]], Any]) -> None:
    """E4's win at as_of counts; one microsecond earlier it does not."""
    data, p = load(boundary_log()), boundary_pipeline()
    as_of = at("2026-05-20T12:00")
    m = metrics.movement(data, p, start=Q2[0], end=Q2[1], as_of=as_of)
    assert (m.won, m.closing) == ((2, 500.0), (3, 1100.0))
    assert m.period is not None
    assert (m.period.state, m.period.closing) == ("in_progress", as_of + US)
    before = metrics.movement(data, p, start=Q2[0], end=Q2[1], as_of=as_of - US)
    # E4 still open: won E1 only; closing E2 200 + E3 300 + E4 400 + E6 600 = (4, 1500)
    assert (before.won, before.closing) == ((1, 100.0), (4, 1500.0))


def test_categories_and_coverage_at_the_midnights(load: Callable[[Sequence[Event]], Any]) -> None:
    """Categories take the deals at the closing instant; closed equals movement's won."""
    data, p = load(boundary_log()), boundary_pipeline()
    cats = forecast.categories(data, p, start=Q2[0], end=Q2[1])
    assert cats == {
        "closed": Tally(2, 500.0),  # E1 (at start) + E4
        "commit": Tally(1, 300.0),  # E3 (stage c), lost only at end
        "best_case": Tally(1, 600.0),  # E6 (stage b): its close date then is Jun 20
        "pipeline": Tally(1, 200.0),  # E2
        "omitted": Tally(0, 0.0),
    }
    assert isinstance(cats["closed"], Tally)
    assert cats["closed"] == metrics.movement(data, p, start=Q2[0], end=Q2[1]).won
    cov = forecast.coverage(data, p, start=Q2[0], end=Q2[1], target=2000)
    # won 500, remaining 1500, open 300 + 600 + 200 = 1100: coverage 1100 / 1500
    assert (cov.won, cov.remaining, cov.open_amount) == (500.0, 1500.0, 1100.0)
    assert cov.coverage == pytest.approx(1100 / 1500)
    assert cov.reason is None
    # as of E4's win minus 1 µs: E4 is open (stage a, close date May 1) and not won
    early = forecast.categories(data, p, start=Q2[0], end=Q2[1], as_of=at("2026-05-20T12:00") - US)
    assert early["closed"] == (1, 100.0)
    assert early["pipeline"] == (2, 600.0)  # E2 200 + E4 400


def test_slippage_in_a_period(load: Callable[[Sequence[Event]], Any]) -> None:
    """Only pushes in [start, closing) count; overdue against the period's last day."""
    data, p = load(boundary_log()), boundary_pipeline()
    got = metrics.slippage(data, p, start=Q2[0], end=Q2[1])
    # E6: Apr 15 -> Jun 20 at start (the push at end is after the period): 66 days,
    # overdue on Jun 30; E2: May 10 < Jun 30, never pushed; E3: Jun 30 is not overdue
    assert [(s.deal_id, s.pushes, s.days_slipped, s.overdue) for s in got] == [
        ("E6", 1, 66, True),
        ("E2", 0, 0, True),
    ]
    assert got[0].first_close_date == date(2026, 4, 15)
    assert got[0].close_date == date(2026, 6, 20)
    # without a period, as of the last event: E6 pushed twice (to Jul 10), E2 overdue
    whole = metrics.slippage(data, p)
    assert [(s.deal_id, s.pushes, s.days_slipped) for s in whole] == [("E6", 2, 86), ("E2", 0, 0)]


def test_period_not_started_and_before_data(load: Callable[[Sequence[Event]], Any]) -> None:
    """A period after as_of, or before the first event, is said so, not shown as zeros."""
    data, p = load(boundary_log()), boundary_pipeline()
    m = metrics.movement(data, p, start=Q2[0], end=Q2[1], as_of=at("2026-03-20"))
    assert m.period is not None
    assert m.period.state == "not_started"
    assert m.period.note is not None
    assert "has not started at as_of 2026-03-20" in m.period.note
    # nothing moves; opening and closing are the state at as_of: E1, E3, E4, E6
    assert m.opening == m.closing == (4, 1400.0)
    assert m.created == m.won == (0, 0.0)
    assert metrics.slippage(data, p, start=Q2[0], end=Q2[1], as_of=at("2026-03-20")) == []
    old = metrics.period_status(data, p, start=date(2025, 1, 1), end=date(2025, 4, 1))
    assert (old.state, old.measured) == ("before_data", False)
    assert old.note is not None
    assert "ends before the first event (2026-02-01" in old.note
    now = metrics.period_status(data, p, start=Q2[0], end=Q2[1])
    assert (now.state, now.measured, now.first_event) == ("ended", True, at("2026-02-01"))


def test_no_data_is_said() -> None:
    """An empty log has no period to measure."""
    got = metrics.period_status([], boundary_pipeline(), start=Q2[0], end=Q2[1])
    assert (got.state, got.closing, got.as_of) == ("no_data", None, None)


def test_coverage_unknown_is_none_with_a_reason(load: Callable[[Sequence[Event]], Any]) -> None:
    """No open deal closing in the period: coverage None (not 0), with the reason."""
    data, p = load(boundary_log()), boundary_pipeline()
    got = forecast.coverage(data, p, start=date(2027, 1, 1), end=date(2027, 4, 1), target=10)
    assert (got.coverage, got.reason) == (None, forecast_planning.NO_CLOSE_DATES)
    done = forecast.coverage(data, p, start=Q2[0], end=Q2[1], target=100)
    assert (done.coverage, done.reason) == (None, forecast_planning.NOTHING_REMAINS)


# -------------------------------------------------------------------- backtest
def backtest_log() -> list[Event]:
    """Six deals on a → won, whole days from T0, around the date day 20."""
    p = plain_pipeline()
    s = MemoryStore()

    def deal(name: str, opened: int, won: int, amount: float) -> None:
        p.open_deal(name, at=T0 + opened * DAY, store=s, amount=amount).win(at=T0 + won * DAY)

    deal("H1", 0, 10, 100)  # a stay that closed before the date: estimates exist
    deal("H2", 0, 30, 200)  # won exactly at date + horizon: outside [20, 30)
    deal("H3", 5, 20, 300)  # won exactly at the date: not open then
    deal("H4", 15, 29, 400)  # the actual
    deal("H5", 21, 25, 50)  # opened after the date: won_new
    deal("H6", 16, 40, 1000)  # won after as_of (day 35 or 27): never read
    return list(s.events())


def test_backtest_at_the_midnights(load: Callable[[Sequence[Event]], Any]) -> None:
    """The actual is the wins in [date, min(date + horizon, as_of⁺)); nothing after as_of."""
    data, p = load(backtest_log()), plain_pipeline()
    d = T0 + 20 * DAY
    bt = forecast.backtest(data, p, dates=[d], horizon=10 * DAY, as_of=T0 + 35 * DAY)
    (row,) = bt.rows
    # open at day 20 (after its events): H2 200, H4 400, H6 1000
    assert (row.open_deals, row.open_amount) == (3, 1600.0)
    assert (row.actual, row.won_new) == (400.0, 50.0)  # H4; H5 is new
    assert (row.partial, row.window) == (False, 10 * DAY)
    assert all(v is not None for v in row.forecasts.values())
    assert {e.count for e in bt.errors.values()} == {1}
    assert bt.as_of == T0 + 35 * DAY
    # as of day 27: the window is [20, 27 + 1 µs): H4 (day 29) and H6 are not read
    short = forecast.backtest(data, p, dates=[d], horizon=10 * DAY, as_of=T0 + 27 * DAY)
    (row,) = short.rows
    assert (row.actual, row.won_new, row.partial, row.window) == (0.0, 50.0, True, 7 * DAY + US)
    assert all(e.count == 0 and e.bias is None for e in short.errors.values())


def test_backtest_scores_only_what_was_forecast(load: Callable[[Sequence[Event]], Any]) -> None:
    """Day 5: no stay had closed, so no method has an estimate; errors use day 20 alone."""
    data, p = load(backtest_log()), plain_pipeline()
    days = [T0 + 5 * DAY, T0 + 20 * DAY]
    bt = forecast.backtest(data, p, dates=days, horizon=10 * DAY, as_of=T0 + 35 * DAY)
    first, second = bt.rows
    assert set(first.forecasts.values()) == {None}
    assert first.notes == (NO_ESTIMATE,)
    # day 5: open H1 100, H2 200 (H3 opens at day 5 itself: open too, 300); won in
    # [5, 15): H1 at day 10 = 100
    assert (first.open_deals, first.actual) == (3, 100.0)
    for e in bt.errors.values():
        f = second.forecasts[e.method]
        assert f is not None
        assert e.count == 1
        assert e.bias == pytest.approx(f - 400.0)  # the day-20 row alone
    assert not bt.overlapping
    close = forecast.backtest(
        data, p, dates=[T0 + 15 * DAY, T0 + 20 * DAY], horizon=10 * DAY, as_of=T0 + 35 * DAY
    )
    assert close.overlapping
    assert "not independent" in str(close)
    assert "n/a" in str(bt)


def test_backtest_engines_agree_with_wins_after_as_of() -> None:
    """DuckDB reads nothing after as_of either: the same rows as the pure-Python engine."""
    pytest.importorskip("ibis")
    pytest.importorskip("duckdb")
    from _engines import assert_same, duckdb_loader

    events, p = backtest_log(), plain_pipeline()
    table = duckdb_loader()(events)
    days = [T0 + 5 * DAY, T0 + 12 * DAY, T0 + 20 * DAY, T0 + 26 * DAY]
    for as_of in (T0 + 27 * DAY, T0 + 35 * DAY, None):
        want = forecast.backtest(events, p, dates=days, horizon=10 * DAY, as_of=as_of)
        got = forecast.backtest(table, p, dates=days, horizon=10 * DAY, as_of=as_of)
        assert_same(got.rows, want.rows)
        assert_same(dict(got.errors), dict(want.errors))
        assert got.overlapping == want.overlapping
    # as of day 27, the row of day 20 must not see H4's win at day 29
    got = forecast.backtest(table, p, dates=days, horizon=10 * DAY, as_of=T0 + 27 * DAY)
    assert got.rows[2].actual == 0.0


def test_backtest_refuses_a_date_after_as_of() -> None:
    """A forecast as of a date after as_of would read the future."""
    from salesstages import DataError

    with pytest.raises(DataError, match="after as_of"):
        forecast.backtest(
            backtest_log(), plain_pipeline(), dates=[T0 + 30 * DAY], horizon=DAY, as_of=T0
        )


# ----------------------------------------------------------------- spellings
def test_old_spellings_warn_and_agree() -> None:
    """Positional start/end, positional stage and at= still work, with a warning."""
    ev, p = boundary_log(), boundary_pipeline()
    with pytest.warns(DeprecationWarning, match="start=..., end=..."):
        old = metrics.movement(ev, p, Q2[0], Q2[1])
    assert old == metrics.movement(ev, p, start=Q2[0], end=Q2[1])
    with pytest.warns(DeprecationWarning, match="start=..., end=..."):
        cats = forecast.categories(ev, p, Q2[0], Q2[1])
    assert cats == forecast.categories(ev, p, start=Q2[0], end=Q2[1])
    with pytest.warns(DeprecationWarning, match="start=..., end=..."):
        forecast.coverage(ev, p, Q2[0], Q2[1], target=1)
    with pytest.warns(DeprecationWarning, match="stage=..."):
        metrics.period_conversion(ev, p, "a", start=Q2[0], end=Q2[1])
    bt = backtest_log()
    with pytest.warns(DeprecationWarning, match="use dates="):
        forecast.backtest(bt, plain_pipeline(), at=[T0 + 20 * DAY], horizon=DAY)


def test_old_and_new_spelling_together_is_a_type_error() -> None:
    """Both spellings of one argument: a TypeError naming both."""
    ev, p = boundary_log(), boundary_pipeline()
    with pytest.raises(TypeError, match="start"):
        metrics.movement(ev, p, Q2[0], start=Q2[0], end=Q2[1])  # type: ignore[misc]
    with pytest.raises(TypeError, match=r"at=.*dates="):
        forecast.backtest(
            ev,
            p,
            at=[T0],  # type: ignore[call-arg]
            dates=[T0],
            horizon=DAY,
        )


# ------------------------------------------------------------------- property
AMOUNTS = st.integers(0, 10_000)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    log=event_logs(
        plain_pipeline(allow_regress=True),
        max_deals=6,
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
def test_movement_won_equals_categories_closed(
    log: list[Event], a: int, length: int, cut: int | None
) -> None:
    """For any log, period and as_of, movement's won is categories' closed, and the
    movement identity holds."""
    p = plain_pipeline(allow_regress=True)
    start = T0 + timedelta(days=a)
    end = start + timedelta(hours=length * 12)
    as_of = None if cut is None else T0 + timedelta(days=cut)
    m = metrics.movement(log, p, start=start, end=end, as_of=as_of)
    closed = forecast.categories(log, p, start=start, end=end, as_of=as_of)["closed"]
    assert m.won.count == closed.count
    assert m.won.amount == pytest.approx(closed.amount)
    count = m.opening.count + m.created.count + m.reopened.count - m.won.count - m.lost.count
    assert count == m.closing.count


# ---------------------------------------------------------------------- Maven
MAVEN = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "maven-crm-sales-opportunities"
    / "sales_pipeline.csv"
).resolve()


@pytest.mark.skipif(not MAVEN.exists(), reason="the Maven data set is not beside the repo")
def test_maven_quarter_reconciles_with_the_raw_csv() -> None:
    """2017-Q4 from the raw CSV: won 1,196 worth 2,802,496, created 1,165; the movement
    and the categories say the same."""
    from salesstages.io import read_stage_table

    p = Pipeline(
        "small",
        [
            Stage("prospecting"),
            Stage("engaging"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )
    result = read_stage_table(
        MAVEN,
        p,
        id_column="opportunity_id",
        stage_columns={"engage_date": "engaging"},
        status_column="deal_stage",
        status_map={
            "Prospecting": "prospecting",
            "Engaging": "engaging",
            "Won": "won",
            "Lost": "lost",
        },
        close_column="close_date",
        amount_column="close_value",
        attribute_columns={"sales_agent": "owner"},
    )
    lo, hi = "2017-10-01", "2018-01-01"
    won = created = 0
    won_value = 0.0
    with MAVEN.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["deal_stage"] == "Won" and lo <= row["close_date"] < hi:
                won += 1
                won_value += float(row["close_value"])
            if row["engage_date"] and lo <= row["engage_date"] < hi:
                created += 1
    assert (won, won_value, created) == (1196, 2802496.0, 1165)
    events = result.events
    m = metrics.movement(events, p, start=date(2017, 10, 1), end=date(2018, 1, 1))
    assert m.won == (won, won_value)
    assert m.created.count == created
    cats = forecast.categories(events, p, start=date(2017, 10, 1), end=date(2018, 1, 1))
    assert cats["closed"] == m.won
    # a past quarter without as_of ends at its end, not at the end of the data
    q3 = metrics.movement(events, p, start=date(2017, 7, 1), end=date(2017, 10, 1))
    q3_won = forecast.categories(events, p, start=date(2017, 7, 1), end=date(2017, 10, 1))
    assert q3.won == q3_won["closed"]
    assert q3.period is not None
    assert q3.period.closing == datetime(2017, 10, 1, tzinfo=UTC)
    # the import wrote each deal's final value at opening: hindsight, said at any as_of
    past = metrics.data_quality(events, p, as_of=datetime(2017, 8, 15, tzinfo=UTC), problems=[])
    assert "amounts_look_final" in past.codes


# ------------------------------------------------------------------- hindsight
def final_amounts_log(*, changed: bool = False, lost_amount: float = 0) -> list[Event]:
    """A won deal at 100, a lost one at ``lost_amount``, an open one at 50 (raised to 60
    after opening when ``changed``)."""
    p = plain_pipeline()
    s = MemoryStore()
    p.open_deal("W", at=T0, store=s, amount=100).win(at=T0 + DAY)
    p.open_deal("L", at=T0, store=s, amount=lost_amount).lose(at=T0 + DAY, reason="x")
    o = p.open_deal("O", at=T0, store=s, amount=50)
    if changed:
        o.update(at=T0 + 2 * DAY, amount=60)
    return list(s.events())


@pytest.mark.parametrize(
    ("log", "flagged"),
    [
        (final_amounts_log(), True),
        (final_amounts_log(changed=True), False),
        (final_amounts_log(lost_amount=10), False),
    ],
    ids=["final", "changed", "lost-with-amount"],
)
def test_amounts_look_final(
    load: Callable[[Sequence[Event]], Any], log: list[Event], flagged: bool
) -> None:
    """No amount ever changed, lost deals at 0, won deals above 0: hindsight is said."""
    got = metrics.data_quality(load(log), plain_pipeline(), problems=[])
    finding = got.get("amounts_look_final")
    assert (finding is not None) == flagged
    if finding is not None:
        assert finding.count == 2  # 1 lost + 1 won
        assert "hindsight" in finding.message


def test_win_rate_by_value_unknown_when_lost_deals_are_all_zero(
    load: Callable[[Sequence[Event]], Any],
) -> None:
    """Lost deals all at 0: no rate (not 100 %), with the reason; a real 0 is kept."""
    from salesstages.metrics._outcomes import LOST_AT_ZERO

    got = metrics.win_rate(load(final_amounts_log()), plain_pipeline(), by_value=True)
    # won 100, lost 0 (one lost deal at 0): 100 of 100 would read 100 %
    assert (got.numerator, got.denominator, got.rate, got.reason) == (
        100.0,
        100.0,
        None,
        LOST_AT_ZERO,
    )
    known = metrics.win_rate(
        load(final_amounts_log(lost_amount=10)), plain_pipeline(), by_value=True
    )
    assert (known.rate, known.reason) == (pytest.approx(100 / 110), None)
    by_count = metrics.win_rate(load(final_amounts_log()), plain_pipeline())
    assert (by_count.rate, by_count.reason) == (0.5, None)


def test_targets_table_totals(load: Callable[[Sequence[Event]], Any]) -> None:
    """'targeted owners' adds up the targets' segments; 'all owners' is the whole quarter."""
    from salesstages.forecast._planning import coverage_totals

    p = boundary_pipeline()
    s = MemoryStore()
    p.open_deal("A1", at=at("2026-03-01"), store=s, owner="ana", amount=100).win(
        at=at("2026-04-10")
    )
    p.open_deal(
        "A2", at=at("2026-03-01"), store=s, owner="ana", amount=300, close_date="2026-05-01"
    )
    p.open_deal("B1", at=at("2026-03-01"), store=s, owner="bob", amount=50).win(at=at("2026-04-11"))
    p.open_deal("C1", at=at("2026-03-01"), store=s, owner="cy", amount=70, close_date="2026-06-01")
    data = load(list(s.events()))
    per, targeted, everyone = coverage_totals(
        data, p, start=Q2[0], end=Q2[1], target={"ana": 500, "bob": 100}, by="owner"
    )
    assert list(per) == ["ana", "bob"]
    # targeted: target 600, won 100 + 50 = 150, open 300 (A2): coverage 300 / 450
    assert (targeted.target, targeted.won, targeted.open_amount) == (600.0, 150.0, 300.0)
    assert targeted.coverage == pytest.approx(300 / 450)
    # all owners: cy's C1 (70) counts too, against the same 600
    assert (everyone.target, everyone.won, everyone.open_amount) == (600.0, 150.0, 370.0)
    assert everyone.coverage == pytest.approx(370 / 450)
    # bob alone: won 50 of 100, nothing open with a close date: not known
    assert (per["bob"].coverage, per["bob"].reason) == (None, forecast_planning.NO_CLOSE_DATES)


def test_report_backtest_same_on_both_engines_with_as_of() -> None:
    """The report's backtest as of a past date is the same on DuckDB as in Python
    (issue 22: DuckDB read the wins after --as-of)."""
    pytest.importorskip("ibis")
    pytest.importorskip("duckdb")
    from _engines import assert_same, duckdb_loader
    from salesstages._simulate import simulate
    from salesstages.presets import inbound_b2b
    from salesstages.report import build_report

    p = inbound_b2b()
    events = simulate(p, deals=200, start=T0, days=200, seed=7)
    as_of = T0 + 120 * DAY
    want = build_report(events, p, as_of=as_of)
    got = build_report(duckdb_loader()(events), p, as_of=as_of)
    for id in ("backtest", "backtest-errors"):
        assert_same(got.section(id).records(), want.section(id).records())
    rows = want.section("backtest").records()
    assert rows
    assert all(not r["partial"] for r in rows)
    assert "not independent" not in " ".join(want.section("backtest-errors").notes)


def test_cli_warns_when_the_period_is_not_measured(tmp_path: Path, run: Any) -> None:
    """A period after the data: one warning line on stderr, not a silent table of zeros."""
    from salesstages import io as sio

    log = tmp_path / "events.jsonl"
    sio.write_jsonl(boundary_log(), log)
    spec = tmp_path / "pipeline.json"
    import json

    spec.write_text(json.dumps(boundary_pipeline().to_dict()))
    status, _, err = run("report", str(log), "-p", str(spec), "--period", "2027-Q1")
    assert status == 0
    assert "warning: the period 2027-01-01 to 2027-03-31 has not started" in err


def test_period_conversion_closes_at_as_of() -> None:
    """A window closed by as_of: the same as a window ending just after as_of; dates work."""
    p = plain_pipeline()
    s = MemoryStore()
    d = p.open_deal("X", at=T0, store=s)
    d.move("b", at=T0 + 2 * DAY)  # forward out of a on day 2
    e = p.open_deal("Y", at=T0 + DAY, store=s)
    e.move("b", at=T0 + 5 * DAY)  # on day 5: after as_of day 3
    log = list(s.events())
    start = T0.date()  # midnight before T0 (09:00)
    got = metrics.period_conversion(
        log, p, stage="a", start=start, end=T0 + 10 * DAY, as_of=T0 + 3 * DAY
    )
    # both were in a during [start, day 3]; X moved on (day 2), Y not yet: 1 of 2
    assert (got.numerator, got.denominator) == (1, 2)
    whole = metrics.period_conversion(log, p, stage="a", start=start, end=T0 + 10 * DAY)
    assert (whole.numerator, whole.denominator) == (2, 2)
    early = metrics.period_conversion(
        log, p, stage="a", start=T0 + 4 * DAY, end=T0 + 10 * DAY, as_of=T0 + 3 * DAY
    )
    assert (early.numerator, early.denominator, early.rate) == (0, 0, None)


@settings(max_examples=200, deadline=None)
@given(
    stays=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 30), st.integers(0, 2), st.integers(1, 3)),
        max_size=12,
    ),
    ages=st.lists(st.integers(0, 25), max_size=4),
)
def test_has_estimate_is_binned_seen(
    stays: list[tuple[int, int, int, int]], ages: list[int]
) -> None:
    """The backtest's estimate check agrees with the landmark estimator's own 'seen'."""
    from collections import Counter

    from salesstages.forecast._backtest import has_estimate
    from salesstages.forecast._outlook import _binned

    cells: Counter[int] = Counter()
    for lb, extra, cause, k in stays:
        cells[lb << 32 | (lb + extra) << 2 | cause] += k
    wanted = {"a": dict.fromkeys(ages, 1.0)} if ages else {}
    want = not wanted or any(p[2] for p in _binned(cells, sorted(ages), 30).values())
    assert has_estimate(wanted, {"a": cells}, 30) == want


@pytest.mark.parametrize(
    ("package", "name"),
    [
        ("metrics", "movement"),
        ("metrics", "period_status"),
        ("metrics", "slippage"),
        ("forecast", "categories"),
        ("forecast", "coverage"),
        ("forecast", "backtest"),
    ],
)
def test_planning_twins_share_one_signature(package: str, name: str) -> None:
    """Each planning function is f(events, pipeline, *, ...), the same on both engines."""
    import importlib
    import inspect

    pytest.importorskip("ibis")
    public = getattr(importlib.import_module(f"salesstages.{package}"), name)
    table = getattr(importlib.import_module(f"salesstages.{package}._ibis"), name)

    def shape(fn: Any) -> list[tuple[str, Any, Any]]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert shape(public) == shape(table)
    kinds = [kind for _, kind, _ in shape(public)]
    assert kinds[:2] == [inspect.Parameter.POSITIONAL_OR_KEYWORD] * 2
    assert set(kinds[2:]) == {inspect.Parameter.KEYWORD_ONLY}
