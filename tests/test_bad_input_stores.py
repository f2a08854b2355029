"""Damaged store files (issue 12, items 1, 8 and 12): a store never yields fewer
events than it holds; every JSON Lines line is checked on both read paths; a torn
tail is reported."""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from salesstages import DataError, Event, SalesStagesError
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.testing._store_suite import opening

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def assert_data_error(exc: BaseException) -> None:
    """A refusal is a DataError: a SalesStagesError and a ValueError."""
    assert isinstance(exc, DataError)
    assert isinstance(exc, SalesStagesError)
    assert isinstance(exc, ValueError)


def four_deal_store(path: Path) -> list[Event]:
    """Write deals D0..D3 with two events each; return the events written."""
    written: list[Event] = []
    with SqliteStore(path, synchronous="NORMAL") as store:
        for i in range(4):
            batch = opening(f"D{i}", minutes=i)
            store.append(batch)
            written.extend(batch)
    return written


def tamper(path: Path, *statements: str) -> None:
    """Run SQL on a store file behind its back (dropping the append-only triggers)."""
    with closing(sqlite3.connect(path)) as conn:
        for table in ("events", "deals"):
            conn.execute(f"DROP TRIGGER {table}_no_delete")
            conn.execute(f"DROP TRIGGER {table}_no_update")
        for statement in statements:
            conn.execute(statement)
        conn.commit()


# --------------------------------------------------------------------- item 1
DAMAGE = {
    # The case of the issue: events whose deals row is gone were silently left out.
    "deals row missing": (
        ("DELETE FROM deals WHERE deal_id = 'D1'",),
        r"holds 8 events but 6 read; deal 'D1' has 2 events .* deals table is missing",
    ),
    "first event of a deal missing": (
        ("DELETE FROM events WHERE deal_id = 'D2' AND seq = 0",),
        r"deal 'D2': seq 1 was read where seq 0 belongs",
    ),
    "seq moved": (
        ("UPDATE events SET seq = 5 WHERE deal_id = 'D1' AND seq = 1",),
        r"deal 'D1': seq 5 was read where seq 1 belongs",
    ),
    "deal's events renamed": (
        ("UPDATE events SET deal_id = 'X' WHERE deal_id = 'D0'",),
        r"holds 8 events but 6 read; deal 'X' has 2 events .* 0 read",
    ),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_sqlite_events_raise_naming_the_deal(tmp_path: Path, case: str) -> None:
    """events() on a damaged store raises DataError naming the file and the first deal
    that disagrees, instead of yielding fewer events than the store holds."""
    path = tmp_path / "store.db"
    four_deal_store(path)
    statements, message = DAMAGE[case]
    tamper(path, *statements)
    with SqliteStore(path) as store, pytest.raises(DataError, match=message) as info:
        list(store.events())
    assert_data_error(info.value)
    assert str(path) in str(info.value)
    assert "restore it from a backup" in str(info.value)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("DELETE FROM events WHERE deal_id = 'D2' AND seq = 0", r"position 5 does not read"),
        ("UPDATE events SET position = 20 WHERE position = 3", r"position 3 does not read"),
    ],
)
def test_damaged_sqlite_events_after_raises(tmp_path: Path, statement: str, message: str) -> None:
    """events_after() checks that positions run 1, 2, 3 … up to the highest one."""
    path = tmp_path / "store.db"
    four_deal_store(path)
    tamper(path, statement)
    with SqliteStore(path) as store, pytest.raises(DataError, match=message) as info:
        list(store.events_after(0))
    assert_data_error(info.value)
    assert str(path) in str(info.value)


def test_damaged_sqlite_one_deal_raises(tmp_path: Path) -> None:
    """events(deal_id) checks that the deal's seqs run 0, 1, 2 … without a gap."""
    path = tmp_path / "store.db"
    four_deal_store(path)
    tamper(path, "DELETE FROM events WHERE deal_id = 'D3' AND seq = 0")
    with SqliteStore(path) as store, pytest.raises(DataError, match=r"deal 'D3': seq 1") as info:
        list(store.events("D3"))
    assert_data_error(info.value)


def test_sound_sqlite_reads_yield_everything(tmp_path: Path) -> None:
    """On an undamaged store every read yields every event written, and integrity_check
    finds nothing."""
    path = tmp_path / "store.db"
    written = four_deal_store(path)
    with SqliteStore(path) as store:
        assert list(store.events()) == written
        assert [e for _, e in store.events_after(0)] == written
        assert [p for p, _ in store.events_after(3)] == [4, 5, 6, 7, 8]
        assert list(store.events("D2")) == written[4:6]
        assert store.integrity_check() == []


def test_sqlite_integrity_check_reports_damage(tmp_path: Path) -> None:
    """integrity_check() returns what SQLite's PRAGMA says about a damaged index."""
    path = tmp_path / "store.db"
    four_deal_store(path)
    # Change a row behind the index's back: the position index no longer matches.
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA writable_schema = ON")
        conn.execute(
            "UPDATE sqlite_master SET sql = replace(sql, 'UNIQUE CHECK', 'CHECK') "
            "WHERE name = 'events'"
        )
        conn.commit()
    with SqliteStore(path) as store:
        problems = store.integrity_check()
    assert problems, "a schema that no longer declares its index is damage"


# --------------------------------------------------------------------- item 8
def row(seq: int, deal: str = "D") -> str:
    """One event of the store's array form."""
    return f'["{deal}",{seq},"2024-01-01T00:00:00+00:00","activity","a","n",{{}}]'


JSONL_LINES = {
    # Two events on line 1, then a batch split over lines 2 and 3: the fast path
    # used to join the lines into one array and accept it.
    "two values, split batch": (f"{row(0)},{row(1)}\n[{row(2)}\n{row(3)}]\n", 1),
    "two values, split batch, bad line": (f"{row(0)},{row(1)}\n[{row(2)}\n{row(3)}]\nxx\n", 1),
    "split batch after a good line": (f"{row(0)}\n[{row(1)}\n{row(2)}]\n", 2),
    "two values after good lines": (f"{row(0)}\n{row(1)}\n{row(2)} {row(3)}\n", 3),
    "value running on": (f'{row(0)}\n["D",1,"2024-01-01T00:00:00+00:00",\n"activity"]\n', 2),
}


@pytest.mark.parametrize("case", sorted(JSONL_LINES))
def test_jsonl_every_line_is_one_value(tmp_path: Path, case: str) -> None:
    """A line holding two values or part of one raises DataError naming that line,
    whatever follows it (fast and slow paths agree)."""
    text, line = JSONL_LINES[case]
    path = tmp_path / "e.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=rf"e\.jsonl, line {line}: ") as info:
        list(JsonlStore(path).events())
    assert_data_error(info.value)
    with pytest.raises(DataError, match=rf"e\.jsonl, line {line}: "):
        list(JsonlStore(path).events_after(0))


def test_jsonl_spaces_around_a_line_still_read(tmp_path: Path) -> None:
    """Whitespace around a line's value is allowed, as json.loads allows it."""
    path = tmp_path / "e.jsonl"
    path.write_text(f"{row(0)}  \n\n  {row(1)}\r\n", encoding="utf-8")
    assert [e.seq for e in JsonlStore(path).events()] == [0, 1]


def test_jsonl_date_out_of_range_is_a_data_error(tmp_path: Path) -> None:
    """A timestamp that overflows once in UTC is a DataError naming line and field."""
    path = tmp_path / "e.jsonl"
    path.write_text('["D",0,"9999-12-31T23:00:00-05:00","opened",null,null,{}]\n')
    with pytest.raises(DataError, match=r"line 1, field 'at': .* out of range") as info:
        list(JsonlStore(path).events())
    assert_data_error(info.value)


# -------------------------------------------------------------------- item 12
def test_jsonl_torn_tail_is_counted(tmp_path: Path) -> None:
    """After a read, torn_tail says how many bytes of a torn last line were skipped."""
    path = tmp_path / "e.jsonl"
    path.write_text(f"{row(0)}\n{row(1)}\n", encoding="utf-8")
    store = JsonlStore(path)
    assert len(list(store.events())) == 2
    assert store.torn_tail == 0
    with path.open("a", encoding="utf-8") as f:
        f.write(row(2)[:20])  # 20 ASCII bytes without a newline
    assert len(list(store.events())) == 2
    assert store.torn_tail == 20


# ------------------------------------------------ property: single-byte damage
SMALL = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@st.composite
def small_logs(draw: st.DrawFn) -> list[list[Event]]:
    """1..4 deals of 1..4 events each, as append batches (a batch is 1..2 events)."""
    batches: list[list[Event]] = []
    for d in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 4))
        events = [
            Event(
                deal_id=f"D{d}",
                seq=i,
                at=T0 + timedelta(hours=i),
                kind="opened" if i == 0 else "activity",
                name=None if i == 0 else "call",
                data={"n": i},
            )
            for i in range(n)
        ]
        i = 0
        while i < n:
            size = draw(st.integers(1, 2))
            batches.append(events[i : i + size])
            i += size
    return batches


def check_damaged_read(written: list[Event], read: Callable[[], list[Event]]) -> list[Event]:
    """Read; a DataError is fine; else return what was read."""
    try:
        return read()
    except DataError:
        return written


def runs(events: list[Event]) -> dict[str, list[int]]:
    """Each deal's seqs in the order read."""
    out: dict[str, list[int]] = {}
    for e in events:
        out.setdefault(e.deal_id, []).append(e.seq)
    return out


def at_most_one_changed(written: list[Event], read: list[Event]) -> bool:
    """As many events as written, and all but at most one of them equal."""
    if len(read) != len(written):
        return False
    diff = Counter(written)
    diff.subtract(Counter(read))
    return sum(n for n in diff.values() if n > 0) <= 1


def assert_nothing_lost(written: list[Event], read: list[Event]) -> None:
    """Every event written is read, each deal's seqs run 0..n-1 (one value may differ)."""
    assert at_most_one_changed(written, read), (len(written), len(read))
    for deal, seqs in runs(read).items():
        assert seqs == list(range(len(seqs))), (deal, seqs)


def corrupt(data: bytes, offset: int, value: int) -> bytes:
    """``data`` with the byte at ``offset`` replaced by another value."""
    i = offset % len(data)
    new = value if value != data[i] else (value + 1) % 256
    return data[:i] + bytes([new]) + data[i + 1 :]


@contextmanager
def in_tmp(data: bytes, name: str) -> Iterator[Path]:
    """A file holding ``data`` in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        yield path


def sqlite_bytes(batches: list[list[Event]]) -> bytes:
    """The bytes of a SQLite store holding ``batches`` (WAL checkpointed on close)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.db"
        with SqliteStore(path, synchronous="NORMAL") as store:
            for batch in batches:
                store.append(batch)
        return path.read_bytes()


def jsonl_bytes(batches: list[list[Event]]) -> bytes:
    """The bytes of a JSON Lines store holding ``batches``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.jsonl"
        with JsonlStore(path, fsync=False) as store:
            for batch in batches:
                store.append(batch)
        return path.read_bytes()


@SMALL
@given(small_logs(), st.integers(0, 1 << 20), st.integers(0, 255))
def test_sqlite_single_byte_damage_never_loses_events(
    batches: list[list[Event]], offset: int, value: int
) -> None:
    """Any single-byte corruption of a SQLite store: every read raises DataError or
    yields every event written, with the same (deal_id, seq) runs."""
    written = [e for b in batches for e in b]
    with in_tmp(corrupt(sqlite_bytes(batches), offset, value), "s.db") as path:
        try:
            store = SqliteStore(path)
        except DataError:
            return
        with store:
            assert_nothing_lost(written, check_damaged_read(written, lambda: list(store.events())))
            after = check_damaged_read(written, lambda: [e for _, e in store.events_after(0)])
            assert_nothing_lost(written, after)


@SMALL
@given(small_logs(), st.integers(0, 1 << 20), st.integers(0, 255))
def test_jsonl_single_byte_damage_never_loses_events(
    batches: list[list[Event]], offset: int, value: int
) -> None:
    """Any single-byte corruption of a JSON Lines store: reading raises DataError or
    yields every event written with the same runs, except that damage to the final
    newline makes the last line a torn tail, which is skipped and reported."""
    written = [e for b in batches for e in b]
    data = jsonl_bytes(batches)
    damaged = corrupt(data, offset, value)
    with in_tmp(damaged, "s.jsonl") as path:
        store = JsonlStore(path, fsync=False)
        read = check_damaged_read(written, lambda: list(store.events()))
        if store.torn_tail:
            assert offset % len(data) == len(data) - 1  # only the final newline was hit
            assert read == written[: len(read)]
            assert len(written) - len(read) == len(batches[-1])
        else:
            assert_nothing_lost(written, read)
