"""The §20 functions agree across engines (pure Python and DuckDB through Ibis) on the
hand logs and on seeded random walks with skips, loops, reopenings, sub-states and
owners changing hands; and with pm4py on the simulator's log when it is installed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest

import test_conformance as hand_conformance
import test_paths as hand_paths
import test_people as hand_people
from _engines import assert_same, close_all, duckdb_loader
from _helpers import T0, day
from salesstages import Event, MemoryStore, Pipeline, Stage, metrics

pytest.importorskip("ibis")
pytest.importorskip("duckdb")

OWNERS = ("ana", "bob", "cy", "dee")


@pytest.fixture(scope="module")
def load() -> Iterator[Callable[[Sequence[Event]], Any]]:
    """Events → an Ibis table on one in-memory DuckDB."""
    yield duckdb_loader()
    close_all()


def walk_pipeline() -> Pipeline:
    """a (sub-states x, y, z) → b → c → d → won / lost; skips, regressions, reopenings."""
    return Pipeline(
        "walk",
        [
            Stage("a", substates=("x", "y", "z"), substate_regress=True),
            Stage("b"),
            Stage("c"),
            Stage("d"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_regress=True,
    )


def random_walks(seed: int, deals: int = 40) -> list[Event]:
    """Seeded random walks through :func:`walk_pipeline`, with owner changes."""
    rng = random.Random(seed)
    p = walk_pipeline()
    store = MemoryStore()
    for n in range(deals):
        at = T0 + timedelta(hours=rng.randrange(0, 24 * 20))
        deal = p.open_deal(
            f"W{n}", at=at, store=store, owner=rng.choice(OWNERS), amount=rng.randrange(1, 9) * 10
        )
        for _ in range(rng.randrange(1, 9)):
            at += timedelta(hours=rng.randrange(0, 96))
            roll = rng.random()
            if deal.outcome == "won":
                break
            if roll < 0.15:
                deal.update(at=at, owner=rng.choice(OWNERS))
            elif roll < 0.25 and deal.stage == "a":
                sub = rng.choice(p.substate_targets("a", deal.substate) or ("x",))
                if sub in p.substate_targets("a", deal.substate):
                    deal.enter_substate(sub, at=at)
            else:
                targets = [t for t in p.targets(deal.stage) if t != deal.stage]
                if targets:
                    deal.move(rng.choice(targets), at=at)
    return list(store.events())


def _calls(ev: list[Event], p: Pipeline, as_of: Any) -> Iterator[tuple[str, Callable[[Any], Any]]]:
    yield "paths", lambda x: metrics.paths(x, p, as_of=as_of)
    yield "paths top", lambda x: metrics.paths(x, p, as_of=as_of, top=3)
    yield "transitions", lambda x: metrics.transitions(x, p, as_of=as_of)
    yield "rework", lambda x: metrics.rework(x, p, as_of=as_of)
    yield "conformance", lambda x: metrics.conformance(x, p, as_of=as_of)
    yield "conformance itself", lambda x: metrics.conformance(x, p, reference=p, as_of=as_of)
    if any("owner" in e.data for e in ev):
        yield "handovers", lambda x: metrics.handovers(x, p, as_of=as_of)
        yield "scorecard", lambda x: metrics.scorecard(x, p, as_of=as_of)
        yield (
            "scorecard period",
            lambda x: metrics.scorecard(
                x, p, as_of=as_of, start=day(2), end=day(12), prior_strength=3, level=0.9
            ),
        )
    if any("region" in e.data for e in ev):
        yield "paths by", lambda x: metrics.paths(x, p, as_of=as_of, by="region")
        yield "transitions by", lambda x: metrics.transitions(x, p, as_of=as_of, by="region")


def _same_on_both(
    load: Callable[[Sequence[Event]], Any],
    ev: list[Event],
    p: Pipeline,
    cuts: Sequence[Any] = (None, day(3)),
) -> None:
    table = load(ev)
    for as_of in cuts:
        for name, call in _calls(ev, p, as_of):
            want = call(ev)
            got = call(table)
            assert_same(got, want, f"{name} as_of={as_of}")


@pytest.mark.parametrize(
    ("ev", "p"),
    [
        pytest.param(hand_paths.EV, hand_paths.P, id="paths-log"),
        pytest.param(hand_people.EV, hand_people.P, id="people-log"),
        pytest.param(
            hand_conformance.sub_log(), hand_conformance.sub_pipeline(), id="substates-log"
        ),
    ],
)
def test_hand_logs(load: Callable[[Sequence[Event]], Any], ev: list[Event], p: Pipeline) -> None:
    """Every §20 function gives the same result on a table as on the events."""
    _same_on_both(load, ev, p)


@pytest.mark.parametrize("seed", range(2))
def test_random_walks(load: Callable[[Sequence[Event]], Any], seed: int) -> None:
    """The same on seeded random walks with loops, skips, reopenings and handovers."""
    _same_on_both(load, random_walks(seed), walk_pipeline(), (day(8),))


def test_empty_table(load: Callable[[Sequence[Event]], Any]) -> None:
    """A table with no stage entry gives the empty results."""
    table = load([Event(deal_id="D", seq=0, at=T0, kind="opened", data={"owner": "ana"})])
    p = walk_pipeline()
    assert metrics.paths(table, p) == []
    assert metrics.transitions(table, p) == []
    assert all(r.entered == 0 for r in metrics.rework(table, p).values())
    assert metrics.conformance(table, p).rate is None
    assert metrics.handovers(table, p) == []
    assert metrics.scorecard(table, p) == []


def test_table_errors(load: Callable[[Sequence[Event]], Any]) -> None:
    """Bad arguments are refused before the table is read, the same way."""
    table = load(hand_people.EV)
    p = hand_people.P
    with pytest.raises(ValueError, match="prior_strength"):
        metrics.scorecard(table, p, prior_strength=-1)
    with pytest.raises(ValueError, match="did you mean 'owner'"):
        metrics.scorecard(table, p, attribute="ownr")
    with pytest.raises(ValueError, match="did you mean 'owner'"):
        metrics.handovers(table, p, attribute="ownr")
    with pytest.raises(ValueError, match="top must be"):
        metrics.paths(table, p, top=0)


# ------------------------------------------------------------------ pm4py
def test_against_pm4py() -> None:
    """Variants, the directly-follows graph and its mean durations, and rework per stage
    equal pm4py's on the stage-entry log of the simulator."""
    pm4py = pytest.importorskip(
        "pm4py", reason="pm4py is not installed (pip install pm4py) to cross-check paths"
    )
    pd = pytest.importorskip("pandas")
    from salesstages import presets
    from salesstages._simulate import simulate

    p = presets.classic_b2b()
    ev = simulate(p, deals=200, start=T0, seed=3, activities=False)
    rows = [
        {
            "case:concept:name": e.deal_id,
            "concept:name": e.stage,
            "time:timestamp": e.at,
            "seq": e.seq,
        }
        for e in ev
        if e.kind == "stage_entered"
    ]
    frame = pd.DataFrame(rows).sort_values(["case:concept:name", "seq"])
    variants = pm4py.get_variants(frame)
    ours = {r.path: r.deals for r in metrics.paths(ev, p)}
    theirs = {tuple(k): (v if isinstance(v, int) else len(v)) for k, v in variants.items()}
    assert ours == theirs
    dfg, _, _ = pm4py.discover_dfg(frame)
    assert {(r.from_stage, r.to_stage): r.moves for r in metrics.transitions(ev, p)} == dict(dfg)
    perf, _, _ = pm4py.discover_performance_dfg(frame)
    for r in metrics.transitions(ev, p):
        mean = r.durations.mean
        assert mean is not None
        assert mean.total_seconds() == pytest.approx(perf[r.from_stage, r.to_stage]["mean"])
    # Rework: pm4py counts, per activity, the cases where it occurs more than once (it lists
    # only activities with rework); visits per activity give entered + extra visits.
    rework = metrics.rework(ev, p)
    assert {s: r.reentered for s, r in rework.items() if r.reentered} == (
        pm4py.get_rework_cases_per_activity(frame)
    )
    cases = pm4py.get_event_attribute_values(frame, "concept:name", count_once_per_case=True)
    visits = pm4py.get_event_attribute_values(frame, "concept:name")
    assert {s: r.entered for s, r in rework.items() if r.entered} == cases
    assert {s: r.entered + r.extra_visits for s, r in rework.items() if r.entered} == visits
    assert sum(r.reentered for r in rework.values()) > 0  # the log has rework to compare


def test_hand_logs_on_postgres(pg_conninfo: str) -> None:
    """The same on PostgreSQL (skipped when no server can be started)."""
    pytest.importorskip("psycopg")
    from _engines import postgres_loader

    load = postgres_loader(pg_conninfo)
    try:
        _same_on_both(load, hand_paths.EV, hand_paths.P, (None,))
        _same_on_both(load, hand_people.EV, hand_people.P, (None,))
        sub = hand_conformance.sub_log()
        _same_on_both(load, sub, hand_conformance.sub_pipeline(), (None,))
    finally:
        close_all()
