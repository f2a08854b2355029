"""The throw-away services the tests start: PostgreSQL and a local Spark session."""

from __future__ import annotations

from typing import Any

import pytest

import _services


def test_postgres_answers_a_query(pg_conninfo: str) -> None:
    """The session's server runs a query on 127.0.0.1 in database ``test``."""
    psycopg = _services.require_psycopg()
    with psycopg.connect(pg_conninfo) as conn:
        row = conn.execute("SELECT 1, current_database(), inet_server_addr()::text").fetchone()
    assert row == (1, "test", "127.0.0.1/32")


def test_fresh_databases_are_separate(pg_database: str, pg_conninfo: str) -> None:
    """A test's own database is empty and not the shared one."""
    psycopg = _services.require_psycopg()
    with psycopg.connect(pg_database) as conn:
        name = conn.execute("SELECT current_database()").fetchone()[0]
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert name.startswith("t_")
    assert name not in pg_conninfo
    assert tables == (0,)


@pytest.mark.slow
def test_spark_counts(spark: Any) -> None:
    """The local Spark session runs a job, in UTC."""
    assert spark.range(3).count() == 3
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_missing_service_skips_or_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable a missing service skips; with it set to 1 it fails."""
    monkeypatch.delenv(_services.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install postgresql"):
        _services.missing("PostgreSQL not found: apt-get install postgresql")
    monkeypatch.setenv(_services.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="SALESSTAGES_REQUIRE_SERVICES=1"):
        _services.missing("PostgreSQL not found: apt-get install postgresql")


def test_postgres_binaries_missing_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """When no server binaries are found the fixture's reason names the package."""
    monkeypatch.delenv(_services.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(_services, "pg_bindir", lambda: None)
    with (
        pytest.raises(pytest.skip.Exception, match=r"apt-get install postgresql"),
        _services.start_postgres(),
    ):
        pass
