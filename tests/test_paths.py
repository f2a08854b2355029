"""Paths, transitions and rework by hand, on both engines.

The hand log (pipeline a → b → c → won / lost, regressions allowed; days after
T0 = 2026-01-05 09:00 UTC; ``as_of`` d10):

====  ================================================================  =======
deal  stage entries                                                     outcome
====  ================================================================  =======
D1    a d0, b d1, c d3, won d6                                          won
D2    a d0, c d2 (a skip), won d5                                       won
D3    a d0, b d2, a d3 (a loop back), b d4, c d6, lost d8               lost
D4    a d1, lost d2, a d4 (reopened), b d5                              open
D5    a d1, b d2, c d4, won d9                                          won
====  ================================================================  =======
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings

from _helpers import day, plain_pipeline
from salesstages import Event, MemoryStore, Pipeline, metrics, testing
from salesstages.metrics import Keyed, PathRow, Ratio, Rework, TransitionRow

D = timedelta(days=1)
AS_OF = day(10)


def pipeline() -> Pipeline:
    return plain_pipeline(allow_regress=True)


def log() -> list[Event]:
    """The hand log of the module docstring (region eu for D1-D3, us for D4-D5)."""
    p = pipeline()
    store = MemoryStore()
    d1 = p.open_deal("D1", at=day(0), store=store, region="eu")
    d1.move("b", at=day(1))
    d1.move("c", at=day(3))
    d1.win(at=day(6))
    d2 = p.open_deal("D2", at=day(0), store=store, region="eu")
    d2.move("c", at=day(2))
    d2.win(at=day(5))
    d3 = p.open_deal("D3", at=day(0), store=store, region="eu")
    d3.move("b", at=day(2))
    d3.move("a", at=day(3))
    d3.move("b", at=day(4))
    d3.move("c", at=day(6))
    d3.lose(at=day(8), reason="price")
    d4 = p.open_deal("D4", at=day(1), store=store, region="us")
    d4.lose(at=day(2), reason="timing")
    d4.reopen(at=day(4), to="a")
    d4.move("b", at=day(5))
    d5 = p.open_deal("D5", at=day(1), store=store, region="us")
    d5.move("b", at=day(2))
    d5.move("c", at=day(4))
    d5.win(at=day(9))
    return list(store.events())


EV = log()
P = pipeline()


def _ratio(num: int, den: int) -> Ratio:
    return Ratio(numerator=num, denominator=den, rate=num / den if den else None)


class TestPaths:
    def test_one_row_per_distinct_path(self) -> None:
        """5 deals, 4 paths: (a, b, c, won) twice (D1 cycle 6 d, D5 d1 → d9 = 8 d:
        median 7 d), the others once, sorted by path after the count."""
        got = metrics.paths(EV, P, as_of=AS_OF)
        assert [r.path for r in got] == [
            ("a", "b", "c", "won"),
            ("a", "b", "a", "b", "c", "lost"),
            ("a", "c", "won"),
            ("a", "lost", "a", "b"),
        ]
        assert got[0] == PathRow(
            path=("a", "b", "c", "won"),
            deals=2,
            share=0.4,  # 2 of 5
            won=2,
            lost=0,
            open=0,
            win_rate=_ratio(2, 2),
            median_cycle=7 * D,  # (6 + 8) / 2
        )
        loop = got[1]
        assert (loop.deals, loop.won, loop.lost, loop.open) == (1, 0, 1, 0)
        assert loop.win_rate == _ratio(0, 1)
        assert loop.median_cycle == 8 * D  # D3 d0 → lost d8
        reopened = got[3]
        assert (reopened.open, reopened.median_cycle) == (1, None)
        assert reopened.win_rate.rate is None
        assert sum(r.share for r in got) == pytest.approx(1.0)

    def test_top_keeps_the_first(self) -> None:
        """top=2 keeps the two first rows; shares stay over every deal."""
        got = metrics.paths(EV, P, as_of=AS_OF, top=2)
        assert [r.deals for r in got] == [2, 1]
        assert got[1].share == pytest.approx(0.2)

    def test_as_of_cuts_the_paths(self) -> None:
        """At d2 (the events of d2 included): D1 a, b; D2 a, c; D3 a, b; D4 a, lost; D5 a, b."""
        got = metrics.paths(EV, P, as_of=day(2))
        assert [(r.path, r.deals) for r in got] == [
            (("a", "b"), 3),
            (("a", "c"), 1),
            (("a", "lost"), 1),
        ]

    def test_by_segments(self) -> None:
        """by=region: eu D1, D2, D3 (3 paths of 1); us D4, D5 (2 paths of 1)."""
        got = metrics.paths(EV, P, as_of=AS_OF, by="region")
        assert isinstance(got, Keyed)
        assert got.key_name == "region"
        assert [len(got["eu"]), len(got["us"])] == [3, 2]
        assert got["us"][0].share == 0.5
        assert got["us"][0].path == ("a", "b", "c", "won")

    def test_rows_and_text(self) -> None:
        """A row writes its path with arrows; str() is a sentence."""
        row = metrics.paths(EV, P, as_of=AS_OF)[0]
        assert row.to_records()[0]["path"] == "a → b → c → won"
        assert row.to_records()[0]["win_rate"] == 1.0
        assert str(row) == (
            "a → b → c → won: 2 deals (40.0%), won 100.0% (2 of 2), 0 open, median cycle 7.0 days"
        )

    @pytest.mark.parametrize("top", [0, -1, 1.5, True, "3"])
    def test_bad_top(self, top: Any) -> None:
        """top must be a positive whole number."""
        with pytest.raises(ValueError, match="top must be a positive whole number"):
            metrics.paths(EV, P, top=top)

    def test_unknown_by(self) -> None:
        """An attribute no deal holds: the by= error with a suggestion."""
        with pytest.raises(ValueError, match="did you mean 'region'"):
            metrics.paths(EV, P, by="regoin")

    def test_empty_log(self) -> None:
        """No events: no paths."""
        assert metrics.paths([], P) == []


def _moves(rows: list[TransitionRow]) -> dict[tuple[str, str], tuple[str, int, int, Any]]:
    return {
        (r.from_stage, r.to_stage): (r.kind, r.moves, r.deals, r.durations.median) for r in rows
    }


class TestTransitions:
    def test_every_move_by_hand(self) -> None:
        """Each move with its kind, count, deals and median time between the entries.

        a → b: D1 d0→d1 (1 d), D3 d0→d2 (2 d) and d3→d4 (1 d), D4 d4→d5 (1 d),
        D5 d1→d2 (1 d): 5 moves by 4 deals, median 1 d. b → c: D1 2 d, D3 2 d,
        D5 2 d. c → won: D1 3 d, D2 3 d, D5 5 d: median 3 d.
        """
        got = metrics.transitions(EV, P, as_of=AS_OF)
        assert _moves(got) == {
            ("a", "b"): ("forward", 5, 4, 1 * D),
            ("a", "c"): ("skip", 1, 1, 2 * D),
            ("a", "lost"): ("close", 1, 1, 1 * D),
            ("b", "a"): ("regress", 1, 1, 1 * D),
            ("b", "c"): ("forward", 3, 3, 2 * D),
            ("c", "won"): ("close", 3, 3, 3 * D),
            ("c", "lost"): ("close", 1, 1, 2 * D),
            ("lost", "a"): ("reopen", 1, 1, 2 * D),
        }
        # in stage order of A, then of B
        assert [(r.from_stage, r.to_stage) for r in got] == list(_moves(got))
        ab = got[0].durations
        # [1, 1, 1, 1, 2] days: mean 1.2 d, p90 at position 3.6: 1 + 0.6 × 1 = 1.6 d
        assert (ab.count, ab.mean, ab.p90, ab.max) == (5, 1.2 * D, 1.6 * D, 2 * D)

    def test_by_segments(self) -> None:
        """by=region: us holds D4 and D5's moves only (a → b twice, by two deals)."""
        got = metrics.transitions(EV, P, as_of=AS_OF, by="region")
        us = _moves(got["us"])
        assert us[("a", "b")] == ("forward", 2, 2, 1 * D)
        assert ("b", "a") not in us
        assert ("b", "a") in _moves(got["eu"])

    def test_rows_and_text(self) -> None:
        """A row is one flat record with the durations' columns; str() a sentence."""
        row = metrics.transitions(EV, P, as_of=AS_OF)[0]
        rec = row.to_records()[0]
        assert rec["from_stage"] == "a"
        assert rec["median"] == 1 * D
        assert str(row) == "a → b (forward): 5 moves by 4 deals, median 1.0 days"


class TestRework:
    def test_every_stage_by_hand(self) -> None:
        """a: entered by 5, D3 and D4 twice (2 extra); b: 4, D3 twice; c: 4, none;
        won: D1, D2, D5; lost: D3, D4."""
        got = metrics.rework(EV, P, as_of=AS_OF)
        assert isinstance(got, Keyed)
        assert got == {
            "a": Rework(entered=5, reentered=2, share=0.4, extra_visits=2),
            "b": Rework(entered=4, reentered=1, share=0.25, extra_visits=1),
            "c": Rework(entered=4, reentered=0, share=0.0, extra_visits=0),
            "won": Rework(entered=3, reentered=0, share=0.0, extra_visits=0),
            "lost": Rework(entered=2, reentered=0, share=0.0, extra_visits=0),
        }
        assert str(got["a"]) == "2 of 5 deals entered it again (40.0%), 2 extra visits"

    def test_as_of(self) -> None:
        """At d3 D3 has just come back to a; nobody has reached won or lost twice."""
        got = metrics.rework(EV, P, as_of=day(3))
        assert got["a"] == Rework(entered=5, reentered=1, share=0.2, extra_visits=1)
        assert got["won"] == Rework(entered=0, reentered=0, share=None, extra_visits=0)


def _stage_entries(events: list[Event]) -> Iterator[tuple[str, str]]:
    for e in sorted(events, key=lambda e: (e.deal_id, e.seq)):
        if e.kind == "stage_entered":
            yield e.deal_id, e.stage  # type: ignore[misc]


def test_paths_agree_with_the_entries() -> None:
    """The paths' deal counts add up to the deals, and each path is a deal's entries."""
    by_deal: dict[str, list[str]] = {}
    for deal, stage in _stage_entries(EV):
        by_deal.setdefault(deal, []).append(stage)
    got = {r.path: r.deals for r in metrics.paths(EV, P, as_of=AS_OF)}
    want: dict[tuple[str, ...], int] = {}
    for stages in by_deal.values():
        want[tuple(stages)] = want.get(tuple(stages), 0) + 1
    assert got == want


# ------------------------------------------------------------------ properties
_DRAWN = pipeline()


@settings(max_examples=60, deadline=None)
@given(log=testing.events(_DRAWN, max_deals=6, max_steps=12))
def test_paths_transitions_and_rework_add_up(log: list[Event]) -> None:
    """On any valid log: the paths' deals are the deals, the moves are the entries minus
    one per deal, the extra visits are the entries beyond the first per deal and stage,
    and every closed deal is either conforming or has a deviation counted."""
    deals: dict[str, list[str]] = {}
    for deal, stage in _stage_entries(log):
        deals.setdefault(deal, []).append(stage)
    rows = metrics.paths(log, _DRAWN)
    assert sum(r.deals for r in rows) == len(deals)
    assert all(r.won + r.lost + r.open == r.deals for r in rows)
    moves = metrics.transitions(log, _DRAWN)
    assert sum(m.moves for m in moves) == sum(len(s) - 1 for s in deals.values())
    assert all(m.deals <= m.moves for m in moves)
    again = metrics.rework(log, _DRAWN)
    extra = sum(len(s) - len(set(s)) for s in deals.values())
    assert sum(r.extra_visits for r in again.values()) == extra
    conf = metrics.conformance(log, _DRAWN)
    worst = max((d.deals for d in conf.deviations), default=0)
    assert conf.closed - conf.conforming >= worst
    assert sum(r.denominator for r in conf.by_month.values()) == conf.closed
