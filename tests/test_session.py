"""No hidden global state: the collector is the host's (``salesstages.bulk`` is opt-in)
and derived tables are kept only by a ``metrics.session`` the caller holds."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import salesstages
from _engines import arrow_table, close_all, duckdb_loader
from salesstages import Event, JsonlStore, SqliteStore
from salesstages import metrics as m
from salesstages.presets import inbound_b2b
from salesstages.report import build_report

T0 = datetime(2026, 1, 5, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def _close() -> Iterator[None]:
    yield
    close_all()


def _log(final: str) -> list[Event]:
    """Two deals; A ends in ``final`` (the same count and latest time for any stage)."""
    return [
        Event(deal_id="A", seq=0, at=T0, kind="opened"),
        Event(deal_id="A", seq=1, at=T0, kind="stage_entered", stage="inbound_lead"),
        Event(deal_id="A", seq=2, at=T0 + 3 * DAY, kind="stage_entered", stage=final),
        Event(deal_id="B", seq=0, at=T0, kind="opened"),
        Event(deal_id="B", seq=1, at=T0 + DAY, kind="stage_entered", stage="inbound_lead"),
        Event(deal_id="B", seq=2, at=T0 + 2 * DAY, kind="stage_entered", stage="closed_won"),
    ]


def _overwrite(table: Any, events: list[Event]) -> None:
    """Replace the rows of ``table`` in place by those of ``events``."""
    con = table._find_backend()
    con.raw_sql(f"DELETE FROM {table.get_name()}")
    con.con.register("replacement", arrow_table(events))
    con.raw_sql(f"INSERT INTO {table.get_name()} SELECT * FROM replacement")
    con.con.unregister("replacement")


def _kept_tables(table: Any) -> list[str]:
    """The tables a session materialised on the table's DuckDB connection."""
    got = table._find_backend().con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE 'salesstages_%'"
    )
    return sorted(row[0] for row in got.fetchall())


# ------------------------------------------------------------------ sessions
def test_table_corrected_in_place_gives_new_figures() -> None:
    """Same row count, same latest time, different stages: the next call sees them."""
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    first = m.win_rate(table, p)
    assert (first.numerator, first.denominator) == (2, 2)  # A and B won
    _overwrite(table, _log("closed_lost"))
    assert table.count().execute() == 6
    again = m.win_rate(table, p)
    assert (again.numerator, again.denominator) == (1, 2)  # A lost now, B won
    lost = m.lost_reasons(table, p)
    assert sum(r[1] for r in lost) == 1  # A, the one lost deal


def test_a_new_session_sees_a_corrected_table() -> None:
    """A session keeps its figures while open; the next session reads the table afresh."""
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    with m.session(table):
        assert m.win_rate(table, p).numerator == 2
    _overwrite(table, _log("closed_lost"))
    with m.session(table):
        assert m.win_rate(table, p).numerator == 1


def test_without_a_session_nothing_is_kept() -> None:
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    m.funnel(table, p)
    m.win_rate(table, p)
    assert _kept_tables(table) == []


def test_session_keeps_pivots_until_it_ends() -> None:
    """Inside a session the pivots are materialised once; leaving it drops them."""
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    with m.session(table) as s:
        got = m.win_rate(table, p)
        kept = _kept_tables(table)
        assert kept
        assert m.win_rate(table, p) == got
        assert _kept_tables(table) == kept  # the second call built nothing new
        assert "pivots kept" in repr(s)
    assert _kept_tables(table) == []
    assert s.closed
    assert repr(s) == "<salesstages.metrics.Session (closed)>"
    assert m.win_rate(table, p) == got  # no session: computed afresh


def test_session_serves_only_its_table() -> None:
    p = inbound_b2b()
    load = duckdb_loader()
    table, other = load(_log("closed_won")), load(_log("closed_lost"))
    with m.session(table):
        assert m.win_rate(other, p).numerator == 1
        assert _kept_tables(table) == []  # the same connection: nothing kept for other
        assert m.win_rate(table, p).numerator == 2
        assert _kept_tables(table) != []


def test_session_is_not_seen_by_other_threads() -> None:
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    seen: list[object] = []
    with m.session(table):
        from salesstages.metrics._session import current

        worker = threading.Thread(target=lambda: seen.append(current(table)))
        worker.start()
        worker.join()
        assert current(table) is not None
        m.win_rate(table, p)
    assert seen == [None]


def test_sessions_nest_and_a_closed_one_cannot_reopen() -> None:
    table = duckdb_loader()(_log("closed_won"))
    from salesstages.metrics._session import current

    with m.session(table) as outer:
        with m.session(table) as inner:
            assert current(table) is inner
        assert current(table) is outer
    assert current(table) is None
    with pytest.raises(RuntimeError, match="closed"), outer:
        pass
    outer.close()  # idempotent


def test_session_refuses_events() -> None:
    with pytest.raises(TypeError, match=r"metrics\.session takes an Ibis table, got list"):
        m.session(_log("closed_won"))  # type: ignore[arg-type]


def test_report_drops_its_session() -> None:
    p = inbound_b2b()
    table = duckdb_loader()(_log("closed_won"))
    build_report(table, p)
    assert _kept_tables(table) == []


# ---------------------------------------------------------- the collector
def test_bulk_pauses_and_restores() -> None:
    """The collector is off inside and back on after the block, even after an error."""
    assert gc.isenabled()
    inside: list[bool] = []

    def fail() -> None:
        with salesstages.bulk():
            inside.append(gc.isenabled())
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert inside == [False]
    assert gc.isenabled()


def test_bulk_keeps_a_disabled_collector_disabled() -> None:
    gc.disable()
    try:
        with salesstages.bulk():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_library_never_touches_the_collector(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reading every store and file kind, folding, metrics and a report on both engines
    call none of gc.disable, gc.freeze or gc.enable."""
    from salesstages.io import read_parquet, write_parquet

    calls: list[str] = []
    for name in ("disable", "enable", "freeze", "unfreeze", "set_threshold"):
        monkeypatch.setattr(gc, name, lambda *a, _n=name: calls.append(_n))
    p = inbound_b2b()
    log = _log("closed_won")
    sqlite = SqliteStore(tmp_path / "e.db")
    jsonl = JsonlStore(tmp_path / "e.jsonl")
    for deal in ("A", "B"):
        sqlite.append([e for e in log if e.deal_id == deal])
        jsonl.append([e for e in log if e.deal_id == deal])
    write_parquet(log, tmp_path / "e.parquet")
    for events in (
        list(sqlite.events()),
        [e for _, e in sqlite.events_after(0)],
        list(jsonl.events()),
        list(read_parquet(tmp_path / "e.parquet")),
    ):
        assert len(events) == 6
        m.visits(events, p)
        m.funnel(events, p)
        build_report(events, p)
    build_report(duckdb_loader()(log), p)
    assert calls == []
