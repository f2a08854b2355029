"""How a :class:`~salesstages.SqliteStore` tells damage from data: a deal's run of
``seq``, its row in the ``deals`` table, the store's gapless positions, a row that
does not decode, and SQLite's own ``integrity_check``."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from .._errors import DataError
from .._events import EVENT_KINDS
from .._time import to_utc

__all__ = ["RESTORE", "RowError", "Runs", "check_deal", "integrity_check", "locate"]

RESTORE: Final = (
    "the database is damaged: restore it from a backup, or export what still reads with "
    "salesstages.io"
)
_SELECT_FIRSTS: Final = (
    "SELECT deal_id, count(*), max(seq) FROM events GROUP BY deal_id ORDER BY min(position)"
)
_SELECT_DEAL_CHECK: Final = (
    "SELECT (SELECT position FROM deals WHERE deal_id = ?1), "
    "(SELECT min(position) FROM events WHERE deal_id = ?1), "
    "(SELECT max(position) FROM events WHERE deal_id = ?1), "
    "(SELECT coalesce(max(position), 0) FROM events)"
)
_COUNT_AFTER: Final = "SELECT count(*) FROM events WHERE position > ?"


def integrity_check(path: Path, timeout: float = 30.0) -> list[str]:
    """``PRAGMA integrity_check`` on a SQLite file opened read-only: what it finds
    wrong, or an empty list when it says ``ok``."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    found = [str(r[0]) for r in rows]
    return [] if found == ["ok"] else found


def check_deal(conn: sqlite3.Connection, path: Path, deal_id: str, count: int) -> None:
    """Check one deal's ``count`` rows (a run 0 … count-1) against the deals table and
    the store's positions, as a read of every deal checks them against each other.

    Positions are gapless, so an event of this deal that was deleted after its
    last remaining one shows as a missing position after it. The cost is one
    index range scan over the positions after the deal's last event (nothing
    for a deal appended to last).
    """
    first, low, high, held = conn.execute(_SELECT_DEAL_CHECK, (deal_id,)).fetchone()
    if count == 0:
        if first is not None:
            raise DataError(
                f"deal {deal_id!r} is in the deals table but has no events; {RESTORE}",
                path=str(path),
            )
        return
    if first is None:
        raise DataError(
            f"deal {deal_id!r} has events but no row in the deals table; {RESTORE}",
            path=str(path),
        )
    if first != low:
        raise DataError(
            f"deal {deal_id!r}: the deals table says its first event is at position "
            f"{first} but it is at {low}; {RESTORE}",
            path=str(path),
        )
    after = conn.execute(_COUNT_AFTER, (high,)).fetchone()[0]
    if after != held - high:
        missing = next(
            p
            for p in range(high + 1, held + 1)
            if conn.execute("SELECT 1 FROM events WHERE position = ?", (p,)).fetchone() is None
        )
        raise DataError(
            f"the store holds positions up to {held} but position {missing}, after deal "
            f"{deal_id!r}'s last event (position {high}), does not read, so events of "
            f"this deal may be missing; {RESTORE}",
            path=str(path),
        )


class Runs:
    """Checks that a read yields each deal's events as one run, ``seq`` 0, 1, 2 … with
    no gap, and finds the first deal that disagrees with the store's own counts."""

    __slots__ = ("deal", "next", "path", "read")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.deal: object = None
        self.next = 0
        self.read: dict[object, int] = {}  # events read per deal

    def check(self, rows: list[Any]) -> None:
        """Raise :class:`DataError` at the first row that breaks its deal's run."""
        deal, nxt, read = self.deal, self.next, self.read
        for row in rows:
            d = row[0]
            s = row[1]
            if d == deal:
                if s != nxt:
                    self._broken(d, s, nxt)
                nxt += 1
                continue
            if deal is not None:
                read[deal] = nxt
            if s != 0 or d in read:
                self._broken(d, s, read.get(d, 0))
            deal, nxt = d, 1
        self.deal, self.next = deal, nxt

    def _broken(self, deal: object, seq: object, expected: int) -> None:
        raise DataError(
            f"deal {deal!r}: seq {seq!r} was read where seq {expected} belongs, so events "
            f"of this deal are missing or out of place; {RESTORE}",
            path=str(self.path),
        )

    def shortfall(self, conn: sqlite3.Connection, held: int, built: int) -> DataError:
        """The error for a read that yielded ``built`` events of the ``held`` the store
        says it holds, naming the first deal whose events do not all read."""
        if self.deal is not None:
            self.read[self.deal] = self.next
        message = f"the store holds {held} events but {built} read"
        for deal_id, count, top in conn.execute(_SELECT_FIRSTS):
            got = self.read.get(deal_id, 0)
            if got != count or top != count - 1:
                message += (
                    f"; deal {deal_id!r} has {count} events in the events table but {got} "
                    "read" + (" (its row in the deals table is missing)" if not got else "")
                )
                break
        return DataError(f"{message}; {RESTORE}", path=str(self.path))


class RowError(ValueError):
    """One field of one row does not decode; names the row and the field."""

    def __init__(self, deal_id: object, seq: object, field: str, exc: BaseException) -> None:
        super().__init__(f"row deal_id={deal_id!r}, seq={seq!r}: field {field!r}: {exc}")
        self.field = field


def locate(rows: list[Any]) -> RowError | None:
    """Find the first row whose fields do not decode (the slow path after a failure)."""
    for d, s, a, k, st, n, data in rows:
        problem: tuple[str, BaseException] | None = None
        if not isinstance(d, str) or not d:
            problem = ("deal_id", ValueError("not a non-empty string"))
        elif not isinstance(s, int) or s < 0:
            problem = ("seq", ValueError("not an int >= 0"))
        elif k not in EVENT_KINDS:
            problem = ("kind", ValueError(f"unknown kind {k!r}"))
        elif not all(v is None or isinstance(v, str) for v in (st, n)):
            problem = (
                "stage" if not (st is None or isinstance(st, str)) else "name",
                ValueError("not a string"),
            )
        else:
            try:
                to_utc(datetime.fromisoformat(a))
            except (TypeError, ValueError) as exc:
                problem = ("at", exc)
            else:
                try:
                    json.loads(data)
                except (TypeError, ValueError) as exc:
                    problem = ("data", exc)
        if problem is not None:
            return RowError(d, s, *problem)
    return None
