"""Helpers for the cross-engine tests: event logs as Ibis tables on each backend,
and comparing two results within the §10 tolerances."""

from __future__ import annotations

import contextlib
import json
import math
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from salesstages import Event

_US = timedelta(microseconds=1)


def arrow_table(events: Sequence[Event]) -> Any:
    """The canonical table of ``events`` (``data`` as JSON text), as a pyarrow Table."""
    from salesstages.io import to_arrow

    return to_arrow(events)


#: Every Ibis connection the loaders opened, for :func:`close_all`.
_OPEN: list[Any] = []


def close_all() -> None:
    """Close every loader's connection."""
    while _OPEN:
        con = _OPEN.pop()
        with contextlib.suppress(Exception):
            con.disconnect()


def _name() -> str:
    return "ev_" + uuid.uuid4().hex[:12]


def duckdb_loader() -> Callable[[Sequence[Event]], Any]:
    """Events → an Ibis table on one in-memory DuckDB connection."""
    import ibis

    con = ibis.duckdb.connect()
    _OPEN.append(con)

    def load(events: Sequence[Event]) -> Any:
        name = _name()
        # create_table from Arrow trips on Ibis 12 + DuckDB 2 (DROP VIEW with no
        # name): register the Arrow table and copy it with SQL instead
        con.con.register(name + "_arrow", arrow_table(events))
        con.raw_sql(f"CREATE TABLE {name} AS SELECT * FROM {name}_arrow")
        con.con.unregister(name + "_arrow")
        with warnings.catch_warnings():
            # Ibis 12 reads the schema with DuckDB 2's deprecated fetch_arrow_table
            warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
            return con.table(name)

    return load


def duckdb_query(sql: str) -> Any:
    """An Ibis table on a new in-memory DuckDB holding the result of ``sql``."""
    import ibis

    con = ibis.duckdb.connect()
    con.raw_sql(f"CREATE TABLE t AS {sql}")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
        return con.table("t")


def postgres_loader(conninfo: str) -> Callable[[Sequence[Event]], Any]:
    """Events → an Ibis table on the PostgreSQL server of ``conninfo`` (schema ``engines``)."""
    import ibis
    import psycopg

    params = dict(part.split("=", 1) for part in conninfo.split())
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA IF NOT EXISTS engines")
    con = ibis.postgres.connect(
        host=params["host"],
        port=int(params["port"]),
        user=params["user"],
        database=params["dbname"],
    )
    _OPEN.append(con)

    def load(events: Sequence[Event]) -> Any:
        name = _name()
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(
                f"CREATE TABLE engines.{name} (deal_id text, seq bigint, at timestamptz, "
                "kind text, stage text, name text, data text)"
            )
            with conn.cursor().copy(
                f"COPY engines.{name} (deal_id, seq, at, kind, stage, name, data) FROM STDIN"
            ) as copy:
                for e in events:
                    copy.write_row(
                        (e.deal_id, e.seq, e.at, e.kind, e.stage, e.name, json.dumps(dict(e.data)))
                    )
        return con.table(name, database="engines")

    return load


def spark_loader(spark: Any) -> Callable[[Sequence[Event]], Any]:
    """Events → an Ibis table over a temporary view of the local Spark session."""
    import ibis

    con = ibis.pyspark.connect(spark)

    def load(events: Sequence[Event]) -> Any:
        name = _name()
        frame = spark.createDataFrame(
            arrow_table(events).to_pandas(),
            schema="deal_id string, seq long, at timestamp, kind string, stage string, "
            "name string, data string",
        )
        frame.createOrReplaceTempView(name)
        return con.table(name)

    return load


def assert_same(got: Any, want: Any, path: str = "result") -> None:
    """``got`` (Ibis engine) equals ``want`` (pure Python) within §10's tolerances:
    counts, keys, stages and key order exactly, durations within 1 µs, floats
    within 1e-9 relative."""
    if attrs.has(type(want)):
        assert type(got) is type(want), f"{path}: {type(got).__name__} != {type(want).__name__}"
        for f in attrs.fields(type(want)):
            assert_same(getattr(got, f.name), getattr(want, f.name), f"{path}.{f.name}")
    elif isinstance(want, Mapping):
        assert isinstance(got, Mapping), f"{path}: {got!r} is not a mapping"
        assert list(got) == list(want), f"{path}: keys {list(got)!r} != {list(want)!r}"
        for k in want:
            assert_same(got[k], want[k], f"{path}[{k!r}]")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple), f"{path}: {got!r} is not a sequence"
        assert len(got) == len(want), f"{path}: {len(got)} items != {len(want)}"
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{path}[{i}]")
    elif isinstance(want, timedelta):
        assert isinstance(got, timedelta), f"{path}: {got!r} is not a timedelta"
        assert abs(got - want) <= _US, f"{path}: {got} != {want}"
    elif isinstance(want, float) and not isinstance(want, bool):
        assert isinstance(got, float), f"{path}: {got!r} is not a float ({want!r})"
        if math.isinf(want) or math.isnan(want):
            assert got == want or (math.isnan(got) and math.isnan(want)), f"{path}"
        else:
            assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-9), f"{path}: {got} != {want}"
    elif isinstance(want, datetime):
        assert got == want, f"{path}: {got} != {want}"
    else:
        assert type(got) is type(want), f"{path}: {got!r} != {want!r} (types)"
        assert got == want, f"{path}: {got!r} != {want!r}"


def loader(
    cache: dict[str, Callable[[Sequence[Event]], Any]], name: str, request: Any
) -> Callable[[Sequence[Event]], Any]:
    """The loader of backend ``name`` (``duckdb``, ``postgres`` or ``spark``), made once
    per ``cache`` (a test module's); PostgreSQL and Spark come from conftest's
    fixtures through ``request``."""
    if name not in cache:
        if name == "duckdb":
            cache[name] = duckdb_loader()
        elif name == "postgres":
            cache[name] = postgres_loader(request.getfixturevalue("pg_conninfo"))
        elif name == "spark":
            cache[name] = spark_loader(request.getfixturevalue("spark"))
        else:
            raise ValueError(f"unknown backend {name!r}")
    return cache[name]
