"""Several processes on one store file, and processes killed in the middle of an append."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import sys
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesstages import ConcurrencyError, Event, EventStore, Pipeline, Stage
from salesstages._stores import JsonlStore, SqliteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
WORKERS = 4
PER_WORKER = 25
CTX = multiprocessing.get_context("spawn")


def _pipeline() -> Pipeline:
    return Pipeline(
        "p",
        [
            Stage("lead"),
            Stage("qualified"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def _open(kind: str, path: str) -> EventStore:
    return SqliteStore(path) if kind == "sqlite" else JsonlStore(path)


def _contender(kind: str, path: str, worker: int, start: float) -> None:
    """Append PER_WORKER activities to deal 'D', re-reading and retrying on conflicts."""
    store = _open(kind, path)
    while time.time() < start:  # start together, to collide as much as possible
        time.sleep(0.001)
    for k in range(PER_WORKER):
        for _attempt in range(10_000):
            n = sum(1 for _ in store.events("D"))
            event = Event(
                deal_id="D",
                seq=n,
                at=T0 + timedelta(seconds=n),
                kind="activity",
                stage="lead",
                name=f"w{worker}-{k}",
            )
            try:
                store.append([event])
                break
            except ConcurrencyError:
                continue
        else:  # pragma: no cover - a livelock would be a bug
            raise RuntimeError("gave up after 10,000 conflicts")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_four_processes_append_exactly_once(tmp_path: Path, kind: str) -> None:
    """Four processes racing on one deal: every event is there once, seq 0..n-1."""
    path = str(tmp_path / ("e.db" if kind == "sqlite" else "e.jsonl"))
    store = _open(kind, path)
    _pipeline().open_deal("D", at=T0, store=store)
    start = time.time() + 1.0
    procs = [CTX.Process(target=_contender, args=(kind, path, w, start)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    events = list(_open(kind, path).events("D"))
    total = 2 + WORKERS * PER_WORKER
    assert [e.seq for e in events] == list(range(total))
    names = [e.name for e in events[2:]]
    assert sorted(names) == sorted(f"w{w}-{k}" for w in range(WORKERS) for k in range(PER_WORKER))
    assert [p for p, _ in _open(kind, path).events_after(0)] == list(range(1, total + 1))


def _opener(kind: str, path: str, prefix: str) -> None:
    """Open deals and move them forever, until killed."""
    store = _open(kind, path)
    pipeline = _pipeline()
    for i in range(10**9):
        deal = pipeline.open_deal(f"{prefix}{i}", at=T0, store=store, n=i, note="x" * (i % 300))
        if i % 3 == 0:
            deal.move("qualified", at=T0 + timedelta(minutes=1))


def _check_after_crash(store: EventStore) -> int:
    """Assert every deal is whole: gapless seq, opened + stage_entered together."""
    by_deal: dict[str, list[Event]] = {}
    for e in store.events():
        by_deal.setdefault(e.deal_id, []).append(e)
    for deal_id, events in by_deal.items():
        assert [e.seq for e in events] == list(range(len(events))), deal_id
        assert len(events) >= 2, f"{deal_id}: 'opened' without its 'stage_entered'"
        assert [e.kind for e in events[:2]] == ["opened", "stage_entered"], deal_id
    _pipeline().replay(store.events(), strict=True)
    return len(by_deal)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_sigkill_mid_append_leaves_a_whole_log(tmp_path: Path, kind: str) -> None:
    """A writer killed with SIGKILL leaves a store that opens with every deal whole."""
    path = str(tmp_path / ("e.db" if kind == "sqlite" else "e.jsonl"))
    _open(kind, path)
    for round_ in range(3):
        proc = CTX.Process(target=_opener, args=(kind, path, f"R{round_}-"))
        proc.start()
        deadline = time.monotonic() + 8
        before = sum(1 for _ in _open(kind, path).events_after(0))
        while time.monotonic() < deadline:
            time.sleep(0.05)
            if sum(1 for _ in _open(kind, path).events_after(before)) >= 20:
                break
        time.sleep(0.01 * round_)
        assert proc.pid is not None
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=10)
        assert proc.exitcode == -signal.SIGKILL
        store = _open(kind, path)
        assert sum(1 for _ in store.events_after(before)) >= 20, "the writer was killed too early"
        assert _check_after_crash(store) > 0
        if kind == "sqlite":
            conn = sqlite3.connect(path)
            try:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            finally:
                conn.close()
        # the store takes new appends after the crash
        _pipeline().open_deal(f"after-{round_}", at=T0, store=store)
        assert f"after-{round_}" in _open(kind, path).deal_ids()


def _torn_writer(path: str) -> None:
    """Append two deals, then die half-way through writing a third deal's opening batch."""
    store = JsonlStore(path)
    _pipeline().open_deal("A", at=T0, store=store)
    _pipeline().open_deal("B", at=T0, store=store)
    line = b'[["C",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}],["C",1,"2024-05-01T09:00'
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, line)
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_jsonl_crash_mid_line_loses_only_that_append(tmp_path: Path) -> None:
    """A process killed mid-line leaves a torn tail: readers skip it, the next append cuts it."""
    path = str(tmp_path / "e.jsonl")
    JsonlStore(path)
    proc = CTX.Process(target=_torn_writer, args=(path,))
    proc.start()
    proc.join(timeout=30)
    assert proc.exitcode == -signal.SIGKILL
    assert not Path(path).read_bytes().endswith(b"\n")
    store = JsonlStore(path)
    assert store.deal_ids() == ["A", "B"]
    assert _check_after_crash(store) == 2
    _pipeline().open_deal("C", at=T0, store=store)
    text = Path(path).read_text(encoding="utf-8")
    assert text.count("\n") == 3
    assert text.endswith("\n")
    assert JsonlStore(path).deal_ids() == ["A", "B", "C"]


def _reader(path: str, seconds: float, queue: multiprocessing.queues.Queue[str]) -> None:
    """Read the log repeatedly while it grows; report any deal seen with half a batch."""
    store = JsonlStore(path)
    queue.put("started")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        counts: dict[str, int] = {}
        for e in store.events():
            counts[e.deal_id] = counts.get(e.deal_id, 0) + 1
        odd = [d for d, n in counts.items() if n == 1]
        if odd:
            queue.put(f"half a batch: {odd[:3]}")
            return
    queue.put("ok")


@pytest.mark.slow
def test_jsonl_reader_never_sees_half_a_batch(tmp_path: Path) -> None:
    """A reader in another process, racing a writer, sees each opening pair whole or not at all."""
    path = str(tmp_path / "e.jsonl")
    store = JsonlStore(path, fsync=False)
    queue: multiprocessing.queues.Queue[str] = CTX.Queue()
    proc = CTX.Process(target=_reader, args=(path, 2.0, queue))
    proc.start()
    assert queue.get(timeout=30) == "started"
    pipeline = _pipeline()
    i = 0
    while proc.is_alive() and i < 5_000:
        pipeline.open_deal(f"D{i}", at=T0, store=store, pad="y" * (i % 500))
        i += 1
    result = queue.get(timeout=30)
    proc.join(timeout=30)
    assert result == "ok"
    assert i > 0


def _forked_append(store: EventStore) -> None:
    """Append to a store object inherited through fork()."""
    _pipeline().open_deal("child", at=T0, store=store)


@pytest.mark.skipif(
    "fork" not in multiprocessing.get_all_start_methods(), reason="needs the fork start method"
)
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_store_object_survives_fork(tmp_path: Path, kind: str) -> None:
    """A store object used before fork() works in the child and, after it, in the parent."""
    path = str(tmp_path / ("e.db" if kind == "sqlite" else "e.jsonl"))
    store = _open(kind, path)
    _pipeline().open_deal("parent", at=T0, store=store)
    proc = multiprocessing.get_context("fork").Process(target=_forked_append, args=(store,))
    with warnings.catch_warnings():  # Python 3.12+ warns about fork() with threads running
        warnings.simplefilter("ignore", DeprecationWarning)
        proc.start()
    proc.join(timeout=30)
    assert proc.exitcode == 0
    _pipeline().open_deal("parent-2", at=T0, store=store)
    assert store.deal_ids() == ["parent", "child", "parent-2"]
    assert [p for p, _ in store.events_after(0)] == [1, 2, 3, 4, 5, 6]


def _first_opener(kind: str, path: str, worker: int, start: float) -> None:
    """Open a store on a file that may not exist yet, all at once, and open a deal."""
    while time.time() < start:
        time.sleep(0.001)
    _pipeline().open_deal(f"W{worker}", at=T0, store=_open(kind, path))


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_processes_create_a_fresh_store_at_once(tmp_path: Path, kind: str) -> None:
    """Four processes creating the same new store file at once all succeed."""
    path = str(tmp_path / ("new.db" if kind == "sqlite" else "new.jsonl"))
    start = time.time() + 1.0
    procs = [CTX.Process(target=_first_opener, args=(kind, path, w, start)) for w in range(WORKERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=30)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    assert sorted(_open(kind, path).deal_ids()) == [f"W{w}" for w in range(WORKERS)]


FOLLOW_WRITERS = 4
FOLLOW_DEALS = 10  # per writer, each opened then given 3 activities: 5 events a deal


def _follow_writer(kind: str, path: str, worker: int, start: float) -> None:
    """Open FOLLOW_DEALS deals and record activities on them, one append per event."""
    store = _open(kind, path)
    pipeline = _pipeline()
    while time.time() < start:
        time.sleep(0.001)
    for d in range(FOLLOW_DEALS):
        deal = pipeline.open_deal(f"W{worker}-{d}", at=T0, store=store)
        for a in range(3):
            deal.record("call", at=T0 + timedelta(minutes=a))


def _follower(
    kind: str, path: str, total: int, queue: multiprocessing.queues.Queue[object]
) -> None:
    """Follow the log until ``total`` events arrived; report (position, deal, seq) of each."""
    seen: list[tuple[int, str, int]] = []
    for position, e in _open(kind, path).follow(poll=0.01, idle_timeout=20):
        seen.append((position, e.deal_id, e.seq))
        if len(seen) == total:
            break
    queue.put(seen)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "jsonl"])
def test_followers_see_every_event_once_while_processes_write(tmp_path: Path, kind: str) -> None:
    """Four writer processes and two follower processes at once: each follower receives
    every event exactly once, in position order."""
    path = str(tmp_path / ("e.db" if kind == "sqlite" else "e.jsonl"))
    _open(kind, path)
    total = FOLLOW_WRITERS * FOLLOW_DEALS * 5  # 4 writers x 10 deals x 5 events = 200
    queue: multiprocessing.queues.Queue[object] = CTX.Queue()
    followers = [CTX.Process(target=_follower, args=(kind, path, total, queue)) for _ in range(2)]
    for p in followers:
        p.start()
    start = time.time() + 1.0
    writers = [
        CTX.Process(target=_follow_writer, args=(kind, path, w, start))
        for w in range(FOLLOW_WRITERS)
    ]
    for p in writers:
        p.start()
    results = [queue.get(timeout=60) for _ in followers]
    for p in [*writers, *followers]:
        p.join(timeout=30)
    assert [p.exitcode for p in [*writers, *followers]] == [0] * (FOLLOW_WRITERS + 2)
    expected = [(p, e.deal_id, e.seq) for p, e in _open(kind, path).events_after(0)]
    assert len(expected) == total
    assert [p for p, _, _ in expected] == list(range(1, total + 1))
    for seen in results:
        assert seen == expected
