"""An event store in one PostgreSQL table, safe for many processes on many hosts.

Table (created with its indexes on first use; the name is ``table=``)::

    position bigint      NOT NULL UNIQUE   -- 1, 2, 3 … in commit order, across deals
    deal_id  text        NOT NULL          -- PRIMARY KEY (deal_id, seq)
    seq      bigint      NOT NULL
    at       timestamptz NOT NULL
    kind     text        NOT NULL
    stage    text
    name     text
    data     jsonb       NOT NULL DEFAULT '{}'

These are the canonical columns of the analysis engine, so the metrics run on
the table in place through Ibis. Triggers refuse ``UPDATE``, ``DELETE`` and
``TRUNCATE``: the log is append-only, also for someone with a SQL shell.

**Positions in commit order.** A follower remembers the last position it saw
and asks for the ones after it. With a plain sequence that is unsound:
transaction A takes position 7, transaction B takes 8 and commits first, a
follower reads 8 and moves on, then A commits 7, which the follower never
sees. So every append takes a transaction-scoped advisory lock (one per
table) before it reads the deal's length and the table's highest position,
and keeps it until it commits: appends to one table are serialised, a
position is never committed after a higher one, and positions are gapless
(a rolled-back append leaves no hole). The alternative, letting followers
wait for older in-flight transactions through ``pg_snapshot_xmin``, keeps
writers parallel but makes every follower query subtler and leaves holes in
the positions.

**One round trip per append.** The lock is held for as long as an append
runs, so the append runs on the server: a PL/pgSQL function made with the
table (``<table>_append_v1``, in the table's schema; made on first use for a
table an older version created) takes the lock, checks each deal's next
``seq`` and last time, inserts the events (sent as arrays), sends the
``NOTIFY`` and returns; the call commits. ``append`` and ``append_many`` are
each one statement, so the lock is held for one statement and the commit.

**What it costs.** Appends to one table run one at a time, each waiting for
its own commit to reach the disk while it holds the lock: from any number of
processes, single appends are bounded by the disk's flush rate (a cheap cloud
disk flushes a few hundred times a second; an SSD with a power-safe cache
some thousands). Reads are never blocked, and ``append_many`` amortises the
commit over a whole import. Where losing the last fraction of a second of
appends in a server crash is acceptable (the log stays whole and gapless, but
a follower may already have seen an append the crash then lost), add
``options='-c synchronous_commit=off'`` to the conninfo: the lock is then
released without waiting for the disk.

Followers wait with ``LISTEN``: each append sends a ``NOTIFY`` that arrives
when it commits, so a follower wakes at once; ``poll`` bounds each wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from .._codec import EVENT_SETTERS, dump_data
from .._errors import ConcurrencyError, DataError, SalesStagesError
from .._events import _EMPTY, Event
from ._protocol import (
    D,
    RebuildsDeals,
    check_batch,
    check_follow,
    check_position,
    check_shape,
    check_text,
    check_times,
    deprecated_load,
    poll_follow,
)

__all__ = ["PostgresStore", "StoreUnavailableError"]

_INSTALL: Final = "pip install 'salesstages[postgres]'"
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,47}")
_CHUNK: Final = 2000
_CHANNEL: Final = "salesstages_events"
_FUNCTION_SUFFIX: Final = "_append_v1"  # a new signature gets a new version
_LOCK_CLASS: Final = 0x5A1E  # the advisory lock's first key: "salesstages"
#: column -> the type PostgreSQL reports for it (information_schema.columns.data_type)
_COLUMNS: Final = {
    "position": "bigint",
    "deal_id": "text",
    "seq": "bigint",
    "at": "timestamp with time zone",
    "kind": "text",
    "stage": "text",
    "name": "text",
    "data": "jsonb",
}
_INHERITED: list[Any] = []  # connections a forked child must neither use nor close


class StoreUnavailableError(SalesStagesError, ConnectionError):
    """The database behind a store cannot be reached (wrong address, server down,
    refused credentials); the message says which and what to check."""


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise ImportError(f"PostgresStore needs psycopg: {_INSTALL}") from exc
    return psycopg


class PostgresStore:
    """Events in one PostgreSQL table; safe for many threads, processes and hosts.

    Args:
        conninfo: A libpq connection string (``"host=db port=5432 dbname=crm
            user=app"``) or URL (``"postgresql://app@db/crm"``).
        table: The table's name, optionally with its schema (``"sales.events"``);
            created with its indexes on first use.
        connect_timeout: Seconds to wait for the server when connecting.

    Raises:
        ImportError: psycopg is not installed (``pip install 'salesstages[postgres]'``).
        StoreUnavailableError: The server cannot be reached or refuses the login.
        DataError: The table exists with other columns.
    """

    def __init__(
        self, conninfo: str, *, table: str = "salesstages_events", connect_timeout: float = 10
    ) -> None:
        self._pg = _psycopg()
        if not isinstance(conninfo, str) or not conninfo.strip():
            raise DataError(f"conninfo must be a libpq connection string, got {conninfo!r}")
        parts = table.split(".") if isinstance(table, str) else []
        if not 1 <= len(parts) <= 2 or not all(_NAME.fullmatch(p) for p in parts):
            raise DataError(
                f"table must be a name like 'salesstages_events' or 'schema.events' (letters, "
                f"digits and _, at most 48 characters each), got {table!r}"
            )
        self.conninfo = conninfo
        self.table = table
        self.connect_timeout = connect_timeout
        sql = self._pg.sql
        self._t = sql.Identifier(*parts)
        self._tname = parts[-1]
        #: the table's append function, in the table's schema
        self._fn = sql.Identifier(*parts[:-1], f"{parts[-1]}{_FUNCTION_SUFFIX}")
        # binary parameters: no text to format here and parse on the server (3x less CPU)
        self._append_sql = sql.SQL(
            "SELECT * FROM {f}(%b::text[], %b::bigint[], %b::timestamptz[], %b::text[], "
            "%b::bigint[], %b::timestamptz[], %b::text[], %b::text[], %b::text[], %b::text[])"
        ).format(f=self._fn)
        self._lock = threading.RLock()
        self._conn: Any = None
        self._pid = 0
        with self._lock:
            self._connection()  # connect and create the table now, so errors show at once

    # ------------------------------------------------------------------ connection
    def _where(self) -> str:
        """``host:port/dbname`` of the conninfo, for messages (never the password)."""
        try:
            info = self._pg.conninfo.conninfo_to_dict(self.conninfo)
        except Exception:
            return "the server in the conninfo"
        host = info.get("host") or info.get("hostaddr") or "the default host (local socket)"
        port = info.get("port") or "5432"
        return f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}".rstrip("/")

    def _connect(self) -> Any:
        pg = self._pg
        try:
            conn = pg.connect(
                self.conninfo, autocommit=True, connect_timeout=max(1, round(self.connect_timeout))
            )
        except pg.ProgrammingError as exc:  # a malformed conninfo
            raise DataError(f"bad PostgreSQL conninfo: {_first_line(exc)}") from None
        except pg.OperationalError as exc:
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {self._where()}: {_first_line(exc)}; check "
                "that the server runs and listens there, and the database name, user and "
                "password in the conninfo"
            ) from None
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            self._ensure_table(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _ensure_table(self, conn: Any) -> None:
        sql = self._pg.sql
        t = self._t
        found = self._columns(conn)
        if not found:
            with conn.transaction():
                # Several processes may create the table at once: serialise them.
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, ":ddl")
                )
                if not self._columns(conn):
                    self._create(conn, sql, t)
            found = self._columns(conn)
        for column, wanted in _COLUMNS.items():
            got = found.get(column)
            if got is None:
                raise DataError(
                    f"table {self.table!r} exists but has no column {column!r} ({wanted}); "
                    "it is not a salesstages event table: pass another table="
                )
            if got != wanted:
                raise DataError(
                    f"table {self.table!r}: column {column!r} is {got}, expected {wanted}; "
                    "it is not a salesstages event table: pass another table="
                )
        if not self._has_function(conn):
            errors = self._pg.errors
            # Several processes may get here at once: the first creates it. (The
            # check after the lock can still miss the winner's function, as a
            # session's catalog cache is refreshed per transaction: hence the except.)
            with (
                contextlib.suppress(errors.DuplicateFunction, errors.UniqueViolation),
                conn.transaction(),
            ):
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, ":ddl")
                )
                if not self._has_function(conn):
                    self._create_function(conn)

    def _has_function(self, conn: Any) -> bool:
        row = conn.execute("SELECT to_regproc(%s) IS NOT NULL", (self._fn.as_string(conn),))
        return bool(row.fetchone()[0])

    def _create_function(self, conn: Any) -> None:
        """The append function: one round trip per append (see the module's notes).

        It takes the table's lock, finds the first deal whose batch does not start
        at its next ``seq`` or goes back before its last event (returning that
        deal's index, length and last time, writing nothing), else inserts every
        event at the positions after the highest one, notifies the followers and
        returns that highest position. PL/pgSQL takes a fresh snapshot for each
        statement, so the reads after the lock see every append committed before.
        """
        sql = self._pg.sql
        body = sql.SQL(
            """
CREATE FUNCTION {f}(
    c_deal text[], c_seq bigint[], c_at timestamptz[],
    e_deal text[], e_seq bigint[], e_at timestamptz[], e_kind text[], e_stage text[],
    e_name text[], e_data text[],
    OUT r_bad integer, OUT r_length bigint, OUT r_last timestamptz, OUT r_top bigint)
LANGUAGE plpgsql AS $fn$
BEGIN
    PERFORM pg_advisory_xact_lock({cls}, hashtext({name}));
    SELECT c.i, coalesce(l.seq + 1, 0), l.at INTO r_bad, r_length, r_last
    FROM unnest(c_deal, c_seq, c_at) WITH ORDINALITY AS c(d, s, a, i)
    LEFT JOIN LATERAL (
        SELECT x.seq, x.at FROM {t} AS x WHERE x.deal_id = c.d ORDER BY x.seq DESC LIMIT 1
    ) AS l ON true
    WHERE c.s <> coalesce(l.seq + 1, 0) OR c.a < l.at
    ORDER BY c.i LIMIT 1;
    IF FOUND THEN
        r_top := 0;
        RETURN;
    END IF;
    r_bad := 0;
    SELECT coalesce(max(x.position), 0) INTO r_top FROM {t} AS x;
    INSERT INTO {t} (position, deal_id, seq, at, kind, stage, name, data)
    SELECT r_top + e.i, e.d, e.s, e.a, e.k, e.st, e.n, e.dt::jsonb
    FROM unnest(e_deal, e_seq, e_at, e_kind, e_stage, e_name, e_data)
        WITH ORDINALITY AS e(d, s, a, k, st, n, dt, i);
    PERFORM pg_notify({channel}, {name});
END
$fn$"""
        ).format(
            f=self._fn,
            t=self._t,
            cls=sql.Literal(_LOCK_CLASS),
            name=sql.Literal(self.table),
            channel=sql.Literal(_CHANNEL),
        )
        conn.execute(body)

    def _columns(self, conn: Any) -> dict[str, str]:
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, NULL) FROM pg_attribute a "
            "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (self._t.as_string(conn),),
        ).fetchall()
        return dict(rows)

    def _create(self, conn: Any, sql: Any, t: Any) -> None:
        base = self._tname
        kinds = "'opened', 'stage_entered', 'substate_entered', 'activity', 'updated'"
        conn.execute(
            sql.SQL(
                "CREATE TABLE {t} ("
                " position bigint NOT NULL CHECK (position > 0),"
                " deal_id text NOT NULL CHECK (deal_id <> ''),"
                " seq bigint NOT NULL CHECK (seq >= 0),"
                " at timestamptz NOT NULL,"
                f" kind text NOT NULL CHECK (kind IN ({kinds})),"
                " stage text,"
                " name text,"
                " data jsonb NOT NULL DEFAULT '{{}}' CHECK (jsonb_typeof(data) = 'object'),"
                " CONSTRAINT {pk} PRIMARY KEY (deal_id, seq),"
                " CONSTRAINT {uq} UNIQUE (position))"
            ).format(t=t, pk=sql.Identifier(f"{base}_pkey"), uq=sql.Identifier(f"{base}_position"))
        )
        # deal_ids() and events() order deals by their first event's position
        conn.execute(
            sql.SQL("CREATE INDEX {i} ON {t} (position) WHERE seq = 0").format(
                i=sql.Identifier(f"{base}_first"), t=t
            )
        )
        refuse = sql.Identifier(f"{base}_append_only")
        conn.execute(
            sql.SQL(
                "CREATE OR REPLACE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'salesstages events are append-only: % is refused', TG_OP; "
                "END $$"
            ).format(f=refuse)
        )
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER {n} BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION {f}()"
            ).format(n=sql.Identifier(f"{base}_no_change"), t=t, f=refuse)
        )
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER {n} BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {f}()"
            ).format(n=sql.Identifier(f"{base}_no_truncate"), t=t, f=refuse)
        )

    def _connection(self) -> Any:
        pid = os.getpid()
        if self._conn is None or self._pid != pid or self._conn.closed:
            if self._conn is not None and self._pid != pid:
                # after fork() the parent's connection is the parent's: keep it, unused
                _INHERITED.append(self._conn)
            self._conn = self._connect()
            self._pid = pid
        return self._conn

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A lost connection becomes :class:`StoreUnavailableError`; it reconnects next time."""
        pg = self._pg
        try:
            yield
        except pg.OperationalError as exc:
            if self._conn is not None and self._conn.closed:
                self._conn = None
            raise StoreUnavailableError(
                f"PostgreSQL at {self._where()} failed: {_first_line(exc)}; check that the "
                "server is up"
            ) from exc

    def close(self) -> None:
        """Close the connection (a later call reconnects)."""
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    # ------------------------------------------------------------------ writing
    def append(self, events: Sequence[Event]) -> None:
        """Append events of one deal, all or nothing (see :class:`EventStore`).

        Raises:
            ConcurrencyError: The first ``seq`` is not the deal's current length.
            OutOfOrderError: An event is earlier than the one before it.
            DataError: Text PostgreSQL cannot keep (a NUL character, a lone
                surrogate), or data JSON cannot represent.
        """
        self.append_many((events,))

    def append_many(self, batches: Iterable[Sequence[Event]]) -> int:
        """Append several batches (each one deal's, as for :meth:`append`) in one
        transaction: all of them or none. Returns the number of events written.

        One round trip: the table's append function (see the module's notes)
        takes the lock, checks each deal's next ``seq`` and last time, inserts,
        notifies the followers and commits.
        """
        checks: list[tuple[str, int, datetime]] = []  # one per deal: its first batch's start
        first_batch: list[list[Event]] = []
        ends: dict[str, Event] = {}  # deal -> the last event of its last batch in this call
        cols: tuple[list[Any], ...] = ([], [], [], [], [], [], [])
        e_deal, e_seq, e_at, e_kind, e_stage, e_name, e_data = cols
        for events in batches:
            batch = list(events)
            deal_id = check_shape(batch)
            check_text(batch, nul=True)
            check_times(batch, None)
            prev = ends.get(deal_id)
            if prev is None:
                checks.append((deal_id, batch[0].seq, batch[0].at))
                first_batch.append(batch)
            else:  # a later batch of a deal already in this call follows that one
                check_batch(batch, prev.seq + 1)
                check_times(batch, prev)
            ends[deal_id] = batch[-1]
            for e in batch:
                try:
                    data = dump_data(e)
                except ValueError as exc:
                    raise DataError(str(exc), field="data") from None
                e_deal.append(deal_id)
                e_seq.append(e.seq)
                e_at.append(e.at)
                e_kind.append(e.kind)
                e_stage.append(e.stage)
                e_name.append(e.name)
                e_data.append(data)
        if not checks:
            return 0
        c_deal = [c[0] for c in checks]
        c_seq = [c[1] for c in checks]
        c_at = [c[2] for c in checks]
        with self._lock, self._guard():
            conn = self._connection()
            try:
                row = conn.execute(self._append_sql, (c_deal, c_seq, c_at, *cols)).fetchone()
            except self._pg.errors.UniqueViolation as exc:
                # The lock makes this unreachable unless someone wrote around the store.
                raise ConcurrencyError(
                    f"a seq or position is already taken ({_first_line(exc)}); reload the "
                    "deal and retry"
                ) from None
            except self._pg.DataError as exc:
                raise DataError(f"PostgreSQL refused the events: {_first_line(exc)}") from None
        bad, length, last_at, _top = row
        if bad:  # nothing was written: say why, as the other stores do
            batch = first_batch[bad - 1]
            check_batch(batch, length)
            check_times(batch, None if last_at is None else _stub(batch[0].deal_id, 0, last_at))
            raise ConcurrencyError(  # pragma: no cover - the checks above raise
                f"deal {batch[0].deal_id!r} changed meanwhile; reload the deal and retry"
            )
        return len(e_deal)

    # ------------------------------------------------------------------ reading
    def _select(self, where: str = "") -> Any:
        sql = self._pg.sql
        return sql.SQL(
            "SELECT deal_id, seq, at, kind, stage, name, data::text FROM {t} " + where
        ).format(t=self._t)

    def events(self, deal_id: str | None = None) -> Iterator[Event]:
        """Iterate one deal's events, or every deal's (deals in order of first
        append, each in ``seq`` order).

        Iterating every deal streams from a transaction of its own (a snapshot:
        appends made meanwhile are not seen).
        """
        if deal_id is not None:
            with self._lock, self._guard():
                cur = self._connection().cursor(binary=True)
                rows = cur.execute(
                    self._select("WHERE deal_id = %s ORDER BY seq"), (deal_id,)
                ).fetchall()
            return iter(_to_events(rows))
        return self._stream_all()

    def _stream_all(self) -> Iterator[Event]:
        sql = self._pg.sql
        query = sql.SQL(
            "SELECT e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, e.data::text "
            "FROM {t} AS e JOIN {t} AS f ON f.deal_id = e.deal_id AND f.seq = 0 "
            "ORDER BY f.position, e.seq"
        ).format(t=self._t)
        with self._guard():
            conn = self._connect()
        try:
            with self._guard(), conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                with conn.cursor("salesstages_events", binary=True) as cur:
                    cur.itersize = _CHUNK
                    cur.execute(query)
                    while True:
                        rows = cur.fetchmany(_CHUNK)
                        if not rows:
                            break
                        yield from _to_events(rows)
        finally:
            conn.close()

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in commit order, for positions after ``position``.

        Positions are 1, 2, 3 … across deals and are committed in order (see the
        module's notes), so a reader that remembers the last position it saw
        never misses an event.
        """
        check_position(position)
        return self._stream_after(position)

    def _stream_after(self, position: int) -> Iterator[tuple[int, Event]]:
        sql = self._pg.sql
        query = sql.SQL(
            "SELECT position, deal_id, seq, at, kind, stage, name, data::text FROM {t} "
            "WHERE position > %s ORDER BY position LIMIT %s"
        ).format(t=self._t)
        while True:
            with self._lock, self._guard():
                cur = self._connection().cursor(binary=True)
                rows = cur.execute(query, (position, _CHUNK)).fetchall()
            if not rows:
                return
            events = _to_events([r[1:] for r in rows])
            for r, e in zip(rows, events, strict=True):
                yield r[0], e
            position = rows[-1][0]

    def follow(
        self, after: int = 0, *, poll: float = 0.5, idle_timeout: float | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` after ``after``, then wait for new events;
        end after ``idle_timeout`` seconds without one (``None``: never).

        Waits on ``LISTEN`` (each append notifies when it commits), so new events
        arrive at once; ``poll`` bounds each wait, in case a notification is lost.
        """
        after, poll, idle_timeout = check_follow(after, poll, idle_timeout)
        return self._follow(after, poll, idle_timeout)

    def _follow(
        self, after: int, poll: float, idle_timeout: float | None
    ) -> Iterator[tuple[int, Event]]:
        with self._guard():
            listener = self._connect()
        try:
            with self._guard():
                listener.execute(
                    self._pg.sql.SQL("LISTEN {c}").format(c=self._pg.sql.Identifier(_CHANNEL))
                )

            def wait(_position: int, seconds: float) -> None:
                deadline = time.monotonic() + seconds
                with self._guard():
                    for note in listener.notifies(timeout=seconds):
                        if note.payload == self.table or time.monotonic() >= deadline:
                            break

            yield from poll_follow(self.events_after, after, poll, idle_timeout, wait)
        finally:
            listener.close()

    def deal_ids(self) -> list[str]:
        """Every deal id, in order of first append."""
        query = self._pg.sql.SQL("SELECT deal_id FROM {t} WHERE seq = 0 ORDER BY position").format(
            t=self._t
        )
        with self._lock, self._guard():
            return [r[0] for r in self._connection().execute(query).fetchall()]

    def load(self, pipeline: RebuildsDeals[D], deal_id: str) -> D:
        """Deprecated: rebuild a deal with ``pipeline.load_deal(store, deal_id)`` (a
        store holds events only); warns, and works until the next release."""
        return deprecated_load(self, pipeline, deal_id)

    def __len__(self) -> int:
        query = self._pg.sql.SQL("SELECT coalesce(max(position), 0) FROM {t}").format(t=self._t)
        with self._lock, self._guard():
            return int(self._connection().execute(query).fetchone()[0])

    def __repr__(self) -> str:
        return f"PostgresStore({self._where()!r}, table={self.table!r})"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _stub(deal_id: str, seq: int, at: datetime) -> Event:
    return Event(deal_id=deal_id, seq=seq, at=at, kind="activity")


def _to_events(rows: list[Any]) -> list[Event]:
    """Rows ``(deal_id, seq, at, kind, stage, name, data_text)`` as events.

    The database's column types and checks hold what :meth:`PostgresStore.append`
    checked; only ``data`` needs decoding. Strings repeat across rows (a deal's
    id, stage names): each distinct value is kept once.
    """
    loads = json.loads
    proxy = MappingProxyType
    empty = _EMPTY
    new = object.__new__
    sd, ss, sa, sk, sst, sn, sdata = EVENT_SETTERS
    cache: dict[str, str] = {}
    share = cache.setdefault
    out: list[Event] = []
    append = out.append
    for d, s, a, k, st, n, data in rows:
        e = new(Event)
        sd(e, share(d, d))
        ss(e, s)
        sa(e, a)
        sk(e, share(k, k))
        sst(e, None if st is None else share(st, st))
        sn(e, None if n is None else share(n, n))
        sdata(e, empty if data == "{}" else proxy(loads(data)))
        append(e)
    return out
