"""Entry criteria: Verdict and every built-in guard."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from _helpers import T0
from salesstages import (
    DealView,
    Event,
    PipelineError,
    Verdict,
    activity,
    all_of,
    any_of,
    at_least,
    document_sent,
    field,
    guard,
    meeting_accepted,
    not_,
)
from salesstages.guards import Step, evaluate, guard_from_dict


def view(*activities: tuple[str, dict[str, Any]], **attributes: Any) -> DealView:
    """A deal view holding the given activities (in order) and attributes."""
    events: list[Event] = [Event(deal_id="D", seq=0, at=T0, kind="opened")]
    events.append(Event(deal_id="D", seq=1, at=T0, kind="stage_entered", stage="lead"))
    for name, data in activities:
        events.append(
            Event.create(
                deal_id="D",
                seq=len(events),
                at=T0,
                kind="activity",
                stage="lead",
                name=name,
                data=data,
            )
        )
    return DealView(id="D", stage="lead", substate=None, attributes=attributes, events=events)


def acts(*names: str, **data: Any) -> Sequence[tuple[str, dict[str, Any]]]:
    """Several activities with the same data."""
    return [(n, dict(data)) for n in names]


class TestVerdict:
    """Verdict is truthy exactly when ok."""

    def test_truthiness(self) -> None:
        """A yes is truthy, a no is falsy and keeps its reasons."""
        assert Verdict(True)
        assert not Verdict.no("x", "y")
        assert Verdict.no("x", "y").reasons == ("x", "y")
        assert Verdict.yes() == Verdict(True, ())


class TestMeetingAccepted:
    """meeting_accepted: booked, then accepted by every party, undone by decline or cancel."""

    g = meeting_accepted("discovery")

    def test_not_booked(self) -> None:
        """Without a booking the reason says so."""
        assert self.g(view()).reasons == ("meeting 'discovery' has not been booked",)

    def test_booked_not_accepted_names_missing_parties(self) -> None:
        """After booking, the missing parties are named."""
        v = self.g(view(("meeting_booked", {"meeting": "discovery"})))
        assert v.reasons == ("meeting 'discovery' has not been accepted by prospect and rep",)

    def test_accepted_by_both(self) -> None:
        """Booked and accepted by both parties holds."""
        v = self.g(
            view(
                ("meeting_booked", {"meeting": "discovery"}),
                ("meeting_accepted", {"meeting": "discovery", "party": "rep"}),
                ("meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
            )
        )
        assert v.ok

    def test_acceptance_before_booking_does_not_count(self) -> None:
        """An acceptance recorded before the booking is ignored."""
        v = self.g(
            view(
                ("meeting_accepted", {"meeting": "discovery", "party": "rep"}),
                ("meeting_booked", {"meeting": "discovery"}),
                ("meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
            )
        )
        assert v.reasons == ("meeting 'discovery' has not been accepted by rep",)

    def test_other_meeting_does_not_count(self) -> None:
        """Activities for another meeting are ignored."""
        v = self.g(view(("meeting_booked", {"meeting": "demo"})))
        assert not v.ok

    @pytest.mark.parametrize(
        ("undo", "word"), [("meeting_declined", "declined"), ("meeting_cancelled", "cancelled")]
    )
    def test_decline_or_cancel_undoes_until_rebooked(self, undo: str, word: str) -> None:
        """A later decline/cancel undoes it; booking and accepting again restores it."""
        accepted = [
            ("meeting_booked", {"meeting": "discovery"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "rep"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
        ]
        undone = [*accepted, (undo, {"meeting": "discovery"})]
        v = self.g(view(*undone))
        assert v.reasons == (f"meeting 'discovery' was {word} and has not been booked again",)
        rebooked_only = [*undone, ("meeting_booked", {"meeting": "discovery"})]
        assert not self.g(view(*rebooked_only)).ok
        assert self.g(view(*undone, *accepted)).ok

    def test_rebooking_needs_fresh_acceptances(self) -> None:
        """Booked again with no decline in between: acceptances of the earlier booking no longer count."""
        first = [
            ("meeting_booked", {"meeting": "discovery"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "rep"}),
            ("meeting_accepted", {"meeting": "discovery", "party": "prospect"}),
        ]
        rebooked = [*first, ("meeting_booked", {"meeting": "discovery"})]
        assert self.g(view(*first)).ok
        assert self.g(view(*rebooked)).reasons == (
            "meeting 'discovery' has not been accepted by prospect and rep",
        )
        half = [*rebooked, ("meeting_accepted", {"meeting": "discovery", "party": "prospect"})]
        assert self.g(view(*half)).reasons == ("meeting 'discovery' has not been accepted by rep",)
        both = [*half, ("meeting_accepted", {"meeting": "discovery", "party": "rep"})]
        assert self.g(view(*both)).ok

    def test_custom_parties(self) -> None:
        """by= names the parties; a single string is one party."""
        g = meeting_accepted("m", by="cfo")
        assert g(
            view(
                ("meeting_booked", {"meeting": "m"}),
                ("meeting_accepted", {"meeting": "m", "party": "cfo"}),
            )
        ).ok

    def test_steps_satisfy_it(self) -> None:
        """The guard's own steps, recorded in order, make it hold."""
        steps = self.g.steps()
        assert [s.name for s in steps] == ["meeting_booked", "meeting_accepted", "meeting_accepted"]
        assert self.g(view(*((s.name, dict(s.data)) for s in steps))).ok

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("",), "needs a meeting name"),
            ((3,), "needs a meeting name"),
            (("m", ()), "needs party names"),
            (("m", ("rep", "")), "needs party names"),
            (("m", ("rep", 3)), "needs party names"),
        ],
    )
    def test_bad_arguments(self, args: Any, message: str) -> None:
        """Bad arguments raise PipelineError when the guard is built."""
        with pytest.raises(PipelineError, match=message):
            meeting_accepted(*args)


class TestActivityGuards:
    """document_sent and activity."""

    def test_document_sent(self) -> None:
        """document_sent looks for document_sent with that document."""
        g = document_sent("proposal")
        assert g(view()).reasons == ("document 'proposal' has not been sent",)
        assert not g(view(("document_sent", {"document": "nda"}))).ok
        assert g(view(("document_sent", {"document": "proposal", "to": "cfo"}))).ok
        assert g.description == "document 'proposal' sent"

    def test_activity_with_match(self) -> None:
        """activity(name, **match) needs every match item in the data."""
        g = activity("call", outcome="ok")
        assert g(view()).reasons == ("no activity 'call' with outcome='ok' has been recorded",)
        assert not g(view(("call", {"outcome": "voicemail"}))).ok
        assert g(view(("call", {"outcome": "ok", "minutes": 5}))).ok

    def test_activity_without_match(self) -> None:
        """activity(name) needs any activity of that name."""
        g = activity("demo_completed")
        assert g(view()).reasons == ("no activity 'demo_completed' has been recorded",)
        assert g(view(("demo_completed", {}))).ok

    @pytest.mark.parametrize("factory", [activity, document_sent])
    @pytest.mark.parametrize("name", ["", 3, None])
    def test_empty_or_non_string_name(self, factory: Any, name: Any) -> None:
        """An empty or non-string name is refused when the guard is built."""
        with pytest.raises(PipelineError, match=r"needs a(n activity| document) name"):
            factory(name)


class TestField:
    """field(name, predicate)."""

    @pytest.mark.parametrize("value", [None, "", [], {}])
    def test_empty_values_fail(self, value: Any) -> None:
        """Missing or empty attributes fail, naming the field."""
        assert field("budget")(view(budget=value)).reasons == (
            "field 'budget' is missing or empty",
        )

    @pytest.mark.parametrize("value", [0, False, "x", 10.5])
    def test_present_values_hold(self, value: Any) -> None:
        """Any non-empty value holds (0 and False are values)."""
        assert field("budget")(view(budget=value)).ok

    def test_predicate(self) -> None:
        """The predicate must hold too, and the reason names it."""

        def positive(v: float) -> bool:
            return v > 0

        g = field("amount", positive)
        assert g(view(amount=5)).ok
        assert g(view(amount=-1)).reasons == ("field 'amount' (= -1) does not satisfy positive",)

    @pytest.mark.parametrize("name", ["", 3, None])
    def test_name_must_be_a_non_empty_string(self, name: Any) -> None:
        """field() needs an attribute name."""
        with pytest.raises(PipelineError, match="needs an attribute name"):
            field(name)

    def test_predicate_must_be_callable(self) -> None:
        """A non-callable predicate is refused."""
        with pytest.raises(PipelineError, match="must be callable"):
            field("amount", 3)  # type: ignore[arg-type]


class TestCombinators:
    """all_of, any_of, at_least, not_, guard."""

    budget = activity("bant", q="budget")
    need = activity("bant", q="need")
    timeline = activity("bant", q="timeline")

    def test_all_of_lists_every_missing_reason(self) -> None:
        """all_of's reasons list every failing guard."""
        v = all_of(self.budget, self.need)(view(("bant", {"q": "need"})))
        assert v.reasons == ("no activity 'bant' with q='budget' has been recorded",)
        v = all_of(self.budget, self.need)(view())
        assert len(v.reasons) == 2

    def test_any_of(self) -> None:
        """any_of holds when one holds."""
        g = any_of(self.budget, self.need)
        assert g(view(("bant", {"q": "need"}))).ok
        v = g(view())
        assert v.reasons[0].startswith("none of the alternatives holds")

    def test_at_least(self) -> None:
        """at_least(2, …) counts the guards that hold; the reason says how many were met."""
        g = at_least(2, self.budget, self.need, self.timeline)
        assert g(view(*acts("bant", q="budget"), ("bant", {"q": "need"}))).ok
        v = g(view(("bant", {"q": "timeline"})))
        assert v.reasons[0].startswith("needs at least 2 of 3 criteria, 1 met; missing:")

    def test_at_least_zero_always_holds(self) -> None:
        """at_least(0, …) holds even when none of its guards does (at least none of them)."""
        g = at_least(0, self.budget, self.need)
        assert g(view()).ok
        assert g(view()).reasons == ()

    @pytest.mark.parametrize("k", [-1, 4, True, "2", 1.5])
    def test_at_least_bad_k(self, k: Any) -> None:
        """k is a whole number between 0 and the number of guards."""
        with pytest.raises(PipelineError, match="0 <= k <= 3"):
            at_least(k, self.budget, self.need, self.timeline)

    def test_not(self) -> None:
        """not_ inverts, with a reason naming what must not hold."""
        g = not_(self.budget)
        assert g(view()).ok
        assert g(view(("bant", {"q": "budget"}))).reasons == (
            "must not hold: activity 'bant' with q='budget' recorded",
        )

    def test_guard_decorator(self) -> None:
        """@guard(description) fails with its description."""

        @guard("the deal is big")
        def big(deal: DealView) -> bool:
            return bool(deal.attributes.get("amount", 0) >= 100)

        assert big(view(amount=100)).ok
        assert big(view(amount=5)).reasons == ("the deal is big",)
        assert big.steps() == ()

    def test_guard_needs_description(self) -> None:
        """guard('') is refused."""
        with pytest.raises(PipelineError, match="non-empty description"):
            guard("")

    def test_combinators_reject_non_callables(self) -> None:
        """Combinators take callables."""
        with pytest.raises(PipelineError, match="takes guards"):
            all_of("x")  # type: ignore[arg-type]
        with pytest.raises(PipelineError, match="at least one guard"):
            any_of()

    def test_plain_bool_callable_is_normalised(self) -> None:
        """A plain ``deal -> bool`` callable is turned into a Verdict with a reason."""

        def has_owner(deal: DealView) -> bool:
            return "owner" in deal.attributes

        assert evaluate(has_owner, view(owner="x")) == Verdict(True)
        assert evaluate(has_owner, view()).reasons == ("has_owner does not hold",)

    def test_bool_answer_is_explained_by_description_then_name(self) -> None:
        """A False from a callable is explained by its description, else by its __name__."""

        class Described:
            description = "the budget is approved"

            def __call__(self, deal: DealView) -> bool:
                return False

        def budget_approved(deal: DealView) -> bool:
            return False

        assert evaluate(Described(), view()).reasons == ("the budget is approved does not hold",)
        assert evaluate(budget_approved, view()).reasons == ("budget_approved does not hold",)

    def test_steps_of_combinators(self) -> None:
        """Combinators list the steps of their parts (at_least: the first k)."""
        assert all_of(self.budget, field("x")).steps() == (
            Step("activity", "bant", {"q": "budget"}),
            Step("field", "x"),
        )
        assert len(at_least(2, self.budget, self.need, self.timeline).steps()) == 2
        assert not_(self.budget).steps() == ()

    def test_descriptions_name_the_combinator(self) -> None:
        """any_of describes itself as "any of", at_least as "at least k of"."""
        assert any_of(self.budget, self.need).description == (
            "any of: activity 'bant' with q='budget' recorded; "
            "activity 'bant' with q='need' recorded"
        )
        assert at_least(2, self.budget, self.need).description.startswith("at least 2 of: ")

    def test_builtin_guards_round_trip_through_dicts(self) -> None:
        """document_sent keeps its own type in to_dict, so guard_from_dict rebuilds an equal guard."""
        doc = document_sent("proposal")
        assert doc.to_dict() == {"type": "document_sent", "document": "proposal"}
        assert guard_from_dict(doc.to_dict()) == doc
        act = activity("call", outcome="ok")
        assert act.to_dict() == {"type": "activity", "name": "call", "match": {"outcome": "ok"}}
        assert guard_from_dict(act.to_dict()) == act
        combo = any_of(doc, at_least(1, act, self.budget))
        assert guard_from_dict(combo.to_dict()) == combo

    def test_steps_are_hashable_by_kind_and_name(self) -> None:
        """A Step hashes without its data (a dict), so steps can go into sets and dict keys."""
        a = Step("activity", "call", {"outcome": "ok"})
        b = Step("activity", "call", {"outcome": "voicemail"})
        assert hash(a) == hash(b)
        assert a != b
        assert len({a, b, Step("activity", "call", {"outcome": "ok"})}) == 2

    def test_guard_from_dict_errors(self) -> None:
        """Bad guard dicts raise PipelineError."""
        with pytest.raises(PipelineError, match="'type' key"):
            guard_from_dict({"name": "x"})
