"""What can go wrong between a :class:`~salesstages.PostgresStore` and its server.

Two mechanisms, used by every call the store makes:

- :class:`Deadlines` bounds each round trip on the client. A server-side
  ``statement_timeout`` cannot end a call whose request never reached the
  server, and TCP keepalives cannot tell a peer that acknowledges packets but
  never answers (a stuck proxy, a half-open partition) from a slow query. So a
  round trip that outlasts its deadline has its socket shut down by a watchdog
  thread (one per store, started on first use, gone after a minute with
  nothing to watch); the blocked call then fails at once.
- :func:`fault` maps every psycopg error to the library's types, with one line
  naming the server (never its password), what failed and what to do:
  :class:`~salesstages.StoreUnavailableError` (cannot connect, connection lost,
  no answer in time, server shutting down, read-only server),
  :class:`~salesstages.StorePermissionError` (the role lacks a privilege) and
  :class:`~salesstages.DataError` (what the server refuses as data or schema).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Final

from .._errors import DataError, SalesStagesError, StorePermissionError, StoreUnavailableError
from .._redact import redact, scrub

__all__ = ["Deadline", "Deadlines", "driver_fault", "fault"]

#: Seconds a watchdog thread waits with nothing to watch before it ends.
_IDLE_EXIT: Final = 60.0


class Deadline:
    """One armed round trip; ``fired`` tells whether the watchdog cut it."""

    __slots__ = ("fired", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.fired = False


class Deadlines:
    """Cut a connection's socket when a round trip on it outlasts its deadline."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        """Start afresh: in a new object, or in a child after ``fork()`` (which has no
        watchdog thread, and may have copied the lock while the parent's held it)."""
        self._pid = os.getpid()
        self._cond = threading.Condition(threading.Lock())
        self._armed: dict[Deadline, tuple[float, int]] = {}
        self._thread: threading.Thread | None = None
        self._wake_at = float("inf")  # when the watchdog next wakes by itself

    @contextlib.contextmanager
    def arm(self, conn: Any, seconds: float | None) -> Iterator[Deadline]:
        """Watch the block: past ``seconds`` (``None``: never), shut ``conn``'s socket."""
        token = Deadline(seconds or 0.0)
        if seconds is None:
            yield token
            return
        try:
            fd = int(conn.pgconn.socket)
        except Exception:  # already closed or broken: the call itself will say so
            yield token
            return
        if self._pid != os.getpid():
            self._reset()
        due = time.monotonic() + seconds
        with self._cond:
            self._armed[token] = (due, fd)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="salesstages-pg-deadlines", daemon=True
                )
                self._thread.start()
            elif due < self._wake_at:
                self._cond.notify()
        try:
            yield token
        finally:
            with self._cond:
                self._armed.pop(token, None)

    def _watch(self) -> None:
        cond = self._cond
        with cond:
            while True:
                now = time.monotonic()
                if not self._armed:
                    self._wake_at = now + _IDLE_EXIT
                    cond.wait(_IDLE_EXIT)
                    if not self._armed:
                        self._thread = None
                        self._wake_at = float("inf")
                        return
                    continue
                token, (due, fd) = min(self._armed.items(), key=lambda item: item[1][0])
                if due > now:
                    self._wake_at = due
                    cond.wait(due - now)
                    continue
                del self._armed[token]
                token.fired = True
                _cut(fd)


def _cut(fd: int) -> None:
    """Shut a socket down in both directions (whoever waits on it wakes with an error)."""
    with contextlib.suppress(OSError):
        sock = socket.socket(fileno=os.dup(fd))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


def first_line(exc: BaseException, conninfo: str) -> str:
    """The first line of a driver's message, passwords hidden."""
    text = str(exc).strip()
    return scrub(text.splitlines()[0] if text else type(exc).__name__, conninfo)


def fault(
    pg: Any,
    exc: BaseException,
    *,
    where: str,
    conninfo: str,
    table: str,
    deadline: Deadline | None = None,
    unknown: str | None = None,
) -> SalesStagesError:
    """The library's error for psycopg's ``exc`` (a call on ``table`` at ``where``).

    ``unknown``, when given, is the sentence to add if the failure may have come
    after an append was committed (the outcome is then unknown); it is added
    for failures of the connection, never for an error the server answered with
    (the server rolls back a statement it reports as failed).
    """
    if isinstance(exc, SalesStagesError):
        return exc
    reason = first_line(exc, conninfo)
    errors = pg.errors
    if deadline is not None and deadline.fired:
        return StoreUnavailableError(
            f"PostgreSQL at {where} did not answer within {deadline.seconds:g} s (a network "
            "partition, or a stuck server or proxy), so the connection was closed"
            + (f"; {unknown}" if unknown else "")
            + "; check the network and the server, or raise statement_timeout"
        )
    if isinstance(exc, errors.InsufficientPrivilege):
        return StorePermissionError(
            f"PostgreSQL at {where} refused access to table {table!r}: {reason}; "
            "grant the role SELECT (to read) and INSERT (to append) on the table, USAGE on "
            "its schema, and EXECUTE on its append function, or connect as its owner"
        )
    if isinstance(exc, errors.QueryCanceled):
        return StoreUnavailableError(
            f"PostgreSQL at {where} cancelled the statement ({reason}); nothing of it was "
            "written. The server was too slow or the table's lock was held too long: retry, "
            "or raise statement_timeout"
        )
    if isinstance(exc, errors.LockNotAvailable):
        return StoreUnavailableError(
            f"PostgreSQL at {where}: {reason}; nothing was written, retry later"
        )
    if isinstance(exc, errors.ReadOnlySqlTransaction):
        return StoreUnavailableError(
            f"PostgreSQL at {where} is read-only ({reason}); connect to the primary server"
        )
    if isinstance(exc, pg.OperationalError | pg.InterfaceError | errors.InternalError):
        lost = unknown if _connection_level(exc) else None
        return StoreUnavailableError(
            f"PostgreSQL at {where} failed: {reason}"
            + (f"; {lost}" if lost else "")
            + "; check that the server is up and reachable"
        )
    if isinstance(exc, errors.InvalidSchemaName | errors.UndefinedTable):
        return DataError(
            f"PostgreSQL at {where}: {reason}; create the schema (CREATE SCHEMA …) or pass "
            f"another table= (got {table!r})"
        )
    if isinstance(exc, pg.DataError | pg.IntegrityError | pg.ProgrammingError):
        return DataError(f"PostgreSQL at {where} refused the call on table {table!r}: {reason}")
    return StoreUnavailableError(
        f"PostgreSQL at {where} failed: {reason}"
        + (f"; {unknown}" if unknown and _connection_level(exc) else "")
    )


def _connection_level(exc: BaseException) -> bool:
    """True when ``exc`` is not the server's answer to the statement (no SQLSTATE, or a
    connection-class one): the statement may have run to its commit."""
    state = getattr(exc, "sqlstate", None)
    return state is None or state.startswith(("08", "57P"))


def driver_fault(exc: BaseException, conninfo: str, table: str) -> SalesStagesError | None:
    """The library's error for a psycopg error raised outside a store (by Ibis reading a
    ``postgresql://`` source), or ``None`` when ``exc`` is not psycopg's."""
    pg = sys.modules.get("psycopg")
    if pg is None or not isinstance(exc, pg.Error):
        return None
    return fault(pg, exc, where=redact(conninfo), conninfo=conninfo, table=table)
