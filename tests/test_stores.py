"""Every store runs the shared StoreSuite; store-specific behaviour is tested beside it."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesstages import ConcurrencyError, DataError, Event, EventStore, MemoryStore, OutOfOrderError
from salesstages._stores import JsonlStore, SqliteStore
from salesstages.testing._store_suite import StoreSuite, ev, opening


def checked(payload: bytes) -> bytes:
    """``payload`` as a JSON Lines store line of format 2: ``[crc, payload]`` and a newline."""
    import zlib

    return b"[%d,%b]\n" % (zlib.crc32(payload), payload)


class TestMemoryStore(StoreSuite):
    """The in-memory store."""

    def make_store(self, tmp_path: Path) -> EventStore:
        """A fresh memory store."""
        return MemoryStore()


class TestJsonlStore(StoreSuite):
    """The JSON Lines store."""

    def make_store(self, tmp_path: Path) -> EventStore:
        """A store in ``events.jsonl`` under ``tmp_path``."""
        return JsonlStore(tmp_path / "events.jsonl")

    def reopen(self, store: EventStore, tmp_path: Path) -> EventStore:
        """A second handle on the same file."""
        return JsonlStore(tmp_path / "events.jsonl")


class TestSqliteStore(StoreSuite):
    """The SQLite store."""

    def make_store(self, tmp_path: Path) -> EventStore:
        """A store in ``events.db`` under ``tmp_path``."""
        return SqliteStore(tmp_path / "events.db")

    def reopen(self, store: EventStore, tmp_path: Path) -> EventStore:
        """A second connection to the same file."""
        return SqliteStore(tmp_path / "events.db")


class TestSqliteNormalSync(TestSqliteStore):
    """The SQLite store with ``synchronous="NORMAL"`` behaves the same."""

    def make_store(self, tmp_path: Path) -> EventStore:
        """A store in ``events.db`` with NORMAL sync."""
        return SqliteStore(tmp_path / "events.db", synchronous="NORMAL")


class TestJsonlNoFsync(TestJsonlStore):
    """The JSON Lines store without fsync behaves the same."""

    def make_store(self, tmp_path: Path) -> EventStore:
        """A store in ``events.jsonl`` without fsync."""
        return JsonlStore(tmp_path / "events.jsonl", fsync=False)


def test_stores_follow_the_protocol(tmp_path: Path) -> None:
    """All three stores are EventStore instances at run time."""
    for store in (MemoryStore(), JsonlStore(tmp_path / "a.jsonl"), SqliteStore(tmp_path / "a.db")):
        assert isinstance(store, EventStore)


def test_suite_without_make_store_says_what_to_do(tmp_path: Path) -> None:
    """The bare suite's make_store raises NotImplementedError naming the hook."""
    with pytest.raises(NotImplementedError, match=r"implement make_store\(tmp_path\)"):
        StoreSuite().make_store(tmp_path)


# ---------------------------------------------------------------------- SQLite
def test_sqlite_refuses_update_and_delete(tmp_path: Path) -> None:
    """Triggers refuse UPDATE and DELETE on the event and deal tables."""
    SqliteStore(tmp_path / "e.db").append(opening("A"))
    conn = sqlite3.connect(tmp_path / "e.db")
    try:
        for sql in (
            "UPDATE events SET kind = 'activity'",
            "DELETE FROM events",
            "UPDATE deals SET position = 9",
            "DELETE FROM deals",
        ):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(sql)
        assert conn.execute("SELECT count(*) FROM events").fetchone() == (2,)
    finally:
        conn.close()


def test_sqlite_schema_and_pragmas(tmp_path: Path) -> None:
    """The file is in WAL mode, keyed by (deal_id, seq), with a unique position."""
    store = SqliteStore(tmp_path / "e.db")
    store.append(opening("A"))
    conn = sqlite3.connect(tmp_path / "e.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        pk = [
            r[1]
            for r in sorted(conn.execute("PRAGMA table_info(events)"), key=lambda r: r[5])
            if r[5]
        ]
        assert pk == ["deal_id", "seq"]
        with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
            conn.execute(
                "INSERT INTO events (deal_id, seq, position, at, kind) "
                "VALUES ('B', 0, 1, '2024-01-01T00:00:00+00:00', 'opened')"
            )
    finally:
        conn.close()
    assert store.synchronous == "FULL"
    assert len(store) == 2
    assert repr(store).startswith("SqliteStore(")


def test_sqlite_bad_arguments(tmp_path: Path) -> None:
    """A wrong ``synchronous`` or ``timeout`` raises ValueError naming the choices."""
    with pytest.raises(ValueError, match="synchronous must be 'FULL' or 'NORMAL', got 'OFF'"):
        SqliteStore(tmp_path / "e.db", synchronous="OFF")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0, got -1"):
        SqliteStore(tmp_path / "e.db", timeout=-1)


def test_sqlite_timeout_zero_is_allowed(tmp_path: Path) -> None:
    """timeout=0 (fail at once on a locked database) is a valid choice: the bound is inclusive."""
    with SqliteStore(tmp_path / "e.db", timeout=0) as store:
        store.append(opening("A"))
        assert len(store) == 2


def test_sqlite_not_a_database(tmp_path: Path) -> None:
    """Opening a file that is not SQLite raises DataError naming the file."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match=r"junk\.db: cannot open as a salesstages SQLite store"):
        SqliteStore(path)


def test_sqlite_close_and_reuse(tmp_path: Path) -> None:
    """A closed store reopens its connection on next use; the context manager closes it."""
    with SqliteStore(tmp_path / "e.db") as store:
        store.append(opening("A"))
        store.close()
        assert store.deal_ids() == ["A"]
    assert store._conn is None


def test_sqlite_many_events_stream_in_chunks(tmp_path: Path) -> None:
    """Reading more events than one fetch chunk returns them all, in order."""
    store = SqliteStore(tmp_path / "e.db", synchronous="NORMAL")
    for d in range(5):
        store.append([ev(f"D{d}", s, s, "opened" if s == 0 else "activity") for s in range(900)])
    assert [(e.deal_id, e.seq) for e in store.events()][899:901] == [("D0", 899), ("D1", 0)]
    positions = [p for p, _ in store.events_after(10)]
    assert positions == list(range(11, 4501))


def test_unserialisable_data_is_refused_before_writing(tmp_path: Path) -> None:
    """Data that JSON cannot hold raises ValueError naming the event, and writes nothing."""
    bad = Event(
        deal_id="A",
        seq=0,
        at=datetime(2024, 1, 1, tzinfo=UTC),
        kind="opened",
        data={"when": datetime(2024, 1, 1, tzinfo=UTC)},
    )
    for store in (SqliteStore(tmp_path / "e.db"), JsonlStore(tmp_path / "e.jsonl")):
        with pytest.raises(ValueError, match=r"deal 'A', seq 0: data is not JSON"):
            store.append([bad])
        assert list(store.events()) == []


# ---------------------------------------------------------------------- JSONL
def test_jsonl_file_format(tmp_path: Path) -> None:
    """One line per append, ``[crc, payload]``: the payload is an event as a 7-field
    array, or a batch as an array of them; crc is zlib's CRC-32 of the payload's bytes."""
    import zlib

    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    store.append(opening("A"))
    store.append([ev("A", 2, 1, data={"k": "v"})])
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    one = '["A",2,"2024-05-01T09:01:00+00:00","activity","lead","call",{"k":"v"}]'
    assert lines[1] == f"[{zlib.crc32(one.encode())},{one}]"
    crc, batch = lines[0].split(",", 1)
    assert batch.startswith('[["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}],')
    assert int(crc[1:]) == zlib.crc32(batch[:-1].encode())
    assert (tmp_path / "e.jsonl.lock").exists()
    assert store.unverified_lines == 0


def test_jsonl_torn_tail_is_ignored_then_truncated(tmp_path: Path) -> None:
    """A torn last line is invisible to readers and cut off by the next append."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    good = path.read_bytes()
    with open(path, "ab") as f:
        f.write(b'[["B",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}],["B",1,"2024')
    store = JsonlStore(path)
    assert [e.deal_id for e in store.events()] == ["A", "A"]
    assert store.deal_ids() == ["A"]
    assert [p for p, _ in store.events_after(0)] == [1, 2]
    store.append(opening("B", 5))
    assert path.read_bytes().startswith(good)
    assert path.read_bytes().count(b"\n") == 2
    assert [(e.deal_id, e.seq) for e in JsonlStore(path).events()][2:] == [("B", 0), ("B", 1)]


def test_jsonl_malformed_complete_line_raises_data_error(tmp_path: Path) -> None:
    """A complete line that is not JSON raises DataError naming file and line."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b"{not json\n")
    store = JsonlStore(path)
    with pytest.raises(DataError, match=r"e\.jsonl, line 2: not valid JSON"):
        list(store.events())
    with pytest.raises(DataError, match=r"line 2"):
        store.append([ev("A", 2, 1)])


@pytest.mark.parametrize(
    ("line", "field", "message"),
    [
        (b'["A",0,"2024-05-01T09:00:00+00:00","opened",null,null]', None, "array of 7 fields"),
        (b'{"deal_id":"A"}', None, "got an object"),
        (b'["",0,"2024-05-01T09:00:00+00:00","opened",null,null,{}]', "deal_id", "non-empty"),
        (b'["A",-1,"2024-05-01T09:00:00+00:00","opened",null,null,{}]', "seq", ">= 0"),
        (b'["A",0,"yesterday","opened",null,null,{}]', "at", "not an ISO 8601"),
        (b'["A",0,"2024-05-01T09:00:00","opened",null,null,{}]', "at", "no UTC offset"),
        (b'["A",0,"2024-05-01T09:00:00+00:00","closed",null,null,{}]', "kind", "one of"),
        (b'["A",0,"2024-05-01T09:00:00+00:00","opened",1,null,{}]', "stage", "string or null"),
        (b'["A",0,"2024-05-01T09:00:00+00:00","opened",null,[],{}]', "name", "string or null"),
        (b'["A",0,"2024-05-01T09:00:00+00:00","opened",null,null,[]]', "data", "JSON object"),
    ],
)
def test_jsonl_bad_fields_are_named(
    tmp_path: Path, line: bytes, field: str | None, message: str
) -> None:
    """Each wrong field raises DataError naming the file, line 1 and that field."""
    path = tmp_path / "e.jsonl"
    path.write_bytes(line + b"\n")
    where = r"e\.jsonl, line 1" + (f", field '{field}'" if field else "")
    with pytest.raises(DataError, match=where + ".*" + message):
        list(JsonlStore(path).events())


def test_jsonl_seq_gap_in_file_raises(tmp_path: Path) -> None:
    """A file whose deal skips a seq raises DataError naming the line and 'seq'."""
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    store.append(opening("A"))
    with open(path, "ab") as f:
        f.write(checked(b'["A",3,"2024-05-01T09:00:00+00:00","activity","lead",null,{}]'))
    with pytest.raises(DataError, match=r"line 2, field 'seq': deal 'A': seq 3 skips"):
        list(JsonlStore(path).events())
    with pytest.raises(DataError, match=r"seq 3 skips \(expected 2\)"):
        JsonlStore(path).append([ev("A", 2, 1)])


def test_jsonl_seq_gap_after_a_blank_line_names_the_line(tmp_path: Path) -> None:
    """A seq gap in a chunk that also holds a blank line (read line by line) names its line."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))  # line 1: one batch line
    with open(path, "ab") as f:
        f.write(b"\n")  # line 2: blank
        f.write(checked(b'["A",3,"2024-05-01T09:00:00+00:00","activity","lead",null,{}]'))
    with pytest.raises(DataError, match=r"line 3, field 'seq': deal 'A': seq 3 skips"):
        list(JsonlStore(path).events())


def test_jsonl_following_a_fresh_handle_names_the_line(tmp_path: Path) -> None:
    """events_after(0) on a new handle counts lines from the start of the file."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b"{not json\n")
    with pytest.raises(DataError, match=r"e\.jsonl, line 2: not valid JSON"):
        list(JsonlStore(path).events_after(0))


def test_jsonl_deal_ids_names_the_bad_line(tmp_path: Path) -> None:
    """deal_ids() counts lines from the start of the file when it meets a bad one."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b"{not json\n")
    with pytest.raises(DataError, match=r"e\.jsonl, line 2: not valid JSON"):
        JsonlStore(path).deal_ids()


def test_jsonl_close_twice_and_before_opening(tmp_path: Path) -> None:
    """close() is safe on a handle that never opened the file and on one already closed."""
    JsonlStore(tmp_path / "never.jsonl").close()
    store = JsonlStore(tmp_path / "e.jsonl")
    store.append(opening("A"))
    store.close()
    store.close()
    store.append([ev("A", 2, 1)])  # a later append reopens the file
    assert len(list(store.events())) == 3


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd")
def test_jsonl_close_releases_both_descriptors(tmp_path: Path) -> None:
    """close() closes the log's and the lock file's descriptors: none is left open."""
    before = len(list(Path("/proc/self/fd").iterdir()))
    store = JsonlStore(tmp_path / "e.jsonl")
    store.append(opening("A"))
    store.close()
    assert len(list(Path("/proc/self/fd").iterdir())) == before


def test_jsonl_seq_repeat_in_batch_line_names_the_line(tmp_path: Path) -> None:
    """A repeated seq inside a batch line is reported with that line's number."""
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    store.append(opening("A"))
    store.append(opening("B"))
    with open(path, "ab") as f:
        f.write(path.read_bytes().splitlines(keepends=True)[0])
    with pytest.raises(DataError, match=r"line 3, field 'seq': deal 'A': seq 0 repeats"):
        list(JsonlStore(path).events())


def test_jsonl_blank_lines_are_skipped(tmp_path: Path) -> None:
    """Blank lines between events are ignored."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append([ev("A", 0, 0, "opened")])
    with open(path, "ab") as f:
        f.write(b"\n   \n")
    JsonlStore(path).append([ev("A", 1, 0, "stage_entered")])
    assert [e.seq for e in JsonlStore(path).events()] == [0, 1]


def test_jsonl_not_utf8_raises_data_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 raise DataError naming the line."""
    path = tmp_path / "e.jsonl"
    JsonlStore(path).append(opening("A"))
    with open(path, "ab") as f:
        f.write(b"\xff\xfe\n")
    with pytest.raises(DataError, match=r"line 2: not UTF-8 text"):
        list(JsonlStore(path).events())


def test_jsonl_file_that_shrank_raises(tmp_path: Path) -> None:
    """A log file that shrinks under an open handle raises DataError on append."""
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    store.append(opening("A"))
    path.write_bytes(b"")
    with pytest.raises(DataError, match=r"the file shrank from .* bytes while open"):
        store.append(opening("B"))


def test_jsonl_long_lines_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines longer than one read chunk, and many chunks, read back whole."""
    from salesstages._stores import jsonl

    monkeypatch.setattr(jsonl, "_CHUNK", 64)
    path = tmp_path / "e.jsonl"
    store = JsonlStore(path)
    store.append(opening("A", note="x" * 300))
    for s in range(2, 30):
        store.append([ev("A", s, s)])
    back = list(JsonlStore(path).events())
    assert [e.seq for e in back] == list(range(30))
    assert back[0].data["note"] == "x" * 300
    assert [p for p, _ in JsonlStore(path).events_after(25)] == [26, 27, 28, 29, 30]


def test_jsonl_follow_resumes_from_its_mark(tmp_path: Path) -> None:
    """Following from the last seen position reads only the new lines."""
    path = tmp_path / "e.jsonl"
    writer = JsonlStore(path)
    reader = JsonlStore(path)
    writer.append(opening("A"))
    assert [p for p, _ in reader.events_after(0)] == [1, 2]
    assert reader._mark[2] == 2
    writer.append([ev("A", 2, 1)])
    assert [(p, e.seq) for p, e in reader.events_after(2)] == [(3, 2)]
    assert [(p, e.seq) for p, e in reader.events_after(1)] == [(2, 1), (3, 2)]


def test_jsonl_offset_timestamps_are_normalised(tmp_path: Path) -> None:
    """A timestamp written with another offset reads back as the same instant in UTC."""
    path = tmp_path / "e.jsonl"
    path.write_text('["A",0,"2024-05-01T11:00:00+02:00","opened",null,null,{}]\n', encoding="utf-8")
    (e,) = JsonlStore(path).events()
    assert e.at == datetime(2024, 5, 1, 9, tzinfo=UTC)
    assert e.at.tzinfo is UTC


def test_jsonl_close_and_context_manager(tmp_path: Path) -> None:
    """Closing releases the descriptors; the next append reopens them."""
    with JsonlStore(tmp_path / "e.jsonl") as store:
        store.append(opening("A"))
        store.close()
        store.append([ev("A", 2, 1)])
    assert store._fd == -1
    assert len(store) == 3
    assert repr(store).startswith("JsonlStore(")


def test_memory_store_len_and_repr() -> None:
    """MemoryStore reports its size."""
    store = MemoryStore()
    store.append(opening("A"))
    assert len(store) == 2
    assert repr(store) == "MemoryStore(1 deals, 2 events)"


def test_times_are_exact_after_round_trip(tmp_path: Path) -> None:
    """A file store gives back the same instant, microseconds included, in UTC."""
    at = datetime(2024, 2, 29, 23, 59, 59, 999_999, tzinfo=UTC) - timedelta(hours=1)
    for store in (SqliteStore(tmp_path / "t.db"), JsonlStore(tmp_path / "t.jsonl")):
        store.append([Event(deal_id="A", seq=0, at=at, kind="opened")])
        assert next(store.events()).at == at


@pytest.fixture(params=["jsonl", "sqlite"])
def file_store(request: pytest.FixtureRequest, tmp_path: Path) -> JsonlStore | SqliteStore:
    """Each file store, fresh."""
    if request.param == "jsonl":
        return JsonlStore(tmp_path / "e.jsonl")
    return SqliteStore(tmp_path / "e.db")


def test_append_many_writes_every_batch(file_store: JsonlStore | SqliteStore) -> None:
    """append_many writes batches of several deals, and later batches of the same deal."""
    n = file_store.append_many([opening("A"), opening("B"), [ev("A", 2, 1)]])
    assert n == 5
    assert [(e.deal_id, e.seq) for e in file_store.events()] == [
        ("A", 0),
        ("A", 1),
        ("A", 2),
        ("B", 0),
        ("B", 1),
    ]
    assert [e.deal_id for _, e in file_store.events_after(0)] == ["A", "A", "B", "B", "A"]
    assert file_store.append_many([]) == 0


def test_append_many_is_all_or_nothing(file_store: JsonlStore | SqliteStore) -> None:
    """One bad batch refuses the whole call: nothing of the good ones is written."""
    file_store.append(opening("A"))
    with pytest.raises(ConcurrencyError, match="deal 'A': seq 1 is already taken"):
        file_store.append_many([opening("B"), [ev("A", 1, 1)]])
    with pytest.raises(OutOfOrderError, match="deal 'C': event seq 2"):
        file_store.append_many([opening("B"), [*opening("C", 5), ev("C", 2, 1)]])
    with pytest.raises(ValueError, match="at least one event"):
        file_store.append_many([opening("B"), []])
    assert file_store.deal_ids() == ["A"]
    assert len(list(file_store.events_after(0))) == 2


def test_sqlite_foreign_schema_raises_data_error(tmp_path: Path) -> None:
    """A SQLite file whose events table is not ours raises DataError naming the file."""
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE events (x)")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    with pytest.raises(DataError, match=r"other\.db: the database is damaged or not a salesstages"):
        list(store.events())
    with pytest.raises(DataError, match="no such column"):
        list(store.events("A"))


def test_sqlite_hand_inserted_row_is_a_concurrency_error(tmp_path: Path) -> None:
    """A key taken behind the store's back (a hand-made deals row) raises ConcurrencyError."""
    path = tmp_path / "e.db"
    store = SqliteStore(path)
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO deals (deal_id, position) VALUES ('B', 99)")
    conn.commit()
    conn.close()
    with pytest.raises(ConcurrencyError, match=r"already taken \(UNIQUE constraint failed"):
        store.append(opening("B"))
    assert list(store.events()) == []


def test_sqlite_store_in_a_missing_folder(tmp_path: Path) -> None:
    """A SQLite store in a folder that does not exist raises FileNotFoundError naming it."""
    from salesstages import SqliteStore

    with pytest.raises(FileNotFoundError, match=r"its folder .* does not exist; create it first"):
        SqliteStore(tmp_path / "missing" / "x.db")


def test_sqlite_reading_shares_strings_and_flat_data(tmp_path: Path) -> None:
    """One read shares one object per distinct deal id, stage and name, and one mapping per
    distinct flat ``data``; nested data is never shared, and every value reads back equal."""
    store = SqliteStore(tmp_path / "e.db")
    for d in ("A", "B"):
        store.append(
            [
                *opening(d),
                ev(d, 2, 1, data={"meeting": "discovery"}),
                ev(d, 3, 2, data={"meeting": "discovery"}),
                ev(d, 4, 3, data={"tags": ["x"]}),
                ev(d, 5, 4, data={"tags": ["x"]}),
            ]
        )
    for read in (list(store.events()), [e for _, e in store.events_after(0)]):
        a, b = read[:6], read[6:]
        assert len({id(e.deal_id) for e in a}) == 1
        assert a[1].stage is b[1].stage is a[2].stage
        assert a[2].name is b[3].name
        assert a[2].data is a[3].data is b[2].data
        assert a[2].data == {"meeting": "discovery"}
        assert a[4].data is not a[5].data
        assert a[4].data == a[5].data == {"tags": ["x"]}
        assert [e.kind for e in a] == ["opened", "stage_entered", *["activity"] * 4]


def test_sqlite_damaged_kind_raises_data_error_naming_the_field(tmp_path: Path) -> None:
    """A row whose kind was changed behind the store's back raises DataError naming 'kind'."""
    path = tmp_path / "e.db"
    SqliteStore(path).append(opening("A"))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA ignore_check_constraints = ON")
    conn.execute("DROP TRIGGER events_no_update")
    conn.execute("UPDATE events SET kind = 'won' WHERE seq = 1")
    conn.commit()
    conn.close()
    with pytest.raises(DataError, match=r"e\.db, field 'kind': .*unknown kind 'won'"):
        list(SqliteStore(path).events())
