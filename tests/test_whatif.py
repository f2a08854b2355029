"""What would a rule have done? (issue 27, CONTRACT §21): metrics.what_if replays each
deal through an alternative pipeline, on hand-built logs."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from _helpers import day, plain_pipeline
from salesstages import (
    Event,
    MemoryStore,
    Pipeline,
    PipelineError,
    SalesStagesError,
    Stage,
    field,
    metrics,
)
from salesstages.metrics import WhatIf
from salesstages.testing import events as event_logs


def stakeholder_rule() -> Pipeline:
    """plain_pipeline with a qualification rule on b: at least two stakeholders."""
    return Pipeline(
        "plain",
        [
            Stage("a"),
            Stage("b", entry=field("stakeholders", lambda n: n >= 2)),
            Stage("c"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


def log() -> list[Event]:
    """Seven deals; three reach b with fewer than two stakeholders: S1 (won 100 in 20
    days), S2 (lost), S3 (still open in b). P1 (won 300 in 10 days) and P2 (lost) had
    two or three stakeholders; P3 gained its second before the move (passes); P4 never
    left a (nothing to stop)."""
    p = plain_pipeline()
    s = MemoryStore()
    s1 = p.open_deal("S1", at=day(0), store=s, amount=100, stakeholders=1)
    s1.move("b", at=day(5))
    s1.win(at=day(20))
    s2 = p.open_deal("S2", at=day(0), store=s, amount=50)  # no stakeholders at all
    s2.move("b", at=day(3))
    s2.lose(at=day(9), reason="price")
    s3 = p.open_deal("S3", at=day(1), store=s, amount=70, stakeholders=1)
    s3.move("b", at=day(4))
    s3.update(at=day(6), stakeholders=2)  # too late: the move was made with one
    p1 = p.open_deal("P1", at=day(0), store=s, amount=300, stakeholders=3)
    p1.move("b", at=day(2))
    p1.win(at=day(10))
    p2 = p.open_deal("P2", at=day(0), store=s, amount=40, stakeholders=2)
    p2.move("b", at=day(1))
    p2.lose(at=day(8), reason="timing")
    p3 = p.open_deal("P3", at=day(0), store=s, amount=20, stakeholders=1)
    p3.update(at=day(2), stakeholders=2)
    p3.move("b", at=day(3))
    p.open_deal("P4", at=day(0), store=s, amount=10, stakeholders=0)
    return list(s.events())


def test_a_rule_stops_three_known_deals() -> None:
    w = metrics.what_if(log(), plain_pipeline(), stakeholder_rule())
    assert isinstance(w, WhatIf)
    assert [(d.deal_id, d.seq, d.stage) for d in w.stopped_deals] == [
        ("S1", 2, "b"),  # opened (0), entered a (1), entered b (2)
        ("S2", 2, "b"),
        ("S3", 2, "b"),
    ]
    assert all("stakeholders" in d.unmet for d in w.stopped_deals)
    assert [d.outcome for d in w.stopped_deals] == ["won", "lost", "open"]
    # stopped: S1 won 100 (cycle 20 days), S2 lost, S3 open: win rate 1 / 2
    assert (w.stopped.deals, w.stopped.won, w.stopped.lost) == (3, 1, 1)
    assert w.stopped.win_rate == 0.5
    assert w.stopped.won_amount == 100
    assert w.stopped.median_cycle == timedelta(days=20)
    # passed: P1 won 300 (10 days), P2 lost, P3 and P4 open
    assert (w.passed.deals, w.passed.won, w.passed.lost) == (4, 1, 1)
    assert w.passed.won_amount == 300
    assert w.passed.median_cycle == timedelta(days=10)
    # 100 of the 400 won came from deals the rule would have stopped
    assert w.won_share == 0.25
    assert w.stopped.low is not None
    assert w.stopped.low < 0.5 < (w.stopped.high or 0)
    assert w.note is None
    text = str(w)
    assert "share of the won amount" in text
    assert "S3" in text
    assert [r["group"] for r in w.to_records()] == ["stopped", "passed"]


def test_as_of_replays_only_what_had_happened() -> None:
    """As of day 4 S1 had not yet moved to b (day 5); S2 (day 3) and S3 (day 4: events
    at as_of count) had."""
    w = metrics.what_if(log(), plain_pipeline(), stakeholder_rule(), as_of=day(4))
    assert [d.deal_id for d in w.stopped_deals] == ["S2", "S3"]
    assert w.won_share is None  # nothing won by day 4


def test_a_move_the_alternative_forbids_stops_the_deal() -> None:
    """Without skips only c may be won from: S1 and P1, won straight from b (seq 3),
    are stopped there; deals lost from b are not (a loss is allowed from any stage)."""
    w = metrics.what_if(log(), plain_pipeline(), plain_pipeline(allow_skip=False))
    assert [(d.deal_id, d.seq, d.stage) for d in w.stopped_deals] == [
        ("P1", 3, "won"),
        ("S1", 3, "won"),
    ]
    assert all("does not allow moving from 'b' to 'won'" in d.unmet for d in w.stopped_deals)
    assert w.won_share == 1.0  # every win came from a deal it would have stopped


def test_other_stage_names_are_refused() -> None:
    other = Pipeline(
        "other",
        [Stage("a"), Stage("x"), Stage("won", outcome="won"), Stage("lost", outcome="lost")],
    )
    with pytest.raises(PipelineError, match=r"same stage names.*lacks b, c.*adds x"):
        metrics.what_if(log(), plain_pipeline(), other)
    with pytest.raises(PipelineError, match="must be a Pipeline"):
        metrics.what_if(log(), plain_pipeline(), "plain")  # type: ignore[arg-type]


def test_histories_cannot_be_replayed() -> None:
    hist = metrics.histories(log(), plain_pipeline())
    with pytest.raises(SalesStagesError, match="pass the events"):
        metrics.what_if(hist, plain_pipeline(), stakeholder_rule())


def test_empty_log() -> None:
    w = metrics.what_if([], plain_pipeline(), stakeholder_rule())
    assert (w.stopped.deals, w.passed.deals, w.won_share) == (0, 0, None)
    assert w.passed.win_rate is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_logs(plain_pipeline()))
def test_the_pipeline_itself_stops_nothing(events: list[Event]) -> None:
    """Replayed through itself, a log loses no deal: every deal passes."""
    w = metrics.what_if(events, plain_pipeline(), plain_pipeline())
    assert w.stopped_deals == ()
    assert w.stopped.deals == 0
    assert w.passed.deals == len(metrics.histories(events, plain_pipeline()).deals)


# ------------------------------------------------------------------ the command line
def test_cli_what_if(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from salesstages.cli import main
    from salesstages.io import write_jsonl

    path = tmp_path / "log.jsonl"
    write_jsonl(log(), path)
    args = ["what-if", str(path), "--pipeline", "_helpers:plain_pipeline"]
    assert main([*args, "--alternative", "test_whatif:stakeholder_rule"]) == 0
    out = capsys.readouterr().out
    assert "stopped: 3 deals, 1 won, 1 lost" in out
    assert "S3" in out
    assert main([*args, "--alternative", "test_whatif:stakeholder_rule", "-f", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [d["deal_id"] for d in doc["stopped_deals"]] == ["S1", "S2", "S3"]
    assert doc["won_share"] == 0.25
    assert doc["groups"][0]["median_cycle"] == 20.0  # days
    # an alternative with other stage names: exit 2, the reason on stderr
    assert main([*args, "--alternative", "inbound_b2b"]) == 2
    assert "same stage names" in capsys.readouterr().err
