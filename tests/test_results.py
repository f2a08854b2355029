"""Every result knows its rows: each public function of ``metrics`` and ``forecast``
gives a result that ``records``, ``to_pandas`` and ``to_polars`` turn into named
columns, and that prints as a line or a table, not as a repr.

The hand log (days after T0 = 2026-01-05 09:00 UTC; ``as_of`` d12 unless said):

====  =============================================================================
deal  path
====  =============================================================================
A     d0 lead, 100 eu, close 2026-01-25; d1 call; d1 meet; d2 demo; d3 qualified;
      d5 proposal; d10 won at 100
B     d0 lead, 50 us; d1 email; d4 lost "price"
C     d1 lead, 80 eu, close 2026-01-20; d2 call; d4 qualified; d5 close date →
      2026-01-27 (open, idle since d5)
D     d2 lead, 30 us, close 2026-01-30; d3 qualified; d6 lost "timing"
E     d3 lead, 60 eu; d4 call; d5 qualified; d7 proposal; d9 won at 60
F     d4 lead, 40 us, close 2026-01-15; d8 call (open, overdue at d12 = 2026-01-17)
====  =============================================================================
"""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_bowtie
import test_people as PEOPLE
import test_revenue
from _helpers import T0, day
from salesstages import Event, MemoryStore, Pipeline, Stage, forecast, metrics
from salesstages.metrics import Keyed, LostReason, Tally
from salesstages.testing import events as event_logs

D = timedelta(days=1)
AS_OF = day(12)


def pipeline() -> Pipeline:
    """lead (sub-states meet, demo) → qualified (rots after 5 days) → proposal → won/lost."""
    return Pipeline(
        "results",
        [
            Stage("lead", substates=("meet", "demo"), probability=0.1),
            Stage("qualified", probability=0.4, rot_after=5 * D, forecast_category="best_case"),
            Stage("proposal", probability=0.7, forecast_category="commit"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def log() -> list[Event]:
    """The hand log of the module docstring."""
    p = pipeline()
    store = MemoryStore()
    a = p.open_deal("A", at=day(0), store=store, amount=100, region="eu", close_date="2026-01-25")
    a.record("call", at=day(1))
    a.enter_substate("meet", at=day(1))
    a.record("demo", at=day(2))
    a.move("qualified", at=day(3))
    a.move("proposal", at=day(5))
    a.win(at=day(10))
    b = p.open_deal("B", at=day(0), store=store, amount=50, region="us")
    b.record("email", at=day(1))
    b.lose(at=day(4), reason="price")
    c = p.open_deal("C", at=day(1), store=store, amount=80, region="eu", close_date="2026-01-20")
    c.record("call", at=day(2))
    c.move("qualified", at=day(4))
    c.update(at=day(5), close_date="2026-01-27")
    d = p.open_deal("D", at=day(2), store=store, amount=30, region="us", close_date="2026-01-30")
    d.move("qualified", at=day(3))
    d.lose(at=day(6), reason="timing")
    e = p.open_deal("E", at=day(3), store=store, amount=60, region="eu")
    e.record("call", at=day(4))
    e.move("qualified", at=day(5))
    e.move("proposal", at=day(7))
    e.win(at=day(9))
    f = p.open_deal("F", at=day(4), store=store, amount=40, region="us", close_date="2026-01-15")
    f.record("call", at=day(8))
    return list(store.events())


EV = log()
P = pipeline()
PERIOD = {"start": date(2026, 1, 5), "end": date(2026, 2, 1)}
REV, REV_P = test_revenue.LOG, test_revenue.P  # a log with accounts and contracts
REV_YEAR = {"start": date(2026, 4, 1), "end": date(2027, 4, 1)}

Call = Callable[[], Any]


def size(deal: metrics.ClosedDeal) -> str:
    """A bucketing function for win_loss: deals of 60 or more are "big"."""
    return "big" if (deal.amount or 0) >= 60 else "small"


#: Every public function of metrics and forecast that reads a log: its calls, the
#: plain one first, then a by= variant where the function takes by= (a period
#: variant for slippage, a bucketing function for win_loss).
CASES: dict[str, list[Call]] = {
    "metrics.accounts": [lambda: metrics.accounts(REV, REV_P)],
    "metrics.arr": [lambda: metrics.arr(REV, REV_P), lambda: metrics.arr(REV, REV_P, by="account")],
    "metrics.bowtie": [
        lambda: metrics.bowtie(
            test_bowtie.SALES,
            REV_P,
            success_events=test_bowtie.SUCCESS,
            success_pipeline=test_bowtie.S,
        )
    ],
    "metrics.cohort_retention": [lambda: metrics.cohort_retention(REV, REV_P)],
    "metrics.retention": [
        lambda: metrics.retention(REV, REV_P, **REV_YEAR),
        lambda: metrics.retention(REV, REV_P, **REV_YEAR, by="account"),
    ],
    "metrics.revenue_movement": [
        lambda: metrics.revenue_movement(REV, REV_P, **REV_YEAR),
        lambda: metrics.revenue_movement(REV, REV_P, **REV_YEAR, by="account"),
    ],
    "metrics.action_conversion": [
        lambda: metrics.action_conversion(EV, P, horizon=10 * D, as_of=AS_OF)
    ],
    "metrics.conversion": [
        lambda: metrics.conversion(EV, P, from_stage="lead", to_stage="won", as_of=AS_OF),
        lambda: metrics.conversion(
            EV, P, from_stage="lead", to_stage="won", by="region", as_of=AS_OF
        ),
    ],
    "metrics.data_quality": [lambda: metrics.data_quality(EV, P, as_of=AS_OF)],
    "metrics.funnel": [
        lambda: metrics.funnel(EV, P, as_of=AS_OF),
        lambda: metrics.funnel(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.histories": [lambda: metrics.histories(EV, P, as_of=AS_OF)],
    "metrics.conformance": [lambda: metrics.conformance(EV, P, as_of=AS_OF)],
    "metrics.handovers": [lambda: metrics.handovers(PEOPLE.EV, PEOPLE.P)],
    "metrics.lost_reasons": [lambda: metrics.lost_reasons(EV, P, as_of=AS_OF)],
    "metrics.movement": [
        lambda: metrics.movement(EV, P, **PERIOD),
        lambda: metrics.movement(EV, P, **PERIOD, by="region"),
    ],
    "metrics.paths": [
        lambda: metrics.paths(EV, P, as_of=AS_OF),
        lambda: metrics.paths(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.period_conversion": [
        lambda: metrics.period_conversion(EV, P, stage="lead", start=T0, end=AS_OF),
        lambda: metrics.period_conversion(EV, P, stage="lead", start=T0, end=AS_OF, by="region"),
    ],
    "metrics.period_status": [lambda: metrics.period_status(EV, P, **PERIOD, as_of=AS_OF)],
    "metrics.rework": [lambda: metrics.rework(EV, P, as_of=AS_OF)],
    "metrics.sales_cycle": [
        lambda: metrics.sales_cycle(EV, P, as_of=AS_OF),
        lambda: metrics.sales_cycle(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.scorecard": [lambda: metrics.scorecard(EV, P, attribute="region", as_of=AS_OF)],
    "metrics.skips_and_regressions": [lambda: metrics.skips_and_regressions(EV, P, as_of=AS_OF)],
    "metrics.slippage": [
        lambda: metrics.slippage(EV, P, as_of=AS_OF),
        lambda: metrics.slippage(EV, P, **PERIOD, as_of=AS_OF),
    ],
    "metrics.snapshot": [lambda: metrics.snapshot(EV, P, as_of=AS_OF)],
    "metrics.stage_durations": [
        lambda: metrics.stage_durations(EV, P, as_of=AS_OF),
        lambda: metrics.stage_durations(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.stalled": [lambda: metrics.stalled(EV, P, as_of=AS_OF)],
    "metrics.substate_durations": [
        lambda: metrics.substate_durations(EV, P, stage="lead", as_of=AS_OF, include_open=True),
        lambda: metrics.substate_durations(EV, P, stage="lead", by="region", as_of=AS_OF),
    ],
    "metrics.substate_visits": [lambda: metrics.substate_visits(EV, P, as_of=AS_OF)],
    "metrics.velocity": [
        lambda: metrics.velocity(EV, P, as_of=AS_OF),
        lambda: metrics.velocity(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.transitions": [
        lambda: metrics.transitions(EV, P, as_of=AS_OF),
        lambda: metrics.transitions(EV, P, by="region", as_of=AS_OF),
    ],
    "metrics.trend": [
        lambda: metrics.trend(EV, P, measure="won", as_of=AS_OF),
        lambda: metrics.trend(EV, P, measure="win_rate", by="region", as_of=AS_OF),
    ],
    "metrics.visits": [lambda: metrics.visits(EV, P, as_of=AS_OF)],
    "metrics.what_if": [lambda: metrics.what_if(EV, P, P, as_of=AS_OF)],
    "metrics.win_loss": [
        lambda: metrics.win_loss(EV, P, by="region", as_of=AS_OF, at="closing"),
        lambda: metrics.win_loss(EV, P, by=size, as_of=AS_OF, at="closing"),
    ],
    "metrics.win_rate": [
        lambda: metrics.win_rate(EV, P, as_of=AS_OF),
        lambda: metrics.win_rate(EV, P, by="region", as_of=AS_OF),
    ],
    "forecast.accuracy": [lambda: _accuracy()],
    "forecast.backtest": [lambda: forecast.backtest(EV, P, dates=[day(4), day(6)], horizon=5 * D)],
    "forecast.calibration": [lambda: forecast.calibration(EV, P, dates=[day(4)], as_of=AS_OF)],
    "forecast.categories": [lambda: forecast.categories(EV, P, **PERIOD, as_of=AS_OF)],
    "forecast.conditional_forecast": [lambda: forecast.conditional_forecast(EV, P, as_of=AS_OF)],
    "forecast.coverage": [
        lambda: forecast.coverage(EV, P, **PERIOD, target=500, as_of=AS_OF),
        lambda: forecast.coverage(
            EV,
            P,
            **PERIOD,
            target={"eu": 300, "us": 200},
            by="region",
            as_of=AS_OF,
        ),
    ],
    "forecast.cumulative_incidence": [lambda: forecast.cumulative_incidence(EV, P, as_of=AS_OF)],
    "forecast.markov": [lambda: forecast.markov(EV, P, as_of=AS_OF)],
    "forecast.markov_forecast": [lambda: forecast.markov_forecast(EV, P, as_of=AS_OF)],
    "forecast.next_actions": [
        lambda: forecast.next_actions(EV, P, deal="F", as_of=AS_OF, min_support=0)
    ],
    "forecast.stage_outlook": [
        lambda: forecast.stage_outlook(EV, P, stage="lead", age=D, horizon=10 * D, as_of=AS_OF)
    ],
    "forecast.suggest_probabilities": [lambda: forecast.suggest_probabilities(EV, P, as_of=AS_OF)],
    "forecast.time_to_close": [lambda: forecast.time_to_close(EV, P, as_of=AS_OF)],
    "forecast.weighted": [lambda: forecast.weighted(EV, P, as_of=AS_OF)],
}


def _accuracy() -> Any:
    """A forecast call scored against the hand log (which has no owners: the call's
    owner is unknown to it, which warns)."""
    call = forecast.Call("ana", "2026-01", "commit", 120, day(1))
    with pytest.warns(forecast.UnknownOwnerWarning):
        return forecast.accuracy(EV, P, calls=[call], as_of=AS_OF)


#: Public functions that do not read a log, and why they have no case.
NOT_RESULTS = {
    "metrics.records": "converts a result",
    "metrics.to_pandas": "converts a result",
    "metrics.to_polars": "converts a result",
    "metrics.within": "builds a bucketing function for win_loss",
    "metrics.fewer_than": "builds a bucketing function for win_loss",
    "metrics.days_until": "builds a bucketing function for win_loss",
    "metrics.session": "a context manager that caches a table's pivots, not a result",
}


def _public_functions() -> list[str]:
    names = []
    for module in (metrics, forecast):
        short = module.__name__.rsplit(".", 1)[-1]
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type):
                names.append(f"{short}.{name}")
    return sorted(names)


def test_every_public_function_has_a_case() -> None:
    """A public function of metrics or forecast without a case here fails: add it."""
    missing = set(_public_functions()) - set(CASES) - set(NOT_RESULTS)
    assert not missing, f"add a case to CASES for {sorted(missing)}"
    assert not (set(CASES) | set(NOT_RESULTS)) - set(_public_functions())


def _variants() -> list[Any]:
    return [
        pytest.param(name, i, id=f"{name}-{i}")
        for name, calls in sorted(CASES.items())
        for i in range(len(calls))
    ]


def _is_number(result: Any) -> bool:
    return isinstance(result, int | float) and not isinstance(result, bool)


@pytest.mark.parametrize(("name", "variant"), _variants())
def test_every_result_converts_with_named_columns(name: str, variant: int) -> None:
    """records, to_pandas and to_polars give the same rows under string column names."""
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    result = CASES[name][variant]()
    rows = metrics.records(result)
    assert rows, f"{name} gave no rows on the hand log"
    columns = list(dict.fromkeys(k for row in rows for k in row))
    assert all(isinstance(c, str) and c for c in columns)
    frame = metrics.to_pandas(result)
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == len(rows)
    assert list(frame.columns) == columns  # no integer labels, none lost
    polars = metrics.to_polars(result)
    assert isinstance(polars, pl.DataFrame)
    assert polars.height == len(rows)
    assert polars.columns == columns


@pytest.mark.parametrize(("name", "variant"), _variants())
def test_every_result_prints_readably(name: str, variant: int) -> None:
    """str() of the result (of each item, for a list) is a line or a table, not its repr."""
    result = CASES[name][variant]()
    if _is_number(result):
        return  # a number prints as itself
    items = result if isinstance(result, list) else [result]
    assert items, f"{name} gave an empty list on the hand log"
    for item in items:
        text = str(item)
        assert text
        assert text != repr(item)
        assert "(" not in text.split(" ", 1)[0], f"{name} prints like a repr: {text!r}"


@pytest.mark.parametrize(("name", "variant"), _variants())
def test_every_record_has_to_records(name: str, variant: int) -> None:
    """Each record of a result (an attrs record) has to_records(); a dict is Keyed."""
    import attrs

    result = CASES[name][variant]()
    if _is_number(result) or name == "metrics.histories":
        return
    if isinstance(result, dict):
        assert isinstance(result, Keyed), f"{name} returns a dict without key names"
        result = next(iter(result.values()))
        if isinstance(result, dict):
            result = next(iter(result.values()))
    items = result if isinstance(result, list) else [result]
    for item in items:
        if _is_number(item):
            continue
        assert attrs.has(type(item)), f"{name}: {type(item).__name__} is not an attrs record"
        assert isinstance(item, metrics._types.Tabular)


# ------------------------------------------------------------- hand-checked rows
def test_movement_one_row_per_line() -> None:
    """movement over the whole log: one named row per line, by hand.

    In [d-1, d27) every deal is created: 6 deals, 100+50+80+30+60+40 = 360;
    won A 100 and E 60 = 2, 160; lost B 50 and D 30 = 2, 80; open at the end C and F:
    2, 120. Nothing is open before d0, reopened or re-priced.
    """
    got = metrics.movement(EV, P, start=day(-1), end=day(27))
    assert metrics.records(got) == [
        {"line": "opening", "count": 0, "amount": 0.0},
        {"line": "created", "count": 6, "amount": 360.0},
        {"line": "reopened", "count": 0, "amount": 0.0},
        {"line": "won", "count": 2, "amount": 160.0},
        {"line": "lost", "count": 2, "amount": 80.0},
        {"line": "increased", "count": 0, "amount": 0.0},
        {"line": "decreased", "count": 0, "amount": 0.0},
        {"line": "closing", "count": 2, "amount": 120.0},
    ]
    assert str(got).splitlines()[2].split() == ["opening", "0", "0"]
    assert str(got).splitlines()[3].split() == ["created", "6", "360"]


def test_movement_by_names_its_key_column() -> None:
    """movement(by="region") gives a region column before each line."""
    rows = metrics.records(metrics.movement(EV, P, start=day(-1), end=day(27), by="region"))
    assert list(rows[0]) == ["region", "line", "count", "amount"]
    # eu: A 100, C 80, E 60 created = 3, 240; us: B 50, D 30, F 40 = 3, 120
    created = {r["region"]: (r["count"], r["amount"]) for r in rows if r["line"] == "created"}
    assert created == {"eu": (3, 240.0), "us": (3, 120.0)}


def test_lost_reasons_are_records_that_unpack() -> None:
    """lost_reasons gives LostReason records (price: B 50; timing: D 30) that unpack
    and compare like the tuples they replace."""
    got = metrics.lost_reasons(EV, P, as_of=AS_OF)
    assert got == [
        LostReason(reason="price", deals=1, amount=50.0),
        LostReason(reason="timing", deals=1, amount=30.0),
    ]
    assert got == [("price", 1, 50.0), ("timing", 1, 30.0)]
    for reason, deals, amount in got:
        assert (reason, deals, amount) in {("price", 1, 50.0), ("timing", 1, 30.0)}
    assert metrics.records(got)[0] == {"reason": "price", "deals": 1, "amount": 50.0}
    assert str(got[0]) == "price: 1 deals, amount 50"
    assert hash(got[0]) == hash(("price", 1, 50.0))
    assert pickle.loads(pickle.dumps(got[0])) == got[0]


def test_tally_is_a_record_that_unpacks() -> None:
    """Tally builds positionally or by keyword, unpacks, equals its pair, and has a row."""
    t = Tally(3, 1200.5)
    assert t == Tally(count=3, amount=1200.5) == (3, 1200.5)
    assert t != Tally(3, 1200.0)
    assert t != (3, 1200.5, 0)
    assert t != "3"
    count, amount = t
    assert (count, amount) == (3, 1200.5)
    assert t.to_records() == [{"count": 3, "amount": 1200.5}]
    assert str(t) == "3 (amount 1,200.50)"
    assert repr(t) == "Tally(count=3, amount=1200.5)"


def test_dict_of_tallies_converts() -> None:
    """A dict of Tally (what categories gives) has a key column and count, amount."""
    got = Keyed("category", {"closed": Tally(2, 160.0), "commit": Tally(0, 0.0)})
    assert metrics.records(got) == [
        {"category": "closed", "count": 2, "amount": 160.0},
        {"category": "commit", "count": 0, "amount": 0.0},
    ]
    assert metrics.records(dict(got))[0] == {"key": "closed", "count": 2, "amount": 160.0}
    assert str(got) == "closed: 2 (amount 160)\ncommit: 0 (amount 0)"


def test_by_key_is_named_after_the_attribute() -> None:
    """A by= result is Keyed by the attribute's name; its rows and frames say so."""
    got = metrics.win_rate(EV, P, by="region", as_of=AS_OF)
    assert isinstance(got, Keyed)
    assert got.key_name == "region"
    # eu: A won, E won, C open = 2 of 2 closed; us: B, D lost = 0 of 2
    assert metrics.records(got) == [
        {"region": "eu", "numerator": 2, "denominator": 2, "rate": 1.0, "reason": None},
        {"region": "us", "numerator": 0, "denominator": 2, "rate": 0.0, "reason": None},
    ]
    assert str(got) == "eu: 100.0% (2 of 2)\nus: 0.0% (0 of 2)"


def test_a_key_column_that_clashes_is_renamed() -> None:
    """by= an attribute named like a column of the rows: the key column is <name>_key."""
    got = Keyed(
        "stage",
        {"x": [metrics.FunnelRow(stage="lead", reached=1, conversion_rate=None, win_rate=None)]},
    )
    assert metrics.records(got) == [
        {"stage_key": "x", "stage": "lead", "reached": 1, "conversion_rate": None, "win_rate": None}
    ]


def test_backtest_errors_keep_one_method_column() -> None:
    """A backtest's errors are Keyed by method; the method is one column, not two."""
    bt = forecast.backtest(EV, P, dates=[day(4), day(6)], horizon=5 * D)
    assert isinstance(bt.errors, Keyed)
    rows = metrics.records(bt.errors)
    assert [list(r)[:2] for r in rows] == [["method", "bias"]] * 3
    assert [r["method"] for r in rows] == list(bt.errors)


def test_a_number_is_one_value_row() -> None:
    """A bare number (velocity, weighted) is one row with a value column.

    weighted at d12: C in qualified 80 × 0.4 + F in lead 40 × 0.1 = 32 + 4 = 36.
    """
    got = forecast.weighted(EV, P, as_of=AS_OF)
    assert math.isclose(got, 36.0)
    assert metrics.records(got) == [{"value": got}]


def test_histories_one_row_per_deal() -> None:
    """histories() gives one row per deal with its state at as_of."""
    got = metrics.histories(EV, P, as_of=AS_OF)
    rows = metrics.records(got)
    assert [r["deal_id"] for r in rows] == ["A", "B", "C", "D", "E", "F"]
    assert [r["outcome"] for r in rows] == ["won", "lost", "open", "lost", "won", "open"]
    assert rows[1]["lost_reason"] == "price"
    assert str(got) == "6 deals as of 2026-01-17 09:00: 2 open, 2 won, 2 lost"


def test_records_refuse_what_is_no_result() -> None:
    """A string, a bare tuple, or a bool is no result: TypeError naming its type."""
    for bad, name in (("x", "str"), (("price", 1, 1.0), "tuple"), (True, "bool")):
        with pytest.raises(TypeError, match=f"cannot turn {name} into table rows"):
            metrics.records(bad)


def test_printed_days_and_money() -> None:
    """Durations print in days, amounts with thousands separators, rates as %."""
    slip = metrics.slippage(EV, P, as_of=AS_OF)
    # C moved its close date 2026-01-20 → 2026-01-27 once: +7 days; F's 2026-01-15
    # has passed by d12 = 2026-01-17
    assert sorted(str(s) for s in slip) == [
        "C: close date 2026-01-20 → 2026-01-27 (+7 days, pushed 1 time)",
        "F: close date 2026-01-15 → 2026-01-15 (+0 days, pushed 0 times), overdue",
    ]
    stall = metrics.stalled(EV, P, as_of=AS_OF)
    # C's last event is its update at d5: idle 7 days > 5
    assert [str(s) for s in stall] == ["C in qualified, idle 7.0 days"]
    coverage = forecast.coverage(EV, P, **PERIOD, target=1000, as_of=AS_OF)
    assert str(coverage).startswith("won 160 of 1,000 (16.0%)")


def test_the_table_engine_returns_the_same_records() -> None:
    """On a DuckDB table: LostReason records, by= keys named after the attribute, Tally
    categories, each converting to the same rows as the pure-Python engine."""
    pytest.importorskip("ibis")
    from _engines import close_all, duckdb_loader

    try:
        table = duckdb_loader()(EV)
        for call in (
            lambda ev: metrics.lost_reasons(ev, P, as_of=AS_OF),
            lambda ev: metrics.win_rate(ev, P, by="region", as_of=AS_OF),
            lambda ev: metrics.funnel(ev, P, by="region", as_of=AS_OF),
            lambda ev: forecast.categories(ev, P, **PERIOD, as_of=AS_OF),
            lambda ev: forecast.coverage(ev, P, **PERIOD, target={"eu": 1, "us": 2}, by="region"),
        ):
            want, got = call(EV), call(table)
            assert type(got) is type(want)
            assert getattr(got, "key_name", None) == getattr(want, "key_name", None)
            assert metrics.records(got) == metrics.records(want)
        assert isinstance(metrics.lost_reasons(table, P)[0], LostReason)
    finally:
        close_all()


# ------------------------------------------------------------------ properties
DRAWN = event_logs(
    pipeline(),
    max_deals=6,
    max_steps=10,
    span=timedelta(days=40),
    fields={"amount": st.integers(0, 1_000)},
    attributes=st.fixed_dictionaries(
        {"amount": st.integers(0, 1_000), "region": st.sampled_from(["eu", "us", "stage"])}
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(log=DRAWN)
def test_rows_keep_every_figure(log: list[Event]) -> None:
    """For drawn logs: the lost reasons' rows add up to the lost deals; a by= result's
    rows carry one key column named after the attribute and one row per key and
    stage; movement's rows are its eight lines and keep its identity."""
    hist = metrics.histories(log, P)
    lost = [h for h in hist.deals.values() if h.outcome == "lost"]
    reasons = metrics.records(metrics.lost_reasons(log, P))
    assert sum(r["deals"] for r in reasons) == len(lost)
    assert [tuple(r.values()) for r in reasons] == [tuple(x) for x in metrics.lost_reasons(log, P)]

    by = metrics.stage_durations(log, P, by="region")
    rows = metrics.records(by)
    assert len(rows) == sum(len(v) for v in by.values())
    assert all(list(r)[:2] == ["region", "stage"] for r in rows)
    assert {r["region"] for r in rows} == set(by)

    moved = metrics.movement(log, P, start=T0, end=T0 + 20 * D)
    lines = {r["line"]: (r["count"], r["amount"]) for r in metrics.records(moved)}
    assert len(lines) == 8
    n = {k: v[0] for k, v in lines.items()}
    assert n["opening"] + n["created"] + n["reopened"] - n["won"] - n["lost"] == n["closing"]
    assert all(lines[name] == getattr(moved, name) for name in lines)


def test_win_loss_group_column_that_clashes_is_key() -> None:
    """A bucketing function named like one of the group columns gives a 'key' column."""

    def won(deal: metrics.ClosedDeal) -> str:
        return deal.outcome

    rows = metrics.records(metrics.win_loss(EV, P, by=won, as_of=AS_OF, at="closing"))
    # A and E won, B and D lost: one group each, with won 2 / lost 2 deals
    assert {(r["key"], r["won"], r["lost"]) for r in rows} == {("won", 2, 0), ("lost", 0, 2)}


def test_an_empty_keyed_result_prints_what_it_lacks() -> None:
    """A Keyed dict with nothing in it prints '(no <key name>)' and has no rows."""
    empty: Keyed[str, Tally] = Keyed("region")
    assert str(empty) == "(no region)"
    assert metrics.records(empty) == []
    assert metrics.records({}, names=["owner", "stage"]) == []
    assert metrics.to_pandas(metrics.win_rate([], P, by="region")).empty
