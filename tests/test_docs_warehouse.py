"""The "from your warehouse" how-to runs as written: its Python snippets and command lines."""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

import salesstages.metrics._ibis
from salesstages._stores import SqliteStore
from salesstages.cli import main, simulate_quarter

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "how-to" / "from-your-warehouse.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
#: Fences the tests run; ``py``, ``sql`` and ``text`` blocks (servers, Spark) are shown only.
RUN = ("python", "console")


def blocks() -> list[tuple[str, str]]:
    """Every fenced block of the page as (language, text), in order."""
    return BLOCK.findall(PAGE.read_text(encoding="utf-8"))


def test_page_runs_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The Python snippets and ``$ salesstages`` lines run in page order in a scratch folder."""
    pytest.importorskip("duckdb")
    pytest.importorskip("ibis")
    monkeypatch.chdir(tmp_path)
    with SqliteStore(tmp_path / "quarter.sqlite3") as store:
        simulate_quarter(store, deals=60)
    engine = hasattr(salesstages.metrics._ibis, "funnel")
    namespace: dict[str, object] = {"__name__": "docs:from-your-warehouse"}
    ran = 0
    for i, (language, text) in enumerate(blocks()):
        if language == "python":
            if "ibis" in text and not engine:  # pragma: no cover - until the engine lands
                continue
            with warnings.catch_warnings():
                # Ibis 12 reads schemas with DuckDB 2's deprecated fetch_arrow_table
                warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
                exec(compile(text, f"{PAGE.name}[block {i}]", "exec"), namespace)
            ran += 1
        elif language == "console":
            for line in text.splitlines():
                if line.startswith("$ salesstages "):
                    status = main(shlex.split(line)[2:])
                    assert status == 0, (line, capsys.readouterr().err)
                    ran += 1
    out = capsys.readouterr().out
    # 2 python blocks (4 with the Ibis engine: funnel, then a session) and 4 commands
    assert ran == 6 + 2 * engine
    assert (tmp_path / "quarter.parquet").stat().st_size > 0
    assert (tmp_path / "warehouse.duckdb").stat().st_size > 0
    assert "['deal_id', 'seq', 'at', 'kind', 'stage', 'name', 'data']" in out
    assert "No problems:" in out
    assert re.search(r"win rate \d+% over \d+ stages", out)


def test_snippets_needing_a_server_are_not_run() -> None:
    """PostgreSQL and Spark examples sit in fences the tests do not run, and say what they need."""
    for language, text in blocks():
        needs_server = "postgres" in text.lower() or "spark" in text.lower()
        if language in RUN:
            assert not needs_server, text
        elif language == "py":
            assert text.startswith("# needs a "), text


def test_page_is_in_the_nav() -> None:
    """mkdocs.yml lists the how-to."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert ": how-to/from-your-warehouse.md" in nav
