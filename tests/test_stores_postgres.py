"""PostgresStore on a throw-away server: the shared StoreSuite, then its own behaviour."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from salesstages import (
    ConcurrencyError,
    DataError,
    Event,
    EventStore,
    PostgresStore,
    StoreUnavailableError,
)
from salesstages.testing._store_suite import StoreSuite, ev, opening

psycopg = pytest.importorskip("psycopg", reason="pip install 'salesstages[postgres]'")


class TestPostgresStore(StoreSuite):
    """The PostgreSQL store, each test on a table of its own."""

    @pytest.fixture(autouse=True)
    def _server(self, pg_conninfo: str, pg_table: str) -> None:
        """Remember the session's server and this test's table name."""
        self.conninfo = pg_conninfo
        self.table = pg_table

    def make_store(self, tmp_path: Path) -> EventStore:
        """A store on a new table."""
        return PostgresStore(self.conninfo, table=self.table)

    def reopen(self, store: EventStore, tmp_path: Path) -> EventStore:
        """A second store object (its own connection) on the same table."""
        return PostgresStore(self.conninfo, table=self.table)


def _conn(conninfo: str) -> psycopg.Connection:  # type: ignore[name-defined]
    return psycopg.connect(conninfo, autocommit=True)


def test_table_has_the_canonical_columns(pg_conninfo: str, pg_table: str) -> None:
    """The table holds the canonical analysis columns with PostgreSQL types."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    store.append(opening("A", amount=5))
    with _conn(pg_conninfo) as conn:
        cols = conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = %s ORDER BY ordinal_position",
            (pg_table,),
        ).fetchall()
        row = conn.execute(f"SELECT data->>'amount', at FROM {pg_table} WHERE seq = 0").fetchone()
    assert cols == [
        ("position", "bigint"),
        ("deal_id", "text"),
        ("seq", "bigint"),
        ("at", "timestamp with time zone"),
        ("kind", "text"),
        ("stage", "text"),
        ("name", "text"),
        ("data", "jsonb"),
    ]
    assert row == ("5", datetime(2024, 5, 1, 9, 0, tzinfo=UTC))
    assert len(store) == 2
    assert (
        repr(store)
        == f"PostgresStore('127.0.0.1:{pg_conninfo.split('port=')[1].split()[0]}/test', table='{pg_table}')"
    )


def test_update_delete_and_truncate_are_refused(pg_conninfo: str, pg_table: str) -> None:
    """Triggers keep the table append-only for someone with a SQL shell."""
    PostgresStore(pg_conninfo, table=pg_table).append(opening("A"))
    with _conn(pg_conninfo) as conn:
        for statement in (
            f"UPDATE {pg_table} SET kind = 'activity'",
            f"DELETE FROM {pg_table}",
            f"TRUNCATE {pg_table}",
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)
        assert conn.execute(f"SELECT count(*) FROM {pg_table}").fetchone() == (2,)


def test_schema_qualified_table(pg_database: str) -> None:
    """``table="schema.name"`` puts the table in that schema."""
    with _conn(pg_database) as conn:
        conn.execute("CREATE SCHEMA sales")
    store = PostgresStore(pg_database, table="sales.events")
    store.append(opening("A"))
    with _conn(pg_database) as conn:
        assert conn.execute("SELECT count(*) FROM sales.events").fetchone() == (2,)
    assert PostgresStore(pg_database, table="sales.events").deal_ids() == ["A"]


def test_nul_is_refused_naming_the_field(pg_conninfo: str, pg_table: str) -> None:
    """A NUL character, which PostgreSQL cannot store, raises DataError naming the field."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    with pytest.raises(DataError, match=r"field 'deal_id'.*NUL"):
        store.append([ev("A\x00", 0, 0, "opened")])
    with pytest.raises(DataError, match=r"field \"data\['note'\]\".*NUL"):
        store.append([ev("A", 0, 0, "opened", data={"note": "a\x00b"})])
    with pytest.raises(DataError, match=r"field 'name'.*NUL"):
        store.append([*opening("A"), ev("A", 2, 1, name="ca\x00ll")])
    assert list(store.events()) == []
    # a backslash-u0000 *text* (six characters) is fine
    store.append([ev("A", 0, 0, "opened", data={"note": "\\u0000"})])
    assert next(store.events()).data == {"note": "\\u0000"}


def test_unserialisable_data_is_a_data_error(pg_conninfo: str, pg_table: str) -> None:
    """Data JSON cannot hold raises DataError naming the event, and writes nothing."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    bad = Event(
        deal_id="A",
        seq=0,
        at=datetime(2024, 1, 1, tzinfo=UTC),
        kind="opened",
        data={"when": datetime(2024, 1, 1, tzinfo=UTC)},
    )
    with pytest.raises(DataError, match=r"deal 'A', seq 0: data is not JSON"):
        store.append([bad])
    assert len(store) == 0


def test_table_with_other_columns_is_refused(pg_conninfo: str, pg_table: str) -> None:
    """An existing table without the canonical columns raises DataError naming table and column."""
    with _conn(pg_conninfo) as conn:
        conn.execute(f"CREATE TABLE {pg_table} (position bigint, deal_id text, seq int)")
    with pytest.raises(
        DataError, match=rf"table '{pg_table}': column 'seq' is integer, expected bigint"
    ):
        PostgresStore(pg_conninfo, table=pg_table)
    other = "t_" + uuid.uuid4().hex[:12]
    with _conn(pg_conninfo) as conn:
        conn.execute(f"CREATE TABLE {other} (position bigint, deal_id text)")
    with pytest.raises(
        DataError, match=rf"table '{other}' exists but has no column 'seq' \(bigint\)"
    ):
        PostgresStore(pg_conninfo, table=other)


def test_bad_table_names_are_refused(pg_conninfo: str) -> None:
    """A table name that is not a plain identifier raises DataError before connecting."""
    for bad in ("", "a;drop", "a.b.c", "1abc", "x" * 49):
        with pytest.raises(DataError, match="table must be a name like"):
            PostgresStore(pg_conninfo, table=bad)
    with pytest.raises(DataError, match="conninfo must be a libpq connection string"):
        PostgresStore("")


def test_server_down_names_host_and_port() -> None:
    """A server that is not there raises StoreUnavailableError naming host and port."""
    with pytest.raises(
        StoreUnavailableError,
        match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1/nothere: .*check that the server runs",
    ):
        PostgresStore("host=127.0.0.1 port=1 dbname=nothere user=x connect_timeout=2")


def test_malformed_conninfo_is_a_data_error() -> None:
    """A conninfo libpq cannot parse raises DataError, not a psycopg error."""
    with pytest.raises(DataError, match="bad PostgreSQL conninfo"):
        PostgresStore("host=127.0.0.1 nonsense_option=1")


def test_wrong_database_names_it(pg_server: object, pg_conninfo: str) -> None:
    """A database that does not exist raises StoreUnavailableError naming it."""
    wrong = pg_conninfo.replace("dbname=test", "dbname=nosuchdb")
    with pytest.raises(StoreUnavailableError, match=r"/nosuchdb: .*does not exist"):
        PostgresStore(wrong)


def test_lost_connection_reconnects(pg_conninfo: str, pg_table: str) -> None:
    """When the server ends the store's session, the call fails with StoreUnavailableError
    and the next one reconnects."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    store.append(opening("A"))
    pid = store._connection().info.backend_pid
    with _conn(pg_conninfo) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreUnavailableError, match="failed"):
        store.deal_ids()
    assert store.deal_ids() == ["A"]


def test_concurrency_error_when_written_around_the_store(pg_conninfo: str, pg_table: str) -> None:
    """A second store object that raced and lost gets ConcurrencyError, nothing written."""
    one = PostgresStore(pg_conninfo, table=pg_table)
    two = PostgresStore(pg_conninfo, table=pg_table)
    one.append(opening("A"))
    with pytest.raises(ConcurrencyError, match="already taken"):
        two.append(opening("A"))
    assert len(two) == 2


def test_append_many_is_all_or_nothing(pg_conninfo: str, pg_table: str) -> None:
    """Many deals in one call, through COPY: all are written, or none when one is refused."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    batches = [
        [ev(f"D{d}", s, s, "opened" if s == 0 else "activity") for s in range(10)]
        for d in range(20)
    ]
    assert store.append_many(batches) == 200
    assert [p for p, _ in store.events_after(195)] == [196, 197, 198, 199, 200]
    with pytest.raises(ConcurrencyError):
        store.append_many(
            [[ev(f"E{d}", 0, 0, "opened") for _ in range(1)] for d in range(60)] + [opening("D0")]
        )
    assert len(store) == 200
    assert store.append_many([]) == 0
    assert [e.seq for e in store.events("D7")] == list(range(10))


def test_appends_wait_for_an_open_append_so_positions_commit_in_order(
    pg_conninfo: str, pg_table: str
) -> None:
    """While one transaction holds the table's append lock, another append waits: no
    position can be committed after a higher one is visible."""
    import threading

    from salesstages._stores._pgschema import _LOCK_CLASS

    store = PostgresStore(pg_conninfo, table=pg_table)
    store.append(opening("A"))
    with _conn(pg_conninfo) as holder:
        with holder.transaction():
            holder.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, pg_table)
            )
            writer = threading.Thread(
                target=PostgresStore(pg_conninfo, table=pg_table).append, args=(opening("B"),)
            )
            writer.start()
            writer.join(timeout=0.5)
            assert writer.is_alive()  # blocked behind the open transaction
            assert len(store) == 2
        writer.join(timeout=10)
    assert not writer.is_alive()
    assert [(p, e.deal_id) for p, e in store.events_after(2)] == [(3, "B"), (4, "B")]


def test_an_append_is_one_statement(
    pg_conninfo: str, pg_table: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``append`` and ``append_many`` each send one statement (the table's append function)
    and open no transaction of their own."""
    store = PostgresStore(pg_conninfo, table=pg_table)
    conn = store._connection()
    sent: list[str] = []
    real = conn.execute

    def counting(query: object, params: object = None, **kwargs: object) -> object:
        sent.append(query.as_string(conn) if hasattr(query, "as_string") else str(query))
        return real(query, params, **kwargs)  # type: ignore[arg-type]

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("append opened a transaction")

    monkeypatch.setattr(conn, "execute", counting)
    monkeypatch.setattr(conn, "transaction", refused)
    store.append(opening("A"))
    store.append([ev("A", 2, 1)])
    assert store.append_many([[ev("A", 3, 2)], opening("B")]) == 3
    assert len(sent) == 3
    assert all(f"{pg_table}_append_v1" in q for q in sent)
    monkeypatch.undo()
    assert [(p, e.deal_id, e.seq) for p, e in store.events_after(3)] == [
        (4, "A", 3),
        (5, "B", 0),
        (6, "B", 1),
    ]


def test_a_table_without_the_append_function_gets_it(pg_conninfo: str, pg_table: str) -> None:
    """A table an older version made (no append function) gets the function on first use."""
    PostgresStore(pg_conninfo, table=pg_table).append(opening("A"))
    with _conn(pg_conninfo) as conn:
        conn.execute(f"DROP FUNCTION {pg_table}_append_v1")
        assert conn.execute("SELECT to_regproc(%s)", (f"{pg_table}_append_v1",)).fetchone() == (
            None,
        )
    store = PostgresStore(pg_conninfo, table=pg_table)
    store.append([ev("A", 2, 1)])
    assert [e.seq for e in store.events("A")] == [0, 1, 2]


def test_later_batches_of_a_deal_in_one_call_follow_the_first(
    pg_conninfo: str, pg_table: str
) -> None:
    """In one ``append_many``, a deal's second batch must start where its first ended and
    not go back in time; otherwise nothing of the call is written."""
    from salesstages import OutOfOrderError

    store = PostgresStore(pg_conninfo, table=pg_table)
    with pytest.raises(ConcurrencyError, match=r"seq 3 is not the next one \(the deal has 2"):
        store.append_many([opening("A"), [ev("A", 3, 1)]])
    with pytest.raises(OutOfOrderError, match="is earlier than the previous event"):
        store.append_many([opening("A", 5), [ev("A", 2, 1)]])
    assert len(store) == 0
    assert store.append_many([opening("A"), [ev("A", 2, 1)], opening("B")]) == 5
    # the server's check: B is stored with 2 events, so seq 0 is taken; A's batch is not written
    with pytest.raises(ConcurrencyError, match=r"deal 'B': seq 0 is already taken"):
        store.append_many([[ev("A", 3, 2)], opening("B")])
    with pytest.raises(OutOfOrderError, match=r"deal 'A': event seq 3 .* is earlier"):
        store.append_many([[ev("A", 3, 0.5)]])
    assert len(store) == 5
