"""Are the stage probabilities true? (issue 27, CONTRACT §21): forecast.calibration
and forecast.suggest_probabilities, hand-computed on ten deals."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _helpers import day
from salesstages import DataError, Event, MemoryStore, Pipeline, Stage, forecast, metrics
from salesstages.forecast import Calibration, StageProbability
from salesstages.forecast._calibration import (
    NO_PAIRS,
    ONE_OUTCOME,
    _outcome,
    _stage_pairs,
    score_pairs,
)
from salesstages.metrics._history import rewind
from salesstages.testing import events as event_logs


def pipeline() -> Pipeline:
    """a (20 %) → b (50 %) → c (80 %) → won / lost."""
    return Pipeline(
        "calibrated",
        [
            Stage("a", probability=0.2),
            Stage("b", probability=0.5),
            Stage("c", probability=0.8),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def ten_deals() -> list[Event]:
    """At day 10: four deals in a (one later won), three in b (two won), three in c
    (two won); all close at day 40 but A1, won at day 15. Two more deals give no
    pair: D0 closed before day 10, OPEN is still open at as_of (day 50)."""
    p = pipeline()
    s = MemoryStore()
    plan = {"a": (1, 3), "b": (2, 1), "c": (2, 1)}
    for stage, (wins, losses) in plan.items():
        for i in range(wins + losses):
            d = p.open_deal(f"{stage.upper()}{i + 1}", at=day(0), store=s, amount=10)
            if stage != "a":
                d.move(stage, at=day(1))
            if i < wins:
                d.win(at=day(15 if d.id == "A1" else 40))
            else:
                d.lose(at=day(40), reason="price")
    p.open_deal("D0", at=day(0), store=s).lose(at=day(5), reason="price")
    p.open_deal("OPEN", at=day(0), store=s).update(at=day(50), note="still open")
    return list(s.events())


def test_calibration_on_ten_deals_by_hand() -> None:
    cal = forecast.calibration(ten_deals(), pipeline(), dates=[day(10)])
    assert isinstance(cal, Calibration)
    assert cal.pairs == 10
    # Brier, pair by pair: a (p 0.2): won 1 → (0.8)² = 0.64, lost 3 → 3 × 0.2² = 0.12;
    # b (p 0.5): 3 × 0.5² = 0.75; c (p 0.8): won 2 → 2 × 0.2² = 0.08, lost 1 → 0.8² = 0.64.
    # Σ = 0.64 + 0.12 + 0.75 + 0.08 + 0.64 = 2.23 over 10 pairs.
    assert cal.brier == pytest.approx(0.223)
    # five of ten won: base rate 0.5, Brier of always saying 0.5 = 0.25
    assert cal.base_rate == 0.5
    assert cal.brier_base == pytest.approx(0.25)
    assert cal.skill == pytest.approx(1 - 0.223 / 0.25)  # 0.108
    # log loss: -[2 ln 0.2 (a won, c lost) + 5 ln 0.8 (a lost ×3, c won ×2) + 3 ln 0.5] / 10
    expected = -(2 * math.log(0.2) + 5 * math.log(0.8) + 3 * math.log(0.5)) / 10
    assert cal.log_loss == pytest.approx(expected)
    assert cal.reason is None
    a, b, c = cal.rows
    assert (a.bin_start, a.mean_predicted, a.observed, a.count) == (0.2, 0.2, 0.25, 4)
    assert (b.bin_start, b.mean_predicted, b.observed, b.count) == (0.5, 0.5, 2 / 3, 3)
    assert (c.bin_start, c.observed, c.count) == (0.8, 2 / 3, 3)
    assert c.mean_predicted == pytest.approx(0.8)
    assert a.low < 0.25 < a.high
    assert a.low == pytest.approx(0.0456, abs=1e-4)  # Wilson, 1 of 4 at 95 %
    assert len(cal.to_records()) == 3
    assert "Brier 0.2230 (the base rate's 0.2500)" in str(cal)
    assert "observed" in str(a)


def test_default_dates_are_month_starts() -> None:
    """T0 is 2026-01-05: the first default date is 2026-02-01 (day 27), when the same
    ten deals are open but A1 (won at day 15): nine pairs, none won before day 40."""
    cal = forecast.calibration(ten_deals(), pipeline())
    assert cal.pairs == 9
    assert cal.base_rate == pytest.approx(4 / 9)


def test_horizon_counts_wins_within_it() -> None:
    """Within 20 days of day 10 only A1 won (day 15); the rest are 0, known since day 30
    lies before as_of (day 50): OPEN, still open, counts too (it did not win in time)."""
    cal = forecast.calibration(ten_deals(), pipeline(), dates=[day(10)], horizon=timedelta(days=20))
    assert cal.pairs == 11
    assert cal.base_rate == pytest.approx(1 / 11)
    assert cal.horizon == timedelta(days=20)


def test_no_known_outcome_gives_none_with_a_reason() -> None:
    cal = forecast.calibration(ten_deals(), pipeline(), dates=[day(10)], as_of=day(12))
    assert cal.pairs == 0
    assert (cal.brier, cal.brier_base, cal.skill, cal.log_loss) == (None, None, None, None)
    assert cal.reason == NO_PAIRS
    assert cal.rows == ()
    assert forecast.calibration([], pipeline()).reason == NO_PAIRS


def test_one_outcome_has_no_skill() -> None:
    cal = score_pairs([(0.3, 0), (0.6, 0)], method="stage", horizon=None, bins=10)
    assert cal.brier == pytest.approx((0.09 + 0.36) / 2)
    assert cal.brier_base == 0
    assert cal.skill is None
    assert cal.reason == ONE_OUTCOME


def test_other_methods_leave_out_deals_without_an_estimate() -> None:
    """As of day 10 the only move out of an open stage was D0's a → lost: the Markov
    chain gives a 0 % and has no estimate for b or c; the four deals in a give pairs
    (A1 won: (0 - 1)² = 1, three lost: 0) so Brier = 1 / 4. The stage outlook has no
    stay in a that lasted 10 days (D0's lasted 5): no pair at all."""
    markov = forecast.calibration(ten_deals(), pipeline(), method="markov", dates=[day(10)])
    assert (markov.method, markov.pairs, markov.brier) == ("markov", 4, 0.25)
    cond = forecast.calibration(ten_deals(), pipeline(), method="conditional", dates=[day(10)])
    assert (cond.pairs, cond.brier, cond.reason) == (0, None, NO_PAIRS)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="method"):
        forecast.calibration(ten_deals(), pipeline(), method="guess")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bins"):
        forecast.calibration(ten_deals(), pipeline(), bins=0)
    with pytest.raises(ValueError, match="dates"):
        forecast.calibration(ten_deals(), pipeline(), dates=[])
    with pytest.raises(ValueError, match="horizon"):
        forecast.calibration(ten_deals(), pipeline(), horizon=timedelta(days=-1))
    with pytest.raises(DataError, match="after as_of"):
        forecast.calibration(ten_deals(), pipeline(), dates=[day(60)])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0, 1), st.integers(0, 1)), min_size=1, max_size=40),
    st.integers(1, 20),
)
def test_reliability_rows_cover_every_pair(pairs: list[tuple[float, int]], bins: int) -> None:
    cal = score_pairs(pairs, method="stage", horizon=None, bins=bins)
    assert sum(r.count for r in cal.rows) == len(pairs)
    assert cal.brier is not None
    assert 0 <= cal.brier <= 1
    for r in cal.rows:
        assert r.bin_start <= r.mean_predicted <= r.bin_end + 1e-12
        assert r.low <= r.observed <= r.high


def test_suggest_probabilities_by_hand() -> None:
    rows = forecast.suggest_probabilities(ten_deals(), pipeline())
    a, b, c = rows
    assert all(isinstance(r, StageProbability) for r in rows)
    # every closed deal entered a: 11 (ten + D0), 5 won → 5/11; b: its three, 2 won
    # (c's deals moved a → c, never entering b); c: three, 2 won. OPEN is open: left out.
    assert (a.deals, a.won, a.observed) == (11, 5, 5 / 11)
    assert (b.deals, b.won, b.observed) == (3, 2, 2 / 3)
    assert (c.deals, c.won, c.observed) == (3, 2, 2 / 3)
    # a's 20 % lies below the Wilson interval of 5 of 11 (about 21 %–72 %)
    assert a.low is not None
    assert a.low > 0.2
    assert a.outside is True
    assert b.outside is False
    assert c.outside is False
    assert "outside" in str(a)
    empty = forecast.suggest_probabilities([], pipeline())
    assert [(r.deals, r.observed, r.outside) for r in empty] == [(0, None, None)] * 3


@settings(max_examples=25, deadline=None)
@given(event_logs(pipeline()))
def test_stage_pairs_match_the_rewound_log(events: list[Event]) -> None:
    """The stage method reads each deal's stage at d from its entries; that is the stage
    the log rewound to d gives (metrics._history.rewind), for every open deal."""
    final = metrics.histories(events, pipeline())
    if final.as_of is None:
        return
    days = sorted({final.as_of - timedelta(days=n) for n in (1, 3, 7)})
    got = sorted(_stage_pairs(final, _CONFIGURED, _WON, days, None, final.as_of))
    want = []
    for d in days:
        for deal_id, h in rewind(final, d).deals.items():
            if h.outcome != "open":
                continue
            f = final.deals[deal_id]
            y = _outcome(f.entries, _WON, f.outcome != "open", d, None, final.as_of)
            if y is not None:
                want.append((_CONFIGURED[h.stage], y))
    assert got == sorted(want)


_CONFIGURED = {"a": 0.2, "b": 0.5, "c": 0.8}
_WON = frozenset({"won"})
