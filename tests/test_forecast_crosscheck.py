"""Cross-checks of the forecasts against lifelines and numpy on a generated log.

Both are test dependencies only; each test is skipped when its library is missing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from _helpers import T0
from salesstages import Event, Pipeline, forecast, presets
from salesstages._simulate import simulate

DAY = timedelta(days=1)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """The inbound B2B reference pipeline (skips, regressions and reopenings allowed)."""
    return presets.inbound_b2b()


@pytest.fixture(scope="module")
def log(pipeline: Pipeline) -> list[Event]:
    """Four hundred simulated deals over 120 days, a mix of won, lost and open."""
    return simulate(pipeline, deals=400, start=T0, days=120, seed=7, activities=False)


def durations(events: list[Event], pipeline: Pipeline) -> tuple[list[float], list[int]]:
    """Opened → latest closing in days (or → the last event for open deals), and 0/1/2 codes.

    Computed from replayed deals, independently of the forecast module.
    """
    deals = pipeline.replay(events)
    as_of = max(e.at for e in events)
    kinds = {s.name: s.outcome for s in pipeline.stages}
    out: list[float] = []
    codes: list[int] = []
    for deal in deals.values():
        opened = deal.events[0].at
        if deal.is_open:
            out.append((as_of - opened) / DAY)
            codes.append(0)
            continue
        closing = [e for e in deal.events if kinds.get(e.stage or "", "open") != "open"]
        out.append((closing[-1].at - opened) / DAY)
        codes.append(1 if deal.outcome == "won" else 2)
    return out, codes


def test_km_matches_lifelines(log: list[Event], pipeline: Pipeline) -> None:
    """Survival and its Greenwood interval match lifelines' KaplanMeierFitter."""
    lifelines = pytest.importorskip("lifelines")
    d, codes = durations(log, pipeline)
    kmf = lifelines.KaplanMeierFitter().fit(d, event_observed=[c > 0 for c in codes])
    ours = forecast.time_to_close(log, pipeline)
    assert ours.deals == len(d)
    assert len(ours.times) == sum(1 for c in codes if c > 0)  # continuous times: no ties
    theirs = kmf.survival_function_.iloc[:, 0]
    ci = kmf.confidence_interval_
    for t, s, lo, hi in zip(ours.times, ours.survival, ours.lower, ours.upper, strict=True):
        x = t / DAY
        assert s == pytest.approx(float(theirs.loc[x]), abs=1e-9)
        if s > 0:
            assert lo == pytest.approx(float(ci.iloc[:, 0].loc[x]), abs=1e-6)
            assert hi == pytest.approx(float(ci.iloc[:, 1].loc[x]), abs=1e-6)
    theirs_median = kmf.median_survival_time_
    assert ours.median is not None
    assert ours.median / DAY == pytest.approx(float(theirs_median), abs=1e-6)


@pytest.mark.parametrize(("outcome", "code"), [("won", 1), ("lost", 2)])
def test_cumulative_incidence_matches_lifelines(
    log: list[Event], pipeline: Pipeline, outcome: str, code: int
) -> None:
    """Aalen–Johansen incidence matches lifelines' AalenJohansenFitter."""
    lifelines = pytest.importorskip("lifelines")
    d, codes = durations(log, pipeline)
    ajf = lifelines.AalenJohansenFitter(calculate_variance=False)
    ajf.fit(d, codes, event_of_interest=code)
    theirs = ajf.cumulative_density_.iloc[:, 0]
    ours = forecast.cumulative_incidence(log, pipeline, outcome=outcome)  # type: ignore[arg-type]
    assert ours.times
    for t, f in zip(ours.times, ours.incidence, strict=True):
        assert f == pytest.approx(float(theirs.loc[t / DAY]), abs=1e-9)


def test_markov_matches_numpy_inverse(log: list[Event], pipeline: Pipeline) -> None:
    """B = (I − Q)⁻¹ R and N·1 from numpy.linalg.inv match the pure-Python solve."""
    np = pytest.importorskip("numpy")
    model = forecast.markov(log, pipeline)
    stages = list(model.stages)
    assert stages == [s.name for s in pipeline.open_stages]
    closed = [s.name for s in pipeline.stages if not s.is_open]
    q = np.array([[model.transition[a].get(b, 0.0) for b in stages] for a in stages])
    r = np.array([[model.transition[a].get(c, 0.0) for c in closed] for a in stages])
    n = np.linalg.inv(np.eye(len(stages)) - q)
    b = n @ r
    won = [i for i, c in enumerate(closed) if pipeline.stage(c).outcome == "won"]
    for i, a in enumerate(stages):
        assert model.win_probability[a] == pytest.approx(float(b[i, won].sum()), abs=1e-12)
        assert model.expected_moves[a] == pytest.approx(float(n[i].sum()), abs=1e-12)
        for j, c in enumerate(closed):
            assert model.absorption[a][c] == pytest.approx(float(b[i, j]), abs=1e-12)
