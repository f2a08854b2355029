"""The whole report through each engine, from columnar files (issue 10).

Two measures, each in a fresh process so peak memory is the report's own:

1. Same-run ratio on the ~1M-event inbound log (the one ``benchmarks/replay.py``
   builds): ``salesstages report`` on a Parquet file with ``--engine python``
   (read every event, fold once, compute) against ``--engine duckdb`` (the
   Ibis engine on DuckDB, only aggregates come back). Target: DuckDB ≥ 5×
   faster, reading included.
2. Scale: the same report on a ~10M-event Parquet log through DuckDB. Targets:
   ≤ 30 s and ≤ 4 GB peak. The log is simulated in chunks of deals (distinct
   id prefixes) and streamed to Parquet, so building it never holds 10M
   events. ``--python-too`` also runs the pure-Python engine on it (slow).

Run: ``python benchmarks/report_engines.py [--events N] [--big N] [--python-too]
[--keep DIR]`` (``--keep`` reuses the logs built in ``DIR`` by an earlier run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from salesstages import Event
from salesstages._simulate import simulate
from salesstages.io import write_parquet
from salesstages.presets import inbound_b2b

START = datetime(2026, 1, 1, tzinfo=UTC)
#: Deals per simulated chunk of the big log (about 1.4M events).
CHUNK_DEALS = 100_000


def chunks(target_events: int) -> Iterator[Event]:
    """Simulated inbound deals, chunk by chunk, until about ``target_events``."""
    p = inbound_b2b()
    written = 0
    i = 0
    while written < target_events:
        evs = simulate(p, deals=CHUNK_DEALS, start=START, days=360, seed=100 + i, prefix=f"C{i}-")
        need = target_events - written
        if len(evs) > need:  # cut at a deal boundary
            cut = need
            while cut < len(evs) and evs[cut].deal_id == evs[cut - 1].deal_id:
                cut += 1
            evs = evs[:cut]
        written += len(evs)
        i += 1
        yield from evs


def run_report(path: Path, spec: Path, engine: str, fmt: str = "text") -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``salesstages report`` in a fresh process.

    The report is written next to ``path``, as ``report-ENGINE.FMT``."""
    out = path.parent / f"report-{engine}.{fmt}"
    code = (
        "import resource, sys, time\n"
        "from salesstages.cli import main\n"
        "t = time.perf_counter()\n"
        f"rc = main(['report', {str(path)!r}, '--pipeline', {str(spec)!r}, "
        f"'--engine', {engine!r}, '--format', {fmt!r}, '--out', {str(out)!r}])\n"
        "dt = time.perf_counter() - t\n"
        # VmHWM: ru_maxrss keeps the forking parent's peak across exec on Linux
        "try:\n"
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "    rss = int(hwm[0].split()[1]) / 1024\n"
        "except (OSError, IndexError):\n"
        "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "print(dt, rss)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"report --engine {engine} failed:\n{done.stderr}")
    out = done.stdout.split()
    return float(out[-2]), float(out[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--python-too", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="build the logs in this folder, or reuse the ones there"
    )
    args = parser.parse_args()
    p = inbound_b2b()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        spec = Path(tmp) / "pipeline.json"
        spec.write_text(json.dumps(p.to_dict()))
        sys.path.insert(0, str(Path(__file__).parent))
        from replay import build_log

        small = Path(tmp) / f"events-{args.events}.parquet"
        if small.exists():
            n = pq.ParquetFile(small).metadata.num_rows
        else:
            n = write_parquet(build_log(args.events), small)
        py, py_rss = run_report(small, spec, "python")
        dd, dd_rss = run_report(small, spec, "duckdb")
        print(f"{n:,} events (Parquet), full report including reading:")
        print(f"  --engine python: {py:6.2f} s, peak {py_rss:,.0f} MB")
        print(f"  --engine duckdb: {dd:6.2f} s, peak {dd_rss:,.0f} MB  ({py / dd:.1f}× faster)")
        if args.big:
            big = Path(tmp) / f"big-{args.big}.parquet"
            if big.exists():
                n = pq.ParquetFile(big).metadata.num_rows
            else:
                n = write_parquet(chunks(args.big), big)
            mb = big.stat().st_size / 1e6
            dd, dd_rss = run_report(big, spec, "duckdb")
            print(f"{n:,} events (Parquet, {mb:,.0f} MB), full report:")
            print(f"  --engine duckdb: {dd:6.2f} s, peak {dd_rss:,.0f} MB")
            if args.python_too:
                py, py_rss = run_report(big, spec, "python")
                print(f"  --engine python: {py:6.2f} s, peak {py_rss:,.0f} MB")


if __name__ == "__main__":
    main()
