"""Benchmark: salesstages.metrics on ~1M events beside idiomatic pandas and pm4py.

Generates a log of ~1M events (~175k deals at ~5.7 events a deal: skips,
regressions, reopenings, ~30% still open) with the simulator, shuffles it,
and prints wall time and peak memory (tracemalloc, in a separate run so the
timings are not slowed by tracing) of ``visits``, ``stage_durations``,
``funnel`` and ``win_rate``:

- salesstages on the shuffled list, and on the list grouped by deal in
  ``seq`` order (as a store's ``events()`` yields it: the fast path);
- idiomatic pandas (sort, shift, groupby) on a DataFrame of the shuffled log
  (building the frame from the events is timed on its own and not counted);
- pm4py, when it is importable, at ~150k events (``format_dataframe`` first,
  then ``discover_performance_dfg(..., perf_aggregation_key="raw_values")``
  for time in stage), beside salesstages and pandas at the same size.

pm4py is AGPL: it is a benchmark-only dependency that salesstages never
imports; install it in a separate environment (``pip install pm4py``) to get
that column. pandas is needed for the pandas column.

Last, on a log of the same deals with the simulator's sales plays (call,
demo, email), ``action_conversion`` and ``next_actions`` beside ``win_rate``
on the same log, as a ratio (``--no-actions`` skips it).

Run: ``python benchmarks/metrics.py [--deals 175000] [--pm4py-events 150000]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import itertools
import platform
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from salesstages import Event, Pipeline, Stage, forecast, metrics
from salesstages._simulate import simulate

START = datetime(2025, 1, 1, tzinfo=UTC)
METRICS = ("visits", "stage_durations", "funnel", "win_rate")


def bench_pipeline() -> Pipeline:
    """lead → qualified → demo → proposal (review, negotiation) → won / lost."""
    d = timedelta(days=1)
    return Pipeline(
        "bench",
        [
            Stage("lead", rot_after=14 * d),
            Stage("qualified", rot_after=21 * d),
            Stage("demo", rot_after=21 * d),
            Stage("proposal", substates=("review", "negotiation"), rot_after=30 * d),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_skip=True,
        allow_regress=True,
        allow_reopen=True,
    )


def make_log(p: Pipeline, deals: int, seed: int) -> list[Event]:
    """The grouped log: skip_rate 0.15, regress_rate 0.12, reopenings, ~30% open."""
    return simulate(
        p,
        deals=deals,
        start=START,
        days=110,
        seed=seed,
        activities=False,
        skip_rate=0.15,
        regress_rate=0.12,
    )


def describe(p: Pipeline, events: list[Event]) -> str:
    """Events per deal, outcomes, and the share of deals with a skip, regression, reopening."""
    paths: dict[str, list[str]] = {}
    for e in events:
        if e.kind == "stage_entered":
            paths.setdefault(e.deal_id, []).append(e.stage)  # type: ignore[arg-type]
    n = len(paths)
    pos = {s.name: i for i, s in enumerate(p.open_stages)}
    pos.update({s.name: len(pos) for s in p.won_stages})
    outcome = Counter(p.stage(path[-1]).outcome for path in paths.values())

    def share(test: Callable[[str, str], bool]) -> float:
        return sum(any(test(a, b) for a, b in itertools.pairwise(s)) for s in paths.values()) / n

    skip = share(lambda a, b: a in pos and b in pos and pos[b] > pos[a] + 1)
    regress = share(lambda a, b: a in pos and b in pos and pos[b] < pos[a])
    reopen = share(lambda a, b: p.stage(a).outcome == "lost" and b in pos)
    return (
        f"{len(events):,} events, {n:,} deals, {len(events) / n:.2f} events/deal; "
        f"open {outcome['open'] / n:.0%}, won {outcome['won'] / n:.0%}, lost {outcome['lost'] / n:.0%}; "
        f"deals with a skip {skip:.0%}, a regression {regress:.0%}, a reopening {reopen:.0%}"
    )


# --------------------------------------------------------------------------- pandas


def to_frame(events: list[Event], pd: Any) -> Any:
    """The log as a DataFrame (what a pandas user would load from a file)."""
    return pd.DataFrame(
        {
            "deal_id": [e.deal_id for e in events],
            "seq": [e.seq for e in events],
            "at": pd.to_datetime([e.at for e in events], utc=True),
            "kind": [e.kind for e in events],
            "stage": [e.stage for e in events],
        }
    )


def pandas_suite(p: Pipeline, pd: Any) -> dict[str, Callable[[Any], Any]]:
    """Idiomatic pandas for the four metrics: sort, shift, groupby."""
    opens = [s.name for s in p.open_stages]
    outcome = {s.name: s.outcome for s in p.stages}
    position = {name: i for i, name in enumerate(opens)} | {
        s.name: len(opens) for s in p.won_stages
    }

    def visits(df: Any) -> Any:
        as_of = df["at"].max()
        se = df[df["kind"] == "stage_entered"].sort_values(["deal_id", "seq"])
        g = se.groupby("deal_id", sort=False)
        v = se.assign(exited_at=g["at"].shift(-1), next_stage=g["stage"].shift(-1))
        v = v[v["stage"].isin(opens)]
        v = v.assign(is_open=v["exited_at"].isna())
        return v.assign(duration=v["exited_at"].fillna(as_of) - v["at"])

    def stage_durations(df: Any) -> Any:
        v = visits(df)
        done = v[~v["is_open"]].groupby("stage")["duration"]
        out = done.agg(["count", "mean", "median", "min", "max"])
        out["p90"] = done.quantile(0.9)
        out["open_count"] = v[v["is_open"]].groupby("stage").size()
        return out

    def last_stage(df: Any) -> Any:
        se = df[df["kind"] == "stage_entered"].sort_values(["deal_id", "seq"])
        return se.groupby("deal_id", sort=False)["stage"].last()

    def funnel(df: Any) -> Any:
        se = df[df["kind"] == "stage_entered"].sort_values(["deal_id", "seq"])
        g = se.groupby("deal_id", sort=False)
        deals = pd.DataFrame(
            {
                "furthest": se["stage"].map(position).groupby(se["deal_id"], sort=False).max(),
                "outcome": g["stage"].last().map(outcome),
            }
        )
        won_deal = deals["outcome"] == "won"
        lost_deal = deals["outcome"] == "lost"
        rows = []
        for i, name in enumerate(opens):
            reached = deals["furthest"] >= i
            n, nxt = int(reached.sum()), int((deals["furthest"] >= i + 1).sum())
            won, lost = int((reached & won_deal).sum()), int((reached & lost_deal).sum())
            rows.append(
                (name, n, nxt / n if n else None, won / (won + lost) if won + lost else None)
            )
        return rows

    def win_rate(df: Any) -> Any:
        counts = last_stage(df).map(outcome).value_counts()
        won, lost = counts.get("won", 0), counts.get("lost", 0)
        return won / (won + lost)

    return {
        "visits": visits,
        "stage_durations": stage_durations,
        "funnel": funnel,
        "win_rate": win_rate,
    }


# --------------------------------------------------------------------------- measuring


def ours(p: Pipeline) -> dict[str, Callable[[list[Event]], Any]]:
    """The four salesstages metrics."""
    return {
        "visits": lambda evs: metrics.visits(evs, p),
        "stage_durations": lambda evs: metrics.stage_durations(evs, p),
        "funnel": lambda evs: metrics.funnel(evs, p),
        "win_rate": lambda evs: metrics.win_rate(evs, p),
    }


def timed(fn: Callable[[Any], Any], arg: Any, repeat: int) -> float:
    """Best wall time of ``repeat`` runs (the result is dropped before the next run)."""
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        result = fn(arg)
        best = min(best, time.perf_counter() - t)
        del result
    return best


def peak(fn: Callable[[Any], Any], arg: Any) -> int:
    """Peak bytes allocated while ``fn(arg)`` runs and its result is alive (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = fn(arg)
    top = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return top


def mb(n: int) -> str:
    return f"{n / 2**20:7.1f} MB"


def run_pm4py(p: Pipeline, events: list[Event], pd: Any, repeat: int) -> None:
    """pm4py at this size beside salesstages and pandas (time in stage)."""
    pm4py: Any = importlib.import_module("pm4py")  # benchmark-only, AGPL; never in salesstages

    df = to_frame(events, pd)
    df = df[df["kind"] == "stage_entered"]

    def pm4py_time_in_stage(frame: Any) -> Any:
        log = pm4py.format_dataframe(
            frame, case_id="deal_id", activity_key="stage", timestamp_key="at"
        )
        dfg = pm4py.discover_performance_dfg(
            log,
            perf_aggregation_key="raw_values",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
            case_id_key="case:concept:name",
        )[0]
        per_stage: dict[str, list[float]] = {}
        for (a, _b), values in dfg.items():
            per_stage.setdefault(a, []).extend(values)
        return per_stage

    t_pm4py = timed(pm4py_time_in_stage, df, repeat)
    t_ours = timed(ours(p)["stage_durations"], events, repeat)
    full = to_frame(events, pd)
    t_pandas = timed(pandas_suite(p, pd)["stage_durations"], full, repeat)
    print(
        f"\npm4py {pm4py.__version__} at {len(events):,} events (time in stage, shuffled input):\n"
        f"  pm4py format_dataframe + discover_performance_dfg  {t_pm4py:7.3f} s\n"
        f"  salesstages stage_durations                        {t_ours:7.3f} s   "
        f"pm4py / salesstages = {t_pm4py / t_ours:5.1f}x  (target >= 20x)\n"
        f"  pandas stage_durations                             {t_pandas:7.3f} s"
    )


def run_actions(p: Pipeline, deals: int, seed: int, repeat: int) -> None:
    """``action_conversion`` and ``next_actions`` beside ``win_rate`` on a log with plays."""
    log = simulate(p, deals=deals, start=START, days=110, seed=seed, action_effect=0.6)
    shuffled = log[:]
    random.Random(seed).shuffle(shuffled)
    hist = metrics.histories(log, p)
    deal = next(d for d, h in hist.deals.items() if h.is_open)
    within = timedelta(days=30)
    suite: dict[str, Callable[[Any], Any]] = {
        "win_rate": lambda evs: metrics.win_rate(evs, p),
        "action_conversion": lambda evs: metrics.action_conversion(evs, p, horizon=within),
        "next_actions": lambda evs: forecast.next_actions(evs, p, deal=deal),
    }
    acts = sum(e.kind == "activity" for e in log)
    print(
        f"\nwhat moves deals forward, on {len(log):,} events ({acts:,} activities, "
        f"{len(hist.deals):,} deals; within 30 days; next_actions for one open deal):"
    )
    print(f"{'function':<18} {'shuffled':>9} {'grouped':>8} {'folded':>8} {'÷ win_rate':>11}")
    base = None
    for name, fn in suite.items():
        t_shuf = timed(fn, shuffled, repeat)
        t_grp = timed(fn, log, repeat)
        t_fold = timed(fn, hist, repeat)
        base = base or t_grp
        print(f"{name:<18} {t_shuf:8.3f}s {t_grp:7.3f}s {t_fold:7.3f}s {t_grp / base:10.2f}x")


def planning_suite(p: Pipeline) -> dict[str, Callable[[Any], Any]]:
    """The period functions of issue 14 over 2025-Q1 (the log starts on 2025-01-01)."""
    q1 = (START, START + timedelta(days=90))
    mid = START + timedelta(days=45)
    return {
        "movement": lambda ev: metrics.movement(ev, p, start=START, end=mid),
        "slippage": lambda ev: metrics.slippage(ev, p),
        "categories": lambda ev: forecast.categories(ev, p, start=q1[0], end=q1[1]),
        "coverage": lambda ev: forecast.coverage(ev, p, start=q1[0], end=q1[1], target=1e8),
    }


def run_planning(p: Pipeline, shuffled: list[Event], grouped: list[Event], repeat: int) -> None:
    """Each period function against ``metrics.win_rate`` on the same log (target <= 1.5x)."""
    base = {
        "shuffled": timed(lambda ev: metrics.win_rate(ev, p), shuffled, repeat),
        "grouped": timed(lambda ev: metrics.win_rate(ev, p), grouped, repeat),
    }
    print(
        f"\n{'planning':<16} {'shuffled':>9} {'/win_rate':>9} {'grouped':>9} {'/win_rate':>9}"
        f"   (win_rate: {base['shuffled']:.3f}s shuffled, {base['grouped']:.3f}s grouped)"
    )
    for name, fn in planning_suite(p).items():
        t_shuf = timed(fn, shuffled, repeat)
        t_grp = timed(fn, grouped, repeat)
        print(
            f"{name:<16} {t_shuf:8.3f}s {t_shuf / base['shuffled']:8.2f}x"
            f" {t_grp:8.3f}s {t_grp / base['grouped']:8.2f}x"
        )
    print("target: each <= 1.5x win_rate")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deals", type=int, default=175_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="best of N timings")
    parser.add_argument("--pm4py-events", type=int, default=150_000)
    parser.add_argument("--no-actions", action="store_true", help="skip action_conversion")
    parser.add_argument(
        "--planning-only", action="store_true", help="only the period functions vs win_rate"
    )
    args = parser.parse_args(argv)

    p = bench_pipeline()
    grouped = make_log(p, args.deals, args.seed)
    shuffled = grouped[:]
    random.Random(args.seed).shuffle(shuffled)
    print(f"Python {platform.python_version()} on {platform.machine()}, {sys.platform}")
    print(describe(p, grouped))
    n = len(grouped)
    run_planning(p, shuffled, grouped, args.repeat)
    if args.planning_only:
        return

    have_pandas = importlib.util.find_spec("pandas") is not None
    pd: Any = importlib.import_module("pandas") if have_pandas else None
    suite = ours(p)
    rows: list[tuple[str, float, float, int, float | None, int | None]] = []
    frame = None
    if pd is not None:
        t = time.perf_counter()
        frame = to_frame(shuffled, pd)
        print(
            f"building the pandas DataFrame from the events: {time.perf_counter() - t:.2f} s (not counted)"
        )
        pd_suite = pandas_suite(p, pd)
    for name in METRICS:
        t_shuf = timed(suite[name], shuffled, args.repeat)
        t_grp = timed(suite[name], grouped, args.repeat)
        m_ours = peak(suite[name], shuffled)
        t_pd = m_pd = None
        if frame is not None:
            t_pd = timed(pd_suite[name], frame, args.repeat)
            m_pd = peak(pd_suite[name], frame)
        rows.append((name, t_shuf, t_grp, m_ours, t_pd, m_pd))

    print(
        f"\n{'metric':<16} {'ours shuffled':>13} {'ours grouped':>12} {'pandas':>8}"
        f" {'shuf/pd':>7} {'grp/pd':>6}   {'peak ours':>10} {'B/event':>7} {'peak pandas':>11}"
    )
    for name, t_shuf, t_grp, m_ours, t_pd, m_pd in rows:
        pd_t = f"{t_pd:7.3f}s" if t_pd is not None else "      —"
        r1 = f"{t_shuf / t_pd:6.2f}x" if t_pd else "     —"
        r2 = f"{t_grp / t_pd:5.2f}x" if t_pd else "    —"
        pd_m = mb(m_pd) if m_pd is not None else "—"
        print(
            f"{name:<16} {t_shuf:12.3f}s {t_grp:11.3f}s {pd_t} {r1} {r2}   "
            f"{mb(m_ours):>10} {m_ours / n:7.0f} {pd_m:>11}"
        )
    print("targets: shuffled <= 3x pandas, grouped <= 1.5x pandas")
    if frame is not None:
        # the two sides compute the same numbers
        rows_ours = metrics.funnel(shuffled, p)
        rows_pd = pd_suite["funnel"](frame)
        same = (
            len(metrics.visits(shuffled, p)) == len(pd_suite["visits"](frame))
            and [r.reached for r in rows_ours] == [r[1] for r in rows_pd]
            and abs((metrics.win_rate(shuffled, p).rate or 0) - pd_suite["win_rate"](frame)) < 1e-12
        )
        print(f"salesstages and pandas agree on visit count, funnel reached and win rate: {same}")

    if importlib.util.find_spec("pm4py") is None:
        print(
            "\npm4py is not installed here: no pm4py column (pip install pm4py in a separate env)"
        )
    elif pd is not None:
        # the first deals of the grouped log up to ~N events, then shuffled
        cut = next(
            (i for i, e in enumerate(grouped) if i >= args.pm4py_events and e.seq == 0),
            len(grouped),
        )
        subset = grouped[:cut]
        random.Random(args.seed).shuffle(subset)
        run_pm4py(p, subset, pd, max(1, args.repeat - 1))
    if not args.no_actions:
        run_actions(p, args.deals, args.seed, args.repeat)


if __name__ == "__main__":
    main()
