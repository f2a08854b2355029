"""The bow-tie (issue 25, CONTRACT §19): presets.customer_success, every existing metric
on its log, and metrics.bowtie hand-computed around the log of tests/test_revenue.py."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from salesstages import Event, metrics, presets
from salesstages.metrics import BowTie, Ratio
from test_revenue import AS_OF, LOG, P, at

S = presets.customer_success()


def success_log() -> list[Event]:
    """acme: first impact 30 days after its first win, churns, comes back; bolt: 20
    days, renews; cyan: onboarding since 2027-03-01 (idle past its 30 days)."""
    acme = S.open_deal("acme", at=at("2026-01-12"))
    acme.record("value_confirmed", at=at("2026-02-09"))
    acme.move("first_impact", at=at("2026-02-09"))  # 2026-01-10 + 30 days
    acme.move("recurring_impact", at=at("2026-05-01"))
    acme.lose(at=at("2026-12-01"), reason="budget")
    acme.reopen(at=at("2027-02-10"))
    bolt = S.open_deal("bolt", at=at("2025-11-02"))
    bolt.record("value_confirmed", at=at("2025-11-21"))
    bolt.move("first_impact", at=at("2025-11-21"))  # 2025-11-01 + 20 days
    bolt.move("recurring_impact", at=at("2026-01-15"))
    bolt.win(at=at("2026-10-20"))
    cyan = S.open_deal("cyan", at=at("2027-03-01"))
    return [*acme.events, *bolt.events, *cyan.events]


SUCCESS = success_log()
SALES = LOG + list(P.open_deal("L1", at=at("2026-03-01"), deal_type="new").events)
_lost = P.open_deal("L2", at=at("2026-03-01"), deal_type="new")
_lost.lose(at=at("2026-03-20"), reason="price")
SALES += list(_lost.events)


def test_the_preset_is_the_mirror_funnel() -> None:
    """onboarding → first_impact → recurring_impact, renewed won, churned lost; first
    impact needs value confirmed."""
    assert [s.name for s in S.stages] == [
        "onboarding", "first_impact", "recurring_impact", "renewed", "churned",
    ]  # fmt: skip
    assert [s.outcome for s in S.stages][-2:] == ["won", "lost"]
    deal = S.open_deal("acme", at=at("2026-01-01"))
    assert not deal.can_move("first_impact")
    assert "value_confirmed" in " ".join(deal.can_move("first_impact").reasons)


def test_existing_metrics_work_on_the_success_log() -> None:
    """Time in stage, stalled and the funnel read the success log like any other."""
    durations = metrics.stage_durations(SUCCESS, S, as_of=AS_OF)
    # onboarding: acme 28 days (Jan 12 → Feb 9), bolt 19 days (Nov 2 → Nov 21)
    assert durations["onboarding"].count == 2
    assert durations["onboarding"].median == timedelta(days=23.5)
    stalled = metrics.stalled(SUCCESS, S, as_of=AS_OF)
    assert [(s.deal_id, s.stage, s.idle) for s in stalled] == [
        ("cyan", "onboarding", timedelta(days=45))  # Mar 1 → Apr 15 > 30 days
    ]
    rows = metrics.funnel(SUCCESS, S, as_of=AS_OF)
    # acme and bolt reached every stage (cyan onboarding only); bolt renewed: 1 of 2
    assert [r.reached for r in rows] == [3, 2, 2]
    assert rows[-1].conversion_rate == 0.5


def test_the_bowtie_hand_computed() -> None:
    """The knot, time to first impact, renewals, expansion, NRR and GRR of the trailing
    twelve months (2026-04-15 to 2027-04-15)."""
    b = metrics.bowtie(SALES, P, success_events=SUCCESS, success_pipeline=S, as_of=AS_OF)
    # new business at opening: A1, B1 won, L2 lost (C1, L1 open): 2 of 3
    assert b.knot == Ratio(numerator=2, denominator=3, rate=2 / 3)
    # acme 30 days, bolt 20 days: median 25
    assert b.time_to_first_impact.median == timedelta(days=25)
    # due in the window: A1, A2 (Jul 2, followed by A3), A3 (Oct 2, nothing after),
    # B1 (Nov 1, followed by B2): 3 of 4
    assert b.renewal_rate == Ratio(numerator=3, denominator=4, rate=0.75)
    # at 2026-04-15: acme 10,000 (A1; A2 starts May 1), bolt 6,000; now 9,000 + 6,000
    assert b.nrr == 15_000 / 16_000
    assert b.grr == 15_000 / 16_000
    assert b.expansion_rate == 0.0  # acme contracted, bolt flat
    assert [r.stage for r in b.sales] == ["a", "b", "c"]
    assert [r.reached for r in b.success] == [3, 2, 2]
    assert "knot" in str(b)
    parts = [r["part"] for r in b.to_records()]
    assert parts[0] == "sales"
    assert parts[-1] == "after"


def test_the_bowtie_on_a_table_agrees() -> None:
    """Both logs as DuckDB tables give the same bow-tie."""
    pytest.importorskip("ibis")
    from _engines import assert_same, close_all, duckdb_loader

    load = duckdb_loader()
    try:
        tables: Sequence[Any] = (load(SALES), load(SUCCESS))
        got = metrics.bowtie(
            tables[0], P, success_events=tables[1], success_pipeline=S, as_of=AS_OF
        )
        want = metrics.bowtie(SALES, P, success_events=SUCCESS, success_pipeline=S, as_of=AS_OF)
        assert isinstance(got, BowTie)
        assert_same(got, want)
    finally:
        close_all()
