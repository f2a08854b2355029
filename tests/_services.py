"""Throw-away services for the tests: a PostgreSQL server and a local Spark session.

Each is started once per test session and torn down at its end. When a
service cannot start here (binaries missing, no Java, no driver), the
fixture skips with a reason that says how to install it, unless the
environment sets ``SALESSTAGES_REQUIRE_SERVICES=1`` (CI does): then it fails,
so CI can never pass by skipping.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

__all__ = [
    "PostgresServer",
    "fresh_database",
    "missing",
    "require_psycopg",
    "services_required",
    "spark_session",
    "start_postgres",
]

#: Set to 1 to turn "service not available" skips into failures.
REQUIRE_ENV = "SALESSTAGES_REQUIRE_SERVICES"
_PG_PROGRAMS = ("initdb", "pg_ctl", "postgres")


def services_required() -> bool:
    """Whether a missing service must fail the test run rather than skip."""
    return os.environ.get(REQUIRE_ENV, "").strip() not in ("", "0", "false", "no")


def missing(reason: str) -> NoReturn:
    """Skip (on a developer's machine) or fail (under ``SALESSTAGES_REQUIRE_SERVICES=1``)."""
    if services_required():
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1 turns this skip into a failure)", pytrace=False)
    pytest.skip(reason)


# ---------------------------------------------------------------------- PostgreSQL
def pg_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, from PATH or Debian's layout."""
    found = shutil.which("pg_ctl")
    if found:
        folder = Path(os.path.realpath(found)).parent
        if all((folder / p).exists() for p in _PG_PROGRAMS):
            return folder
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        folder = Path(candidate)
        if all((folder / p).exists() for p in _PG_PROGRAMS):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, listening on 127.0.0.1 only, trust auth."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="salesstages-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.user = "postgres"
        self._prefix: list[str] = []
        if os.name == "posix" and os.geteuid() == 0:
            # PostgreSQL refuses to run as root: run it as the postgres OS user.
            import pwd

            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise RuntimeError(
                    "running as root and there is no 'postgres' OS user to run the server "
                    "(apt-get install postgresql creates it)"
                ) from None
            os.chown(self.root, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser")
            self._prefix = [runuser, "-u", "postgres", "--"] if runuser else []
            if not self._prefix:
                shutil.rmtree(self.root, ignore_errors=True)
                raise RuntimeError("running as root without runuser to drop to 'postgres'")

    def _run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self._prefix, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**os.environ, "LC_ALL": "C"},
        )

    def start(self) -> None:
        """``initdb`` then ``pg_ctl start`` on a free port; raises ``RuntimeError`` saying why."""
        done = self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            self.user,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        last = ""
        for _ in range(3):  # the free port may be taken between probing and binding
            self.port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            done = self._run(
                str(self.bindir / "pg_ctl"),
                "start",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
            )
            if done.returncode == 0:
                return
            last = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            last = last or done.stderr.strip()
        raise RuntimeError(f"pg_ctl start failed: {last}")

    def conninfo(self, dbname: str = "postgres") -> str:
        """A libpq conninfo string for database ``dbname``."""
        return f"host=127.0.0.1 port={self.port} dbname={dbname} user={self.user}"

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run(str(self.bindir / "pg_ctl"), "stop", "-D", str(self.data), "-m", "fast")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def require_psycopg() -> Any:
    """The ``psycopg`` module, or skip/fail saying how to install it."""
    try:
        import psycopg
    except ImportError:
        missing("psycopg is not installed: pip install 'salesstages[postgres]'")
    return psycopg


@contextlib.contextmanager
def start_postgres() -> Iterator[PostgresServer]:
    """A running throw-away server with a database ``test``; stopped on exit."""
    psycopg = require_psycopg()
    bindir = pg_bindir()
    if bindir is None:
        missing(
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in "
            "/usr/lib/postgresql/*/bin: apt-get install postgresql"
        )
    try:
        server = PostgresServer(bindir)
    except RuntimeError as exc:
        missing(f"cannot run PostgreSQL: {exc}")
    try:
        try:
            server.start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            missing(f"cannot start a throw-away PostgreSQL server: {exc}")
        with psycopg.connect(server.conninfo(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE test")
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def fresh_database(server_conninfo: str) -> Iterator[str]:
    """A new, empty database on the server behind ``server_conninfo``; dropped on exit.

    Yields the new database's conninfo (``server_conninfo`` with its ``dbname``
    replaced).
    """
    psycopg = require_psycopg()
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(server_conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    parts = [p for p in server_conninfo.split() if not p.startswith("dbname=")]
    try:
        yield " ".join([*parts, f"dbname={name}"])
    finally:
        with psycopg.connect(server_conninfo, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ---------------------------------------------------------------------- Spark
@contextlib.contextmanager
def spark_session() -> Iterator[Any]:
    """A local-mode SparkSession (2 cores, UTC, 2 shuffle partitions, no UI); stopped on exit."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        missing("pyspark is not installed: pip install 'salesstages[spark]'")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        missing("Java is not installed (Spark needs it): apt-get install openjdk-17-jre-headless")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    try:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("salesstages-tests")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.memory", "1g")
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .getOrCreate()
        )
    except Exception as exc:  # Java gateway errors come in many types
        missing(f"cannot start a local Spark session: {exc}")
    spark.sparkContext.setLogLevel("ERROR")
    try:
        yield spark
    finally:
        spark.stop()
