"""Damage that must not read as data: checksummed JSON Lines stores (bit flips, damaged
newlines, old unchecked files, over-long lines) and SQLite stores whose tables disagree."""

from __future__ import annotations

import os
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from _cli_data import Runner, cli_error
from salesstages import DataError, Event, SqliteStore
from salesstages._stores import JsonlStore
from salesstages._stores import jsonl as jsonl_module
from salesstages.testing._store_suite import ev, opening


def _log(path: Path) -> list[Event]:
    """A small valid log: single appends and batches, several deals, non-ASCII data."""
    store = JsonlStore(path, fsync=False)
    store.append(opening("A"))
    store.append([ev("A", 2, 1, data={"note": "café ☕", "n": 3})])
    store.append_many([opening("B", 2), [ev("A", 3, 3)]])
    store.append([ev("B", 2, 4, "updated", data={"amount": 1200.5})])
    return list(JsonlStore(path).events())


def test_every_single_bit_flip_is_caught(tmp_path: Path) -> None:
    """Every one of the log's bits flipped in turn (over 2,000 flips): none reads back
    silently as different events; each raises DataError naming a line, or reads the
    log unchanged (never happens with checksums, but would be harmless)."""
    path = tmp_path / "e.jsonl"
    original = _log(path)
    good = path.read_bytes()
    flips = silent = 0
    errors: list[DataError] = []
    fd = os.open(path, os.O_RDWR)
    try:
        for i in range(len(good)):
            for bit in range(8):
                os.pwrite(fd, bytes([good[i] ^ (1 << bit)]), i)  # flip one bit in place
                flips += 1
                try:
                    got = list(JsonlStore(path).events())
                except DataError as exc:
                    errors.append(exc)
                    continue
                finally:
                    os.pwrite(fd, good[i : i + 1], i)  # and back
                silent += got != original
    finally:
        os.close(fd)
    assert path.read_bytes() == good
    assert flips >= 2000, flips
    assert silent == 0
    assert len(errors) == flips
    assert all(exc.line is not None for exc in errors)


def test_a_changed_date_is_a_data_error_naming_the_line(tmp_path: Path) -> None:
    """The review's example: a flip turning 2024-05-01T09:01 into 2024-05-21T09:01 is a
    DataError naming line 2 (without checksums it read as a valid, different event)."""
    path = tmp_path / "e.jsonl"
    _log(path)
    text = path.read_bytes()
    at = text.index(b"2024-05-01T09:01")
    damaged = text[: at + 8] + b"2" + text[at + 9 :]  # '0' (0x30) -> '2' (0x32): one bit
    path.write_bytes(damaged)
    with pytest.raises(DataError, match=r"e\.jsonl, line 2: the checksum does not match"):
        list(JsonlStore(path).events())


def test_a_damaged_last_newline_is_not_a_torn_tail(tmp_path: Path) -> None:
    """A whole checksummed last line whose newline was damaged is a DataError, not an
    unfinished append to skip; a really unfinished one is still skipped."""
    path = tmp_path / "e.jsonl"
    _log(path)
    good = path.read_bytes()
    path.write_bytes(good[:-1] + b"\x0b")
    with pytest.raises(DataError, match=r"line 5: the last line's newline is damaged"):
        list(JsonlStore(path).events())
    path.write_bytes(good[:-9])  # cut short by a crash
    store = JsonlStore(path)
    assert len(list(store.events())) == 6
    assert store.torn_tail == len(good.splitlines()[-1]) - 8


# ------------------------------------------------------------------ format 1 files
_V1 = (
    b'[["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}],'
    b'["A",1,"2024-05-01T09:00:00+00:00","stage_entered","lead",null,{}]]\n'
    b'["A",2,"2024-05-01T09:01:00+00:00","activity","lead","call",{}]\n'
)


def test_old_files_still_read_and_say_they_are_unverified(tmp_path: Path) -> None:
    """A format 1 file reads as before, its lines counted as unverified; appends to it
    are checksummed, and the old lines stay readable."""
    path = tmp_path / "old.jsonl"
    path.write_bytes(_V1)
    store = JsonlStore(path)
    assert [e.seq for e in store.events()] == [0, 1, 2]
    assert store.unverified_lines == 2
    store.append([ev("A", 3, 2)])
    assert path.read_bytes().startswith(_V1)
    assert path.read_bytes()[len(_V1) :].startswith(b"[")
    assert [e.seq for e in store.events()] == [0, 1, 2, 3]
    assert store.unverified_lines == 2


def test_an_unchecked_line_after_checked_ones_is_damage(tmp_path: Path) -> None:
    """Once a line carries a checksum, a later line without one is a DataError."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b'["A",2,"2024-05-01T09:01:00+00:00","activity","lead","call",{}]\n')
    with pytest.raises(DataError, match="line 2: the line has no checksum but lines before"):
        list(JsonlStore(path).events())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b'[1,2,["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}]]', "got an array of 3"),
        (b'[true,["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}]]', "starting with True"),
        (b'[-1,["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}]]', "does not match"),
        (b'[ 1 , ["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}]]', "does not match"),
    ],
)
def test_malformed_checksummed_lines_are_named(tmp_path: Path, line: bytes, message: str) -> None:
    """A line shaped like a checksummed line but wrong is a DataError naming line 1."""
    path = tmp_path / "e.jsonl"
    path.write_bytes(line + b"\n")
    with pytest.raises(DataError, match=r"e\.jsonl, line 1: .*" + message):
        list(JsonlStore(path).events())


def test_check_says_an_old_file_is_unverified(tmp_path: Path, run: Runner) -> None:
    """``salesstages check`` on a format 1 store notes how many lines it cannot verify."""
    path = tmp_path / "old.jsonl"
    path.write_bytes(_V1)
    JsonlStore(path).events()  # readable
    status, _out, err = run("check", str(path), "-p", "inbound_b2b")
    # the tiny log's stage 'lead' is not inbound_b2b's: check says so in one line (exit 2),
    # after the note on the unverified lines
    assert status == 2, err
    assert "2 lines carry no checksum" in err
    assert "the log's stages are not the pipeline's" in err
    fresh = tmp_path / "new.jsonl"
    JsonlStore(fresh).append(opening("A"))
    assert "checksum" not in run("check", str(fresh), "-p", "inbound_b2b")[2]


# ------------------------------------------------------------------ long lines
def test_a_line_over_the_cap_is_refused_with_its_number(tmp_path: Path) -> None:
    """A line longer than MAX_LINE_BYTES (64 MiB) is refused naming it, without reading
    it whole first."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b"x" * (jsonl_module.MAX_LINE_BYTES + 1) + b"\n")
    started = time.monotonic()
    with pytest.raises(DataError, match=r"line 2: the line is longer than 64 MiB"):
        list(JsonlStore(path).events())
    assert time.monotonic() - started < 10


def test_reading_a_long_line_is_linear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line spanning 2,048 small blocks is joined once: quick (gathering it by
    re-copying, as before, copied about 8 GiB for this 8 MiB line)."""
    monkeypatch.setattr(jsonl_module, "_CHUNK", 4096)
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path, fsync=False)
    store.append(opening("A"))
    store.append([ev("A", 2, 1, data={"blob": "y" * (8 << 20)})])
    started = time.monotonic()
    events = list(JsonlStore(path).events())
    assert time.monotonic() - started < 3
    assert len(events[-1].data["blob"]) == 8 << 20


def test_an_append_over_the_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose line would pass the cap is refused before anything is written."""
    monkeypatch.setattr(jsonl_module, "MAX_LINE_BYTES", 4096)
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    with pytest.raises(DataError, match=r"deal 'A': one append of 2 events is .* smaller"):
        store.append([*opening("A")[:1], ev("A", 1, 0, "updated", data={"x": "z" * 5000})])
    assert path.read_bytes() == b""


def test_an_append_that_failed_midway_says_its_outcome_is_unknown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When fsync fails after the line went out, StoreUnavailableError says the outcome
    is unknown and how to check; a write that sent nothing raises the OSError as is."""
    from salesstages import StoreUnavailableError

    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)

    def no_disk(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(jsonl_module.os, "fsync", no_disk)
    with pytest.raises(StoreUnavailableError, match="outcome is unknown") as got:
        store.append(opening("A"))
    assert "store.events('A') has 2 events if it was" in str(got.value)
    monkeypatch.undo()

    def full(fd: int, data: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(jsonl_module.os, "write", full)
    with pytest.raises(OSError, match="No space left") as nothing:
        store.append(opening("B"))
    assert not isinstance(nothing.value, StoreUnavailableError)


# ------------------------------------------------------------------ SQLite
def _sqlite(path: Path) -> SqliteStore:
    store = SqliteStore(path)
    store.append(opening("D1"))
    store.append([ev("D1", 2, 1)])
    store.append(opening("D2", 2))
    return store


def _edit(path: Path, *statements: str) -> None:
    """Change the file behind the store's back, triggers dropped as an attacker would."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_no_delete")
    conn.execute("DROP TRIGGER deals_no_delete")
    conn.execute("DROP TRIGGER events_no_update")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (
            ["DELETE FROM events WHERE deal_id = 'D1' AND seq = 2"],
            r"position 3, after deal 'D1''s last event \(position 2\), does not read",
        ),
        (
            ["DELETE FROM deals WHERE deal_id = 'D1'"],
            r"deal 'D1' has events but no row in the deals table",
        ),
        (
            ["UPDATE events SET seq = 5 WHERE deal_id = 'D1' AND seq = 2"],
            r"deal 'D1': seq 5 was read where seq 2 belongs",
        ),
    ],
)
def test_sqlite_single_deal_reads_verify_the_deal(
    tmp_path: Path, statements: list[str], message: str
) -> None:
    """Reading one deal checks its run against the deals row and the store's length, as
    reading every deal does: the lost last event is a DataError, not a shorter deal."""
    path = tmp_path / "s.db"
    _sqlite(path).close()
    _edit(path, *statements)
    store = SqliteStore(path)
    with pytest.raises(DataError, match=message):
        list(store.events("D1"))
    with pytest.raises(DataError):
        list(store.events())
    assert [e.seq for e in store.events("D2")] == [0, 1] or "deals" in message


def test_sqlite_deal_ids_cross_checks_the_events(tmp_path: Path) -> None:
    """A deal whose deals row is gone is a DataError from deal_ids(), not a silent omission;
    a deals row without events is one too."""
    path = tmp_path / "s.db"
    _sqlite(path).close()
    _edit(path, "DELETE FROM deals WHERE deal_id = 'D2'")
    with pytest.raises(DataError, match=r"deal 'D2' has events but no row in the deals table"):
        SqliteStore(path).deal_ids()
    other = tmp_path / "t.db"
    _sqlite(other).close()
    _edit(other, "INSERT INTO deals (deal_id, position) VALUES ('D9', 99)")
    with pytest.raises(DataError, match=r"deal 'D9' is in the deals table but has no events"):
        SqliteStore(other).deal_ids()
    assert SqliteStore(tmp_path / "fine.db").deal_ids() == []


@pytest.mark.parametrize("at", ["2024-05-01T09:00:00", "2024-05-01 09:00", "yesterday"])
def test_sqlite_a_time_without_offset_is_a_data_error(tmp_path: Path, at: str) -> None:
    """An ``at`` with no UTC offset (or no time at all) is a DataError naming the field,
    in every read, not a TypeError later."""
    path = tmp_path / "s.db"
    _sqlite(path).close()
    _edit(path, f"UPDATE events SET at = '{at}' WHERE deal_id = 'D1' AND seq = 2")
    store = SqliteStore(path)
    for read in (
        lambda: list(store.events()),
        lambda: list(store.events("D1")),
        lambda: list(store.events_after(0)),
    ):
        with pytest.raises(DataError, match=r"field 'at'"):
            read()


def test_report_on_a_sqlite_time_without_offset_is_one_line(tmp_path: Path, run: Runner) -> None:
    """``salesstages report`` on such a store prints one DataError line, exit 2."""
    path = tmp_path / "s.db"
    _sqlite(path).close()
    _edit(path, "UPDATE events SET at = '2024-05-01T09:00:00' WHERE deal_id = 'D1' AND seq = 2")
    status, _out, err = run("report", str(path), "-p", "inbound_b2b", "--engine", "python")
    assert status == 2, err
    assert "field 'at'" in err
    assert "Traceback" not in err


def test_sqlite_aware_times_still_read(tmp_path: Path) -> None:
    """Offsets other than UTC are normalised, as before."""
    path = tmp_path / "s.db"
    _sqlite(path).close()
    _edit(path, "UPDATE events SET at = '2024-05-01T11:01:00+02:00' WHERE seq = 2")
    got = [e.at for e in SqliteStore(path).events("D1")]
    assert got[-1] == datetime(2024, 5, 1, 9, 1, tzinfo=UTC)
    assert got[-1].tzinfo is UTC


def test_sqlite_a_failed_commit_says_the_outcome_is_unknown(tmp_path: Path) -> None:
    """When COMMIT itself fails (a disk error), the append raises StoreUnavailableError
    saying its outcome is unknown and how to check, and the store carries on."""
    from salesstages import StoreUnavailableError

    store = SqliteStore(tmp_path / "s.db")
    real = store._connection()

    class FailingCommit:
        """The store's connection, with COMMIT failing as a full disk would make it."""

        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def execute(self, sql: str, *args: object) -> object:
            if sql == "COMMIT":
                raise sqlite3.OperationalError("disk I/O error")
            return real.execute(sql, *args)

    store._conn = FailingCommit()  # type: ignore[assignment]
    with pytest.raises(StoreUnavailableError, match="outcome is unknown") as got:
        store.append(opening("D1"))
    assert "store.events('D1') has 2 events if it was" in str(got.value)
    store._conn = real
    assert list(store.events()) == []  # rolled back: this time, it was not stored
    store.append(opening("D1"))
    assert len(store) == 2


def test_the_command_line_names_a_damaged_line(tmp_path: Path, run: Runner) -> None:
    """``salesstages report`` on a store with a changed byte exits 2 naming the line."""
    path = tmp_path / "store.jsonl"
    _log(path)
    text = path.read_bytes()
    at = text.index(b"2024-05-01T09:01")
    path.write_bytes(text[: at + 8] + b"2" + text[at + 9 :])
    err = cli_error(run("report", str(path), "-p", "inbound_b2b", "--engine", "python"))
    assert "store.jsonl, line 2: the checksum does not match" in err
