"""The whole report on a large log, as a user runs it (issue 10: fold once).

Builds the inbound preset's simulated log (activities included, the one
``benchmarks/replay.py`` builds), writes it to a :class:`SqliteStore`, then
measures in one run, so the ratios are fair on a shared machine:

- a raw ``fetchall`` of the store's rows (the floor for any reader);
- ``list(store.events())`` (time, and bytes held per event, by tracemalloc);
- ``salesstages report STORE`` end to end in a fresh process (reading, one fold
  per ``as_of``, every metric and forecast, the text rendering): wall time, µs
  per event, and peak resident memory;
- the fold alone, and ``build_report`` on the folded log.

Run: ``python benchmarks/report.py [--events N]`` (default 1,000,000).
"""

from __future__ import annotations

import argparse
import gc
import sqlite3
import tempfile
import time
import tracemalloc
from pathlib import Path

from replay import build_log
from report_engines import run_report

from salesstages import Event, metrics
from salesstages._stores import SqliteStore
from salesstages.presets import inbound_b2b
from salesstages.report import build_report, render_text

_RAW = (
    "SELECT e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, e.data "
    "FROM events AS e ORDER BY e.deal_id, e.seq"
)


def timed(fn: object, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - t)
    return best


def held_per_event(path: Path) -> float:
    """Bytes held by ``list(store.events())``, per event (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    evs = list(SqliteStore(path).events())
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(evs)


def in_process(path: Path, n: int) -> None:
    """The fold alone, and the report on events already read."""
    p = inbound_b2b()
    events = list(SqliteStore(path).events())
    t_fold = timed(lambda: metrics.histories(events, p), 3)
    t_build = timed(lambda: render_text(build_report(events, p)), 1)
    print(f"fold (histories):         {t_fold:6.2f} s  ({t_fold / n * 1e6:.2f} µs/event)")
    print(f"build_report + text:      {t_build:6.2f} s  ({t_build / n * 1e6:.2f} µs/event)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    p = inbound_b2b()
    log = build_log(args.events)
    n = len(log)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.db"
        store = SqliteStore(path, synchronous="NORMAL")
        deals: dict[str, list[Event]] = {}
        for e in log:
            deals.setdefault(e.deal_id, []).append(e)
        store.append_many(deals.values())
        del deals, log, store
        spec = Path(tmp) / "pipeline.json"
        import json

        spec.write_text(json.dumps(p.to_dict()))
        print(f"log: {n:,} events in a SqliteStore")

        def raw() -> None:
            conn = sqlite3.connect(path)
            conn.execute(_RAW).fetchall()
            conn.close()

        t_raw = timed(raw, 3)
        t_read = timed(lambda: list(SqliteStore(path).events()), 3)
        print(f"raw fetchall:             {t_raw:6.2f} s")
        print(
            f"list(store.events()):     {t_read:6.2f} s  ({t_read / t_raw:.2f}× the raw fetchall)"
        )
        print(f"held per event:           {held_per_event(path):6.0f} B")
        in_process(path, n)
        wall, rss = run_report(path, spec, "python")
        print(
            f"salesstages report STORE: {wall:6.2f} s  ({wall / n * 1e6:.2f} µs/event incl. reading), "
            f"peak {rss:,.0f} MB ({rss * 1024 * 1024 / n:,.0f} B/event)"
        )


if __name__ == "__main__":
    main()
