"""The reference pipelines, ready to use or to copy as a starting point.

Each function returns a new :class:`~salesstages.Pipeline`. Probabilities and
``rot_after`` values are sensible defaults from the sales literature this
project grew from; tune them to your own history (for example with
:func:`salesstages.forecast.markov`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from ._pipeline import Pipeline, Stage
from .guards import Guard, activity, all_of, at_least, document_sent, field, meeting_accepted

__all__ = [
    "BANT",
    "LEAD_TYPES",
    "PROPOSAL_SUBSTATES",
    "bant_mql",
    "classic_b2b",
    "customer_success",
    "inbound_b2b",
    "modern_b2b",
]

#: The sub-states of a formal proposal / contract stage, in order.
PROPOSAL_SUBSTATES: Final = ("delivered", "review", "negotiation", "signing")
#: The four BANT qualification questions.
BANT: Final = ("budget", "authority", "need", "timeline")
#: Lead types of the modern B2B pipeline (the ``lead_type`` attribute).
LEAD_TYPES: Final = (
    "inbound",
    "mql_sql",
    "warm_call",
    "target_account",
    "event",
    "referral",
    "re_engaged_closed_lost",
)


def _days(n: int) -> timedelta:
    return timedelta(days=n)


def _closed() -> list[Stage]:
    return [
        Stage("closed_won", label="Closed won", outcome="won", probability=1.0),
        Stage("closed_lost", label="Closed lost", outcome="lost", probability=0.0),
    ]


def bant_mql(k: int = 3) -> Guard:
    """The MQL rule: at least ``k`` of the four BANT answers are positive.

    A positive answer is an activity ``bant_answer`` with ``question=<q>`` and
    ``positive=True``, for ``q`` in budget, authority, need, timeline.
    """
    return at_least(k, *(activity("bant_answer", question=q, positive=True) for q in BANT))


def inbound_b2b() -> Pipeline:
    """Inbound B2B: discovery → evaluation → solutions overview → solutions refinement →
    formal proposal/contract → closed won / lost.

    Each of the first four stages starts when its meeting is booked and accepted
    by both parties (``meeting_accepted("<stage>")``); the formal proposal starts
    when the written proposal is sent (``document_sent("proposal")``) and moves
    through the sub-states delivered → review → negotiation → signing. A deal
    starts in ``inbound_lead`` (an addition to the reference list) so that the
    discovery meeting's criteria are checked like the others'. Skips and moves
    back are allowed; lost deals may reopen.
    """
    return Pipeline(
        "inbound_b2b",
        [
            Stage(
                "inbound_lead",
                label="Inbound lead",
                probability=0.05,
                forecast_category="omitted",
                rot_after=_days(14),
            ),
            Stage(
                "discovery",
                label="Discovery",
                entry=meeting_accepted("discovery"),
                probability=0.10,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "evaluation",
                label="Evaluation",
                entry=meeting_accepted("evaluation"),
                probability=0.20,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "solution_overview",
                label="Solutions overview",
                entry=meeting_accepted("solution_overview"),
                probability=0.35,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "solution_refinement",
                label="Solutions refinement",
                entry=meeting_accepted("solution_refinement"),
                probability=0.50,
                forecast_category="best_case",
                rot_after=_days(28),
            ),
            Stage(
                "formal_proposal",
                label="Formal proposal / contract",
                entry=document_sent("proposal"),
                substates=PROPOSAL_SUBSTATES,
                probability=0.70,
                forecast_category="commit",
                rot_after=_days(30),
            ),
            *_closed(),
        ],
        allow_skip=True,
        allow_regress=True,
        allow_reopen=True,
    )


def classic_b2b() -> Pipeline:
    """Classic B2B: lead generated → meeting booked → demo completed → quote requested →
    proposal sent → negotiation → closed won / lost.

    Each stage after the first is entered when the matching activity is recorded
    (``meeting_booked``, ``demo_completed``, ``quote_requested``; the proposal
    document sent; ``negotiation_started``). Skips are allowed, moves back are not.
    """
    return Pipeline(
        "classic_b2b",
        [
            Stage(
                "lead_generated",
                label="Lead generated",
                probability=0.05,
                forecast_category="omitted",
                rot_after=_days(14),
            ),
            Stage(
                "meeting_booked",
                label="Meeting booked",
                entry=activity("meeting_booked"),
                probability=0.10,
                forecast_category="pipeline",
                rot_after=_days(14),
            ),
            Stage(
                "demo_completed",
                label="Demo completed",
                entry=activity("demo_completed"),
                probability=0.25,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "quote_requested",
                label="Quote requested",
                entry=activity("quote_requested"),
                probability=0.40,
                forecast_category="pipeline",
                rot_after=_days(14),
            ),
            Stage(
                "proposal_sent",
                label="Proposal sent",
                entry=document_sent("proposal"),
                probability=0.60,
                forecast_category="best_case",
                rot_after=_days(21),
            ),
            Stage(
                "negotiation",
                label="Negotiation",
                entry=activity("negotiation_started"),
                probability=0.80,
                forecast_category="commit",
                rot_after=_days(21),
            ),
            *_closed(),
        ],
        allow_skip=True,
        allow_regress=False,
        allow_reopen=True,
    )


def modern_b2b() -> Pipeline:
    """Modern B2B: lead identified → connect call → discovery call → opportunity → demo →
    influencer buy-in → decision-maker buy-in → negotiation → closed won / lost.

    The lead's type is the ``lead_type`` attribute (see :data:`LEAD_TYPES`). The
    discovery call needs its meeting accepted by both parties and the MQL rule
    (:func:`bant_mql`: three of four BANT answers positive); an opportunity
    needs its first dollar value (the ``amount`` attribute); the demo stage has
    ``first_demo`` and ``second_demo`` sub-states; buy-ins are ``buy_in``
    activities with ``role="influencer"`` / ``role="decision_maker"``; the
    negotiation starts when the proposal is sent.
    """
    return Pipeline(
        "modern_b2b",
        [
            Stage(
                "lead_identified",
                label="Lead identified",
                probability=0.02,
                forecast_category="omitted",
                rot_after=_days(14),
            ),
            Stage(
                "connect_call",
                label="Connect call",
                entry=activity("call_connected"),
                probability=0.05,
                forecast_category="omitted",
                rot_after=_days(14),
            ),
            Stage(
                "discovery_call",
                label="Discovery call",
                entry=all_of(meeting_accepted("discovery_call"), bant_mql(3)),
                probability=0.10,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "opportunity",
                label="Opportunity",
                entry=field("amount"),
                probability=0.20,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "demo",
                label="Demo",
                entry=meeting_accepted("demo"),
                substates=("first_demo", "second_demo"),
                probability=0.35,
                forecast_category="pipeline",
                rot_after=_days(21),
            ),
            Stage(
                "influencer_buy_in",
                label="Influencer buy-in",
                entry=activity("buy_in", role="influencer"),
                probability=0.50,
                forecast_category="best_case",
                rot_after=_days(21),
            ),
            Stage(
                "decision_maker_buy_in",
                label="Decision-maker buy-in",
                entry=activity("buy_in", role="decision_maker"),
                probability=0.70,
                forecast_category="commit",
                rot_after=_days(21),
            ),
            Stage(
                "negotiation",
                label="Negotiation",
                entry=document_sent("proposal"),
                probability=0.85,
                forecast_category="commit",
                rot_after=_days(30),
            ),
            *_closed(),
        ],
        allow_skip=True,
        allow_regress=True,
        allow_reopen=True,
    )


def customer_success() -> Pipeline:
    """The mirror funnel after the win (the bow-tie's right half): onboarding → first
    impact → recurring impact → renewed (won) / churned (lost).

    A journey's deal id is the account's name (the ``account`` attribute of the
    sales deals), so the two logs meet at the win. Onboarding needs its kickoff
    meeting booked and accepted by both parties (``party="customer"`` and
    ``party="csm"``); first impact needs an activity ``value_confirmed``;
    recurring impact has no criterion. The renewal is the won outcome, the churn
    the lost one (with its reason).
    """
    return Pipeline(
        "customer_success",
        [
            Stage(
                "onboarding",
                label="Onboarding",
                entry=meeting_accepted("kickoff", by=("customer", "csm")),
                rot_after=_days(30),
            ),
            Stage(
                "first_impact",
                label="First impact",
                entry=activity("value_confirmed"),
                rot_after=_days(60),
            ),
            Stage("recurring_impact", label="Recurring impact", rot_after=_days(120)),
            Stage("renewed", label="Renewed", outcome="won", probability=1.0),
            Stage("churned", label="Churned", outcome="lost", probability=0.0),
        ],
        allow_skip=True,
        allow_regress=False,
        allow_reopen=True,
    )
