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
import math
import os
import re
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from .._codec import EVENT_SETTERS, dump_data
from .._errors import ConcurrencyError, DataError, StoreUnavailableError
from .._events import _EMPTY, Event
from .._redact import redact
from ._pgfaults import Deadlines, fault, first_line
from ._pgschema import _CHANNEL, _TEMP_SCHEMA, TableSchema
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
_INHERITED: list[Any] = []  # connections a forked child must neither use nor close
#: Up to this many seconds past ``statement_timeout`` the client waits for an answer.
_MARGIN: Final = 3.0


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
            user=app"``) or URL (``"postgresql://app@db/crm"``; percent-encode a
            ``/`` or ``@`` in the password as ``%2F`` or ``%40``).
        table: The name of a permanent table, optionally with its schema
            (``"sales.events"``; the schema must exist); created with its
            indexes on first use. A view, a temporary (``pg_temp``) or an
            unlogged table is refused: its events would not last.
        connect_timeout: Seconds to wait for the server when connecting.
        statement_timeout: Seconds one statement may run on the server
            (``statement_timeout``); the client also gives up on an answer a few
            seconds later (``statement_timeout`` plus up to 3 s), so a silent
            network partition ends in :class:`StoreUnavailableError` instead of
            a call that never returns. ``None``: no limit.
        idle_timeout: Seconds a transaction the store holds open may sit idle
            on the server (``idle_in_transaction_session_timeout``): a reader
            of :meth:`events` that stops iterating for longer loses its
            snapshot. ``None``: no limit.
        keepalive: Seconds of silence on a connection before TCP keepalive
            probes start (then every ``keepalive / 2`` s, 3 times), so a peer
            that vanished is noticed on an idle connection too. ``None``: the
            operating system's defaults.

    Settings the conninfo itself gives (``keepalives_idle=…``) take precedence.
    With the defaults, a call caught by a partition raises within 23 s.

    Raises:
        ImportError: psycopg is not installed (``pip install 'salesstages[postgres]'``).
        StoreUnavailableError: The server cannot be reached or refuses the login.
        StorePermissionError: The role may not create or read the table.
        DataError: A malformed conninfo, a schema that does not exist, a table
            that is not a permanent table, or a table with other columns.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        table: str = "salesstages_events",
        connect_timeout: float = 10,
        statement_timeout: float | None = 20,
        idle_timeout: float | None = 60,
        keepalive: float | None = 5,
    ) -> None:
        self._pg = _psycopg()
        if not isinstance(conninfo, str) or not conninfo.strip():
            raise DataError(
                f"conninfo must be a libpq connection string, got {redact(repr(conninfo))}"
            )
        _check_url(conninfo)
        parts = table.split(".") if isinstance(table, str) else []
        if not 1 <= len(parts) <= 2 or not all(_NAME.fullmatch(p) for p in parts):
            raise DataError(
                f"table must be a name like 'salesstages_events' or 'schema.events' (letters, "
                f"digits and _, at most 48 characters each), got {table!r}"
            )
        if len(parts) == 2 and _TEMP_SCHEMA.fullmatch(parts[0].lower()):
            raise DataError(
                f"table {table!r} is in {parts[0]}, PostgreSQL's schema of temporary tables, "
                "whose rows vanish with the connection that made them; name a table in a "
                "permanent schema"
            )
        for name, value, least in (
            ("connect_timeout", connect_timeout, 1),
            ("statement_timeout", statement_timeout, None),
            ("idle_timeout", idle_timeout, None),
            ("keepalive", keepalive, None),
        ):
            if (value is None and least is None) or _positive(value):
                continue
            raise DataError(
                f"{name} must be a number of seconds > 0"
                + (" or None" if least is None else "")
                + f", got {value!r}"
            )
        self.conninfo = conninfo
        self.table = table
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.idle_timeout = idle_timeout
        self.keepalive = keepalive
        #: how long the client waits for one answer before cutting the connection
        self._answer_within = (
            None
            if statement_timeout is None
            else statement_timeout + min(_MARGIN, statement_timeout)
        )
        self._deadlines = Deadlines()
        sql = self._pg.sql
        self._schema_ = TableSchema(self._pg, table, self._where)
        self._t = self._schema_._t
        self._fn = self._schema_._fn
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
            info = self._pg.conninfo.conninfo_to_dict(redact(self.conninfo))
        except Exception:
            return "the server in the conninfo"
        host = info.get("host") or info.get("hostaddr") or "the default host (local socket)"
        port = info.get("port") or "5432"
        return redact(f"{host}:{port}/{info.get('dbname') or info.get('user') or ''}".rstrip("/"))

    def _options(self) -> dict[str, Any]:
        """The connection's timeouts and keepalives, where the conninfo does not set them."""
        given = self._pg.conninfo.conninfo_to_dict(self.conninfo)
        wanted: dict[str, Any] = {"connect_timeout": max(1, math.ceil(self.connect_timeout))}
        if self.keepalive is not None:
            wanted.update(
                keepalives=1,
                keepalives_idle=max(1, math.ceil(self.keepalive)),
                keepalives_interval=max(1, math.ceil(self.keepalive / 2)),
                keepalives_count=3,
            )
        if self._answer_within is not None and sys.platform.startswith("linux"):
            # unacknowledged data for this long ends the connection (a partition while sending)
            wanted["tcp_user_timeout"] = max(1, math.ceil(self._answer_within * 1000))
        return {k: v for k, v in wanted.items() if k not in given}

    def _connect(self) -> Any:
        pg = self._pg
        try:
            conn = pg.connect(self.conninfo, autocommit=True, **self._options())
        except pg.ProgrammingError as exc:  # a malformed conninfo
            raise DataError(f"bad PostgreSQL conninfo: {first_line(exc, self.conninfo)}") from None
        except pg.Error as exc:
            raise StoreUnavailableError(
                f"cannot connect to PostgreSQL at {self._where()}: "
                f"{first_line(exc, self.conninfo)}; check that the server runs and listens "
                "there, and the database name, user and password in the conninfo"
            ) from None
        try:
            with self._call(conn):
                conn.execute(
                    "SELECT set_config('TimeZone', 'UTC', false), "
                    "set_config('statement_timeout', %s, false), "
                    "set_config('idle_in_transaction_session_timeout', %s, false)",
                    (_ms(self.statement_timeout), _ms(self.idle_timeout)),
                )
                self._schema_.ensure(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _connection(self) -> Any:
        pid = os.getpid()
        if self._conn is None or self._pid != pid or self._conn.closed or self._conn.broken:
            if self._conn is not None and self._pid != pid:
                # after fork() the parent's connection is the parent's: keep it, unused
                _INHERITED.append(self._conn)
            elif self._conn is not None:  # broken (cut by its deadline, or lost): let it go
                with contextlib.suppress(Exception):
                    self._conn.close()
            self._conn = self._connect()
            self._pid = pid
        return self._conn

    @contextlib.contextmanager
    def _call(self, conn: Any, *, unknown: str | None = None) -> Iterator[None]:
        """One call on ``conn``: its round trips bounded by the answer deadline, every
        psycopg error mapped to the library's types (see :mod:`._pgfaults`).

        ``unknown`` is the sentence an append adds when the connection failed after
        the statement was sent. A broken connection is replaced on the next call.
        """
        pg = self._pg
        with self._deadlines.arm(conn, self._answer_within) as deadline:
            try:
                yield
            except pg.Error as exc:
                raise fault(
                    pg,
                    exc,
                    where=self._where(),
                    conninfo=self.conninfo,
                    table=self.table,
                    deadline=deadline,
                    unknown=unknown,
                ) from None

    def _fetch(self, query: Any, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query on the store's connection."""
        with self._lock:
            conn = self._connection()
            with self._call(conn):
                rows: list[Any] = conn.cursor(binary=True).execute(query, params).fetchall()
        return rows

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
        with self._lock:
            conn = self._connection()
            with self._call(conn, unknown=_unknown_outcome(first_batch, ends)):
                try:
                    row = conn.execute(self._append_sql, (c_deal, c_seq, c_at, *cols)).fetchone()
                except self._pg.errors.UniqueViolation as exc:
                    # The lock makes this unreachable unless someone wrote around the store.
                    raise ConcurrencyError(
                        f"a seq or position is already taken "
                        f"({first_line(exc, self.conninfo)}); reload the deal and retry"
                    ) from None
                except self._pg.DataError as exc:
                    raise DataError(
                        f"PostgreSQL refused the events: {first_line(exc, self.conninfo)}"
                    ) from None
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
            rows = self._fetch(self._select("WHERE deal_id = %s ORDER BY seq"), (deal_id,))
            return iter(_to_events(rows))
        return self._stream_all()

    def _stream_all(self) -> Iterator[Event]:
        sql = self._pg.sql
        query = sql.SQL(
            "SELECT e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, e.data::text "
            "FROM {t} AS e JOIN {t} AS f ON f.deal_id = e.deal_id AND f.seq = 0 "
            "ORDER BY f.position, e.seq"
        ).format(t=self._t)
        conn = self._connect()
        cur = conn.cursor("salesstages_events", binary=True)
        try:
            # one snapshot for the whole iteration; each round trip has its own deadline
            with self._call(conn):
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                cur.execute(query)
            while True:
                with self._call(conn):
                    rows = cur.fetchmany(_CHUNK)
                if not rows:
                    break
                yield from _to_events(rows)
        finally:
            conn.close()  # first: closing the cursor then needs no round trip
            with contextlib.suppress(Exception):
                cur.close()

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
            rows = self._fetch(query, (position, _CHUNK))
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
        listener = self._connect()
        try:
            with self._call(listener):
                listener.execute(
                    self._pg.sql.SQL("LISTEN {c}").format(c=self._pg.sql.Identifier(_CHANNEL))
                )

            def wait(_position: int, seconds: float) -> None:
                deadline = time.monotonic() + seconds
                with self._call(listener):
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
        return [r[0] for r in self._fetch(query)]

    def load(self, pipeline: RebuildsDeals[D], deal_id: str) -> D:
        """Deprecated: rebuild a deal with ``pipeline.load_deal(store, deal_id)`` (a
        store holds events only); warns, and works until the next release."""
        return deprecated_load(self, pipeline, deal_id)

    def __len__(self) -> int:
        query = self._pg.sql.SQL("SELECT coalesce(max(position), 0) FROM {t}").format(t=self._t)
        return int(self._fetch(query)[0][0])

    def __repr__(self) -> str:
        return f"PostgresStore({self._where()!r}, table={self.table!r})"


def _unknown_outcome(first_batch: list[list[Event]], ends: dict[str, Event]) -> str:
    """What an append says when the connection failed after it was sent: the outcome
    is unknown, and how to find it out."""
    shown = [
        f"store.events({b[0].deal_id!r}) has {ends[b[0].deal_id].seq + 1} events if it was"
        for b in first_batch[:3]
    ]
    more = (
        f" (and so on for the other {len(first_batch) - 3} deals)" if len(first_batch) > 3 else ""
    )
    return (
        "the append was sent, so it may or may not have been committed: the outcome is "
        f"unknown; read the deal back before retrying: {', '.join(shown)}{more}"
    )


def _check_url(conninfo: str) -> None:
    """Refuse a URL whose user part holds a raw ``/`` or ``@``: libpq would cut the
    password there and read the rest as the host or the database."""
    text = conninfo.strip()
    scheme = next((s for s in ("postgresql://", "postgres://") if text.startswith(s)), None)
    if scheme is None:
        return
    rest = text[len(scheme) :]
    user, at, _ = rest.rpartition("@")
    if not at or ":" not in user:
        return
    password = user.partition(":")[2]
    if ("/" in user or "@" in user) and not password.partition("/")[0].isdigit():
        raise DataError(
            f"the password in the URL {redact(conninfo)!r} holds a raw '/' or '@', which "
            "ends it early; percent-encode them ('/' as %2F, '@' as %40)"
        )


def _positive(value: object) -> bool:
    return type(value) in (int, float) and 0 < value < math.inf  # type: ignore[operator]


def _ms(seconds: float | None) -> str:
    """A server timeout setting: milliseconds, 0 for none."""
    return "0" if seconds is None else str(max(1, math.ceil(seconds * 1000)))


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
