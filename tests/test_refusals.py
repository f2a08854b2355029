"""Refusal messages (issue 13, item 6): unmet criteria as requirements, and only the
moves that would pass now, in a sentence of their own."""

from __future__ import annotations

import pytest

from _helpers import T0, day, small_pipeline
from salesstages import DealView, Pipeline, Stage, TransitionRefused, field, guard


def refusal(call: object) -> str:
    """The message of the TransitionRefused that ``call()`` raises."""
    with pytest.raises(TransitionRefused) as info:
        call()  # type: ignore[operator]
    return str(info.value)


def test_criteria_are_listed_as_requirements() -> None:
    """A guarded move says "not met:" and the requirement, not a statement of fact."""
    deal = small_pipeline().open_deal("D", at=T0)
    message = refusal(lambda: deal.move("discovery", at=day(1)))
    assert message.startswith(
        "Cannot move deal 'D' from 'lead' to 'discovery': not met: meeting 'discovery' "
        "booked and accepted by prospect and rep."
    )


def test_allowed_next_lists_only_moves_that_pass_now() -> None:
    """The refused target and the guarded stages whose criteria fail are left out."""
    deal = small_pipeline().open_deal("D", at=T0)
    message = refusal(lambda: deal.move("discovery", at=day(1)))
    # lead may go to discovery, proposal, closed_won and closed_lost; discovery is the
    # refused target and proposal needs a document: two moves pass now
    assert message.endswith(" Allowed next: closed_won, closed_lost.")
    deal.record("document_sent", at=day(1), document="proposal")
    message = refusal(lambda: deal.move("discovery", at=day(1)))
    assert message.endswith(" Allowed next: proposal, closed_won, closed_lost.")


def test_skipping_off_keeps_reasons_and_hint_apart() -> None:
    """Without skipping, the graph's reason, the criteria and the hint are separate parts."""
    deal = small_pipeline(allow_skip=False).open_deal("D", at=T0)
    assert refusal(lambda: deal.move("proposal", at=day(1))) == (
        "Cannot move deal 'D' from 'lead' to 'proposal': the pipeline does not allow moving "
        "from 'lead' to 'proposal'; not met: document 'proposal' sent. "
        "Allowed next: closed_lost."
    )


def test_says_when_no_move_would_pass() -> None:
    """When every allowed move is guarded and fails, the message says so."""
    p = Pipeline(
        "p",
        [
            Stage("a"),
            Stage("b", entry=field("budget")),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost", entry=field("loss_reason")),
        ],
        allow_skip=False,
    )
    deal = p.open_deal("D", at=T0)
    assert refusal(lambda: deal.move("b", at=day(1))) == (
        "Cannot move deal 'D' from 'a' to 'b': not met: field 'budget' set. No move would pass now."
    )


def test_custom_guard_description_reads_as_a_requirement() -> None:
    """A custom guard's description comes after "not met:"; the verdict keeps it as the reason."""

    @guard("an economic buyer named")
    def has_buyer(deal: DealView) -> bool:
        return bool(deal.attributes.get("buyer"))

    p = Pipeline(
        "p",
        [
            Stage("a"),
            Stage("b", entry=has_buyer),
            Stage("w", outcome="won"),
            Stage("l", outcome="lost"),
        ],
    )
    deal = p.open_deal("D", at=T0)
    with pytest.raises(TransitionRefused) as info:
        deal.move("b", at=day(1))
    assert str(info.value) == (
        "Cannot move deal 'D' from 'a' to 'b': not met: an economic buyer named. "
        "Allowed next: w, l."
    )
    assert info.value.verdict.reasons == ("an economic buyer named",)


def test_won_deal_gets_no_hint() -> None:
    """A won deal's refusal says nothing leaves a won stage, with no list of moves."""
    deal = small_pipeline().open_deal("D", at=T0)
    deal.win(at=day(1))
    assert refusal(lambda: deal.move("lead", at=day(2))) == (
        "Cannot move deal 'D' from 'closed_won' to 'lead': the deal is closed won "
        "('closed_won'); nothing leaves a won stage."
    )
