"""Speed without changing a figure (issue 24) and work bounded by the input (issue 23):
what forecasts derive from a fold is computed once per ``Histories``; ``rewind``
shares the deals it need not change; day histograms are sparse."""

from __future__ import annotations

import tracemalloc
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from salesstages import Event, forecast, metrics
from salesstages._simulate import simulate
from salesstages.forecast._outlook import _binned
from salesstages.metrics import _history
from salesstages.presets import inbound_b2b
from salesstages.report import build_report
from salesstages.testing import events as event_logs

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def _log() -> list[Event]:
    return simulate(inbound_b2b(), deals=300, start=T0, days=120, seed=5)


def _peak(fn: Callable[[], Any]) -> int:
    """Peak bytes allocated while ``fn`` runs (tracemalloc)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class TestDerivedOnce:
    def test_stay_cells_computed_once_per_fold(self) -> None:
        p = inbound_b2b()
        hist = metrics.histories(_log(), p)
        first = _history.stay_cells(hist, p)
        assert _history.stay_cells(hist, p) is first
        # another fold of the same log computes its own (equal) cells
        again = _history.stay_cells(metrics.histories(_log(), p), p)
        assert again is not first
        assert again == first

    def test_derived_calls_make_once(self) -> None:
        hist = metrics.histories(_log(), inbound_b2b())
        calls: list[int] = []

        def make(h: _history.Histories) -> int:
            calls.append(1)
            return len(h.deals)

        assert hist._derive("n", make) == hist._derive("n", make) == len(hist.deals)
        assert calls == [1]

    def test_forecasts_on_one_fold_equal_fresh_folds(self) -> None:
        """Cached tables give the figures a fresh fold gives, in any call order."""
        p = inbound_b2b()
        log = _log()
        hist = metrics.histories(log, p)
        h30 = timedelta(days=30)
        cached = [
            forecast.conditional_forecast(hist, p, horizon=h30),
            forecast.weighted(hist, p, horizon=h30),
            forecast.conditional_forecast(hist, p),
            forecast.markov_forecast(hist, p, horizon=h30),
            forecast.conditional_forecast(hist, p, horizon=h30),
        ]
        fresh = [
            forecast.conditional_forecast(log, p, horizon=h30),
            forecast.weighted(log, p, horizon=h30),
            forecast.conditional_forecast(log, p),
            forecast.markov_forecast(log, p, horizon=h30),
            forecast.conditional_forecast(log, p, horizon=h30),
        ]
        assert cached == fresh
        assert cached[0] == cached[4]


class TestRewindShares:
    def test_finished_deals_are_shared(self) -> None:
        p = inbound_b2b()
        full = metrics.histories(_log(), p)
        d = T0 + timedelta(days=80)
        rewound = _history.rewind(full, d)
        shared = [k for k, h in full.deals.items() if h.last_at <= d]
        assert shared  # the log has deals with nothing after d
        assert all(rewound.deals[k] is full.deals[k] for k in shared)
        changed = [k for k in rewound.deals if k not in set(shared)]
        assert changed
        assert all(rewound.deals[k] is not full.deals[k] for k in changed)

    @settings(max_examples=60)
    @given(log=event_logs(inbound_b2b()), cut=st.integers(0, 30))
    def test_shared_deals_equal_a_fold_in_every_field(self, log: list[Event], cut: int) -> None:
        """A deal rewound with no copy is exactly the fold at that moment, slot by slot."""
        p = inbound_b2b()
        if not log:
            return
        d = min(e.at for e in log) + timedelta(days=cut)
        folded = metrics.histories(log, p, as_of=d).deals
        full = metrics.histories(log, p)
        rewound = _history.rewind(full, d).deals
        for k, r in rewound.items():
            if r is full.deals[k]:
                h = folded[k]
                for slot in _history.DealHistory.__slots__:
                    assert getattr(r, slot) == getattr(h, slot), slot


def _binned_dense(
    cells: Counter[int], ages: list[int], h_days: int | None
) -> dict[int, tuple[float, float, bool]]:
    """The former dense implementation (lists indexed by day), as the reference."""
    by_len: dict[int, list[tuple[int, int, int]]] = {}
    top = 0
    for key, k in cells.items():
        lb, tb, c = key >> 32, (key >> 2) & 0x3FFFFFFF, key & 3
        by_len.setdefault(lb, []).append((tb, c, k))
        top = max(top, tb)
    lens = sorted(by_len, reverse=True)
    count, won, closed = [0] * (top + 1), [0] * (top + 1), [0] * (top + 1)
    size = i = seen = 0
    out: dict[int, tuple[float, float, bool]] = {}
    for age in reversed(ages):
        while i < len(lens) and lens[i] >= age:
            for tb, c, k in by_len[lens[i]]:
                count[tb] += k
                size += k
                if c:
                    closed[tb] += k
                    seen += k
                    won[tb] += k if c == 1 else 0
            i += 1
        s, f, n = 1.0, 0.0, size
        end = top + 1 if h_days is None else min(top + 1, age + h_days + 1)
        for b in range(age, end):
            if n <= 0:
                break
            if closed[b]:
                f += s * won[b] / n
                s *= 1.0 - closed[b] / n
            n -= count[b]
        out[age] = (f, 1.0 - s, seen > 0)
    return out


_stays = st.tuples(st.integers(0, 40), st.integers(0, 40), st.sampled_from([0, 1, 2])).map(
    lambda t: t[0] << 32 | (t[0] + t[1]) << 2 | t[2]
)


class TestSparseBins:
    @settings(max_examples=200)
    @given(
        keys=st.lists(_stays, max_size=60),
        ages=st.lists(st.integers(0, 50), min_size=1, max_size=8, unique=True),
        h_days=st.none() | st.integers(0, 30),
    )
    def test_sparse_equals_dense(
        self, keys: list[int], ages: list[int], h_days: int | None
    ) -> None:
        cells = Counter(keys)
        ages = sorted(ages)
        assert _binned(cells, ages, h_days) == _binned_dense(cells, ages, h_days)

    def test_a_stay_of_a_billion_days_costs_nothing(self) -> None:
        """The histogram is keyed by the days that occur, not indexed by them."""
        cells = Counter({0 << 32 | (2**30 - 1) << 2 | 1: 1, 0 << 32 | 3 << 2 | 2: 2})
        assert _peak(lambda: _binned(cells, [0, 1], None)) < 1_000_000
        # 3 stays from day 0: two lost at day 3, one won at day 2³⁰ − 1
        # P(win) = S(after day 3) × 1/1 = (1 − 2/3) × 1 = 1/3
        assert _binned(cells, [0], None)[0][0] == pytest.approx(1 / 3)


def _backwards_log() -> list[Event]:
    """Three lines: an activity dated a day before the stage entry it follows.

    The fold's ``as_of`` is its latest event kept, the activity, which makes the
    deal's stay negative (issue 23): it used to be bit-packed into a day count of
    2³⁰ and a list of that many slots allocated.
    """
    return [
        Event(deal_id="X", seq=0, at=T0, kind="opened", data={"amount": 100.0}),
        Event(deal_id="X", seq=1, at=T0, kind="stage_entered", stage="inbound_lead"),
        Event(deal_id="X", seq=2, at=T0 - timedelta(days=1), kind="activity", name="call"),
    ]


class TestBackwardsTime:
    def test_no_negative_cells(self) -> None:
        p = inbound_b2b()
        hist = metrics.histories(_backwards_log(), p)
        assert hist.as_of == T0 - timedelta(days=1)
        cells = _history.stay_cells(hist, p)
        # the stay is clamped to 0 days in the stage, 0 days to as_of, censored
        assert cells["inbound_lead"] == Counter({0: 1})

    def test_conditional_forecast_is_bounded(self) -> None:
        p = inbound_b2b()
        log = _backwards_log()
        value: list[float] = []
        peak = _peak(lambda: value.append(forecast.conditional_forecast(log, p)))
        assert peak < 5_000_000
        assert value == [0.0]  # no stay was seen to close: no estimate, counts 0
        within = forecast.conditional_forecast(log, p, horizon=timedelta(days=30))
        assert within == 0.0

    def test_report_is_bounded(self) -> None:
        log = _backwards_log()
        assert _peak(lambda: build_report(log, inbound_b2b())) < 50_000_000
