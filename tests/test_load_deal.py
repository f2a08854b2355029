"""Stores hold events only: ``pipeline.load_deal(store, deal_id)`` rebuilds a deal; the
old spellings (``store.load``, ``load_deal(deal_id, events, store=)``) warn and work."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from salesstages import JsonlStore, MemoryStore, Pipeline, SqliteStore, Stage
from salesstages._deal import UnknownDealError

T0 = datetime(2026, 1, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def pipeline() -> Pipeline:
    return Pipeline(
        "p",
        [Stage("a"), Stage("b"), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
    )


@pytest.mark.parametrize("kind", ["memory", "jsonl", "sqlite"])
def test_load_deal_rebuilds_from_any_store(pipeline: Pipeline, kind: str, tmp_path: Path) -> None:
    store = {
        "memory": lambda: MemoryStore(),
        "jsonl": lambda: JsonlStore(tmp_path / "e.jsonl"),
        "sqlite": lambda: SqliteStore(tmp_path / "e.db"),
    }[kind]()
    deal = pipeline.open_deal("D", at=T0, store=store, amount=10)
    deal.move("b", at=T0 + timedelta(days=1))
    again = pipeline.load_deal(store, "D")
    assert (again.stage, again.attributes, again.store) == ("b", {"amount": 10}, store)
    again.move("won", at=T0 + timedelta(days=2))  # appended to the same store
    assert pipeline.load_deal(store=store, deal_id="D").stage == "won"


def test_store_load_warns_and_still_works(pipeline: Pipeline) -> None:
    store = MemoryStore()
    pipeline.open_deal("D", at=T0, store=store)
    with pytest.warns(
        DeprecationWarning,
        match=r"store\.load\(pipeline, deal_id\) is deprecated; use "
        r"pipeline\.load_deal\(store, deal_id\)",
    ) as caught:
        deal = store.load(pipeline, "D")
    assert deal.stage == "a"
    assert caught[0].filename == __file__  # points at the caller


def test_old_load_deal_spelling_warns_and_still_works(pipeline: Pipeline) -> None:
    store = MemoryStore()
    pipeline.open_deal("D", at=T0, store=store)
    with pytest.warns(DeprecationWarning, match=r"use pipeline\.load_deal\(store, deal_id\)"):
        deal = pipeline.load_deal("D", store.events("D"), store=store)
    assert deal.store is store
    with pytest.warns(DeprecationWarning, match="is deprecated"):
        assert pipeline.load_deal("D", events=store.events("D"), store=store).stage == "a"


def test_unknown_deal(pipeline: Pipeline) -> None:
    with pytest.raises(UnknownDealError, match="no deal 'X'"):
        pipeline.load_deal(MemoryStore(), "X")


def test_bad_arguments(pipeline: Pipeline) -> None:
    store = MemoryStore()
    with pytest.raises(TypeError, match="takes a store and a deal id"):
        pipeline.load_deal(store)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="unexpected keyword argument 'deal'; it takes store"):
        pipeline.load_deal(store, deal="X")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="multiple values for argument 'deal_id'"):
        pipeline.load_deal(store, "X", deal_id="X")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="deal_id must be a str, got int"):
        pipeline.load_deal(store, 7)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="store must be an event store"):
        pipeline.load_deal(object(), "X")  # type: ignore[call-overload]
    with pytest.raises(TypeError, match=r"takes the deal id, its events and store="):
        pipeline.load_deal("X", [])  # type: ignore[call-overload]


def test_stores_do_not_import_the_live_layer() -> None:
    """No module of ``_stores`` imports ``_deal`` or ``_pipeline``, even for types."""
    for path in sorted((ROOT / "src" / "salesstages" / "_stores").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module not in ("_deal", "_pipeline"), path.name
