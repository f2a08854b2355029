"""PostgresStore when things go wrong: tables that would lose events, refused
privileges, timeouts, a silent network partition and appends of unknown outcome."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from _cli_data import Runner, cli_error
from salesstages import (
    DataError,
    PostgresStore,
    SalesStagesError,
    StorePermissionError,
    StoreUnavailableError,
)
from salesstages.testing._store_suite import ev, opening

psycopg = pytest.importorskip("psycopg", reason="pip install 'salesstages[postgres]'")


def _sql(conninfo: str, *statements: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


# --------------------------------------------------------------- tables that vanish
def test_a_temporary_schema_is_refused_before_connecting() -> None:
    """``pg_temp.x`` (and a session's own ``pg_temp_3``) is refused: its rows vanish
    with the connection."""
    for table in ("pg_temp.log", "PG_TEMP.log", "pg_temp_3.events"):
        with pytest.raises(DataError, match="temporary tables, whose rows vanish"):
            PostgresStore("host=127.0.0.1 port=1 dbname=x", table=table)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("CREATE VIEW {t} AS SELECT 1 AS position", r"is a view, not a table"),
        (
            "CREATE MATERIALIZED VIEW {t} AS SELECT 1 AS position",
            r"is a materialized view, not a table",
        ),
        ("CREATE SEQUENCE {t}", r"is a sequence, not a table"),
        (
            "CREATE UNLOGGED TABLE {t} (position bigint)",
            r"is unlogged: its rows vanish in a crash; name a permanent table",
        ),
    ],
)
def test_a_name_that_is_not_a_permanent_table_is_refused(
    pg_conninfo: str, pg_table: str, make: str, message: str
) -> None:
    """A view, a sequence or an unlogged table under the name is a DataError naming it."""
    _sql(pg_conninfo, make.format(t=pg_table))
    with pytest.raises(DataError, match=message):
        PostgresStore(pg_conninfo, table=pg_table)


def test_a_schema_that_does_not_exist_is_a_data_error(pg_conninfo: str) -> None:
    """``nosuchschema.events`` is one DataError line naming the schema and the fix."""
    with pytest.raises(
        DataError,
        match=r"schema 'nosuchschema' does not exist in 127\.0\.0\.1:\d+/test; create it "
        r"\(CREATE SCHEMA nosuchschema\)",
    ):
        PostgresStore(pg_conninfo, table="nosuchschema.events")


def test_a_view_with_the_canonical_columns_is_still_refused(
    pg_conninfo: str, pg_table: str
) -> None:
    """A view over a real event table reads like one but cannot be appended to: refused."""
    PostgresStore(pg_conninfo, table=pg_table).append(opening("A"))
    view = "v_" + uuid.uuid4().hex[:12]
    _sql(pg_conninfo, f"CREATE VIEW {view} AS SELECT * FROM {pg_table}")
    with pytest.raises(DataError, match=rf"'{view}' is a view, not a table"):
        PostgresStore(pg_conninfo, table=view)


# --------------------------------------------------------------- privileges
@pytest.fixture
def reader_role(pg_conninfo: str, pg_table: str) -> Iterator[str]:
    """A login role that may connect but holds no privilege on ``pg_table``; yields its
    conninfo."""
    role = "r_" + uuid.uuid4().hex[:12]
    PostgresStore(pg_conninfo, table=pg_table).append(opening("A"))
    _sql(pg_conninfo, f"CREATE ROLE {role} LOGIN")
    yield pg_conninfo.replace("user=postgres", f"user={role}")
    _sql(pg_conninfo, f"DROP OWNED BY {role}", f"DROP ROLE {role}")


def test_a_role_without_select_gets_a_permission_error(
    reader_role: str, pg_conninfo: str, pg_table: str
) -> None:
    """Reading without SELECT, appending without INSERT: StorePermissionError (also a
    PermissionError), one line naming the table and the grants."""
    store = PostgresStore(reader_role, table=pg_table)
    for call in (lambda: list(store.events()), store.deal_ids, lambda: store.events("A")):
        with pytest.raises(StorePermissionError, match=rf"access to table '{pg_table}'") as got:
            call()
        assert isinstance(got.value, PermissionError)
        assert "grant the role SELECT" in str(got.value)
        assert "\n" not in str(got.value)
    with pytest.raises(StorePermissionError, match="permission denied"):
        store.append([ev("A", 2, 1)])
    _sql(pg_conninfo, f"GRANT SELECT ON {pg_table} TO {reader_role.split('user=')[1]}")
    assert store.deal_ids() == ["A"]
    store.close()


def test_a_role_that_may_not_create_the_table_gets_a_permission_error(
    reader_role: str, pg_conninfo: str
) -> None:
    """Creating the table in a schema the role may not write to: StorePermissionError."""
    schema = "s_" + uuid.uuid4().hex[:12]
    _sql(pg_conninfo, f"CREATE SCHEMA {schema}")
    with pytest.raises(StorePermissionError, match="permission denied for schema"):
        PostgresStore(reader_role, table=f"{schema}.events")


# --------------------------------------------------------------- timeouts
def test_timeouts_are_checked() -> None:
    """Each timeout is a number of seconds > 0 (or None where that means no limit)."""
    for name, value in (
        ("connect_timeout", 0),
        ("connect_timeout", None),
        ("statement_timeout", -1),
        ("idle_timeout", float("nan")),
        ("keepalive", "5"),
        ("statement_timeout", True),
    ):
        with pytest.raises(DataError, match=rf"{name} must be a number of seconds > 0"):
            PostgresStore("host=127.0.0.1 port=1", **{name: value})  # type: ignore[arg-type]


def test_timeouts_and_keepalives_reach_the_connection(pg_conninfo: str, pg_table: str) -> None:
    """The server-side timeouts are set on the session; keepalives are on the socket,
    unless the conninfo sets them itself."""
    store = PostgresStore(
        pg_conninfo, table=pg_table, statement_timeout=7, idle_timeout=None, keepalive=4
    )
    conn = store._connection()
    assert conn.execute("SHOW statement_timeout").fetchone() == ("7s",)
    assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("0",)
    params = conn.info.get_parameters()
    assert (params["keepalives_idle"], params["keepalives_interval"]) == ("4", "2")
    assert params["keepalives_count"] == "3"
    assert store.statement_timeout == 7
    own = PostgresStore(pg_conninfo + " keepalives_idle=9", table=pg_table)
    assert own._connection().info.get_parameters()["keepalives_idle"] == "9"


def test_a_statement_cancelled_by_the_server_says_nothing_was_written(
    pg_conninfo: str, pg_table: str
) -> None:
    """An append that waits for the table's lock past ``statement_timeout`` is cancelled
    by the server: StoreUnavailableError saying nothing was written, and nothing was."""
    from salesstages._stores._pgschema import _LOCK_CLASS

    store = PostgresStore(pg_conninfo, table=pg_table, statement_timeout=0.5)
    with psycopg.connect(pg_conninfo, autocommit=True) as holder, holder.transaction():
        holder.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, pg_table))
        with pytest.raises(StoreUnavailableError, match="cancelled the statement") as got:
            store.append(opening("A"))
    assert "nothing of it was written" in str(got.value)
    assert list(store.events()) == []
    store.append(opening("A"))  # the store carries on
    assert len(store) == 2
    store.close()


# --------------------------------------------------------------- a silent partition
class Proxy:
    """A TCP proxy on loopback that can stop forwarding either way without closing
    anything: a silent network partition, as a stuck middlebox makes one."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.up = threading.Event()  # client -> server
        self.down = threading.Event()  # server -> client
        self.up.set()
        self.down.set()
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        self.threads = [threading.Thread(target=self._accept, daemon=True)]
        self.threads[0].start()

    def partition(self, *, up: bool = True, down: bool = True) -> None:
        """Stop forwarding (both ways by default); connections stay open."""
        if up:
            self.up.clear()
        if down:
            self.down.clear()

    def _accept(self) -> None:
        self.listener.settimeout(0.1)
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for src, dst, gate in ((client, server, self.up), (server, client, self.down)):
                t = threading.Thread(target=self._pump, args=(src, dst, gate), daemon=True)
                self.threads.append(t)
                t.start()

    def _pump(self, src: socket.socket, dst: socket.socket, gate: threading.Event) -> None:
        while not self.stopping.is_set():
            if not gate.is_set():  # partitioned: read nothing, send nothing
                time.sleep(0.05)
                continue
            try:
                ready, _, _ = select.select([src], [], [], 0.1)
                if not ready:
                    continue
                data = src.recv(65536)
                if not data:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if not gate.is_set():  # read just before the partition: lost on the way
                    continue
                dst.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        """Stop every thread and close every socket (bounded: each loop checks ``stopping``)."""
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=5)
        for s in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                s.close()


@pytest.fixture
def proxy(pg_server: object) -> Iterator[Proxy]:
    """A proxy in front of the session's server."""
    p = Proxy(pg_server.port)  # type: ignore[attr-defined]
    yield p
    p.close()


def _through(proxy: Proxy, pg_conninfo: str) -> str:
    port = pg_conninfo.split("port=")[1].split()[0]
    return pg_conninfo.replace(f"port={port}", f"port={proxy.port}")


def test_a_partition_ends_append_in_a_typed_error_within_the_timeout(
    proxy: Proxy, pg_conninfo: str, pg_table: str
) -> None:
    """With the network silent, ``append`` raises StoreUnavailableError after
    ``statement_timeout`` plus its margin, saying the outcome is unknown."""
    store = PostgresStore(_through(proxy, pg_conninfo), table=pg_table, statement_timeout=1)
    store.append(opening("A"))
    proxy.partition()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="did not answer within 2 s") as got:
        store.append([ev("A", 2, 1)])
    took = time.monotonic() - started
    assert 1.5 < took < 5, took  # the answer deadline: 1 s + a 1 s margin
    text = str(got.value)
    assert "outcome is unknown" in text
    assert "store.events('A') has 3 events if it was" in text
    # the direct view: the server never got it
    assert len(PostgresStore(pg_conninfo, table=pg_table)) == 2
    store.close()


def test_a_partition_ends_follow_in_a_typed_error_within_the_timeout(
    proxy: Proxy, pg_conninfo: str, pg_table: str
) -> None:
    """A follower caught by a silent partition raises StoreUnavailableError instead of
    stalling."""
    store = PostgresStore(_through(proxy, pg_conninfo), table=pg_table, statement_timeout=1)
    store.append(opening("A"))
    follower = store.follow(poll=0.1)
    assert [p for p, _ in (next(follower), next(follower))] == [1, 2]
    proxy.partition()
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="did not answer"):
        next(follower)
    assert time.monotonic() - started < 5
    follower.close()
    store.close()


def test_an_append_whose_answer_is_lost_was_committed_and_says_so(
    proxy: Proxy, pg_conninfo: str, pg_table: str
) -> None:
    """When only the answer is lost, the append was committed: the error says the
    outcome is unknown and how to check, and the check finds it."""
    store = PostgresStore(_through(proxy, pg_conninfo), table=pg_table, statement_timeout=1)
    store.append(opening("A"))
    proxy.partition(up=False)  # requests still reach the server; answers are lost
    with pytest.raises(StoreUnavailableError, match="outcome is unknown"):
        store.append([ev("A", 2, 1)])
    direct = PostgresStore(pg_conninfo, table=pg_table)
    assert [e.seq for e in direct.events("A")] == [0, 1, 2]  # it was committed
    store.close()


def test_a_call_after_a_partition_reconnects(proxy: Proxy, pg_conninfo: str, pg_table: str) -> None:
    """Once the network is back, the next call opens a new connection and works."""
    store = PostgresStore(_through(proxy, pg_conninfo), table=pg_table, statement_timeout=1)
    store.append(opening("A"))
    proxy.partition()
    with pytest.raises(SalesStagesError):
        store.deal_ids()
    proxy.up.set()
    proxy.down.set()
    assert store.deal_ids() == ["A"]
    store.close()


def test_a_forked_child_gets_its_own_watchdog(pg_conninfo: str, pg_table: str) -> None:
    """After ``fork()`` the child's calls are still bounded: its deadlines run on a
    watchdog thread of its own (the parent's does not exist in the child)."""
    import multiprocessing

    store = PostgresStore(pg_conninfo, table=pg_table)
    store.append(opening("A"))  # the parent's watchdog runs
    assert store._deadlines._thread is not None
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_append, args=(store, queue))
    child.start()
    child.join(timeout=30)
    assert queue.get(timeout=5) == ("ok", True)
    assert [e.deal_id for e in store.events()] == ["A", "A", "B", "B"]
    store.close()


def _child_append(store: PostgresStore, queue: object) -> None:
    try:
        store.append(opening("B"))
        thread = store._deadlines._thread
        queue.put(("ok", thread is not None and thread.is_alive()))  # type: ignore[attr-defined]
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(("error", repr(exc)))  # type: ignore[attr-defined]


# --------------------------------------------------------------- the command line
@pytest.mark.parametrize("engine", ["python", "duckdb"])
def test_the_command_line_maps_driver_errors_to_one_line(
    run: Runner, reader_role: str, pg_conninfo: str, pg_table: str, engine: str
) -> None:
    """``report <url>`` with a role lacking SELECT, or naming a table that is not an
    events table, exits 2 with one line (no psycopg traceback, no AttributeError)."""
    pytest.importorskip("ibis")
    port = pg_conninfo.split("port=")[1].split()[0]
    role = reader_role.split("user=")[1].split()[0]
    url = f"postgresql://{role}:Xy9SECRET@127.0.0.1:{port}/test"
    err = cli_error(
        run("report", url, "--table", pg_table, "-p", "inbound_b2b", "--engine", engine)
    )
    assert f"refused access to table '{pg_table}'" in err
    assert "SECRET" not in err
    other = "n_" + uuid.uuid4().hex[:12]
    _sql(pg_conninfo, f"CREATE TABLE {other} (x int)")
    owner = f"postgresql://postgres@127.0.0.1:{port}/test"
    err = cli_error(run("report", owner, "--table", other, "-p", "inbound_b2b", "--engine", engine))
    assert other in err
