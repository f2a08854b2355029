"""Properties every metric keeps on any valid log (drawn with ``tests/strategies.py``)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from salesstages import Event, Pipeline, metrics
from salesstages.metrics._history import histories
from strategies import Log, logs

ZERO = timedelta(0)
FAST = settings(max_examples=60, deadline=None)


def _by_deal(events: list[Event]) -> dict[str, list[Event]]:
    out: dict[str, list[Event]] = defaultdict(list)
    for e in sorted(events, key=lambda e: (e.deal_id, e.seq)):
        out[e.deal_id].append(e)
    return out


def _everything(events: list[Event], p: Pipeline, as_of: datetime | None = None) -> object:
    """Every metric's result, visits sorted so that input order does not matter."""
    vs = sorted(metrics.visits(events, p, as_of=as_of), key=lambda v: (v.deal_id, v.entered_at))
    subs = sorted(
        metrics.substate_visits(events, p, as_of=as_of), key=lambda v: (v.deal_id, v.entered_at)
    )
    first = p.open_stages[0].name
    return (
        vs,
        subs,
        metrics.stage_durations(events, p, as_of=as_of, include_open=True),
        metrics.stage_durations(events, p, as_of=as_of, per="deal", by="region"),
        [
            metrics.funnel(events, p, skips=s, as_of=as_of)
            for s in ("touched", "imputed", "ordered")
        ],
        metrics.conversion(events, p, from_stage=first, to_stage=p.won_stages[0].name, as_of=as_of),
        metrics.win_rate(events, p, as_of=as_of),
        metrics.win_rate(events, p, by_value=True, by="owner", as_of=as_of),
        metrics.sales_cycle(events, p, as_of=as_of),
        metrics.stalled(events, p, as_of=as_of),
        metrics.lost_reasons(events, p, as_of=as_of),
        metrics.velocity(events, p, as_of=as_of),
        metrics.skips_and_regressions(events, p, as_of=as_of),
    )


@FAST
@given(logs())
def test_durations_are_never_negative(drawn: Log) -> None:
    """Every visit, sub-state visit and summary duration is ≥ 0."""
    p, events = drawn.pipeline, drawn.events
    assert all(v.duration >= ZERO for v in metrics.visits(events, p))
    assert all(v.duration >= ZERO for v in metrics.substate_visits(events, p))
    for per in ("visit", "deal"):
        for s in metrics.stage_durations(events, p, include_open=True, per=per).values():
            assert s.min is None or s.min >= ZERO
            assert s.count == 0 or s.min <= s.median <= s.p90 <= s.max  # type: ignore[operator]


@FAST
@given(logs())
def test_imputed_reached_never_grows(drawn: Log) -> None:
    """Under skips="imputed", reached never grows down the funnel; every rate is in [0, 1]."""
    p, events = drawn.pipeline, drawn.events
    rows = metrics.funnel(events, p)
    reached = [r.reached for r in rows]
    assert reached == sorted(reached, reverse=True)
    deals = {e.deal_id for e in events}
    assert not deals or reached[0] == len(deals)
    for r in rows:
        assert r.conversion_rate is None or 0.0 <= r.conversion_rate <= 1.0
        assert r.win_rate is None or 0.0 <= r.win_rate <= 1.0


@FAST
@given(logs())
def test_ordered_within_imputed(drawn: Log) -> None:
    """ordered ≤ touched ≤ imputed at every stage."""
    p, events = drawn.pipeline, drawn.events
    ordered, touched, imputed = (
        [r.reached for r in metrics.funnel(events, p, skips=s)]
        for s in ("ordered", "touched", "imputed")
    )
    assert all(o <= t <= i for o, t, i in zip(ordered, touched, imputed, strict=True))


@FAST
@given(logs())
def test_win_rate_in_unit_interval(drawn: Log) -> None:
    """win_rate, by count and by value, is None or in [0, 1]."""
    p, events = drawn.pipeline, drawn.events
    for by_value in (False, True):
        r = metrics.win_rate(events, p, by_value=by_value)
        assert r.rate is None or 0.0 <= r.rate <= 1.0
        for seg in metrics.win_rate(events, p, by_value=by_value, by="region").values():
            assert seg.rate is None or 0.0 <= seg.rate <= 1.0


@FAST
@given(logs())
def test_visit_durations_add_up(drawn: Log) -> None:
    """Per deal, visits add up to first stage entry → closing (or as_of), less time in lost."""
    p, events = drawn.pipeline, drawn.events
    as_of = max((e.at for e in events), default=None)
    totals: dict[str, timedelta] = defaultdict(timedelta)
    for v in metrics.visits(events, p):
        totals[v.deal_id] += v.duration
    closed = {s.name for s in p.stages if not s.is_open}
    for deal_id, evs in _by_deal(events).items():
        entries = [e for e in evs if e.kind == "stage_entered"]
        end = entries[-1].at if entries[-1].stage in closed else as_of
        assert end is not None
        # time spent in a lost stage before a reopening is no visit
        gaps = sum(
            (b.at - a.at for a, b in itertools.pairwise(entries) if a.stage in closed),
            ZERO,
        )
        assert totals[deal_id] == end - entries[0].at - gaps


@settings(max_examples=40, deadline=None)
@given(logs(shuffle=True))
def test_any_event_order_gives_the_same_results(
    drawn: Log,
) -> None:
    """Shuffling the events changes no result."""
    p, events, shuffled = drawn.pipeline, drawn.events, drawn.shuffled
    assert _everything(shuffled, p) == _everything(events, p)


@settings(max_examples=40, deadline=None)
@given(logs(), st.data())
def test_as_of_is_the_log_as_it_stood(drawn: Log, data: st.DataObject) -> None:
    """Metrics as of t equal the metrics of the events up to t; later deals are excluded."""
    p, events = drawn.pipeline, drawn.events
    if not events:
        return
    times = sorted({e.at for e in events})
    t = data.draw(st.sampled_from(times)) - data.draw(st.sampled_from([ZERO, timedelta(hours=1)]))
    kept = [e for e in events if e.at <= t]
    assert _everything(events, p, t) == _everything(kept, p, t)
    opened_later = {e.deal_id for e in events if e.kind == "opened" and e.at > t}
    assert not opened_later & {v.deal_id for v in metrics.visits(events, p, as_of=t)}
    assert not opened_later & set(histories(events, p, as_of=t).deals)
    assert sum(r.count for r in metrics.snapshot(events, p, as_of=t).values()) == sum(
        1
        for evs in _by_deal(kept).values()
        if [e for e in evs if e.kind == "stage_entered"][-1].stage
        in {s.name for s in p.open_stages}
    )


@FAST
@given(logs())
def test_fast_path_is_taken_for_grouped_input(drawn: Log) -> None:
    """Events grouped by deal in seq order skip the grouping step; reversed ones do not."""
    p, events = drawn.pipeline, drawn.events
    assert histories(events, p).grouped
    multi = any(e.seq > 0 for e in events)
    assert histories(events[::-1], p).grouped is not multi
