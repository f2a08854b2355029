"""``record`` with ``auto_advance`` on one long-lived deal (issue 12, item 10).

The next stage has entry criteria that do not hold, so every ``record`` asks
its guard again. Each call must cost the same however many activities the deal
already has: the guard's view is not a copy of the log, and activities are
indexed by name once per deal.

Prints the time for N activities on one deal, for several N, per guard kind.

Run: ``python benchmarks/auto_advance.py [--sizes 10000 20000 40000]``.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from salesstages import Pipeline, Stage
from salesstages.guards import GuardLike, all_of, document_sent, field, meeting_accepted

START = datetime(2026, 1, 1, tzinfo=UTC)

GUARDS: dict[str, GuardLike] = {
    "document_sent": document_sent("proposal"),
    "meeting_accepted": meeting_accepted("demo"),
    "all_of(field, document_sent)": all_of(field("budget"), document_sent("proposal")),
}


def run(entry: GuardLike, n: int) -> float:
    """Seconds to record ``n`` activities on one deal whose next stage holds ``entry``."""
    pipeline = Pipeline(
        "bench",
        [
            Stage("new"),
            Stage("proposal", entry=entry),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        auto_advance=True,
    )
    deal = pipeline.open_deal("D-1", at=START)
    step = timedelta(seconds=1)
    t = time.perf_counter()
    for i in range(n):
        deal.record("call", at=START + i * step, n=i)
    elapsed = time.perf_counter() - t
    assert deal.stage == "new"
    assert len(deal.events) == n + 2
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000, 40_000])
    args = parser.parse_args()
    for name, entry in GUARDS.items():
        cells = []
        for n in args.sizes:
            cells.append(f"{n:>6,}: {run(entry, n):6.2f} s")
        print(f"{name:<30} " + " | ".join(cells))


if __name__ == "__main__":
    main()
