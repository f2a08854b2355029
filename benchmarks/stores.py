"""Append and read throughput of every event store, and peak memory.

Run with ``python benchmarks/stores.py [--events N] [--dir DIR]`` (default 1,000,000
events, in a temporary directory). Each measurement runs in a fresh child process,
so its peak resident memory (``ru_maxrss``) is its own.

What is measured, per store:

- bulk append: ``append_many`` with 1,000 deals (20,000 events) per call, one
  transaction / one write each: the way to load an import;
- batched append: every deal's events in one ``append`` (20 events per call;
  a batch holds one deal's events), one transaction each;
- single appends: one event per ``append`` call, on fewer events (a durable
  single append costs an fsync, which measures the disk, not the code); the
  first append of a fresh JSONL handle, which indexes the file, is timed apart;
- read: ``events()`` into ``Event`` objects, every event, in a fresh process
  (best of three runs);
- follow: ``events_after(0)``, every event with its global position (best of three).

Each line shows the wall-clock rate and the CPU-time rate; on a shared machine
the CPU rate is the steadier one, and the calibration line says how fast the
machine was.

The file stores run twice where it matters: with their durable defaults
(SQLite ``synchronous=FULL``, JSONL ``fsync=True``) and with durability relaxed
(``NORMAL`` / ``fsync=False``), the setting for a bulk import.
Targets: SQLite read >= 300,000 events/s; batched append >= 100,000 events/s;
JSONL read >= 300,000 events/s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from salesstages import Event, EventStore, MemoryStore
from salesstages._stores import JsonlStore, SqliteStore

PER_DEAL = 20
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STAGES = ("lead", "discovery", "evaluation", "proposal", "negotiation")


def deal_batches(n_events: int, offset: int = 0) -> Iterator[list[Event]]:
    """Deterministic deals of PER_DEAL events: opened, stage moves, activities, updates."""
    for d in range(offset, offset + n_events // PER_DEAL):
        deal_id = f"D-{d:08d}"
        at = T0 + timedelta(minutes=d)
        batch = [
            Event(
                deal_id=deal_id,
                seq=0,
                at=at,
                kind="opened",
                data={"amount": 1000 + d % 5000, "owner": f"rep{d % 40}", "source": "inbound"},
            )
        ]
        stage = STAGES[0]
        for s in range(1, PER_DEAL):
            at += timedelta(hours=s)
            if s % 4 == 1:
                stage = STAGES[(s // 4) % len(STAGES)]
                batch.append(
                    Event(deal_id=deal_id, seq=s, at=at, kind="stage_entered", stage=stage)
                )
            elif s % 7 == 0:
                batch.append(
                    Event(
                        deal_id=deal_id,
                        seq=s,
                        at=at,
                        kind="updated",
                        stage=stage,
                        data={"amount": s * 100},
                    )
                )
            else:
                batch.append(
                    Event(
                        deal_id=deal_id,
                        seq=s,
                        at=at,
                        kind="activity",
                        stage=stage,
                        name="call" if s % 2 else "email",
                        data={"minutes": s} if s % 3 == 0 else {},
                    )
                )
        yield batch


def make_store(kind: str, directory: Path, durable: bool) -> EventStore:
    """A store of the given kind in ``directory``."""
    if kind == "sqlite":
        return SqliteStore(directory / "events.db", synchronous="FULL" if durable else "NORMAL")
    if kind == "jsonl":
        return JsonlStore(directory / "events.jsonl", fsync=durable)
    return MemoryStore()


def peak_mb() -> float:
    """This process's peak resident memory, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


REPEAT = 3  # reads are timed this many times; the best run counts


def calibrate() -> float:
    """Milliseconds for a fixed pure-Python loop: how fast this machine is right now."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - start)
    return best * 1000


def best_of(n: int, fn: Callable[[], int]) -> Clock:
    """Time ``fn`` ``n`` times; return the fastest run's clock (``result``: its value)."""
    best: Clock | None = None
    for _ in range(n):
        with Clock() as clock:
            clock.result = fn()
        if best is None or clock.wall < best.wall:
            best = clock
    assert best is not None
    return best


class Clock:
    """Wall-clock and CPU time of one timed region."""

    result = 0

    def __enter__(self) -> Clock:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def child(task: str, kind: str, directory: Path, n: int, durable: bool) -> dict[str, Any]:
    """One measurement in this (fresh) process."""
    store = make_store(kind, directory, durable)
    extra: dict[str, Any] = {}
    if task == "bulk":
        batches = list(deal_batches(n))
        with Clock() as clock:
            for i in range(0, len(batches), 1000):
                store.append_many(batches[i : i + 1000])  # type: ignore[attr-defined]
        count = len(batches) * PER_DEAL
    elif task == "batched":
        batches = list(deal_batches(n))
        with Clock() as clock:
            for batch in batches:
                store.append(batch)
        count = len(batches) * PER_DEAL
        if kind == "memory":  # nothing to read in another process: read here
            with Clock() as read:
                extra["read"] = sum(1 for _ in store.events())
            extra["read_s"] = read.wall
            extra["read_cpu"] = read.cpu
    elif task == "single":
        events = [e for batch in deal_batches(n, offset=10**7) for e in batch]
        with Clock() as first:
            store.append(events[:1])  # a fresh JSONL handle indexes the file here
        extra["first"] = first.wall
        with Clock() as clock:
            for e in events[1:]:
                store.append([e])
        count = len(events) - 1
    elif task == "read":
        clock = best_of(REPEAT, lambda: sum(1 for _ in store.events()))
        count = clock.result
    elif task == "follow":
        clock = best_of(REPEAT, lambda: sum(1 for _ in store.events_after(0)))
        count = clock.result
    else:  # pragma: no cover
        raise SystemExit(f"unknown task {task!r}")
    return {"count": count, "seconds": clock.wall, "cpu": clock.cpu, **extra}


def run(task: str, kind: str, directory: Path, n: int, durable: bool) -> dict[str, Any]:
    """Run one measurement in a child process and return its figures."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            task,
            kind,
            str(directory),
            str(n),
            str(int(durable)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def line(label: str, result: dict[str, Any]) -> None:
    """Print one figure: wall-clock rate, CPU-time rate (steadier on a busy machine), peak."""
    rate = result["count"] / result["seconds"]
    cpu = result["count"] / result["cpu"] if result.get("cpu") else float("nan")
    print(
        f"  {label:<50} {result['count']:>9,} ev {result['seconds']:6.2f} s "
        f"{rate:>10,.0f}/s wall {cpu:>10,.0f}/s cpu  peak {result['peak_mb']:5.0f} MB"
    )


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=20_000, help="events for single appends")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        task, kind, directory, n, durable = args.child
        result = child(task, kind, Path(directory), int(n), bool(int(durable)))
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return

    n = args.events - args.events % PER_DEAL
    print(
        f"salesstages store benchmark: {n:,} events ({PER_DEAL} per deal), Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        base = Path(tmp)
        (base / "scratch").mkdir()
        print(
            f"files in a temporary directory on {os.uname().sysname}; each figure from a fresh process"
        )
        print("memory")
        r = run("batched", "memory", base, n, True)
        line("append, one batch per deal", r)
        line(
            "read events() (same process)",
            {**r, "count": r["read"], "seconds": r["read_s"], "cpu": r["read_cpu"]},
        )
        r = run("single", "memory", base, args.single, True)
        line("append, single events", r)
        print(
            f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs before the file "
            f"stores; calibration: sum(range(10**6)) takes {calibrate():.1f} ms (compare "
            "runs and machines by it)"
        )
        for kind, durable_name, relaxed_name in (
            ("sqlite", "synchronous=FULL", "synchronous=NORMAL"),
            ("jsonl", "fsync=True", "fsync=False"),
        ):
            print(kind)
            for durable, name in ((False, relaxed_name), (True, durable_name)):
                d = base / f"{kind}-{int(durable)}"
                d.mkdir()
                r = run("bulk", kind, d, n if not durable else min(n, 200_000), durable)
                line(f"append_many, 1,000 deals per call, {name}", r)
                r = run("batched", kind, base / "scratch", min(n, 100_000), durable)
                line(f"append, one batch per deal, {name}", r)
                r = run("single", kind, d, args.single if not durable else 2_000, durable)
                line(f"append, single events, {name}", r)
                print(f"    (the first append of that fresh handle took {r['first']:.3f} s)")
                for f in (base / "scratch").iterdir():
                    f.unlink()
            d = base / f"{kind}-0"
            line("read events() into Event objects", run("read", kind, d, n, False))
            line("follow events_after(0)", run("follow", kind, d, n, False))
            size = sum(f.stat().st_size for f in d.iterdir() if f.is_file())
            print(f"  file size {size / 2**20:,.0f} MB")


if __name__ == "__main__":
    main()
