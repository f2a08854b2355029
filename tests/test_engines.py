"""The Ibis engine against the pure-Python engine: every §10 function, same answers.

Each case runs one metric or forecast on an Ibis table (DuckDB always;
PostgreSQL and Spark through the session fixtures of ``conftest.py``) and on
the same events in Python, over Hypothesis-drawn logs and simulator logs,
shuffled, at several ``as_of`` and ``by=`` values, and compares them within
§10's tolerances (counts, keys and stages exactly, durations within 1 µs,
money within 1e-9 relative).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from _cli_data import Runner
from _engines import (
    assert_same,
    close_all,
    duckdb_loader,
    duckdb_query,
    loader,
)
from _helpers import day, small_pipeline
from salesstages import DataError, Event, InvalidLogError, Pipeline, SalesStagesError
from salesstages import forecast as fc
from salesstages import metrics as m
from salesstages._simulate import simulate
from salesstages.presets import inbound_b2b
from salesstages.testing import events as event_logs

pytest.importorskip("ibis")

DAY = timedelta(days=1)
T0 = datetime(2026, 1, 5, tzinfo=UTC)
Call = Callable[[Any, Pipeline, "datetime | None", "str | None"], Any]


def _open(p: Pipeline, i: int) -> str:
    return p.open_stages[min(i, len(p.open_stages) - 1)].name


def _with_subs(p: Pipeline) -> str:
    return next(s.name for s in p.stages if s.substates)


def _without_rot(p: Pipeline) -> Pipeline:
    """``p`` with no ``rot_after`` (data_quality then reports the open deals' median age)."""
    spec = p.to_dict()
    for stage in spec["stages"]:
        stage.pop("rot_after_seconds", None)
    return Pipeline.from_dict(spec)


def _visits(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    got = m.visits(ev, p, as_of=a)
    return sorted(got, key=lambda v: v.deal_id)  # stable: keeps each deal's order


def _substate_visits(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    return sorted(m.substate_visits(ev, p, as_of=a), key=lambda v: v.deal_id)


def _snapshot(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    return m.snapshot(ev, p, as_of=a or T0 + 400 * DAY)


def _backtest(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    at = a or T0 + 60 * DAY
    return fc.backtest(ev, p, dates=[at - 20 * DAY, at], horizon=30 * DAY)


def _backtest_dates(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    at = a or T0 + 60 * DAY
    # unsorted, repeated, one before the log: each date rewound from one set of pivots
    dates = [at, T0 - DAY, at - 45 * DAY, at - 7 * DAY, at]
    return fc.backtest(ev, p, dates=dates, horizon=10 * DAY)


def _period_conversion(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    end = a or T0 + 30 * DAY
    return m.period_conversion(ev, p, stage=_open(p, 1), start=end - 20 * DAY, end=end, by=b)


def _period_conversion_to(ev: Any, p: Pipeline, a: datetime | None, b: str | None) -> Any:
    # a fixed window, as_of drawn: before it, inside it (the closing instant), after it
    won = p.won_stages[0].name
    start, end = T0 + 15 * DAY, T0 + 60 * DAY
    return m.period_conversion(
        ev, p, stage=_open(p, 0), start=start, end=end, as_of=a, to_stage=won, by=b
    )


#: Every function of §10 (and those the report calls), with its options.
CASES: dict[str, Call] = {
    "visits": _visits,
    "substate_visits": _substate_visits,
    "stage_durations": lambda ev, p, a, b: m.stage_durations(ev, p, as_of=a, by=b),
    "stage_durations-open": lambda ev, p, a, b: m.stage_durations(
        ev, p, as_of=a, by=b, include_open=True
    ),
    "stage_durations-deal": lambda ev, p, a, b: m.stage_durations(ev, p, as_of=a, per="deal"),
    "stage_durations-deal-open": lambda ev, p, a, b: m.stage_durations(
        ev, p, as_of=a, by=b, per="deal", include_open=True
    ),
    "substate_durations": lambda ev, p, a, b: m.substate_durations(
        ev, p, stage=_with_subs(p), as_of=a, by=b, include_open=True
    ),
    "funnel-imputed": lambda ev, p, a, b: m.funnel(ev, p, as_of=a, by=b),
    "funnel-touched": lambda ev, p, a, b: m.funnel(ev, p, skips="touched", as_of=a, by=b),
    "funnel-ordered": lambda ev, p, a, b: m.funnel(ev, p, skips="ordered", as_of=a, by=b),
    "funnel-substates": lambda ev, p, a, b: m.funnel(ev, p, stage=_with_subs(p), as_of=a, by=b),
    "funnel-substates-touched": lambda ev, p, a, b: m.funnel(
        ev, p, stage=_with_subs(p), skips="touched", as_of=a, by=b
    ),
    "funnel-substates-ordered": lambda ev, p, a, b: m.funnel(
        ev, p, stage=_with_subs(p), skips="ordered", as_of=a, by=b
    ),
    "conversion": lambda ev, p, a, b: m.conversion(
        ev, p, from_stage=_open(p, 0), to_stage=p.won_stages[0].name, as_of=a, by=b
    ),
    "conversion-back": lambda ev, p, a, b: m.conversion(
        ev, p, from_stage=_open(p, 1), to_stage=_open(p, 0), as_of=a
    ),
    "win_rate": lambda ev, p, a, b: m.win_rate(ev, p, as_of=a, by=b),
    "win_rate-value": lambda ev, p, a, b: m.win_rate(ev, p, by_value=True, as_of=a, by=b),
    "sales_cycle": lambda ev, p, a, b: m.sales_cycle(ev, p, as_of=a, by=b),
    "sales_cycle-lost": lambda ev, p, a, b: m.sales_cycle(ev, p, outcome="lost", as_of=a),
    "snapshot": _snapshot,
    "stalled": lambda ev, p, a, b: m.stalled(ev, p, as_of=a),
    "lost_reasons": lambda ev, p, a, b: m.lost_reasons(ev, p, as_of=a),
    "velocity": lambda ev, p, a, b: m.velocity(ev, p, as_of=a, by=b),
    "win_loss": lambda ev, p, a, b: m.win_loss(ev, p, by="region", as_of=a, at="closing"),
    "win_loss-opened": lambda ev, p, a, b: m.win_loss(ev, p, by="region", as_of=a, at="opening"),
    "weighted": lambda ev, p, a, b: fc.weighted(ev, p, as_of=a),
    "markov": lambda ev, p, a, b: fc.markov(ev, p, as_of=a),
    "markov_forecast": lambda ev, p, a, b: fc.markov_forecast(ev, p, as_of=a),
    "weighted-horizon": lambda ev, p, a, b: fc.weighted(ev, p, as_of=a, horizon=30 * DAY),
    "markov_forecast-horizon": lambda ev, p, a, b: fc.markov_forecast(
        ev, p, as_of=a, horizon=10 * DAY
    ),
    "time_to_close": lambda ev, p, a, b: fc.time_to_close(ev, p, as_of=a),
    "cumulative_incidence-won": lambda ev, p, a, b: fc.cumulative_incidence(ev, p, as_of=a),
    "cumulative_incidence-lost": lambda ev, p, a, b: fc.cumulative_incidence(
        ev, p, outcome="lost", as_of=a
    ),
    "conditional_forecast": lambda ev, p, a, b: fc.conditional_forecast(ev, p, as_of=a),
    "conditional_forecast-horizon": lambda ev, p, a, b: fc.conditional_forecast(
        ev, p, as_of=a, horizon=30 * DAY
    ),
    "stage_outlook": lambda ev, p, a, b: fc.stage_outlook(
        ev, p, stage=_open(p, 1), age=2 * DAY, horizon=20 * DAY, as_of=a
    ),
    "stage_outlook-first": lambda ev, p, a, b: fc.stage_outlook(ev, p, stage=_open(p, 0), as_of=a),
    "backtest": _backtest,
    "backtest-dates": _backtest_dates,
    "data_quality": lambda ev, p, a, b: m.data_quality(ev, p, as_of=a, problems=()),
    "data_quality-no-rot": lambda ev, p, a, b: m.data_quality(
        ev, _without_rot(p), as_of=a, problems=(), torn_tail=3
    ),
    "action_conversion": lambda ev, p, a, b: m.action_conversion(ev, p, horizon=5 * DAY, as_of=a),
    "period_conversion": _period_conversion,
    "period_conversion-to": _period_conversion_to,
    "skips_and_regressions": lambda ev, p, a, b: m.skips_and_regressions(ev, p, as_of=a),
    "action_conversion-long": lambda ev, p, a, b: m.action_conversion(
        ev, p, horizon=60 * DAY, as_of=a
    ),
}

#: Per backend: how many Hypothesis examples a case gets. The quick profile (the
#: default) keeps ``make test`` short; ``SALESSTAGES_ENGINES=slow`` (``make differential``)
#: draws at least 200 logs per case on DuckDB.
PROFILES = {
    "quick": {"duckdb": 6, "postgres": 3, "spark": 1},
    "slow": {"duckdb": 200, "postgres": 10, "spark": 1},
}
EXAMPLES = PROFILES[os.environ.get("SALESSTAGES_ENGINES", "quick")]
#: The cases Spark also runs on drawn logs (a Spark call costs a second or more;
#: every case runs on the simulated log).
SPARK_DRAWN = frozenset(
    (
        "visits",
        "stage_durations-open",
        "funnel-ordered",
        "funnel-substates-ordered",
        "conversion",
        "win_rate-value",
        "lost_reasons",
        "win_loss",
        "markov_forecast",
        "time_to_close",
        "conditional_forecast-horizon",
        "action_conversion",
        "data_quality-no-rot",
    )
)
_LOADERS: dict[str, Callable[[Sequence[Event]], Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_connections() -> Iterator[None]:
    """Close the loaders' connections when the module is done."""
    yield
    _LOADERS.clear()
    close_all()


SPARK_MARKS = (
    pytest.mark.slow,
    # py4j leaves its gateway sockets to the garbage collector
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
)


@pytest.fixture(
    scope="module",
    params=["duckdb", "postgres", pytest.param("spark", marks=SPARK_MARKS)],
)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of a backend whose loader is ready (PostgreSQL and Spark from conftest)."""
    name: str = request.param
    loader(_LOADERS, name, request)
    return name


def _region() -> st.SearchStrategy[Any]:
    return st.sampled_from(["eu", "na", "apac"])


#: Opening attributes: a region (sometimes missing), a size, and an amount the API
#: accepts (an int, a float or none); logs read from files may hold other types,
#: which ``test_amount_types_follow_amount_of`` covers.
_AMOUNTS = st.one_of(st.integers(0, 10**6), st.floats(0, 1e6, allow_nan=False), st.none())
_ATTRIBUTES = st.fixed_dictionaries(
    {"amount": _AMOUNTS},
    optional={"region": _region(), "size": st.integers(1, 3)},
)
_SMALL = small_pipeline()


def _as_of(draw: st.DrawFn, log: list[Event]) -> datetime | None:
    """None, an event's time, a moment between events, or one before or after the log."""
    if not log:
        return draw(st.sampled_from([None, T0]))
    times = sorted(e.at for e in log)
    pick = draw(st.integers(0, 4))
    if pick == 0:
        return None
    if pick == 1:
        return draw(st.sampled_from(times))
    if pick == 2:
        return times[0] + (times[-1] - times[0]) * draw(st.floats(0, 1))
    return times[0] - DAY if pick == 3 else times[-1] + DAY


def _run(case: str, backend: str, log: list[Event], p: Pipeline, a: Any, by: Any) -> None:
    shuffled = list(log)
    random.Random(len(log)).shuffle(shuffled)
    table = _LOADERS[backend](shuffled)
    try:
        want = CASES[case](shuffled, p, a, by)
    except DataError as exc:  # a by= no deal holds: the same refusal on the table
        message = str(exc)
    else:
        message = None
    if message is not None:
        with pytest.raises(DataError) as refused:
            CASES[case](table, p, a, by)
        assert str(refused.value) == message
        return
    got = CASES[case](table, p, a, by)
    assert_same(got, want, case)


@pytest.mark.parametrize(
    ("case", "backend"),
    [(case, name) for name in ("duckdb", "postgres") for case in CASES]
    + [pytest.param(case, "spark", marks=SPARK_MARKS) for case in CASES if case in SPARK_DRAWN],
    indirect=["backend"],
)
def test_drawn_logs(case: str, backend: str) -> None:
    """On drawn logs of the small pipeline, the Ibis engine gives the Python engine's answer
    (on Spark, a representative subset: see ``SPARK_DRAWN``)."""

    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        # each example runs queries: report the failing log as drawn, unshrunk
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        log = data.draw(event_logs(_SMALL, max_deals=6, max_steps=12, attributes=_ATTRIBUTES))
        a = _as_of(data.draw, log)
        by = data.draw(st.sampled_from([None, "region", "size"]))
        _run(case, backend, log, _SMALL, a, by)

    check()


@pytest.fixture(scope="module")
def simulated() -> tuple[Pipeline, list[Event]]:
    """Two hundred simulated inbound deals over 90 days (skips, regressions, reopenings,
    and the sales plays ``action_conversion`` reads)."""
    p = inbound_b2b()
    return p, simulate(p, deals=200, start=T0, days=90, seed=11, action_effect=0.6)


@pytest.mark.parametrize("case", list(CASES))
def test_simulated_log(case: str, backend: str, simulated: tuple[Pipeline, list[Event]]) -> None:
    """On a simulated log, by region and as of mid-log, both engines agree."""
    p, log = simulated
    _run(case, backend, log, p, T0 + 45 * DAY, "region")
    if backend != "spark":  # Spark: one as_of keeps the slow suite short
        _run(case, backend, log, p, None, None)


# ---------------------------------------------------------------- bad input
def test_missing_column_is_refused() -> None:
    """A table without ``stage`` is refused naming the column and its type, before any query."""
    t = duckdb_query(
        "SELECT 'D' AS deal_id, 0::BIGINT AS seq, TIMESTAMPTZ '2026-01-01' AS at, "
        "'opened' AS kind, NULL::VARCHAR AS name, '{}' AS data"
    )
    with pytest.raises(DataError, match=r"no column 'stage'.*string"):
        m.funnel(t, _SMALL)


def test_wrong_type_is_refused() -> None:
    """A ``seq`` held as text is refused naming the column and the type it must have."""
    t = duckdb_query(
        "SELECT 'D' AS deal_id, '0' AS seq, TIMESTAMPTZ '2026-01-01' AS at, "
        "'opened' AS kind, NULL::VARCHAR AS stage, NULL::VARCHAR AS name, '{}' AS data"
    )
    with pytest.raises(DataError, match=r"column 'seq' is string; it must hold integer"):
        m.win_rate(t, _SMALL)


def test_unknown_stage_is_refused() -> None:
    """A stage the pipeline does not define raises InvalidLogError, as in Python."""
    log = [
        Event(deal_id="D", seq=0, at=T0, kind="opened"),
        Event(deal_id="D", seq=1, at=T0, kind="stage_entered", stage="nowhere"),
    ]
    table = duckdb_loader()(log)
    with pytest.raises(InvalidLogError, match="unknown stage 'nowhere'"):
        m.visits(table, _SMALL)


def test_bucketing_function_is_refused() -> None:
    """win_loss with a bucketing function names why it needs events."""
    table = duckdb_loader()([Event(deal_id="D", seq=0, at=T0, kind="opened")])
    with pytest.raises(SalesStagesError, match="bucketing function"):
        m.win_loss(table, _SMALL, by=m.fewer_than("stakeholders", 2), at="closing")


def test_naive_as_of_is_refused() -> None:
    """A naive as_of raises NaiveTimeError on tables too."""
    from salesstages import NaiveTimeError

    table = duckdb_loader()([Event(deal_id="D", seq=0, at=T0, kind="opened")])
    with pytest.raises(NaiveTimeError):
        m.visits(table, _SMALL, as_of=datetime(2026, 1, 1))


def test_amount_types_follow_amount_of() -> None:
    """Amounts: numbers count, a boolean, a string and null count 0 (3 + 2.5 = 5.5 won)."""
    log: list[Event] = []
    for i, amount in enumerate([3, 2.5, True, "7", None]):
        d = f"D{i}"
        log += [
            Event(deal_id=d, seq=0, at=T0, kind="opened", data={"amount": amount}),
            Event(deal_id=d, seq=1, at=T0, kind="stage_entered", stage="lead"),
            Event(deal_id=d, seq=2, at=T0 + DAY, kind="stage_entered", stage="closed_won"),
        ]
    table = duckdb_loader()(log)
    got = m.win_rate(table, _SMALL, by_value=True)
    assert got.numerator == 5.5  # 3 + 2.5; True, "7" and None count 0
    assert got.rate == 1.0


def test_missing_ibis_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ibis-framework the engine's import error names the install command."""
    import importlib
    import sys

    monkeypatch.setitem(sys.modules, "ibis", None)
    monkeypatch.delitem(sys.modules, "salesstages.metrics._ibis._columns", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'salesstages\[duckdb\]'"):
        importlib.import_module("salesstages.metrics._ibis._columns")
    monkeypatch.undo()
    importlib.import_module("salesstages.metrics._ibis._columns")


def test_backend_without_a_function_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """An operation the backend lacks raises SalesStagesError naming backend and function."""
    from ibis.common.exceptions import OperationNotDefinedError
    from ibis.expr.types.relations import Table

    table = duckdb_loader()(
        [
            Event(deal_id="D", seq=0, at=T0, kind="opened"),
            Event(deal_id="D", seq=1, at=T0, kind="stage_entered", stage="lead"),
        ]
    )

    def refuse(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise OperationNotDefinedError("Quantile")

    monkeypatch.setattr(Table, "to_pyarrow", refuse)
    # the read check is the first query to reach the backend (issue 23)
    with pytest.raises(SalesStagesError, match=r"the duckdb backend cannot run the read check"):
        m.stage_durations(table, _SMALL)


def test_appended_rows_are_seen() -> None:
    """Nothing is kept between calls without a session: rows appended count at once."""
    import ibis

    log = [
        Event(deal_id="A", seq=0, at=T0, kind="opened"),
        Event(deal_id="A", seq=1, at=T0, kind="stage_entered", stage="lead"),
        Event(deal_id="A", seq=2, at=T0 + DAY, kind="stage_entered", stage="closed_won"),
    ]
    table = duckdb_loader()(log)
    assert m.win_rate(table, _SMALL).denominator == 1  # A won
    con = table._find_backend()
    name = table.get_name()
    con.raw_sql(
        f"INSERT INTO {name} VALUES ('B', 0, TIMESTAMPTZ '2026-01-06', 'opened', NULL, NULL, "
        f"'{{}}'), ('B', 1, TIMESTAMPTZ '2026-01-06', 'stage_entered', 'lead', NULL, '{{}}'), "
        f"('B', 2, TIMESTAMPTZ '2026-01-07', 'stage_entered', 'closed_lost', NULL, '{{}}')"
    )
    assert isinstance(con, ibis.backends.duckdb.Backend)
    got = m.win_rate(table, _SMALL)
    assert (got.numerator, got.denominator) == (1, 2)  # A won, B lost


def test_session_scans_a_table_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Within a session (a report) each table is scanned once per ``as_of``; outside
    it, every call scans again (so appended rows are seen)."""
    from salesstages.metrics._ibis import _pivots

    scans: list[int | None] = []
    real = _pivots.Pivots._scan

    def counted(self: Any, cut: int | None) -> int | None:
        scans.append(cut)
        return real(self, cut)

    monkeypatch.setattr(_pivots.Pivots, "_scan", counted)
    log = [
        Event(deal_id="A", seq=0, at=T0, kind="opened"),
        Event(deal_id="A", seq=1, at=T0, kind="stage_entered", stage="lead"),
        Event(deal_id="A", seq=2, at=T0 + DAY, kind="stage_entered", stage="closed_won"),
    ]
    table = duckdb_loader()(log)
    with m.session(table):
        first = m.win_rate(table, _SMALL)
        assert m.win_rate(table, _SMALL) == first
        m.funnel(table, _SMALL)
        m.win_rate(table, _SMALL, as_of=T0)
    assert len(scans) == 2  # as_of None, then as_of T0
    m.win_rate(table, _SMALL)
    m.win_rate(table, _SMALL)
    assert len(scans) == 4  # outside the block: once a call


def test_null_typed_columns_are_read_as_strings() -> None:
    """A ``name`` column holding only nulls (typed NULL) is accepted, as strings."""
    t = duckdb_query(
        "SELECT 'D' AS deal_id, s AS seq, TIMESTAMPTZ '2026-01-05' AS at, "
        "CASE s WHEN 0 THEN 'opened' ELSE 'stage_entered' END AS kind, "
        "CASE s WHEN 0 THEN NULL ELSE 'lead' END AS stage, NULL AS name, '{}' AS data "
        "FROM range(2) r(s)"
    )
    assert not t.schema()["name"].is_string()
    (v,) = m.visits(t, _SMALL)
    assert (v.deal_id, v.stage, v.is_open) == ("D", "lead", True)


def test_list_valued_by_is_refused() -> None:
    """by= on an attribute holding a list is refused rather than keyed as missing."""
    log = [
        Event(deal_id="A", seq=0, at=T0, kind="opened", data={"team": ["x", "y"]}),
        Event(deal_id="A", seq=1, at=T0, kind="stage_entered", stage="lead"),
    ]
    table = duckdb_loader()(log)
    with pytest.raises(SalesStagesError, match="list or an object in 'team'"):
        m.funnel(table, _SMALL, by="team")


def test_metrics_in_place_on_a_postgres_store(pg_database: str, pg_table: str) -> None:
    """§11: a PostgresStore's own table (data as jsonb) is a table the engine runs on in place."""
    import ibis

    from salesstages import PostgresStore

    p = inbound_b2b()
    log = simulate(p, deals=80, start=T0, days=90, seed=11)
    store = PostgresStore(pg_database, table=pg_table)
    try:
        deals: dict[str, list[Event]] = {}
        for e in log:
            deals.setdefault(e.deal_id, []).append(e)
        store.append_many(deals.values())
    finally:
        store.close()
    params = dict(part.split("=", 1) for part in pg_database.split())
    con = ibis.postgres.connect(
        host=params["host"],
        port=int(params["port"]),
        user=params["user"],
        database=params["dbname"],
    )
    try:
        table = con.table(pg_table)
        assert_same(m.funnel(table, p), m.funnel(log, p), "funnel")
        assert_same(
            m.win_rate(table, p, by_value=True), m.win_rate(log, p, by_value=True), "win_rate"
        )
        assert_same(m.stage_durations(table, p), m.stage_durations(log, p), "durations")
        assert_same(fc.weighted(table, p), fc.weighted(log, p), "weighted")
    finally:
        con.disconnect()


# ---------------------------------------------------------------- next_actions
def _advice_or_refusal(call: Callable[[], Any]) -> Any:
    """The advice, or the refusal's type and message (a closed or unknown deal)."""
    try:
        return call()
    except SalesStagesError as exc:
        return (type(exc).__name__, str(exc))


def _same_advice(
    table: Any, log: list[Event], p: Pipeline, a: datetime | None, least: int, every: int = 1
) -> int:
    """Every ``every``-th deal of ``log`` (and an unknown id), by id, gets the same advice
    or refusal on ``table`` as in Python; how many got advice."""
    ids = [*sorted({e.deal_id for e in log})[::every], "no-such-deal"]
    advised = 0
    for deal_id in ids:
        want = _advice_or_refusal(
            lambda d=deal_id: fc.next_actions(log, p, deal=d, as_of=a, min_support=least)
        )
        got = _advice_or_refusal(
            lambda d=deal_id: fc.next_actions(table, p, deal=d, as_of=a, min_support=least)
        )
        assert_same(got, want, f"next_actions({deal_id!r})")
        advised += isinstance(want, list) and bool(want)
    return advised


@pytest.mark.parametrize(
    "backend",
    ["duckdb", "postgres", pytest.param("spark", marks=SPARK_MARKS)],
    indirect=True,
)
def test_next_actions_drawn(backend: str) -> None:
    """On drawn logs, every deal's next_actions (or its refusal) is the Python engine's."""

    @settings(
        max_examples=EXAMPLES[backend],
        deadline=None,
        phases=(Phase.explicit, Phase.reuse, Phase.generate),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        log = data.draw(event_logs(_SMALL, max_deals=6, max_steps=12, attributes=_ATTRIBUTES))
        a = _as_of(data.draw, log)
        shuffled = list(log)
        random.Random(len(log)).shuffle(shuffled)
        _same_advice(_LOADERS[backend](shuffled), shuffled, _SMALL, a, 0)

    check()


def test_next_actions_simulated(backend: str, simulated: tuple[Pipeline, list[Event]]) -> None:
    """On the simulated log, one deal in eight gets the same advice (or refusal) on both
    engines, and some open deals get advice."""
    p, log = simulated
    table = _LOADERS[backend](log)
    assert _same_advice(table, log, p, T0 + 45 * DAY, 3, every=8) > 0


def test_next_actions_live_deal_on_a_table() -> None:
    """A live Deal's state comes from its own events; the advice from the table."""
    p = inbound_b2b()
    log = simulate(p, deals=120, start=T0, days=90, seed=3, action_effect=0.6)
    table = duckdb_loader()(log)
    deal = p.open_deal("live", at=T0)
    got = fc.next_actions(table, p, deal=deal, min_support=2)
    assert got, "the simulated plays back some first activity in the first stage"
    assert_same(got, fc.next_actions(log, p, deal=deal, min_support=2))
    empty = duckdb_loader()([Event(deal_id="x", seq=0, at=T0, kind="opened")])
    assert fc.next_actions(empty, p, deal=deal) == fc.next_actions([], p, deal=deal) == []


# ---------------------------------------------------------------- data_quality
def _gaps_log() -> list[Event]:
    """The seven-finding log of test_quality, plus a reason that is a number (a reason
    all the same), a null reason (none), a string amount and a boolean one (no amount),
    and a second open deal (an even number: the median of two ages)."""
    from test_quality import _deal, _log

    log = _log()
    log += _deal("L3", [(0, "a"), (6, "l")], amount=5)
    log += _deal("L4", [(0, "a"), (7, "l")], amount="5")
    log += _deal("O2", [(3, "a")], amount=True)
    out: list[Event] = []
    for e in log:
        if e.deal_id == "L3" and e.stage == "l":
            e = attrs.evolve(e, data={"reason": 7})
        elif e.deal_id == "L4" and e.stage == "l":
            e = attrs.evolve(e, data={"reason": None})
        out.append(e)
    return out


def test_data_quality_finds_every_gap(backend: str) -> None:
    """The hand-made log's findings (counts, examples, messages) on the backend are the
    Python engine's, at several dates, and the rules are checked only when given."""
    from test_quality import _pipeline

    log = _gaps_log()
    random.Random(3).shuffle(log)
    table = _LOADERS[backend](log)
    p = _pipeline()
    for a in (day(40), day(6), None):
        want = m.data_quality(log, p, as_of=a, problems=())
        assert_same(m.data_quality(table, p, as_of=a), want, f"as_of={a}")
    q = m.data_quality(table, p, as_of=day(40))
    # O1 and O2 lack an amount (True is none); W2 and L4 ("5") closed without one;
    # L1, L2 at 0; L1 and L4 (null) lost without a reason; median of 38 and 37 days
    assert q.get("open_without_amount").examples == ("O1", "O2")  # type: ignore[union-attr]
    assert q.get("closed_without_amount").examples == ("L4", "W2")  # type: ignore[union-attr]
    assert q.get("lost_zero_amount").examples == ("L1", "L2")  # type: ignore[union-attr]
    assert q.get("lost_without_reason").examples == ("L1", "L4")  # type: ignore[union-attr]
    assert "median 37.5 days" in q.get("no_rot_after").message  # type: ignore[union-attr]
    assert "check_problems" not in q.codes


def test_data_quality_refusals_on_a_table() -> None:
    """A negative torn_tail is refused on a table as on events; problems given are listed."""
    from salesstages import Problem

    table = duckdb_loader()([Event(deal_id="D", seq=0, at=T0, kind="opened")])
    with pytest.raises(ValueError, match="torn_tail must be a non-negative int"):
        m.data_quality(table, _SMALL, torn_tail=-1)
    problem = Problem(deal_id="X", seq=1, rule="after_won", message="moved after won")
    q = m.data_quality(table, _SMALL, problems=[problem], torn_tail=2)
    assert q.codes == ("check_problems", "torn_tail")  # no deal entered a stage: no more


# ---------------------------------------------------------------- the rules, on both engines
def _broken_log() -> list[Event]:
    """A log breaking the pipeline's rules: a seq gap (D1), a first stage that is not
    open (D2: two problems) and an activity naming another stage (D3); four in all."""
    p = _SMALL
    first, second = _open(p, 0), _open(p, 1)
    return [
        Event(deal_id="D1", seq=0, at=T0, kind="opened"),
        Event(deal_id="D1", seq=1, at=T0, kind="stage_entered", stage=first),
        Event(deal_id="D1", seq=3, at=T0 + DAY, kind="stage_entered", stage=second),
        Event(deal_id="D2", seq=0, at=T0, kind="opened"),
        Event(deal_id="D2", seq=1, at=T0, kind="stage_entered", stage=p.won_stages[0].name),
        Event(deal_id="D3", seq=0, at=T0, kind="opened"),
        Event(deal_id="D3", seq=1, at=T0, kind="stage_entered", stage=first),
        Event(deal_id="D3", seq=2, at=T0 + DAY, kind="activity", name="call", stage=second),
    ]


@pytest.mark.parametrize(
    "log",
    [[], _broken_log(), simulate(_SMALL, deals=30, start=T0, days=40, seed=3)],
    ids=["empty", "broken", "clean"],
)
def test_rules_are_checked_the_same_on_a_table(log: list[Event]) -> None:
    """check_rules finds the same problems on a table as Pipeline.check on the events
    (by deal id on a table: sorted here to compare)."""
    from salesstages.metrics._rules import check_rules

    shuffled = list(log)
    random.Random(7).shuffle(shuffled)
    want = sorted(_SMALL.check(shuffled), key=lambda q: q.deal_id)  # stable within a deal
    got = check_rules(duckdb_loader()(shuffled), _SMALL)
    assert [(q.deal_id, q.seq, q.rule) for q in got] == [(q.deal_id, q.seq, q.rule) for q in want]
    assert len(want) == (4 if len(log) == 8 else 0)


def test_rules_check_refuses_histories() -> None:
    """A fold keeps too little of the log to check it: a TypeError says so."""
    from salesstages.metrics._rules import check_rules

    with pytest.raises(TypeError, match="pass the events themselves"):
        check_rules(m.histories([], _SMALL), _SMALL)


def test_data_quality_checks_the_rules_on_a_table() -> None:
    """data_quality lists the broken rules on a table as on a list of events."""
    log = _broken_log()
    want = m.data_quality(log, _SMALL)
    assert want.findings[0].code == "check_problems"
    assert m.data_quality(duckdb_loader()(log), _SMALL) == want


@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_report_exits_1_on_broken_rules_on_either_engine(
    tmp_path: Path, run: Runner, engine: str
) -> None:
    """`report` on a Parquet log that breaks the rules exits 1 on both engines, and 0 with
    --lenient: the exit status never depends on the engine."""
    from salesstages import io

    path = tmp_path / "events.parquet"
    io.write_parquet(_broken_log(), path)
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps(_SMALL.to_dict()), encoding="utf-8")
    status, _, err = run("report", str(path), "-p", str(spec), "--engine", engine)
    assert status == 1, err
    assert "breaks the pipeline's rules (4 problems" in err
    status, _, err = run("report", str(path), "-p", str(spec), "--engine", engine, "--lenient")
    assert status == 0, err
