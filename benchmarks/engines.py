"""Benchmark: the Ibis engine on DuckDB beside hand-written DuckDB SQL and the Python engine.

On the ~1M-event inbound log that ``benchmarks/replay.py`` builds (activities
included), loaded into an in-memory DuckDB table, times the four core metrics
(``visits``, ``stage_durations``, ``funnel``, ``win_rate``):

- through the Ibis engine (``metrics.<name>(table, pipeline)``);
- as hand-written DuckDB SQL computing the same figures over the same table
  (``visits``: its rows fetched as Python tuples; the others: the aggregates);
- through the pure-Python engine on the events (a list grouped by deal, as a
  store yields it), one fold per call as a user calls them, with the collector
  on, then inside ``salesstages.bulk()`` (the host's opt-in pause);
- through the Ibis engine inside a ``metrics.session(table)`` (pivots kept).

Prints each time (best of ``--repeat`` runs) and the same-run ratios. The
targets (issue 10): engine ≤ 1.5× hand-written SQL, engine ≥ 5× faster than
the pure-Python engine, over the four together.

Run: ``python benchmarks/engines.py [--events 1000000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import gc
import time
import warnings
from collections.abc import Callable
from typing import Any

from replay import build_log

import salesstages
from salesstages import Event, metrics
from salesstages.presets import inbound_b2b

warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)


def _arrow(events: list[Event]) -> Any:
    from salesstages.io import to_arrow

    return to_arrow(events)


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    """The best wall time of ``repeat`` runs of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def hand_sql(opens: list[str], won: list[str], lost: list[str]) -> dict[str, str]:
    """Idiomatic DuckDB SQL for the four metrics over table ``ev``."""
    o = ", ".join(f"'{s}'" for s in opens)
    w = ", ".join(f"'{s}'" for s in won)
    lo = ", ".join(f"'{s}'" for s in lost)
    pos = " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(opens))
    pos += " " + " ".join(f"WHEN '{s}' THEN {len(opens)}" for s in won)
    entries = """
        SELECT deal_id, seq, "at", stage,
               lead("at") OVER (PARTITION BY deal_id ORDER BY seq) AS next_at,
               lead(stage) OVER (PARTITION BY deal_id ORDER BY seq) AS next_stage
        FROM ev WHERE kind = 'stage_entered'"""
    asof = '(SELECT max("at") FROM ev)'
    last = """
        SELECT deal_id, arg_max(stage, seq) AS stage,
               max(CASE stage {pos} ELSE -1 END) + 1 AS top
        FROM ev WHERE kind = 'stage_entered' GROUP BY deal_id"""
    outcome = (
        f"CASE WHEN stage IN ({w}) THEN 'won' WHEN stage IN ({lo}) THEN 'lost' ELSE 'open' END"
    )
    return {
        "visits": f"""
            SELECT deal_id, stage, "at", next_at, next_stage,
                   coalesce(next_at, {asof}) - "at" AS duration, next_at IS NULL AS is_open
            FROM ({entries}) WHERE stage IN ({o}) ORDER BY deal_id, seq""",
        "stage_durations": f"""
            WITH v AS (SELECT stage, date_diff('microsecond', "at", next_at) AS d, next_at IS NULL AS o
                       FROM ({entries}) WHERE stage IN ({o}))
            SELECT stage, count(d), count(*) FILTER (WHERE o), avg(d), quantile_cont(d, 0.5),
                   quantile_cont(d, 0.9), min(d), max(d)
            FROM v GROUP BY stage""",
        "funnel": f"""
            SELECT {outcome} AS outcome, top, count(*) FROM ({last.format(pos=pos)})
            GROUP BY ALL""",
        "win_rate": f"""
            SELECT {outcome} AS outcome, count(*) FROM ({last.format(pos=pos)})
            GROUP BY ALL""",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import ibis

    p = inbound_b2b()
    t = time.perf_counter()
    log = build_log(args.events)
    deals = len({e.deal_id for e in log})
    print(
        f"log: {len(log):,} events, {deals:,} deals (simulated in {time.perf_counter() - t:.1f} s)"
    )
    con = ibis.duckdb.connect()
    con.con.register("ev_arrow", _arrow(log))
    con.raw_sql("CREATE TABLE ev AS SELECT * FROM ev_arrow")
    con.con.unregister("ev_arrow")
    table = con.table("ev")
    raw = con.con

    names = ["visits", "stage_durations", "funnel", "win_rate"]
    sql = hand_sql(
        [s.name for s in p.open_stages],
        [s.name for s in p.won_stages],
        [s.name for s in p.lost_stages],
    )
    fns = {name: getattr(metrics, name) for name in names}
    hand: dict[str, float] = {}
    python: dict[str, float] = {}
    bulk: dict[str, float] = {}
    plain: dict[str, float] = {}
    warm: dict[str, float] = {}
    for name, fn in fns.items():
        hand[name] = best_of(lambda q=sql[name]: raw.execute(q).fetchall(), args.repeat)
        python[name] = best_of(lambda fn=fn: fn(log, p), 1)
        with salesstages.bulk():  # the host's opt-in: the collector paused
            bulk[name] = best_of(lambda fn=fn: fn(log, p), 1)
        plain[name] = best_of(lambda fn=fn: fn(table, p), args.repeat)
        with metrics.session(table):
            fn(table, p)
            warm[name] = best_of(lambda fn=fn: fn(table, p), args.repeat)

    def in_turn() -> None:
        with metrics.session(table):
            for fn in fns.values():
                fn(table, p)

    cold_all = best_of(in_turn, args.repeat)

    print(
        f"\n{'metric':<16} {'hand SQL':>9} {'engine':>9} {'engine':>9} {'Python':>9} {'Python':>9}"
        f" {'engine/SQL':>11} {'Python/engine':>14}"
    )
    print(
        f"{'':<16} {'':>9} {'uncached':>9} {'session':>9} {'':>9} {'bulk()':>9}"
        f" {'(uncached)':>11} {'(uncached)':>14}"
    )
    for name in names:
        print(
            f"{name:<16} {hand[name]:>8.3f}s {plain[name]:>8.3f}s {warm[name]:>8.3f}s "
            f"{python[name]:>8.3f}s {bulk[name]:>8.3f}s {plain[name] / hand[name]:>10.2f}× "
            f"{python[name] / plain[name]:>13.1f}×"
        )
    th, tp, tw, tpy, tb = (sum(d.values()) for d in (hand, plain, warm, python, bulk))
    print(
        f"{'all four':<16} {th:>8.3f}s {tp:>8.3f}s {tw:>8.3f}s {tpy:>8.3f}s {tb:>8.3f}s "
        f"{tp / th:>10.2f}× {tpy / tp:>13.1f}×"
    )
    print(
        f"\nthe four in turn in one session, pivots materialised by the first call: "
        f"{cold_all:.3f} s = {cold_all / th:.2f}× hand SQL, Python/engine {tpy / cold_all:.1f}×"
    )
    print("targets: engine/SQL ≤ 1.5×, Python/engine ≥ 5×")


if __name__ == "__main__":
    main()
