"""Pipelines and times shared by the core tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from salesstages import Pipeline, Stage, document_sent, meeting_accepted

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    """T0 plus ``n`` days."""
    return T0 + timedelta(days=n)


def small_pipeline(**flags: object) -> Pipeline:
    """lead → discovery (meeting) → proposal (document, sub-states) → won / lost."""
    return Pipeline(
        "small",
        [
            Stage("lead"),
            Stage("discovery", entry=meeting_accepted("discovery")),
            Stage(
                "proposal",
                entry=document_sent("proposal"),
                substates=("delivered", "review", "negotiation", "signing"),
                probability=0.6,
                rot_after=timedelta(days=10),
            ),
            Stage("closed_won", outcome="won"),
            Stage("closed_lost", outcome="lost"),
        ],
        **flags,  # type: ignore[arg-type]
    )


def plain_pipeline(**flags: object) -> Pipeline:
    """a → b → c → won / lost, with no entry criteria."""
    return Pipeline(
        "plain",
        [
            Stage("a"),
            Stage("b"),
            Stage("c"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
        **flags,  # type: ignore[arg-type]
    )
