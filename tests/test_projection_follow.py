"""The how-to's projection (docs/how-to/project-with-follow.md), killed and restarted for real.

The projection code is the page's first snippet, run as written. A child process
runs it and is killed with SIGKILL in the middle of applying an event (inside the
transaction, after part of the change was written); a restart must then bring the
projection to exactly the state computed from the log: nothing lost, nothing doubled.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from salesstages import Event, Pipeline, SqliteStore
from salesstages.cli import simulate_quarter
from salesstages.presets import inbound_b2b

PAGE = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "project-with-follow.md"
CTX = multiprocessing.get_context("fork")


def _snippet() -> dict[str, Any]:
    """The page's projection code (its first python block), executed in a fresh namespace."""
    text = PAGE.read_text(encoding="utf-8")
    first = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)[0]
    namespace: dict[str, Any] = {"__name__": "projection"}
    exec(compile(first, f"{PAGE.name}[snippet 0]", "exec"), namespace)
    return namespace


def _expected(
    events: list[tuple[int, Event]], pipeline: Pipeline
) -> tuple[dict[str, str], Counter[str]]:
    """Open deals with their stage, and stage entries, computed straight from the log."""
    stage_of: dict[str, str] = {}
    entries: Counter[str] = Counter()
    for _, e in events:
        if e.kind == "stage_entered":
            assert e.stage is not None
            entries[e.stage] += 1
            if pipeline.stage(e.stage).is_open:
                stage_of[e.deal_id] = e.stage
            else:
                stage_of.pop(e.deal_id, None)
    return stage_of, entries


def _state(path: Path) -> tuple[int, dict[str, str], Counter[str]]:
    """The projection file's saved position, open deals and stage entries."""
    with closing(sqlite3.connect(path)) as db:
        (position,) = db.execute("SELECT position FROM saved_position").fetchone()
        deals = dict(db.execute("SELECT deal_id, stage FROM open_deals"))
        entries = Counter(dict(db.execute("SELECT stage, entries FROM stage_entries")))
    return position, deals, entries


def _project_then_die(store_path: str, projection: str, kill_at: int) -> None:
    """Run the page's projection; SIGKILL this process while it applies the event at
    position ``kill_at`` (after the change is written, before its transaction commits)."""
    namespace = _snippet()
    real = namespace["apply_event"]
    seen = {"n": 0}

    def dying(db: sqlite3.Connection, pipeline: Pipeline, event: Event) -> None:
        real(db, pipeline, event)
        seen["n"] += 1
        if seen["n"] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    namespace["apply_event"] = dying
    namespace["project"](SqliteStore(store_path), inbound_b2b(), projection, idle_timeout=0.5)
    os._exit(3)  # pragma: no cover - the kill comes first


@pytest.mark.slow
def test_a_killed_projection_restarts_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    """Killed three times mid-transaction at different events, the projection restarts each
    time from its saved position and ends equal to the log's own open deals and stage entries."""
    store_path = tmp_path / "events.sqlite3"
    projection = tmp_path / "projection.sqlite3"
    pipeline = inbound_b2b()
    with SqliteStore(store_path) as store:
        simulate_quarter(store, deals=60)
        log = list(store.events_after(0))
    assert len(log) > 300
    applied = 0
    for kill_at in (1, 57, 140):  # counted from each restart: positions 1, 58, 198
        proc = CTX.Process(
            target=_project_then_die, args=(str(store_path), str(projection), kill_at)
        )
        proc.start()
        proc.join(timeout=60)
        assert proc.exitcode == -signal.SIGKILL
        position, deals, entries = _state(projection)
        # the killed event's transaction was rolled back: the saved position is the one before
        applied += kill_at - 1
        assert position == applied
        want_deals, want_entries = _expected(log[:applied], pipeline)
        assert (deals, entries) == (want_deals, want_entries)
    namespace = _snippet()
    with SqliteStore(store_path) as store:
        namespace["project"](store, pipeline, str(projection), idle_timeout=0.3)
    position, deals, entries = _state(projection)
    want_deals, want_entries = _expected(log, pipeline)
    assert position == len(log)
    assert deals == want_deals
    assert entries == want_entries
    # each stage entry of the log counted once: a doubled or lost event would show here
    assert sum(entries.values()) == sum(1 for _, e in log if e.kind == "stage_entered")
    with SqliteStore(store_path) as store:
        loaded = [pipeline.load_deal(store, deal_id) for deal_id in store.deal_ids()]
    assert deals == {d.id: d.stage for d in loaded if d.is_open}
