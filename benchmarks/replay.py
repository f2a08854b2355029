"""Replay and live-deal benchmark for the core (issue: core, targets in its notes).

Prints: strict replay throughput on ~1M events of the inbound preset, the same
log driven through the ``transitions`` machine per event (sampled), memory per
replayed deal beyond its events, and the per-call cost of live ``move`` and
``record`` with guards.

Run: ``make bench`` or ``python benchmarks/replay.py [--events N]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from salesstages import Event
from salesstages._machine import build_machine, live_machine, move_trigger, substate_trigger
from salesstages._simulate import simulate
from salesstages.presets import inbound_b2b

START = datetime(2026, 1, 1, tzinfo=UTC)


def build_log(target_events: int) -> list[Event]:
    """Simulate inbound deals until about ``target_events`` events."""
    p = inbound_b2b()
    probe = simulate(p, deals=2000, start=START, days=120, seed=1)
    per_deal = len(probe) / 2000
    deals = max(1, int(target_events / per_deal))
    return simulate(p, deals=deals, start=START, days=120, seed=2)


def bench_replay(log: list[Event]) -> None:
    """Strict replay throughput, shuffled and grouped input, and memory per deal."""
    p = inbound_b2b()
    deals = len({e.deal_id for e in log})
    print(f"log: {len(log):,} events, {deals:,} deals ({len(log) / deals:.1f} events a deal)")
    best = float("inf")
    for _ in range(3):
        gc.collect()
        t = time.perf_counter()
        p.replay(log, strict=True)
        best = min(best, time.perf_counter() - t)
    print(f"strict replay, grouped input:  {len(log) / best:>12,.0f} events/s ({best:.2f} s)")
    shuffled = log[:]
    random.Random(0).shuffle(shuffled)
    gc.collect()
    t = time.perf_counter()
    p.replay(shuffled, strict=True)
    dt = time.perf_counter() - t
    print(f"strict replay, shuffled input: {len(log) / dt:>12,.0f} events/s ({dt:.2f} s)")
    t = time.perf_counter()
    problems = p.check(log)
    dt = time.perf_counter() - t
    print(
        f"check (no guards):             {len(log) / dt:>12,.0f} events/s ({len(problems)} problems)"
    )

    # memory: the replayed deals beyond the events themselves (events already exist)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    result = p.replay(log, strict=True)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    kept = current - base
    print(
        f"replay memory: {kept / len(result):,.0f} B per deal kept beyond its events "
        f"(peak {(peak - base) / 2**20:,.1f} MiB for {len(result):,} deals)"
    )


def bench_transitions_per_event(
    log: list[Event], sample: int = 30_000
) -> tuple[float, float, float]:
    """Drive ``transitions`` once per event of a sample, two ways, for comparison.

    (a) the shared machine with ``trigger_event`` (what live deals use): one
    trigger per stage or sub-state event; activities and updates cost nothing.
    (b) the textbook way: ``add_model`` per deal on one machine, then the
    model's trigger methods, one per stage or sub-state event.
    Returns both rates in events of the log per second, and µs per trigger.
    """
    p = inbound_b2b()
    machine = live_machine(p)

    class Model:
        __slots__ = ("state",)

        def __init__(self, state: str) -> None:
            self.state = state

    models: dict[str, Model] = {}
    events = log[:sample]
    triggers = 0
    t = time.perf_counter()
    for e in events:
        if e.kind == "stage_entered":
            m = models.get(e.deal_id)
            if m is None:
                models[e.deal_id] = Model(e.stage or "")
            else:
                machine.fire(m, move_trigger(e.stage or ""))
                triggers += 1
        elif e.kind == "substate_entered":
            machine.fire(models[e.deal_id], substate_trigger(e.stage or "", e.name or ""))
            triggers += 1
    dt = time.perf_counter() - t
    shared = len(events) / dt
    per_trigger = dt / triggers * 1e6
    print(
        f"transitions, shared machine + trigger_event: {shared:>10,.0f} events/s "
        f"({per_trigger:.1f} µs a trigger, sample of {len(events):,} events)"
    )

    # (b) add_model per deal, like the transitions README does
    small = log[: sample // 3]
    naive = build_machine(p, initial=p.first_stage.name)
    naive_models: dict[str, object] = {}
    t = time.perf_counter()
    for e in small:
        if e.kind == "stage_entered":
            m = naive_models.get(e.deal_id)
            if m is None:
                m = type("M", (), {})()
                naive.add_model(m, initial=e.stage)
                naive_models[e.deal_id] = m
            else:
                m.trigger(move_trigger(e.stage or ""))  # type: ignore[attr-defined]
        elif e.kind == "substate_entered":
            naive_models[e.deal_id].trigger(substate_trigger(e.stage or "", e.name or ""))  # type: ignore[attr-defined]
    dt = time.perf_counter() - t
    textbook = len(small) / dt
    print(
        f"transitions, add_model per deal:             {textbook:>10,.0f} events/s "
        f"({len(naive_models):,} deals, sample of {len(small):,} events)"
    )
    return shared, textbook, per_trigger


def bench_live() -> None:
    """Per-call cost of live move and record on guarded stages."""
    p = inbound_b2b()
    n = 2000
    moves: list[float] = []
    records: list[float] = []
    opens: list[float] = []
    at = START
    for i in range(n):
        t = time.perf_counter()
        deal = p.open_deal(f"L{i}", at=at, amount=1000)
        opens.append(time.perf_counter() - t)
        for party_event in (
            ("meeting_booked", {"meeting": "discovery"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "rep"}),
        ):
            t = time.perf_counter()
            deal.record(party_event[0], at=at, **party_event[1])
            records.append(time.perf_counter() - t)
        t = time.perf_counter()
        deal.move("discovery", at=at + timedelta(hours=1))
        moves.append(time.perf_counter() - t)
    us = 1e6
    print(
        f"live open_deal: median {statistics.median(opens) * us:6.1f} µs | "
        f"record: median {statistics.median(records) * us:6.1f} µs | "
        f"guarded move: median {statistics.median(moves) * us:6.1f} µs, "
        f"p90 {statistics.quantiles(moves, n=10)[-1] * us:6.1f} µs"
    )


def main() -> None:
    """Run every figure."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    t = time.perf_counter()
    log = build_log(args.events)
    print(f"simulated in {time.perf_counter() - t:.1f} s")
    bench_replay(log)
    shared, textbook, per_trigger = bench_transitions_per_event(log)
    p = inbound_b2b()
    t = time.perf_counter()
    p.replay(log)
    replay_rate = len(log) / (time.perf_counter() - t)
    print(
        f"strict replay is {replay_rate / shared:,.0f}x the shared machine and "
        f"{replay_rate / textbook:,.0f}x add_model-per-deal transitions (per log event); "
        f"per event {1e6 / replay_rate:.2f} µs vs {per_trigger:.1f} µs a trigger "
        f"({per_trigger / (1e6 / replay_rate):,.0f}x)"
    )
    bench_live()


if __name__ == "__main__":
    main()
