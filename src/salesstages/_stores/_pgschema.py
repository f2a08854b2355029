"""The table of a :class:`~salesstages.PostgresStore`: checked, or created with its
indexes, triggers and append function (see :mod:`.postgres` for the design)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any, Final

from .._errors import DataError

__all__ = ["TableSchema"]

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
#: PostgreSQL's schemas of temporary tables (``pg_temp`` is an alias of the session's own)
_TEMP_SCHEMA: Final = re.compile(r"pg_temp(_[0-9]+)?|pg_toast_temp(_[0-9]+)?")
_RELKINDS: Final = {
    "v": "a view",
    "m": "a materialized view",
    "f": "a foreign table",
    "S": "a sequence",
    "i": "an index",
    "I": "an index",
    "c": "a composite type",
    "t": "a TOAST table",
}


class TableSchema:
    """One table name (``"events"`` or ``"schema.events"``, already checked) and what
    belongs to it: the append function, its lock key, its checks."""

    def __init__(self, pg: Any, table: str, where: Callable[[], str]) -> None:
        parts = table.split(".")
        sql = pg.sql
        self._pg = pg
        self.table = table
        self._where = where
        self._t = sql.Identifier(*parts)
        self._schema = parts[0] if len(parts) == 2 else None
        self._tname = parts[-1]
        #: the table's append function, in the table's schema
        self._fn = sql.Identifier(*parts[:-1], f"{parts[-1]}{_FUNCTION_SUFFIX}")

    def ensure(self, conn: Any) -> None:
        """Check the table (create it and its append function when missing)."""
        sql = self._pg.sql
        t = self._t
        if (
            self._schema is not None
            and not conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self._schema,)
            ).fetchone()
        ):
            raise DataError(
                f"table {self.table!r}: schema {self._schema!r} does not exist in "
                f"{self._where()}; create it (CREATE SCHEMA {self._schema}) or pass another "
                "table="
            )
        self._check_relation(conn)
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
            self._check_relation(conn)
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

    def _check_relation(self, conn: Any) -> None:
        """Refuse a name that resolves to anything but a permanent table (a view, a
        temporary or unlogged table, a sequence …): events there would not last, or
        could not be appended."""
        row = conn.execute(
            "SELECT c.relkind::text, c.relpersistence::text, n.nspname FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass(%s)",
            (self._t.as_string(conn),),
        ).fetchone()
        if row is None:
            return
        kind, persistence, schema = row
        if kind not in ("r", "p"):
            what = _RELKINDS.get(kind, f"a relation of kind {kind!r}")
            raise DataError(
                f"{self.table!r} is {what}, not a table; pass the name of a table (or of one "
                "to create) as table="
            )
        if persistence != "p":
            what = "temporary" if persistence == "t" else "unlogged"
            raise DataError(
                f"table {self.table!r} (in schema {schema!r}) is {what}: its rows vanish "
                + ("with the connection that made it" if what == "temporary" else "in a crash")
                + "; name a permanent table"
            )

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
