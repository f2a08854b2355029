"""``by=`` (and ``win_loss``'s attribute) names are checked against the log's attributes,
with a "did you mean", the same way by both engines and the command line."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from _cli_data import cli_error
from _helpers import day
from salesstages import DataError, Event, Pipeline, Stage, metrics
from salesstages import io as sio

Runner = Any


def _pipeline() -> Pipeline:
    return Pipeline(
        "sub",
        [
            Stage("a", substates=("x", "y")),
            Stage("b"),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
    )


def _deal(deal_id: str, path: list[tuple[float, str]], **data: Any) -> list[Event]:
    evs = [Event.create(deal_id=deal_id, seq=0, at=day(path[0][0]), kind="opened", data=data)]
    for t, stage in path:
        evs.append(
            Event.create(
                deal_id=deal_id, seq=len(evs), at=day(t), kind="stage_entered", stage=stage
            )
        )
    return evs


def _log() -> list[Event]:
    """D1 has an owner, D2 has none (it forms the group None)."""
    return [
        *_deal("D1", [(0, "a"), (2, "b"), (4, "w")], owner="ana", region="eu"),
        *_deal("D2", [(1, "a"), (3, "l")], region="us"),
    ]


#: Every metric that takes ``by=``, called with the given attribute name.
BY: dict[str, Callable[[Any, Pipeline, str], Any]] = {
    "win_rate": lambda ev, p, by: metrics.win_rate(ev, p, by=by),
    "sales_cycle": lambda ev, p, by: metrics.sales_cycle(ev, p, by=by),
    "velocity": lambda ev, p, by: metrics.velocity(ev, p, by=by),
    "funnel": lambda ev, p, by: metrics.funnel(ev, p, by=by),
    "conversion": lambda ev, p, by: metrics.conversion(ev, p, from_stage="a", to_stage="w", by=by),
    "stage_durations": lambda ev, p, by: metrics.stage_durations(ev, p, by=by),
    "substate_durations": lambda ev, p, by: metrics.substate_durations(ev, p, stage="a", by=by),
    "win_loss": lambda ev, p, by: metrics.win_loss(ev, p, by=by, at="closing"),
    "win_loss-opened": lambda ev, p, by: metrics.win_loss(ev, p, by=by, at="opening"),
}


@pytest.mark.parametrize("name", list(BY))
def test_typo_is_refused_with_a_suggestion(name: str) -> None:
    """``by="ownr"`` raises DataError suggesting "owner" and listing the attributes."""
    with pytest.raises(
        DataError, match=r"no deal has the attribute 'ownr'; did you mean 'owner'\?"
    ):
        BY[name](_log(), _pipeline(), "ownr")


@pytest.mark.parametrize("name", list(BY))
def test_attribute_some_deals_hold_is_fine(name: str) -> None:
    """An attribute held by one deal of two is accepted (the other is the group None)."""
    assert BY[name](_log(), _pipeline(), "owner") is not None


def test_far_name_lists_the_attributes() -> None:
    """With nothing close, the message lists what the deals hold, and no suggestion."""
    with pytest.raises(DataError) as info:
        metrics.win_rate(_log(), _pipeline(), by="colour")
    assert "did you mean" not in str(info.value)
    assert "the deals' attributes are: owner, region" in str(info.value)


def test_empty_log_is_not_checked() -> None:
    """With no deals there is nothing to check against: an empty result."""
    assert metrics.win_rate([], _pipeline(), by="anything") == {}


def test_win_rate_by_owner_groups() -> None:
    """The typo the issue names no longer hides: by="owner" gives ana and None."""
    got = metrics.win_rate(_log(), _pipeline(), by="owner")
    assert isinstance(got, dict)
    assert list(got) == ["ana", None]


@pytest.fixture
def duckdb_table() -> Iterator[Callable[[list[Event]], Any]]:
    """Events → a DuckDB table, connections closed afterwards."""
    pytest.importorskip("ibis")
    from _engines import close_all, duckdb_loader

    yield duckdb_loader()
    close_all()


@pytest.mark.parametrize("name", list(BY))
def test_duckdb_engine_raises_the_same_error(
    name: str, duckdb_table: Callable[[list[Event]], Any]
) -> None:
    """The Ibis engine refuses the typo with the pure-Python engine's message."""
    table = duckdb_table(_log())
    with pytest.raises(DataError) as got:
        BY[name](table, _pipeline(), "ownr")
    with pytest.raises(DataError) as want:
        BY[name](_log(), _pipeline(), "ownr")
    assert str(got.value) == str(want.value)


def test_cli_duckdb_engine_checks_by(tmp_path: Path, run: Runner) -> None:
    """``report --engine duckdb --by ownr`` exits 2 with the suggestion."""
    pytest.importorskip("ibis")
    events = tmp_path / "events.parquet"
    sio.write_parquet(_log(), events)
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps(_pipeline().to_dict()))
    err = cli_error(
        run("report", str(events), "-p", str(spec), "--engine", "duckdb", "--by", "ownr")
    )
    assert "did you mean 'owner'?" in err


def test_cli_python_engine_suggests(tmp_path: Path, run: Runner) -> None:
    """``report --by ownr`` on events read in Python suggests the name too."""
    events = tmp_path / "events.jsonl"
    sio.write_jsonl(_log(), events)
    spec = tmp_path / "pipeline.json"
    spec.write_text(json.dumps(_pipeline().to_dict()))
    err = cli_error(run("report", str(events), "-p", str(spec), "--by", "ownr"))
    assert "did you mean 'owner'? the deals' attributes are: owner, region" in err
