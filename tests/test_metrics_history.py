"""The per-deal fold that metrics and forecasts are built on (``metrics._history``)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from salesstages import Event, NaiveTimeError
from salesstages.metrics._history import histories, stays
from test_metrics import EVENTS, SHUFFLED, P, day


class TestDealHistory:
    """What one deal folds into."""

    def test_closed_won_with_update(self) -> None:
        """A: opened with amount 100, updated to 120 before its win at d10."""
        a = histories(EVENTS, P).deals["A"]
        assert (a.deal_id, a.opened_at, a.first_entered_at) == ("A", day(0), day(0))
        assert a.opened_attributes == {"amount": 100, "region": "eu"}
        assert a.attributes == {"amount": 120, "region": "eu"}
        assert [st for _, st, _ in a.entries] == ["lead", "qualified", "proposal", "won"]
        assert (a.stage, a.substate, a.outcome, a.is_open) == ("won", None, "won", False)
        assert (a.closed_at, a.closed_amount, a.lost_reason) == (day(10), 120, None)
        assert a.substates == [
            (day(6), "proposal", "review", 2),
            (day(8), "proposal", "negotiation", 2),
        ]
        assert a.last_at == day(10)

    def test_reopened_keeps_latest_closing(self) -> None:
        """D: lost at d3 ('timing'), reopened: open now, the closing is still on record."""
        d = histories(EVENTS, P).deals["D"]
        assert (d.stage, d.outcome, d.is_open) == ("qualified", "open", True)
        assert (d.closed_at, d.closed_amount, d.lost_reason) == (day(3), 30, "timing")
        assert d.entries[1] == (day(3), "lost", MappingProxyType({"reason": "timing"}))

    def test_won_after_reopening_has_no_lost_reason(self) -> None:
        """Lost, reopened, then won: the latest closing is the win, so no lost reason."""
        deal = P.open_deal("W", at=day(0), amount=5)
        deal.lose(at=day(1), reason="price")
        deal.reopen(at=day(2))
        deal.move("proposal", at=day(3))
        deal.win(at=day(4))
        w = histories(deal.events, P).deals["W"]
        assert (w.outcome, w.closed_at, w.closed_amount, w.lost_reason) == ("won", day(4), 5, None)

    def test_in_substate(self) -> None:
        """F is still in proposal's review sub-state."""
        f = histories(EVENTS, P).deals["F"]
        assert (f.stage, f.substate, f.last_at) == ("proposal", "review", day(7))

    def test_stays(self) -> None:
        """stays() lists open-stage stays, the last one open."""
        c = histories(EVENTS, P).deals["C"]
        opens = frozenset(s.name for s in P.open_stages)
        assert stays(c, opens)[-2:] == [
            ("qualified", day(6), day(9), "proposal"),
            ("proposal", day(9), day(12), "won"),
        ]
        f = histories(EVENTS, P).deals["F"]
        assert stays(f, opens)[-1] == ("proposal", day(6), None, None)

    def test_repr(self) -> None:
        """The repr shows the path and the outcome."""
        b = histories(EVENTS, P).deals["B"]
        assert repr(b) == (
            "DealHistory('B', opened_at=2026-01-05T09:00:00+00:00, lead → proposal → lost, "
            "outcome='lost')"
        )


class TestHistories:
    """The whole fold: order, as_of, the fast path."""

    def test_as_of_defaults_to_latest_event(self) -> None:
        """Without as_of the cut-off is the latest event; with one, that moment."""
        assert histories(EVENTS, P).as_of == day(12)
        assert histories(EVENTS, P, as_of=day(20)).as_of == day(20)
        assert histories([], P).as_of is None
        assert repr(histories(EVENTS, P)) == "Histories(7 deals, as_of=2026-01-17T09:00:00+00:00)"

    def test_as_of_cuts_each_deal(self) -> None:
        """As of d4.5: C is in proposal, E does not exist before d2, G not at all."""
        h = histories(EVENTS, P, as_of=day(4.5))
        assert list(h.deals) == ["A", "B", "C", "D", "E", "F"]
        assert h.deals["C"].stage == "proposal"
        assert h.deals["D"].outcome == "lost"

    def test_fast_path_and_fallback_agree(self) -> None:
        """Grouped input takes the fast path; any other order folds to the same deals."""
        fast = histories(EVENTS, P)
        slow = histories(SHUFFLED, P)
        assert fast.grouped
        assert not slow.grouped
        assert sorted(fast.deals) == sorted(slow.deals)
        for deal_id, h in fast.deals.items():
            other = slow.deals[deal_id]
            for name in h.__slots__:
                assert getattr(h, name) == getattr(other, name), (deal_id, name)

    def test_fast_path_with_cut_deal(self) -> None:
        """A deal cut entirely by as_of that shows up again later is still caught as ungrouped."""
        late = [e for e in EVENTS if e.deal_id == "G"]
        rest = [e for e in EVENTS if e.deal_id != "G"]
        # G's 'opened' first, then everything else, then G's stage entry: not grouped
        evs = [late[0], *rest, late[1]]
        h = histories(evs, P, as_of=day(12))
        assert not h.grouped
        assert h.deals["G"].entries == [(day(11), "lead", MappingProxyType({}))]

    def test_duplicate_seq_is_not_grouped(self) -> None:
        """A repeated seq within a deal leaves the fast path."""
        evs = [*EVENTS[:3], EVENTS[2], *EVENTS[3:]]
        assert not histories(evs, P).grouped

    def test_naive_as_of(self) -> None:
        """A naive as_of is refused."""
        with pytest.raises(NaiveTimeError):
            histories(EVENTS, P, as_of=day(1).replace(tzinfo=None))

    def test_deal_without_opened_event(self) -> None:
        """A log that starts at the stage entry still folds (opened_at = first entry)."""
        evs = [Event.create(deal_id="X", seq=1, at=day(1), kind="stage_entered", stage="lead")]
        x = histories(evs, P).deals["X"]
        assert (x.opened_at, x.opened_attributes) == (day(1), {})
