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

``--inbound`` measures reading SQLite against its own floor instead, on the
1M-event inbound log with activities that ``benchmarks/replay.py`` builds:
``list(store.events())`` against a raw ``fetchall`` of the same rows (same
run, each best of three in a fresh process), and the bytes each event holds
(tracemalloc). Targets (issue 10): ratio <= 2, <= 350 B per event.

``--postgres`` measures ``PostgresStore`` on a throw-away server started for
the run (or the one in ``SALESSTAGES_BENCH_PG``, a conninfo): single appends
from 1 and 4 processes on distinct deals (durable, then with
``synchronous_commit=off`` in the conninfo), ``append_many``, reading, and a
follower's delay from commit to delivery while 4 processes append. Targets
(issue 11): >= 1,000/s, >= 2,500/s, >= 50,000 events/s, >= 200,000 events/s,
median delay <= 100 ms. Durable single appends to one table run one at a time,
each waiting for its commit's flush (see ``salesstages._stores.postgres``), so
the run first prints how many bare one-row ``INSERT`` transactions the server
commits per second: the ceiling of the durable single-append figures. The server it starts is stopped
at the end, on an error and on Ctrl-C or SIGTERM.
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


def inbound_child(task: str, path: str) -> dict[str, Any]:
    """One inbound-log reading measurement in this (fresh) process."""
    import sqlite3
    import tracemalloc

    from salesstages._stores import sqlite as sqlite_store

    def raw() -> int:
        conn = sqlite3.connect(path)
        try:
            return len(conn.execute(sqlite_store._SELECT_ALL).fetchall())
        finally:
            conn.close()

    def events() -> int:
        return len(list(SqliteStore(path).events()))

    if task == "memory":
        tracemalloc.start()
        held = list(SqliteStore(path).events())
        current = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return {"count": len(held), "bytes": current}
    clock = best_of(REPEAT, raw if task == "raw" else events)
    return {"count": clock.result, "seconds": clock.wall, "cpu": clock.cpu}


def bench_inbound(directory: Path, n: int) -> None:
    """SqliteStore.events() against a raw fetchall on the inbound log, and bytes per event."""
    sys.path.insert(0, str(Path(__file__).parent))
    from replay import build_log

    path = directory / "inbound.db"
    log = build_log(n)
    by_deal: dict[str, list[Event]] = {}
    for e in log:
        by_deal.setdefault(e.deal_id, []).append(e)
    SqliteStore(path, synchronous="NORMAL").append_many(by_deal.values())
    print(f"inbound log: {len(log):,} events, {len(by_deal):,} deals, in SQLite")
    del log, by_deal
    results = {}
    for task in ("raw", "events", "memory"):
        out = subprocess.run(
            [sys.executable, __file__, "--inbound-child", task, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        results[task] = json.loads(out.stdout.strip().splitlines()[-1])
    raw, events, memory = results["raw"], results["events"], results["memory"]
    line("raw fetchall of the same rows (tuples)", raw)
    line("list(store.events()) into Event objects", events)
    print(
        f"  ratio events()/fetchall: {events['seconds'] / raw['seconds']:.2f}x wall, "
        f"{events['cpu'] / raw['cpu']:.2f}x cpu (target <= 2)"
    )
    print(
        f"  held: {memory['bytes'] / memory['count']:,.0f} B per event (tracemalloc; target <= 350)"
    )


def pg_child(task: str, conninfo: str, table: str, n_text: str) -> dict[str, Any]:
    """One PostgreSQL measurement in this (fresh) process."""
    import statistics

    from salesstages import PostgresStore

    store = PostgresStore(conninfo, table=table)
    n = int(n_text)
    if task.startswith("single"):  # "single:<worker>[:<start>]": one event per append
        parts = task.split(":")
        worker = parts[1]
        start = float(parts[2]) if len(parts) > 2 else 0.0
        events = [
            Event(deal_id=f"S{worker}-{i}", seq=0, at=T0, kind="opened", data={"t": 0})
            for i in range(n)
        ]
        if start:  # start together with the other workers (a wall-clock time)
            time.sleep(max(0.0, start - time.time()))
        began = time.time()
        with Clock() as clock:
            for e in events:
                store.append([e])
        return {
            "count": n,
            "seconds": clock.wall,
            "cpu": clock.cpu,
            "began": began,
            "ended": time.time(),
        }
    if task.startswith("timed"):  # appends carrying their send time, for the follower
        worker = task.split(":")[1]
        with Clock() as clock:
            for i in range(n):
                store.append(
                    [
                        Event(
                            deal_id=f"F{worker}-{i}",
                            seq=0,
                            at=T0,
                            kind="opened",
                            data={"t": time.time()},
                        )
                    ]
                )
        return {"count": n, "seconds": clock.wall, "cpu": clock.cpu}
    if task == "bulk":
        batches = list(deal_batches(n))
        with Clock() as clock:
            for i in range(0, len(batches), 1000):
                store.append_many(batches[i : i + 1000])
        return {"count": len(batches) * PER_DEAL, "seconds": clock.wall, "cpu": clock.cpu}
    if task == "read":
        clock = best_of(REPEAT, lambda: sum(1 for _ in store.events()))
        return {"count": clock.result, "seconds": clock.wall, "cpu": clock.cpu}
    if task == "follow":  # n events expected, from the current end of the log
        delays = []
        print("ready", flush=True)
        for _position, e in store.follow(len(store), poll=0.5, idle_timeout=30):
            if e.deal_id.startswith("F"):
                delays.append(time.time() - e.data["t"])
                if len(delays) == n:
                    break
        delays.sort()
        return {
            "count": len(delays),
            "median_ms": statistics.median(delays) * 1000,
            "p95_ms": delays[int(len(delays) * 0.95)] * 1000,
        }
    raise SystemExit(f"unknown task {task!r}")  # pragma: no cover


def commit_rate(conninfo: str, seconds: float = 2.0) -> float:
    """How many one-row ``INSERT`` transactions per second the server commits, from one
    connection: the ceiling of durable single appends (each waits for its own flush)."""
    import psycopg

    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS b_commit_probe (x int)")
        count = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            conn.execute("INSERT INTO b_commit_probe VALUES (1)")
            count += 1
        conn.execute("DROP TABLE b_commit_probe")
    return count / seconds


def bench_postgres(n: int) -> None:
    """PostgresStore figures on a throw-away (durable) server, or SALESSTAGES_BENCH_PG's.

    A server this function starts is stopped when it returns, fails, or the run
    is interrupted (Ctrl-C or SIGTERM).
    """
    import contextlib
    import signal

    def interrupted(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds through the finally below

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGHUP, interrupted)
    conninfo = os.environ.get("SALESSTAGES_BENCH_PG")
    server = None
    procs: list[subprocess.Popen[str]] = []
    try:
        if not conninfo:
            sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
            from _services import PostgresServer, pg_bindir

            bindir = pg_bindir()
            if bindir is None:
                raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
            server = PostgresServer(bindir, durable=True)
            server.start()
            conninfo = server.conninfo()
            print("a throw-away PostgreSQL server on 127.0.0.1, fsync on (its defaults)")
        print(
            f"  ceiling: a bare one-row INSERT commits {commit_rate(conninfo):,.0f}/s from one "
            "connection (durable single appends wait for the same flush)"
        )
        relaxed = f"{conninfo} options='-c synchronous_commit=off'"

        def child(task: str, table: str, count: int, info: str = conninfo) -> subprocess.Popen[str]:
            proc = subprocess.Popen(
                [sys.executable, __file__, "--pg-child", task, info, table, str(count)],
                stdout=subprocess.PIPE,
                text=True,
            )
            procs.append(proc)
            return proc

        def result(proc: subprocess.Popen[str]) -> dict[str, Any]:
            out, _ = proc.communicate(timeout=3600)
            if proc.returncode:
                raise SystemExit(f"a benchmark child failed with status {proc.returncode}")
            figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
            return figures

        singles = 2_000
        print("postgres")
        for info, table, label in (
            (conninfo, "b_single", ""),
            (relaxed, "b_relaxed", ", synchronous_commit=off"),
        ):
            line(
                f"append, single events, 1 process{label}",
                result(child("single:0", table, singles, info)),
            )
            start = time.time() + 3  # every worker connected and ready by then
            four = [child(f"single:{w}:{start}", f"{table}4", singles, info) for w in range(4)]
            rs = [result(p) for p in four]
            total = sum(r["count"] for r in rs)
            span = max(r["ended"] for r in rs) - min(r["began"] for r in rs)
            line(
                f"append, single events, 4 processes (distinct deals){label}",
                {"count": total, "seconds": span, "cpu": 0, "peak_mb": rs[0]["peak_mb"]},
            )
        line("append_many, 1,000 deals per call", result(child("bulk", "b_bulk", n)))
        line("read events() into Event objects", result(child("read", "b_bulk", n)))
        follower = child("follow", "b_follow", 4 * singles)
        assert follower.stdout is not None
        with contextlib.suppress(Exception):
            follower.stdout.readline()  # "ready"
        time.sleep(0.5)
        writers = [child(f"timed:{w}", "b_follow", singles) for w in range(4)]
        for w in writers:
            result(w)
        f = result(follower)
        print(
            f"  follower delay, commit to delivery, under 4 writers: median {f['median_ms']:.1f} ms, "
            f"p95 {f['p95_ms']:.1f} ms over {f['count']:,} events"
        )
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if server is not None:
            server.stop()


def main() -> None:
    """Run every measurement and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--single", type=int, default=20_000, help="events for single appends")
    parser.add_argument("--dir", type=Path, default=None, help="where the files go")
    parser.add_argument("--inbound", action="store_true", help="SQLite reading on the inbound log")
    parser.add_argument("--postgres", action="store_true", help="PostgresStore figures")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--inbound-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--pg-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inbound_child:
        result = inbound_child(*args.inbound_child)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return
    if args.pg_child:
        result = pg_child(*args.pg_child)
        result["peak_mb"] = peak_mb()
        print(json.dumps(result))
        return
    if args.inbound:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            bench_inbound(Path(tmp), args.events)
        return
    if args.postgres:
        bench_postgres(args.events)
        return
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
