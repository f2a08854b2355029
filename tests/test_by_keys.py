"""``by=`` keys keep their type: ``1``, ``True``, ``1.0`` and ``"1"`` are four
segments on both engines; values no other type equals stay plain dict keys."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import day
from salesstages import Event, Pipeline, Stage, metrics
from salesstages.metrics import SegmentKey

pytest.importorskip("ibis")

from _engines import duckdb_loader


def _pipeline() -> Pipeline:
    return Pipeline("p", [Stage("a"), Stage("w", outcome="won"), Stage("l", outcome="lost")])


def _deal(deal_id: str, owner: Any, outcome: str) -> list[Event]:
    return [
        Event.create(deal_id=deal_id, seq=0, at=day(0), kind="opened", data={"owner": owner}),
        Event.create(deal_id=deal_id, seq=1, at=day(0), kind="stage_entered", stage="a"),
        Event.create(deal_id=deal_id, seq=2, at=day(1), kind="stage_entered", stage=outcome),
    ]


Engine = Callable[[list[Event]], Any]
ENGINES: dict[str, Engine] = {
    "python": lambda log: log,
    "duckdb": lambda log: duckdb_loader()(log),
}

#: (owners of the deals, with their outcome) -> expected win_rate numerators and
#: denominators per key: each owner value is its own segment, whatever Python's ==
CASES: list[tuple[str, list[tuple[Any, str]], dict[Any, tuple[int, int]]]] = [
    (
        "1, True, 1.0 and '1' are four segments",
        [(1, "w"), (True, "l"), (1.0, "w"), (1.0, "l"), ("1", "w")],
        {
            SegmentKey(True): (0, 1),  # True: lost
            SegmentKey(1.0): (1, 2),  # 1.0: one won of two
            SegmentKey(1): (1, 1),  # 1: won
            "1": (1, 1),  # no other type equals "1": a plain key
        },
    ),
    (
        "0, False and 0.0 are three segments; 2 stays plain",
        [(0, "w"), (False, "w"), (0.0, "l"), (2, "w")],
        {SegmentKey(False): (1, 1), SegmentKey(0.0): (0, 1), SegmentKey(0): (1, 1), 2: (1, 1)},
    ),
    (
        "no collision: plain keys, None for the missing",
        [(1, "w"), ("alice", "l"), (None, "w")],
        {1: (1, 1), "alice": (0, 1), None: (1, 1)},
    ),
    (
        "lists keep their element types on the Python engine too",
        [([1], "w"), ([True], "l")],
        {SegmentKey((1,)): (1, 1), SegmentKey((True,)): (0, 1)},
    ),
]


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize(("owners", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_keys_keep_their_type(
    engine: str, owners: list[tuple[Any, str]], expected: dict[Any, tuple[int, int]]
) -> None:
    if engine == "duckdb" and any(isinstance(o, list) for o, _ in owners):
        pytest.skip("the Ibis engine segments on scalars only")
    log = [e for i, (o, out) in enumerate(owners) for e in _deal(f"D{i}", o, out)]
    got = metrics.win_rate(ENGINES[engine](log), _pipeline(), by="owner")
    assert {k: (r.numerator, r.denominator) for k, r in got.items()} == expected
    assert isinstance(got, metrics.Keyed)
    assert got.key_name == "owner"


def test_plain_keys_are_looked_up_by_value() -> None:
    """Without a collision ``result[1]`` and ``result["alice"]`` just work."""
    log = [*_deal("A", 1, "w"), *_deal("B", "alice", "l")]
    got = metrics.win_rate(log, _pipeline(), by="owner")
    assert got[1].numerator == 1
    assert got["alice"].denominator == 1


def test_engines_agree_on_order() -> None:
    """Keys sort by value, equal values by type name (bool, float, int), None last."""
    log = [e for i, o in enumerate([1, None, 1.0, True, 0]) for e in _deal(f"D{i}", o, "w")]
    want = [0, SegmentKey(True), SegmentKey(1.0), SegmentKey(1), None]
    for engine in ENGINES.values():
        assert list(metrics.win_rate(engine(log), _pipeline(), by="owner")) == want


def test_segment_key() -> None:
    """Equal only to the same value of the same type; prints as its value; immutable."""
    assert SegmentKey(1) == SegmentKey(1)
    assert SegmentKey(1) != SegmentKey(True)
    assert SegmentKey(1) != SegmentKey(1.0)
    assert SegmentKey(1) != 1
    assert len({SegmentKey(1), SegmentKey(True), SegmentKey(1.0)}) == 3
    assert str(SegmentKey(True)) == "True"
    assert repr(SegmentKey(1.0)) == "SegmentKey(1.0)"
    assert pickle.loads(pickle.dumps(SegmentKey((1, True)))) == SegmentKey((1, True))
    with pytest.raises(AttributeError, match="immutable"):
        SegmentKey(1).value = 2


@pytest.mark.parametrize("engine", list(ENGINES))
def test_trend_keys_keep_their_type(engine: str) -> None:
    """trend(by=) builds its dict the same way: 1, True and 1.0 deals created, 2, 1 and 1."""
    owners = [(1, "w"), (1, "l"), (True, "w"), (1.0, "l")]
    log = [e for i, (o, out) in enumerate(owners) for e in _deal(f"D{i}", o, out)]
    got = metrics.trend(ENGINES[engine](log), _pipeline(), measure="created", by="owner")
    assert isinstance(got, dict)
    counts = {k: sum(r.count for r in rows) for k, rows in got.items()}
    assert counts == {SegmentKey(True): 1, SegmentKey(1.0): 1, SegmentKey(1): 2}


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 2), st.sampled_from([0.0, 1.0, 2.0, "1", "a"])
)


@given(st.lists(st.tuples(_SCALARS, st.sampled_from(["w", "l"])), min_size=1, max_size=8))
@settings(max_examples=60, deadline=None)
def test_one_segment_per_typed_value(owners: list[tuple[Any, str]]) -> None:
    """Property: one segment per distinct (type, value), every deal in exactly one;
    a key is a SegmentKey exactly when another type's value equals it."""
    log = [e for i, (o, out) in enumerate(owners) for e in _deal(f"D{i}", o, out)]
    got = metrics.win_rate(log, _pipeline(), by="owner")
    typed = {(type(o), o) for o, _ in owners}
    assert len(got) == len(typed)
    assert sum(r.denominator for r in got.values()) == len(owners)
    for value_type, value in typed:
        collides = any(v == value and t is not value_type for t, v in typed)
        key = SegmentKey(value) if collides else value
        assert key in got
        assert got[key].denominator == sum(
            1 for o, _ in owners if (type(o), o) == (value_type, value)
        )


@pytest.mark.parametrize("engine", sorted(ENGINES))
def test_win_loss_keeps_key_types(engine: str) -> None:
    """``win_loss(by=...)`` groups 1, True, 1.0 and "1" apart too, on both engines."""
    log: list[Event] = []
    owners = [(1, "w"), (True, "l"), (1.0, "w"), (1.0, "l"), ("1", "w")]
    for i, (owner, outcome) in enumerate(owners):
        log += _deal(f"D{i}", owner, outcome)
    result = metrics.win_loss(ENGINES[engine](log), _pipeline(), by="owner")
    got = {g.key: (g.won, g.lost) for g in result.groups}
    # True: 0 won 1 lost; 1.0: 1 and 1; 1: 1 and 0; "1" (no other type equals it): 1 and 0
    assert got == {
        SegmentKey(True): (0, 1),
        SegmentKey(1.0): (1, 1),
        SegmentKey(1): (1, 0),
        "1": (1, 0),
    }
    assert (result.won, result.lost) == (3, 2)
