"""The reference pipelines: their stages, criteria and a realistic walk through each."""

from __future__ import annotations

from datetime import timedelta

import pytest

from _helpers import T0, day
from salesstages import Pipeline, TransitionRefused
from salesstages._simulate import simulate
from salesstages.presets import (
    BANT,
    LEAD_TYPES,
    PROPOSAL_SUBSTATES,
    bant_mql,
    classic_b2b,
    inbound_b2b,
    modern_b2b,
)


def test_inbound_stages() -> None:
    """Inbound B2B has the literature's stages, proposal sub-states and closed stages."""
    p = inbound_b2b()
    assert [s.name for s in p.stages] == [
        "inbound_lead",
        "discovery",
        "evaluation",
        "solution_overview",
        "solution_refinement",
        "formal_proposal",
        "closed_won",
        "closed_lost",
    ]
    assert (
        p.stage("formal_proposal").substates
        == PROPOSAL_SUBSTATES
        == ("delivered", "review", "negotiation", "signing")
    )
    probabilities = [s.probability for s in p.open_stages]
    assert probabilities == sorted(probabilities)
    assert all(s.rot_after is not None and s.rot_after >= timedelta(days=14) for s in p.open_stages)


def test_inbound_walkthrough() -> None:
    """An inbound deal needs both parties to accept each meeting, and the proposal sent."""
    p = inbound_b2b()
    deal = p.open_deal("ACME-1", at=T0, amount=48_000, owner="ana", lead_source="webinar")
    deal.record("meeting_booked", at=day(1), meeting="discovery")
    deal.record("meeting_accepted", at=day(1), meeting="discovery", party="rep")
    refused = deal.can_move("discovery")
    assert refused.reasons == ("meeting 'discovery' has not been accepted by prospect",)
    deal.record("meeting_accepted", at=day(2), meeting="discovery", party="prospect")
    deal.move("discovery", at=day(2))
    with pytest.raises(TransitionRefused, match="not met: document 'proposal' sent"):
        deal.move("formal_proposal", at=day(3))
    deal.record("document_sent", at=day(9), document="proposal")
    deal.move("formal_proposal", at=day(9))
    for i, sub in enumerate(PROPOSAL_SUBSTATES):
        deal.enter_substate(sub, at=day(10 + i))
    deal.win(at=day(20))
    assert deal.outcome == "won"
    assert p.replay(deal.events)["ACME-1"] == deal


def test_classic_needs_each_activity() -> None:
    """Classic B2B stages open on their activities; moving back is refused."""
    p = classic_b2b()
    deal = p.open_deal("C-1", at=T0)
    assert deal.can_move("meeting_booked").reasons == (
        "no activity 'meeting_booked' has been recorded",
    )
    deal.record("meeting_booked", at=day(1))
    deal.move("meeting_booked", at=day(1))
    deal.record("demo_completed", at=day(2))
    deal.move("demo_completed", at=day(2))
    assert not deal.can_move("meeting_booked")
    assert not p.allow_regress


def test_modern_discovery_needs_mql_and_meeting() -> None:
    """Modern B2B's discovery call needs the accepted meeting and 3 of 4 BANT answers."""
    p = modern_b2b()
    deal = p.open_deal("M-1", at=T0, lead_type="referral")
    deal.record("call_connected", at=day(1))
    deal.move("connect_call", at=day(1))
    for q in BANT[:2]:
        deal.record("bant_answer", at=day(2), question=q, positive=True)
    reasons = deal.can_move("discovery_call").reasons
    assert reasons[0] == "meeting 'discovery_call' has not been booked"
    assert reasons[1].startswith("needs at least 3 of 4 criteria, 2 met")
    deal.record("bant_answer", at=day(3), question="need", positive=True)
    deal.record("meeting_booked", at=day(3), meeting="discovery_call")
    for party in ("prospect", "rep"):
        deal.record("meeting_accepted", at=day(3), meeting="discovery_call", party=party)
    deal.move("discovery_call", at=day(4))
    assert deal.can_move("opportunity").reasons == ("field 'amount' is missing or empty",)
    deal.update(at=day(5), amount=12_000)
    deal.move("opportunity", at=day(5))
    assert deal.stage == "opportunity"
    assert "re_engaged_closed_lost" in LEAD_TYPES


def test_bant_mql_counts_positive_answers() -> None:
    """bant_mql(k) needs k positive bant_answer activities."""
    assert len(bant_mql(2).steps()) == 2


@pytest.mark.parametrize("factory", [inbound_b2b, classic_b2b, modern_b2b])
def test_presets_simulate_clean(factory: type[Pipeline]) -> None:
    """Simulated histories of each preset replay strictly and pass check with guards."""
    p = factory()
    log = simulate(p, deals=150, start=T0, seed=11)
    deals = p.replay(log)
    assert len(deals) == 150
    assert {d.outcome for d in deals.values()} == {"open", "won", "lost"}
    assert p.check(log, guards=True) == []
