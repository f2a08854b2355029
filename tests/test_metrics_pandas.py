"""Cross-check against a plain pandas computation of the same numbers on a few
thousand generated deals (pandas is a test dependency only)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from salesstages import Event, Pipeline, metrics, presets
from salesstages._simulate import simulate
from strategies import T0

pd = pytest.importorskip("pandas")

US = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def pipeline() -> Pipeline:
    """The inbound B2B preset: skips, regressions, reopenings and sub-states."""
    return presets.inbound_b2b()


@pytest.fixture(scope="module")
def events(pipeline: Pipeline) -> list[Event]:
    """About 3000 deals, shuffled."""
    evs = simulate(pipeline, deals=3000, start=T0, days=120, seed=7, activities=False)
    random.Random(7).shuffle(evs)
    return evs


@pytest.fixture(scope="module")
def frame(events: list[Event], pipeline: Pipeline) -> Any:
    """The log as a DataFrame, sorted by deal and seq, with amount carried forward."""
    df = pd.DataFrame(
        {
            "deal_id": [e.deal_id for e in events],
            "seq": [e.seq for e in events],
            "at": [e.at for e in events],
            "kind": [e.kind for e in events],
            "stage": [e.stage for e in events],
            "amount": [e.data.get("amount") for e in events],
            "reason": [e.data.get("reason") for e in events],
        }
    )
    df = df.sort_values(["deal_id", "seq"], ignore_index=True)
    df["amount"] = df.groupby("deal_id")["amount"].ffill()
    outcome = {s.name: s.outcome for s in pipeline.stages}
    df["outcome"] = df["stage"].map(outcome)
    return df


def close(a: timedelta | None, b: Any) -> bool:
    """Equal to the microsecond (pandas works in nanoseconds)."""
    assert a is not None
    return bool(abs(a - b.to_pytimedelta()) <= US)


def test_stage_durations_match(frame: Any, events: list[Event], pipeline: Pipeline) -> None:
    """Per-visit time in stage: count, mean, median, p90, min and max agree with pandas."""
    as_of = frame["at"].max()
    se = frame[frame["kind"] == "stage_entered"].copy()
    se["next_at"] = se.groupby("deal_id")["at"].shift(-1)
    visits = se[se["outcome"] == "open"].copy()
    visits["duration"] = visits["next_at"].fillna(as_of) - visits["at"]
    done = visits[visits["next_at"].notna()]
    got = metrics.stage_durations(events, pipeline)
    assert sum(s.count for s in got.values()) == len(done)
    assert len(metrics.visits(events, pipeline)) == len(visits)
    for stage, group in done.groupby("stage"):
        s = got[stage]
        d = group["duration"]
        assert s.count == len(d)
        assert (
            s.open_count == visits[(visits["stage"] == stage) & visits["next_at"].isna()].shape[0]
        )
        assert close(s.mean, d.mean())
        assert close(s.median, d.median())
        assert close(s.p90, d.quantile(0.9))
        assert close(s.min, d.min())
        assert close(s.max, d.max())


def test_per_deal_durations_match(frame: Any, events: list[Event], pipeline: Pipeline) -> None:
    """Per-deal cumulative time in stage, open visits included, agrees with pandas."""
    as_of = frame["at"].max()
    se = frame[frame["kind"] == "stage_entered"].copy()
    se["next_at"] = se.groupby("deal_id")["at"].shift(-1)
    visits = se[se["outcome"] == "open"].copy()
    visits["duration"] = visits["next_at"].fillna(as_of) - visits["at"]
    per_deal = visits.groupby(["stage", "deal_id"])["duration"].sum()
    got = metrics.stage_durations(events, pipeline, per="deal", include_open=True)
    for stage, d in per_deal.groupby(level="stage"):
        s = got[stage]
        assert s.count == len(d)
        assert close(s.mean, d.mean())
        assert close(s.p90, d.quantile(0.9))


def test_funnel_and_outcomes_match(frame: Any, events: list[Event], pipeline: Pipeline) -> None:
    """Imputed funnel, win rate (count and value), sales cycle and lost reasons agree."""
    se = frame[frame["kind"] == "stage_entered"]
    names = [s.name for s in pipeline.open_stages]
    position = {n: i for i, n in enumerate(names)} | {
        s.name: len(names) for s in pipeline.won_stages
    }
    furthest = se.assign(pos=se["stage"].map(position)).groupby("deal_id")["pos"].max()
    rows = metrics.funnel(events, pipeline)
    assert [r.reached for r in rows] == [int((furthest >= i).sum()) for i in range(len(names))]

    last = se.groupby("deal_id").tail(1).set_index("deal_id")
    won = last[last["outcome"] == "won"]
    lost = last[last["outcome"] == "lost"]
    wr = metrics.win_rate(events, pipeline)
    assert (wr.numerator, wr.denominator) == (len(won), len(won) + len(lost))
    by_value = metrics.win_rate(events, pipeline, by_value=True)
    assert by_value.rate == pytest.approx(
        won["amount"].sum() / (won["amount"].sum() + lost["amount"].sum())
    )

    opened = frame[frame["kind"] == "opened"].set_index("deal_id")["at"]
    cycle = won["at"] - opened.loc[won.index]
    got = metrics.sales_cycle(events, pipeline)
    assert got.count == len(cycle)
    assert close(got.mean, cycle.mean())
    assert close(got.median, cycle.median())

    reasons = lost.groupby("reason").agg(deals=("amount", "size"), amount=("amount", "sum"))
    expected = sorted(
        ((str(r), int(n), float(a)) for r, n, a in reasons.itertuples()),
        key=lambda t: (-t[1], t[0]),
    )
    got_reasons = metrics.lost_reasons(events, pipeline)
    assert [(r, n) for r, n, _ in got_reasons] == [(r, n) for r, n, _ in expected]
    assert [a for _, _, a in got_reasons] == pytest.approx([a for _, _, a in expected])
