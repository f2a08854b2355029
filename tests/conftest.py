"""Shared fixtures for the core tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from _cli_data import Run, Runner
from _helpers import plain_pipeline, small_pipeline
from _services import PostgresServer, fresh_database, spark_session, start_postgres
from salesstages import Pipeline

# CI runs on a loaded 2-core machine and gates landing: no deadlines, no
# too-slow health check, and a fixed exploration so a run is reproducible.
# Locally, Hypothesis explores afresh on every run.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def pipeline() -> Pipeline:
    """The small guarded pipeline."""
    return small_pipeline()


@pytest.fixture
def plain() -> Pipeline:
    """The unguarded a → b → c pipeline."""
    return plain_pipeline()


# ---------------------------------------------------------------------- services
# A throw-away PostgreSQL server and a local Spark session, once per test
# session (see tests/_services.py). Missing software skips with a reason that
# says how to install it; under SALESSTAGES_REQUIRE_SERVICES=1 (CI) it fails.


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server in a temporary folder on 127.0.0.1, stopped at session end."""
    with start_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def pg_conninfo(pg_server: PostgresServer) -> str:
    """A libpq conninfo string for the session's database ``test``."""
    return pg_server.conninfo("test")


@pytest.fixture
def pg_database(pg_server: PostgresServer) -> Iterator[str]:
    """The conninfo of a new, empty database of its own for one test; dropped afterwards."""
    with fresh_database(pg_server.conninfo()) as conninfo:
        yield conninfo


@pytest.fixture
def pg_table() -> str:
    """A table name no other test uses (cheaper than a fresh database)."""
    return "t_" + uuid.uuid4().hex[:16]


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """A local-mode SparkSession (``local[2]``, UTC, 2 shuffle partitions, no UI)."""
    with spark_session() as session:
        yield session


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run the command line in-process and return (status, stdout, stderr)."""
    from salesstages.cli import main

    def call(*argv: str) -> Run:
        status = main(list(argv))
        captured = capsys.readouterr()
        return status, captured.out, captured.err

    return call
