"""An event store in one SQLite file, safe for several threads and processes.

Schema (created on first open):

``events``
    ``PRIMARY KEY (deal_id, seq)`` (a taken ``seq`` cannot be written twice),
    ``position`` (``UNIQUE``: the global append order across deals, 1, 2, 3 …),
    ``at`` (ISO 8601, UTC), ``kind``, ``stage``, ``name``, ``data`` (a JSON object).
``deals``
    ``deal_id`` and the position of its first event (the order of ``deal_ids()``).

Triggers refuse every ``UPDATE`` and ``DELETE`` on both tables: the log is
append-only, also for someone with a SQL shell.

Every append is one ``BEGIN IMMEDIATE`` transaction: it takes the write lock
first, then reads the deal's current length, checks the batch and inserts it,
so two processes can never both take one ``seq`` (the loser gets
:class:`~salesstages.ConcurrencyError`) and positions are committed in order.
The file runs in WAL mode (readers never block the writer) with a busy timeout.

Durability: ``synchronous=FULL`` by default, so an append that returned has
been fsynced to the WAL: a power cut cannot lose it. With
``synchronous="NORMAL"`` appends are faster, an application crash still loses
nothing, but a power cut (or OS crash) may lose the most recent appends (never
half of one, never an older one, and the file is never corrupted).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, Literal

from .._codec import _KINDS, EVENT_SETTERS, dump_data
from .._errors import ConcurrencyError, DataError, SalesStagesError, StoreUnavailableError
from .._events import _EMPTY, Event
from .._time import to_utc
from ._protocol import (
    D,
    RebuildsDeals,
    check_batch,
    check_follow,
    check_position,
    check_shape,
    check_times,
    deprecated_load,
    poll_follow,
)
from ._sqlite_checks import RESTORE, RowError, Runs, check_deal, integrity_check, locate

__all__ = ["SqliteStore", "integrity_check"]

_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS events (
    deal_id  TEXT    NOT NULL,
    seq      INTEGER NOT NULL CHECK (seq >= 0),
    position INTEGER NOT NULL UNIQUE CHECK (position > 0),
    at       TEXT    NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN
                 ('opened', 'stage_entered', 'substate_entered', 'activity', 'updated')),
    stage    TEXT,
    name     TEXT,
    data     TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (deal_id, seq)
) WITHOUT ROWID""",
    """CREATE TABLE IF NOT EXISTS deals (
    deal_id  TEXT    NOT NULL PRIMARY KEY,
    position INTEGER NOT NULL UNIQUE
) WITHOUT ROWID""",
    *(
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, 'salesstages {table} are append-only: {verb} is refused'); "
        "END"
        for table in ("events", "deals")
        for verb in ("UPDATE", "DELETE")
    ),
)
_COLUMNS: Final = "e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, e.data"
_SELECT_ALL: Final = (
    f"SELECT {_COLUMNS} FROM deals AS d CROSS JOIN events AS e "
    "ON e.deal_id = d.deal_id ORDER BY d.position, e.seq"
)
_SELECT_DEAL: Final = f"SELECT {_COLUMNS} FROM events AS e WHERE e.deal_id = ? ORDER BY e.seq"
#: What a single-deal read checks its rows against: the deal's row in ``deals``, its
#: first and last positions, and the store's highest position.
_SELECT_AFTER: Final = (
    f"SELECT e.position, {_COLUMNS} FROM events AS e WHERE e.position > ? "
    "ORDER BY e.position LIMIT ?"
)
#: What the store says it holds: positions are 1, 2, 3 … so the highest is the count.
_SELECT_HELD: Final = "SELECT coalesce(max(position), 0) FROM events"
_SELECT_LAST: Final = "SELECT seq, at FROM events WHERE deal_id = ? ORDER BY seq DESC LIMIT 1"
_INSERT: Final = (
    "INSERT INTO events (deal_id, seq, position, at, kind, stage, name, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_CHUNK: Final = 2000
_INHERITED: list[sqlite3.Connection] = []  # connections a forked child must not close

Synchronous = Literal["FULL", "NORMAL"]
# What reading a damaged row raises: bad UTF-8, bad JSON, a bad timestamp, a bad type.
_DecodeErrors = (UnicodeDecodeError, ValueError, TypeError)


class SqliteStore:
    """Events in one SQLite file; safe for several threads and several processes.

    Args:
        path: The database file (created with its schema when missing).
        synchronous: ``"FULL"`` (the default: an append that returned survives a
            power cut) or ``"NORMAL"`` (faster; a power cut may lose the latest
            appends, whole, but never corrupts the file). A crash of the
            process loses nothing either way.
        timeout: Seconds to wait for another process's write lock before
            giving up with ``sqlite3.OperationalError``.

    Rows are never updated or deleted (triggers refuse it). The global position
    of an event (1, 2, 3 … in append order across deals) lets a reader follow
    the log with :meth:`events_after`. A store may be shared by threads; after
    ``fork()`` the child opens its own connection on first use.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Synchronous = "FULL",
        timeout: float = 30.0,
    ) -> None:
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        if not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError(f"timeout must be a number of seconds >= 0, got {timeout!r}")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"cannot create the SQLite store {str(self.path)!r}: its folder "
                f"{str(self.path.parent)!r} does not exist; create it first"
            )
        self.synchronous: Synchronous = synchronous
        self.timeout = float(timeout)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._connection()  # create the file and schema now, so errors show at once

    # ------------------------------------------------------------------ connection
    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """Switch a new file to WAL, retrying while another process holds the lock.

        Changing the journal mode needs an exclusive lock and SQLite does not
        always apply the busy timeout to it, so several processes creating the
        same new file at once would otherwise see "database is locked".
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _transient(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._enable_wal(conn)
            conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            if not conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'deals_no_delete'"
            ).fetchone():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _SCHEMA:
                        conn.execute(statement)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        except BaseException as exc:
            conn.close()
            if isinstance(exc, sqlite3.OperationalError) and _transient(exc):
                raise
            if isinstance(exc, sqlite3.DatabaseError | UnicodeDecodeError):  # not a database
                raise DataError(
                    f"cannot open as a salesstages SQLite store: {exc}", path=str(self.path)
                ) from exc
            raise
        return conn

    def _connection(self) -> sqlite3.Connection:
        pid = os.getpid()
        if self._conn is None or self._pid != pid:
            if self._conn is not None:
                # After fork() the parent's connection must be neither used nor closed
                # here (closing it could checkpoint the parent's WAL): keep it alive.
                _INHERITED.append(self._conn)
            self._conn = self._connect()
            self._pid = pid
        return self._conn

    def close(self) -> None:
        """Close the connection (a later call reopens it)."""
        with self._lock:
            if self._conn is not None:
                if self._pid == os.getpid():
                    self._conn.close()
                else:  # inherited through fork(): the parent's to close, not ours
                    _INHERITED.append(self._conn)
            self._conn = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn down sqlite3
            self.close()

    # ------------------------------------------------------------------ writing
    def append(self, events: Sequence[Event]) -> None:
        """Append events of one deal, all or nothing (see :class:`EventStore`).

        Raises:
            ConcurrencyError: The first ``seq`` is not the deal's current length
                (another writer got there first); nothing was written.
            OutOfOrderError: An event is earlier than the one before it.
            ValueError: A malformed batch, or data that JSON cannot represent.
            DataError: The database file is damaged.
            sqlite3.OperationalError: Another process held the write lock for
                longer than ``timeout``.
        """
        self.append_many((events,))

    def append_many(self, batches: Iterable[Sequence[Event]]) -> int:
        """Append several batches (each one deal's, as for :meth:`append`) in one
        transaction: all of them or none. Returns the number of events written.

        The fast way to load an import: one commit (and one fsync) for thousands
        of deals instead of one each. Raises what :meth:`append` raises.
        """
        prepared = []
        for events in batches:
            batch = list(events)
            deal_id = check_shape(batch)
            # [deal_id, seq, position (set later), at, kind, stage, name, data]
            rows = [
                [deal_id, e.seq, 0, e.at.isoformat(), e.kind, e.stage, e.name, dump_data(e)]
                for e in batch
            ]
            prepared.append((deal_id, batch, rows))
        if not prepared:
            return 0
        with self._lock, self._guard():
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                top = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
                state: dict[str, tuple[int, Event | None]] = {}
                new_deals: list[tuple[str, int]] = []
                inserts: list[list[Any]] = []
                for deal_id, batch, rows in prepared:
                    if deal_id in state:
                        length, last = state[deal_id]
                    else:
                        row = conn.execute(_SELECT_LAST, (deal_id,)).fetchone()
                        length, last = (
                            (0, None) if row is None else (row[0] + 1, _stub(deal_id, *row))
                        )
                    check_batch(batch, length)
                    check_times(batch, last)
                    if length == 0:
                        new_deals.append((deal_id, top + 1))
                    for i, r in enumerate(rows, top + 1):
                        r[2] = i
                    inserts.extend(rows)
                    top += len(batch)
                    state[deal_id] = (length + len(batch), batch[-1])
                conn.executemany("INSERT INTO deals (deal_id, position) VALUES (?, ?)", new_deals)
                conn.executemany(_INSERT, inserts)
                self._commit(conn, prepared)
            except sqlite3.IntegrityError as exc:
                conn.execute("ROLLBACK")
                if "UNIQUE" not in str(exc):
                    raise
                # The write lock makes this unreachable unless the file was edited by hand.
                raise ConcurrencyError(
                    f"a seq or position is already taken ({exc}); reload the deal and retry"
                ) from exc
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return len(inserts)

    def _commit(self, conn: sqlite3.Connection, prepared: list[Any]) -> None:
        """``COMMIT``; when it fails (a disk error while the commit is being written) the
        append may or may not be stored, and the error says so."""
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            shown = ", ".join(
                f"store.events({d!r}) has {b[-1].seq + 1} events if it was"
                for d, b, _ in prepared[:3]
            )
            raise StoreUnavailableError(
                f"{self.path}: committing the append failed ({exc}), so it may or may not "
                f"have been stored: the outcome is unknown; read the deal back before "
                f"retrying: {shown}"
            ) from exc

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn signs of a damaged database into :class:`DataError` naming the file.

        Lock timeouts (``database is locked``) and errors raised by the store's
        own checks pass through unchanged.
        """
        try:
            yield
        except SalesStagesError:
            raise
        except sqlite3.OperationalError as exc:
            if _transient(exc):
                raise
            raise self._damaged(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._damaged(exc) from exc
        except _DecodeErrors as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: BaseException) -> DataError:
        if isinstance(exc, RowError):
            return DataError(
                f"{exc}; the database is damaged: restore it from a backup, or export what "
                "still reads with salesstages.io",
                path=str(self.path),
                field=exc.field,
            )
        return DataError(
            f"the database is damaged or not a salesstages store ({exc}); restore it from a "
            "backup, or export what still reads with salesstages.io",
            path=str(self.path),
        )

    # ------------------------------------------------------------------ reading
    def events(self, deal_id: str | None = None) -> Iterator[Event]:
        """Iterate one deal's events, or every deal's (deals in order of first
        append, each in ``seq`` order).

        Iterating every deal streams from a read transaction of its own, so the
        iterator sees one consistent snapshot however long it takes.
        """
        if deal_id is not None:
            with self._lock, self._guard():
                conn = self._connection()
                conn.execute("BEGIN")  # the rows and their checks from one snapshot
                try:
                    rows = conn.execute(_SELECT_DEAL, (deal_id,)).fetchall()
                    Runs(self.path).check(rows)
                    check_deal(conn, self.path, deal_id, len(rows))
                finally:
                    conn.execute("COMMIT")
                return iter(_to_events(rows))
        return self._stream_all()

    def _stream_all(self) -> Iterator[Event]:
        with self._lock:
            self._connection()  # make sure the schema exists
        conn = sqlite3.connect(
            self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
        )
        shared = _Shared()
        runs = Runs(self.path)
        built = 0
        try:
            with self._guard():
                conn.execute("BEGIN")  # one snapshot for the whole iteration
                held = conn.execute(_SELECT_HELD).fetchone()[0]
                cur = conn.execute(_SELECT_ALL)
            while True:
                with self._guard():
                    rows = cur.fetchmany(_CHUNK)
                    if not rows:
                        break
                    runs.check(rows)
                    events = _to_events(rows, shared)
                    del rows
                built += len(events)
                yield from events
            if built != held:
                with self._guard():
                    raise runs.shortfall(conn, held, built)
            conn.execute("COMMIT")
        finally:
            conn.close()

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in append order, for positions after ``position``.

        Positions are 1, 2, 3 … across deals and are committed in order, so a
        reader that remembers the last position it saw never misses an event.
        """
        check_position(position)
        return self._stream_after(position)

    def _stream_after(self, position: int) -> Iterator[tuple[int, Event]]:
        shared = _Shared()
        while True:
            with self._lock, self._guard():
                conn = self._connection()
                conn.execute("BEGIN")  # the rows and the highest position of one snapshot
                try:
                    rows = conn.execute(_SELECT_AFTER, (position, _CHUNK)).fetchall()
                    held = conn.execute(_SELECT_HELD).fetchone()[0]
                finally:
                    conn.execute("COMMIT")
                self._check_positions(rows, position, held)
                if not rows:
                    return
                events = _to_events([r[1:] for r in rows], shared)
            for r, e in zip(rows, events, strict=True):
                yield r[0], e
            position = rows[-1][0]

    def _check_positions(self, rows: list[Any], after: int, held: int) -> None:
        """Raise :class:`DataError` unless ``rows`` hold every position after ``after``
        (up to ``held``, the highest position, or one chunk of them)."""
        expected = list(range(after + 1, min(held, after + _CHUNK) + 1))
        if len(rows) == len(expected) and [r[0] for r in rows] == expected:
            return
        read = {r[0] for r in rows}
        missing = next((p for p in expected if p not in read), None)
        if missing is None:  # more rows than positions: one was read twice
            raise DataError(
                f"position {rows[-1][0]} is read twice or beyond the highest ({held}); " + RESTORE,
                path=str(self.path),
            )
        after_it = next((r for r in rows if r[0] > missing), None)
        where = (
            f" (the next event read is deal {after_it[1]!r}, seq {after_it[2]})"
            if after_it is not None
            else ""
        )
        raise DataError(
            f"the store holds positions up to {held} but position {missing} does not read"
            f"{where}; " + RESTORE,
            path=str(self.path),
        )

    def integrity_check(self) -> list[str]:
        """What SQLite's ``PRAGMA integrity_check`` finds wrong with the file (an
        empty list when it says ``ok``), read-only: a full scan of every table and
        index, so slower than reading the events."""
        return integrity_check(self.path, self.timeout)

    def follow(
        self, after: int = 0, *, poll: float = 0.5, idle_timeout: float | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` after ``after``, then poll every ``poll`` seconds
        for new events; end after ``idle_timeout`` seconds without one (``None``: never).

        Positions are assigned inside the writer's ``BEGIN IMMEDIATE`` transaction,
        under the database's single write lock, so they become visible in order: a
        position is never committed after a higher one is visible, and polling
        :meth:`events_after` never skips an event.
        """
        after, poll, idle_timeout = check_follow(after, poll, idle_timeout)
        return poll_follow(self.events_after, after, poll, idle_timeout)

    def deal_ids(self) -> list[str]:
        """Every deal id, in order of first append.

        Cross-checked against the events: a deal with events but no row in the
        deals table (or the reverse) is a :class:`~salesstages.DataError`, not a
        deal silently left out. (The check counts the deals' first events: one
        scan of the events table.)
        """
        with self._lock, self._guard():
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                ids = [r[0] for r in conn.execute("SELECT deal_id FROM deals ORDER BY position")]
                firsts = conn.execute("SELECT count(*) FROM events WHERE seq = 0").fetchone()[0]
                orphan = conn.execute(
                    "SELECT d.deal_id FROM deals AS d WHERE NOT EXISTS (SELECT 1 FROM events "
                    "AS e WHERE e.deal_id = d.deal_id AND e.seq = 0) LIMIT 1"
                ).fetchone()
                if orphan is not None:
                    raise DataError(
                        f"deal {orphan[0]!r} is in the deals table but has no events; " + RESTORE,
                        path=str(self.path),
                    )
                if firsts != len(ids):
                    lost = conn.execute(
                        "SELECT e.deal_id FROM events AS e WHERE e.seq = 0 AND NOT EXISTS "
                        "(SELECT 1 FROM deals AS d WHERE d.deal_id = e.deal_id) LIMIT 1"
                    ).fetchone()
                    raise DataError(
                        f"deal {lost[0]!r} has events but no row in the deals table; " + RESTORE,
                        path=str(self.path),
                    )
            finally:
                conn.execute("COMMIT")
            return ids

    def load(self, pipeline: RebuildsDeals[D], deal_id: str) -> D:
        """Deprecated: rebuild a deal with ``pipeline.load_deal(store, deal_id)`` (a
        store holds events only); warns, and works until the next release."""
        return deprecated_load(self, pipeline, deal_id)

    def __len__(self) -> int:
        with self._lock, self._guard():
            return int(
                self._connection()
                .execute("SELECT coalesce(max(position), 0) FROM events")
                .fetchone()[0]
            )

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"


def _transient(exc: sqlite3.OperationalError) -> bool:
    """A lock timeout or an unreachable file: not damage, so not a :class:`DataError`."""
    text = str(exc)
    return "locked" in text or "busy" in text or "unable to open" in text


def _stub(deal_id: str, seq: int, at: str) -> Event:
    try:
        when = to_utc(datetime.fromisoformat(at))
    except (TypeError, ValueError) as exc:
        raise RowError(deal_id, seq, "at", exc) from None
    return Event(deal_id=deal_id, seq=seq, at=when, kind="activity")


class _Shared:
    """What one read shares between its events: one string object per distinct
    deal id, stage and activity name, and one read-only mapping per distinct
    flat ``data`` text (``{"meeting": "discovery"}`` repeats on thousands of
    activities)."""

    __slots__ = ("data", "strings")

    def __init__(self) -> None:
        self.strings: dict[str, str] = {}
        self.data: dict[str, Any] = {}


#: ``data`` texts longer than this, or beyond this many, are decoded each time.
_SHARE_DATA_LEN: Final = 256
_SHARE_DATA_MAX: Final = 100_000
_SCALARS: Final = (str, int, float, bool, type(None))


def _to_events(rows: list[Any], shared: _Shared | None = None) -> list[Event]:
    """Rows as events: the database only holds what :meth:`SqliteStore.append` checked.

    On a row that does not decode, raises ``ValueError`` naming the row and the
    field (the store turns it into :class:`DataError` naming the file too).
    """
    try:
        return _decode(rows, shared or _Shared())
    except (ValueError, TypeError, KeyError) as exc:
        located = locate(rows)
        raise (located or ValueError(f"a row does not decode: {exc!r}")) from exc


def _decode(rows: list[Any], shared: _Shared) -> list[Event]:
    """The hot loop of reading: :func:`~salesstages._codec.make_event` inlined, strings shared.

    Consecutive rows often repeat the deal id and the timestamp (a deal's rows
    come together; ``opened`` and ``stage_entered`` share their moment), so
    those are compared with the previous row's before any lookup.
    """
    fromiso = datetime.fromisoformat
    utc = UTC
    loads = json.loads
    proxy = MappingProxyType
    empty = _EMPTY
    new = object.__new__
    kinds = _KINDS
    sd, ss, sa, sk, sst, sn, sdata = EVENT_SETTERS
    strings = shared.strings
    share = strings.setdefault
    datas = shared.data
    get_data = datas.get
    scalars = _SCALARS
    out: list[Event] = []
    append = out.append
    prev_d = prev_a = ""
    deal_id: str = ""
    at: datetime | None = None
    for d, s, a, k, st, n, data in rows:
        if d != prev_d:
            deal_id = prev_d = share(d, d)
        if a != prev_a:
            at = fromiso(a)
            if at.tzinfo is not utc:  # an offset to normalise, or none: refused
                if at.tzinfo is None or at.utcoffset() is None:
                    raise ValueError(f"{a!r} has no UTC offset")
                at = at.astimezone(utc)
            prev_a = a
        e = new(Event)
        sd(e, deal_id)
        ss(e, s)
        sa(e, at)
        sk(e, kinds[k])
        sst(e, None if st is None else share(st, st))
        sn(e, None if n is None else share(n, n))
        if data == "{}":
            sdata(e, empty)
        else:
            m = get_data(data)
            if m is None:
                obj = loads(data)
                m = proxy(obj)
                if (
                    len(data) <= _SHARE_DATA_LEN
                    and len(datas) < _SHARE_DATA_MAX
                    and all(type(v) in scalars for v in obj.values())
                ):
                    datas[data] = m  # flat, so nothing in it can change: safe to share
            sdata(e, m)
        append(e)
    return out
