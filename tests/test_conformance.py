"""Conformance to a reference process, by hand.

The paths log (``tests/test_paths.py``; main path a → b → c → won, any open stage
to lost) has four closed deals at d10: D1 a b c won (6 d), D2 a c won (a skip,
5 d), D3 a b a b c lost (a regression, 8 d), D5 a b c won (d1 → d9, 8 d); D4 is
open. The sub-state log below adds a late opening, a reopening, a won stage
reached from a stage the reference does not allow, and a sub-state out of order.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from _helpers import day
from salesstages import Event, MemoryStore, Pipeline, PipelineError, Stage, metrics
from salesstages.metrics import Conformance, Ratio
from test_paths import AS_OF, EV, P

D = timedelta(days=1)


def _rows(got: Conformance) -> dict[str, tuple[object, ...]]:
    return {
        d.deviation: (d.deals, d.win_rate_with, d.win_rate_without, d.cycle_with, d.cycle_without)
        for d in got.deviations
    }


class TestMainPath:
    def test_by_hand(self) -> None:
        """2 of the 4 closed deals conform (D1, D5).

        skipped: D2 (won, 5 d) against D1, D3, D5 (2 of 3 won; median of 6, 8, 8 = 8 d).
        regressed: D3 (lost, 8 d) against D1, D2, D5 (3 of 3; median of 6, 5, 8 = 6 d).
        The rest: nobody, against all four (3 of 4; median of 5, 6, 8, 8 = 7 d).
        """
        got = metrics.conformance(EV, P, as_of=AS_OF)
        assert (got.rate, got.closed, got.conforming) == (0.5, 4, 2)
        nobody = (0, None, 0.75, None, 7 * D)
        assert _rows(got) == {
            "opened_late": nobody,
            "skipped": (1, 1.0, 2 / 3, 5 * D, 8 * D),
            "regressed": (1, 0.0, 1.0, 8 * D, 6 * D),
            "reopened": nobody,
            "not_allowed": nobody,
            "substate_order": nobody,
        }
        # D1, D2, D3 opened on 2026-01-05 (D1 conforms), D5 on 2026-01-06 (conforms)
        assert got.by_month == {"2026-01": Ratio(numerator=2, denominator=4, rate=0.5)}

    def test_wilson_intervals(self) -> None:
        """The with / without win rates carry their 95 % Wilson intervals.

        skipped, with: 1 of 1: centre (1 + 1.9208) / 4.8415 = 0.6033, half
        1.96 / 4.8415 × √(0 + 0.9604) = 0.3967: [0.2065, 1.0].
        """
        row = metrics.conformance(EV, P, as_of=AS_OF).deviations[1]
        assert row.with_low == pytest.approx(0.2065, abs=1e-4)
        assert row.with_high == pytest.approx(1.0)
        assert row.without_low is not None
        assert row.without_low < 2 / 3 < row.without_high  # type: ignore[operator]

    def test_the_pipeline_itself_as_reference(self) -> None:
        """Against the pipeline itself (skips and regressions allowed) every deal conforms."""
        got = metrics.conformance(EV, P, reference=P, as_of=AS_OF)
        assert got.rate == 1.0
        assert all(d.deals == 0 for d in got.deviations)

    def test_text_and_rows(self) -> None:
        """str() gives the rate and a table; to_records one row per deviation."""
        got = metrics.conformance(EV, P, as_of=AS_OF)
        assert str(got).startswith("conformance 50.0% (2 of 4 closed deals followed")
        assert "skipped" in str(got)
        assert [r["deviation"] for r in got.to_records()][:2] == ["opened_late", "skipped"]
        assert str(got.deviations[1]).startswith("skipped: 1 deals (25.0%), won 100.0% with it")

    def test_nothing_closed(self) -> None:
        """No closed deal: no rate, every row empty."""
        got = metrics.conformance(EV, P, as_of=day(1))
        assert (got.rate, got.closed) == (None, 0)
        assert got.deviations[0].share is None


class TestBadReference:
    def test_missing_stages_are_named(self) -> None:
        """A reference without some of the pipeline's stages: PipelineError naming them."""
        other = Pipeline(
            "other",
            [Stage("a"), Stage("z"), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
        )
        with pytest.raises(PipelineError, match=r"it lacks 'b', 'c'; it has 'z'"):
            metrics.conformance(EV, P, reference=other)

    def test_not_a_pipeline(self) -> None:
        """A reference that is not a pipeline is a TypeError."""
        with pytest.raises(TypeError, match=r"reference must be a salesstages\.Pipeline"):
            metrics.conformance(EV, P, reference="main")  # type: ignore[arg-type]

    def test_other_outcome(self) -> None:
        """A stage closed in one and open in the other is refused."""
        swapped = Pipeline(
            "swapped",
            [
                Stage("a"),
                Stage("b"),
                Stage("c"),
                Stage("lost"),
                Stage("won", outcome="won"),
                Stage("x", outcome="lost"),
            ],
        )
        with pytest.raises(PipelineError):
            metrics.conformance(EV, P, reference=swapped)


def sub_pipeline() -> Pipeline:
    """a (sub-states x, y; back allowed) → b → c → won / lost; skips and regressions allowed."""
    return Pipeline(
        "subs",
        [
            Stage("a", substates=("x", "y"), substate_regress=True),
            Stage("b"),
            Stage("c"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        allow_regress=True,
    )


def sub_log() -> list[Event]:
    """E1 opens in b, then c, won d2. E2: a, x d0, y d1, x d2 (back), b d3, c d4, won d5.
    E3: a d0, lost d1, a d2 (reopened), b d3, won d4 (from b: not on the main path)."""
    p = sub_pipeline()
    store = MemoryStore()
    e1 = p.open_deal("E1", at=day(0), store=store, stage="b")
    e1.move("c", at=day(1))
    e1.win(at=day(2))
    e2 = p.open_deal("E2", at=day(0), store=store)
    e2.enter_substate("x", at=day(0))
    e2.enter_substate("y", at=day(1))
    e2.enter_substate("x", at=day(2))
    e2.move("b", at=day(3))
    e2.move("c", at=day(4))
    e2.win(at=day(5))
    e3 = p.open_deal("E3", at=day(0), store=store)
    e3.lose(at=day(1), reason="budget")
    e3.reopen(at=day(2))
    e3.move("b", at=day(3))
    e3.win(at=day(4))
    return list(store.events())


def test_late_reopened_not_allowed_and_substates() -> None:
    """E1 opened late; E2 went back a sub-state; E3 was reopened and won from b.
    All three won: with each deviation 1 of 1 won, without 2 of 2; nobody conforms."""
    got = metrics.conformance(sub_log(), sub_pipeline())
    assert (got.rate, got.closed) == (0.0, 3)
    deals = {d.deviation: d.deals for d in got.deviations}
    assert deals == {
        "opened_late": 1,
        "skipped": 0,
        "regressed": 0,
        "reopened": 1,
        "not_allowed": 1,
        "substate_order": 1,
    }
    late = got.deviations[0]
    assert (late.cycle_with, late.cycle_without) == (2 * D, 4.5 * D)  # E1 2 d; E2 5, E3 4


def test_substate_order_follows_the_reference() -> None:
    """With the pipeline itself as reference (sub-states may go back), E2 conforms."""
    p = sub_pipeline()
    got = metrics.conformance(sub_log(), p, reference=p)
    deals = {d.deviation: d.deals for d in got.deviations}
    assert deals["substate_order"] == 0
    assert deals["opened_late"] == 1  # E1 still starts in b
