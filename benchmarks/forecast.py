"""Time every forecast on a simulated log of about a million events.

Run with ``python benchmarks/forecast.py [events]``; prints one line per
forecast with its best wall time of three runs (each includes folding the
log, timed on its own on the first line). The target is ≤ 2 s each for 1M events; the backtest
folds the log twice per date and is not held to it.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from salesstages import forecast, presets
from salesstages._simulate import simulate
from salesstages.metrics._history import histories
from salesstages.metrics._winloss import fewer_than, win_loss

EVENTS_PER_DEAL = 7.97  # measured on inbound_b2b with activities=False


def _time(label: str, fn: Callable[[], Any], repeat: int = 3) -> float:
    """Run ``fn`` ``repeat`` times and print the best wall time (the least disturbed run)."""
    elapsed = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = fn()
        elapsed = min(elapsed, time.perf_counter() - start)
    shown = f"{result:,.0f}" if isinstance(result, float) else repr(result)
    print(f"{label:<34} {elapsed:6.2f} s   {shown[:90]}")
    return elapsed


def main(target: int = 1_000_000) -> None:
    """Simulate about ``target`` events and time each forecast on them."""
    pipeline = presets.inbound_b2b()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    events = simulate(
        pipeline,
        deals=round(target / EVENTS_PER_DEAL),
        start=start,
        days=365,
        activities=False,
    )
    print(f"simulated {len(events):,} events in {time.perf_counter() - t0:.1f} s")
    horizon = timedelta(days=30)
    _time("(the shared fold: histories)", lambda: histories(events, pipeline))
    _time("weighted", lambda: forecast.weighted(events, pipeline))
    _time("markov", lambda: forecast.markov(events, pipeline))
    _time("markov_forecast", lambda: forecast.markov_forecast(events, pipeline))
    _time("time_to_close", lambda: forecast.time_to_close(events, pipeline))
    _time("cumulative_incidence", lambda: forecast.cumulative_incidence(events, pipeline))
    _time(
        "stage_outlook(evaluation, 10 days)",
        lambda: forecast.stage_outlook(
            events, pipeline, stage="evaluation", age=timedelta(days=10), horizon=horizon
        ),
    )
    _time(
        "conditional_forecast(30 days)",
        lambda: forecast.conditional_forecast(events, pipeline, horizon=horizon),
    )
    _time("win_loss(region)", lambda: win_loss(events, pipeline, by="region", at="closing"))
    _time(
        "win_loss(fewer_than)",
        lambda: win_loss(events, pipeline, by=fewer_than("stakeholders", 2), at="closing"),
    )
    dates = [start + timedelta(days=d) for d in (120, 210, 300)]
    _time(
        "backtest (3 dates, 30 days)",
        lambda: forecast.backtest(events, pipeline, dates=dates, horizon=horizon),
        repeat=1,
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
