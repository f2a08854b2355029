"""Every ratio of issue 24 on the many-small-deals log, in one table.

The log shape: a high-volume inbound team. The inbound preset simulated with
many deals lost early and many still open (about 5.3 events a deal: the
opening, stage entries, the meeting and document activities, close dates that
slip, a few amount changes and proposal sub-states). At full size it holds
about 1.01M events over about 190k deals (``--events`` builds a smaller one).

Measured in one run, so the ratios are fair on a shared machine:

- ``salesstages report STORE --format json`` on a :class:`SqliteStore`, pure
  Python, in a fresh process: µs an event, reading included, and the ratio
  to a raw ``fetchall`` of the same rows;
- ``salesstages report FILE.parquet --format json --engine duckdb``: seconds;
- the four core metrics through the Ibis engine on DuckDB, called one after
  another in a fresh session (new connection, nothing cached), against
  hand-written DuckDB SQL for the same figures on the same table;
- strict replay against a minimal fold (one dict lookup, a ``seq`` check and
  the stage kept per event: the floor any replay pays);
- the four core metrics against idiomatic pandas, on shuffled events and on
  events grouped by deal.

Run: ``python benchmarks/many_deals.py [--events N] [--repeat R] [--cpu] [--skip-report]``
(``--cpu`` reads CPU time instead of wall time: steadier on a busy machine, but
it adds up DuckDB's threads)
(default 1,010,000 events; ``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import random
import resource
import sqlite3
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engines import hand_sql
from metrics import pandas_suite, to_frame
from report_engines import run_report

from salesstages import Event, Pipeline, metrics
from salesstages._simulate import simulate
from salesstages._stores import SqliteStore
from salesstages.presets import inbound_b2b

warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)

START = datetime(2026, 1, 1, tzinfo=UTC)
#: Events a deal, measured on this shape (5,000 deals, seed 1).
EVENTS_PER_DEAL = 5.33
#: The simulation's settings for this shape: most deals lost early, a third still open.
SHAPE: dict[str, Any] = {"days": 180, "loss_rate": 3.0, "mean_stage_days": 35, "reopen_rate": 0.1}
CORE = ("visits", "stage_durations", "funnel", "win_rate")
_RAW = (
    "SELECT e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, e.data "
    "FROM events AS e ORDER BY e.deal_id, e.seq"
)


def build_log(target_events: int, seed: int = 2) -> list[Event]:
    """The many-small-deals log, about ``target_events`` events, grouped by deal."""
    deals = max(1, round(target_events / EVENTS_PER_DEAL))
    return simulate(inbound_b2b(), deals=deals, start=START, seed=seed, **SHAPE)


#: The clock every figure is read on: wall time, or CPU time with ``--cpu`` (this
#: process's, and the report subprocess's own), steadier on a busy machine.
CLOCK: list[Callable[[], float]] = [time.perf_counter]


def now() -> float:
    return CLOCK[0]()


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """The best wall time of ``repeat`` runs (the result dropped before the next)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = now()
        result = fn()
        best = min(best, now() - t)
        del result
    return best


def minimal_fold(events: list[Event]) -> dict[str, str | None]:
    """The floor of any replay: per event one dict lookup, a ``seq`` check and the stage."""
    seqs: dict[str, int] = {}
    stage: dict[str, str | None] = {}
    for e in events:
        prev = seqs.get(e.deal_id, -1)
        if e.seq <= prev:
            raise ValueError(e.deal_id)
        seqs[e.deal_id] = e.seq
        if e.kind == "stage_entered":
            stage[e.deal_id] = e.stage
    return stage


def write_store(log: list[Event], path: Path) -> None:
    """The log in a SQLite store, one ``append_many`` (deals are grouped already)."""
    store = SqliteStore(path, synchronous="NORMAL")
    deals: dict[str, list[Event]] = {}
    for e in log:
        deals.setdefault(e.deal_id, []).append(e)
    store.append_many(deals.values())


def duckdb_core(log: list[Event], p: Pipeline, repeat: int) -> tuple[float, float]:
    """The four core metrics through the engine and as hand SQL, each in a fresh session."""
    import ibis

    from salesstages.io import to_arrow
    from salesstages.metrics._ibis._pivots import CACHE

    arrow = to_arrow(log)
    sql = hand_sql(
        [s.name for s in p.open_stages],
        [s.name for s in p.won_stages],
        [s.name for s in p.lost_stages],
    )
    engine = hand = float("inf")
    for _ in range(repeat):
        con = ibis.duckdb.connect()
        con.con.register("ev_arrow", arrow)
        con.raw_sql("CREATE TABLE ev AS SELECT * FROM ev_arrow")
        table = con.table("ev")
        CACHE.clear()
        gc.collect()
        t = now()
        for name in CORE:
            getattr(metrics, name)(table, p)
        engine = min(engine, now() - t)
        con.disconnect()
        con = ibis.duckdb.connect()
        con.con.register("ev_arrow", arrow)
        con.raw_sql("CREATE TABLE ev AS SELECT * FROM ev_arrow")
        gc.collect()
        t = now()
        for name in CORE:
            con.con.execute(sql[name]).fetchall()
        hand = min(hand, now() - t)
        con.disconnect()
    return engine, hand


def report_time(path: Path, spec: Path, engine: str, cpu: bool) -> tuple[float, float]:
    """``salesstages report PATH --format json`` in a fresh process: seconds (wall, or
    the subprocess's CPU time with ``cpu``) and peak resident MB."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, rss = run_report(path, spec, engine, fmt="json")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if cpu:
        return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rss
    return wall, rss


def pandas_ratios(log: list[Event], p: Pipeline, repeat: int) -> tuple[float, float, float] | None:
    """The four core metrics: ours shuffled, ours grouped, pandas (seconds, summed)."""
    if importlib.util.find_spec("pandas") is None:
        return None
    import pandas as pd

    shuffled = log[:]
    random.Random(0).shuffle(shuffled)
    frame = to_frame(shuffled, pd)
    suite = pandas_suite(p, pd)
    shuf = grp = pand = 0.0
    for name in CORE:
        fn = getattr(metrics, name)
        shuf += best_of(lambda fn=fn: fn(shuffled, p), repeat)
        grp += best_of(lambda fn=fn: fn(log, p), repeat)
        pand += best_of(lambda name=name: suite[name](frame), repeat)
    return shuf, grp, pand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_010_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument(
        "--cpu", action="store_true", help="CPU time instead of wall time (for a busy machine)"
    )
    parser.add_argument("--skip-report", action="store_true", help="leave out the two report runs")
    args = parser.parse_args()
    if args.cpu:
        CLOCK[0] = time.process_time
    p = inbound_b2b()
    t = time.perf_counter()
    log = build_log(args.events)
    n = len(log)
    deals = len({e.deal_id for e in log})
    print(
        f"many small deals: {n:,} events, {deals:,} deals ({n / deals:.2f} a deal), "
        f"simulated in {time.perf_counter() - t:.1f} s"
    )
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "pipeline.json"
        spec.write_text(json.dumps(p.to_dict()))
        if not args.skip_report:
            db = Path(tmp) / "events.sqlite3"
            write_store(log, db)

            def raw() -> None:
                conn = sqlite3.connect(db)
                conn.execute(_RAW).fetchall()
                conn.close()

            t_raw = best_of(raw, args.repeat)
            wall, rss = report_time(db, spec, "python", args.cpu)
            rows.append(
                (
                    "report (SQLite, pure Python, JSON), reading included",
                    f"{wall / n * 1e6:.2f} µs/event ({wall:.2f} s, peak {rss:,.0f} MB)",
                    "≤ 8 µs/event",
                )
            )
            size = (db.parent / "report-python.json").stat().st_size
            rows.append(
                (
                    "JSON report size",
                    f"{size / 1e6:.2f} MB ({size * 1e6 / n / 1e6:.2f} MB per 1M events)",
                    "≤ 1 MB at 1M events",
                )
            )
            rows.append(
                (
                    "report ÷ raw fetchall of the same store",
                    f"{wall / t_raw:.2f}× ({t_raw:.2f} s raw)",
                    "—",
                )
            )
            if importlib.util.find_spec("duckdb") is not None:
                from salesstages.io import write_parquet

                pq = Path(tmp) / "events.parquet"
                write_parquet(log, pq)
                dd, dd_rss = report_time(pq, spec, "duckdb", args.cpu)
                rows.append(
                    (
                        "report (Parquet, --engine duckdb, JSON)",
                        f"{dd:.2f} s (peak {dd_rss:,.0f} MB; {dd * 1e6 / n:.2f} µs/event)",
                        "≤ 3 s at 1M events",
                    )
                )
    if importlib.util.find_spec("duckdb") is not None:
        engine, hand = duckdb_core(log, p, args.repeat)
        rows.append(
            (
                "four core metrics on DuckDB ÷ hand SQL (fresh session)",
                f"{engine / hand:.2f}× ({engine:.2f} s vs {hand:.2f} s)",
                "≤ 1.5×",
            )
        )
    t_replay = best_of(lambda: p.replay(log, strict=True), args.repeat)
    t_min = best_of(lambda: minimal_fold(log), args.repeat)
    rows.append(
        (
            "strict replay ÷ minimal fold",
            f"{t_replay / t_min:.2f}× ({t_replay:.2f} s vs {t_min:.2f} s)",
            "≤ 2.5×",
        )
    )
    pandas = pandas_ratios(log, p, args.repeat)
    if pandas is not None:
        shuf, grp, pand = pandas
        rows.append(
            (
                "four core metrics ÷ pandas, shuffled events",
                f"{shuf / pand:.2f}× ({shuf:.2f} s vs {pand:.2f} s)",
                "≤ 3×",
            )
        )
        rows.append(
            (
                "four core metrics ÷ pandas, grouped events",
                f"{grp / pand:.2f}× ({grp:.2f} s vs {pand:.2f} s)",
                "≤ 1.5×",
            )
        )
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    print(f"\n{'CPU' if args.cpu else 'wall'} time, best of {args.repeat}")
    print(f"{'figure':<{w0}}  {'measured':<{w1}}  target")
    print(f"{'-' * w0}  {'-' * w1}  {'-' * 18}")
    for name, value, target in rows:
        print(f"{name:<{w0}}  {value:<{w1}}  {target}")


if __name__ == "__main__":
    main()
