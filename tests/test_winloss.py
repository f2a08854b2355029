"""Win/loss analysis (``salesstages.metrics._winloss``): groups, intervals, lift, buckets."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from _helpers import day
from salesstages import DataError, Event, Pipeline
from salesstages._stats import wilson_interval
from salesstages.metrics._winloss import (
    ClosedDeal,
    days_until,
    fewer_than,
    win_loss,
    within,
)


def closed(pipeline: Pipeline, deals: list[tuple[str, str, dict[str, Any]]]) -> list[Event]:
    """Deals opened on day 0 in ``a`` and closed on day 10 with the given outcome and attributes.

    An outcome of ``"open"`` leaves the deal open.
    """
    events: list[Event] = []
    for deal_id, outcome, attributes in deals:
        events.append(Event(deal_id=deal_id, seq=0, at=day(0), kind="opened", data=attributes))
        events.append(
            Event.create(deal_id=deal_id, seq=1, at=day(0), kind="stage_entered", stage="a")
        )
        if outcome != "open":
            events.append(
                Event.create(
                    deal_id=deal_id,
                    seq=2,
                    at=day(10),
                    kind="stage_entered",
                    stage=outcome,
                    data={"reason": "price"} if outcome == "lost" else None,
                )
            )
    return events


@pytest.fixture
def regions(plain: Pipeline) -> list[Event]:
    """emea: 8 won of 10; na: 2 won of 10; apac: 1 won of 2; and one open deal."""
    deals: list[tuple[str, str, dict[str, Any]]] = []
    for region, won, lost in (("emea", 8, 2), ("na", 2, 8), ("apac", 1, 1)):
        deals += [(f"{region}-w{i}", "won", {"region": region}) for i in range(won)]
        deals += [(f"{region}-l{i}", "lost", {"region": region}) for i in range(lost)]
    deals.append(("open", "open", {"region": "emea"}))
    return closed(plain, deals)


class TestWinLoss:
    """Grouping, intervals, lift and ranking."""

    def test_hand_computed(self, plain: Pipeline, regions: list[Event]) -> None:
        """Overall 11 of 22 = 0.5; emea 0.8 (lift 1.6), na 0.2 (lift 0.4), apac 0.5.

        Score = (rate − 0.5) / √(0.25 / n): emea and na ±0.3 / 0.1581 = ±1.897,
        apac 0; ties on |score| keep more deals first, then the key.
        """
        wl = win_loss(regions, plain, by="region", at="closing")
        assert (wl.won, wl.lost, wl.win_rate, wl.excluded) == (11, 11, 0.5, 0)
        assert [g.key for g in wl.groups] == ["emea", "na", "apac"]
        emea, na, apac = wl.groups
        assert (emea.won, emea.lost, emea.deals) == (8, 2, 10)
        assert emea.win_rate == pytest.approx(0.8)
        assert emea.lift == pytest.approx(1.6)
        assert na.lift == pytest.approx(0.4)
        assert emea.score == pytest.approx(0.3 / math.sqrt(0.025))
        assert na.score == pytest.approx(-0.3 / math.sqrt(0.025))
        assert apac.score == 0.0
        assert (emea.lower, emea.upper) == pytest.approx(wilson_interval(8, 10))
        assert wl.by == "region"

    def test_min_deals_drops_small_groups(self, plain: Pipeline, regions: list[Event]) -> None:
        """Groups below ``min_deals`` are left out but still count overall."""
        wl = win_loss(regions, plain, by="region", min_deals=3, at="closing")
        assert [g.key for g in wl.groups] == ["emea", "na"]
        assert wl.won + wl.lost == 22

    def test_missing_attribute_is_its_own_group(self, plain: Pipeline) -> None:
        """Deals without the attribute form the group ``None``; lists and dicts become tuples."""
        events = closed(
            plain,
            [
                ("A", "won", {}),
                ("B", "lost", {"tags": ["x", "y"]}),
                ("C", "won", {"tags": ["x", "y"]}),
                ("D", "won", {"tags": {"y": 1, "x": [2]}}),
            ],
        )
        wl = win_loss(events, plain, by="tags", at="closing")
        assert {g.key for g in wl.groups} == {None, ("x", "y"), (("x", (2,)), ("y", 1))}
        assert "(missing)" in wl.summary()

    def test_attributes_at_closing_or_opening(self, plain: Pipeline) -> None:
        """By default the value at opening counts (as every by=); ``at="closing"`` the last one."""
        events = closed(plain, [("A", "won", {"tier": "small"})])
        events.insert(
            2,
            Event.create(
                deal_id="A", seq=2, at=day(5), kind="updated", stage="a", data={"tier": "big"}
            ),
        )
        events[-1] = Event.create(deal_id="A", seq=3, at=day(10), kind="stage_entered", stage="won")
        assert [g.key for g in win_loss(events, plain, by="tier", at="closing").groups] == ["big"]
        opened = win_loss(events, plain, by="tier")
        assert [g.key for g in opened.groups] == ["small"]

    def test_old_spellings_warn(self, plain: Pipeline) -> None:
        """The old positional by and attributes= still work, each with a warning."""
        events = closed(plain, [("A", "won", {"tier": "small"})])
        with pytest.warns(DeprecationWarning, match=r"pass by=\.\.\. as keywords"):
            old = win_loss(events, plain, "tier", at="closing")
        assert old == win_loss(events, plain, by="tier", at="closing")
        with pytest.warns(DeprecationWarning, match=r"attributes='opened' is deprecated; use at="):
            old = win_loss(events, plain, by="tier", attributes="opened")
        assert old == win_loss(events, plain, by="tier")
        with pytest.raises(TypeError, match=r"both attributes= .* and at="):
            win_loss(events, plain, by="tier", attributes="opened", at="opening")

    def test_bucketing_function(self, plain: Pipeline, regions: list[Event]) -> None:
        """A function picks the key; returning None leaves the deal out."""

        def europe(deal: ClosedDeal) -> str | None:
            region = deal.attributes["region"]
            return None if region == "apac" else region == "emea"

        wl = win_loss(regions, plain, by=europe, at="closing")
        assert wl.by == "europe"
        assert wl.excluded == 2
        assert (wl.won, wl.lost) == (10, 10)
        assert {g.key for g in wl.groups} == {True, False}

    def test_as_of(self, plain: Pipeline, regions: list[Event]) -> None:
        """Before the closings on day 10 no deal is closed."""
        wl = win_loss(regions, plain, by="region", as_of=day(5), at="closing")
        assert wl.groups == ()
        assert wl.win_rate is None
        assert "n/a" in wl.summary()

    def test_all_won_has_no_lift_score(self, plain: Pipeline) -> None:
        """With an overall rate of 1 the score is 0 and the lift is 1."""
        wl = win_loss(
            closed(plain, [("A", "won", {"r": 1}), ("B", "won", {"r": 2})]),
            plain,
            by="r",
            at="closing",
        )
        assert all(g.score == 0.0 for g in wl.groups)
        assert all(g.lift == 1.0 for g in wl.groups)

    def test_all_lost_has_no_lift(self, plain: Pipeline) -> None:
        """With an overall rate of 0 the lift is undefined."""
        wl = win_loss(closed(plain, [("A", "lost", {"r": 1})]), plain, by="r", at="closing")
        assert wl.groups[0].lift is None
        assert "n/a" in str(wl)

    def test_reprs_are_readable(self, plain: Pipeline, regions: list[Event]) -> None:
        """The result and group reprs show the figures that matter."""
        wl = win_loss(regions, plain, by="region", at="closing")
        assert repr(wl) == (
            "WinLoss(by='region', won=11, lost=11, win_rate=0.5, groups=3, excluded=0)"
        )
        assert repr(wl.groups[0]).startswith("WinLossGroup(key='emea', won=8, lost=2, win_rate=0.8")
        assert "emea" in str(wl)
        assert "95% interval" in str(wl)

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"by": ""}, "attribute"),
            ({"by": 3}, "attribute name or a function"),
            ({"by": "r", "at": "now"}, "at must be"),
            ({"by": "r", "level": 1.0}, "level"),
            ({"by": "r", "min_deals": 0}, "min_deals"),
            ({"by": "r", "min_deals": True}, "min_deals"),
        ],
    )
    def test_bad_arguments_refused(
        self, plain: Pipeline, kwargs: dict[str, Any], match: str
    ) -> None:
        """Each bad argument raises ValueError naming it."""
        with pytest.raises(ValueError, match=match):
            win_loss([], plain, **kwargs)


def spiced(plain: Pipeline) -> list[Event]:
    """Critical events 30, 100, 130 and 200 days after opening, one passed, one missing."""
    rows: list[tuple[str, str, dict[str, Any]]] = [
        ("A", "won", {"critical_event": (day(30)).date().isoformat()}),
        ("B", "won", {"critical_event": day(100).isoformat()}),
        ("C", "lost", {"critical_event": day(130)}),
        ("D", "lost", {"critical_event": day(200).date()}),
        ("E", "lost", {"critical_event": "2020-01-01"}),
        ("F", "lost", {"critical_event": ""}),
    ]
    return closed(plain, rows)


class TestBuckets:
    """Date-distance and count buckets."""

    def test_within(self, plain: Pipeline) -> None:
        """Within 120 days of opening: A and B (both won); beyond: C and D; E passed; F missing."""
        bucket = within("critical_event", timedelta(days=120))
        wl = win_loss(spiced(plain), plain, by=bucket, at="closing")
        groups = {g.key: (g.won, g.lost) for g in wl.groups}
        assert groups == {
            "critical_event within 120 days": (2, 0),
            "critical_event beyond 120 days": (0, 2),
            "critical_event already passed": (0, 1),
            "critical_event missing": (0, 1),
        }
        assert wl.by == "critical_event within 120 days of opened"

    def test_within_of_closing(self, plain: Pipeline) -> None:
        """Counted from the closing on day 10, A's day-30 event is 20 days away."""
        bucket = within("critical_event", timedelta(days=20), of="closed")
        wl = win_loss(spiced(plain), plain, by=bucket, at="closing")
        groups = {g.key: g.deals for g in wl.groups}
        assert groups["critical_event within 20 days"] == 1

    def test_days_until(self, plain: Pipeline) -> None:
        """Edges (30, 120) give ≤30, 31–120 and >120 buckets."""
        bucket = days_until("critical_event", (30, 120))
        wl = win_loss(spiced(plain), plain, by=bucket, at="closing")
        groups = {g.key: g.deals for g in wl.groups}
        assert groups == {
            "critical_event ≤30 days": 1,
            "critical_event 31–120 days": 1,
            "critical_event >120 days": 2,
            "critical_event already passed": 1,
            "critical_event missing": 1,
        }

    def test_fewer_than(self, plain: Pipeline) -> None:
        """Lists count their length, numbers are counts, absent values are missing."""
        events = closed(
            plain,
            [
                ("A", "lost", {"stakeholders": ["cfo"]}),
                ("B", "lost", {"stakeholders": 0}),
                ("C", "won", {"stakeholders": ["cfo", "cto"]}),
                ("D", "won", {"stakeholders": 3}),
                ("E", "won", {}),
            ],
        )
        wl = win_loss(events, plain, by=fewer_than("stakeholders", 2), at="closing")
        groups = {g.key: (g.won, g.lost) for g in wl.groups}
        assert groups == {
            "stakeholders fewer than 2": (0, 2),
            "stakeholders 2 or more": (2, 0),
            "stakeholders missing": (1, 0),
        }

    @pytest.mark.parametrize("value", ["soon", 42, datetime(2026, 3, 1)])
    def test_unreadable_date_refused(self, plain: Pipeline, value: Any) -> None:
        """A value that is not a date (or a naive datetime) raises DataError naming the deal."""
        events = closed(plain, [("A", "won", {"critical_event": value})])
        with pytest.raises(DataError, match="'A'"):
            win_loss(events, plain, by=within("critical_event", timedelta(days=120)), at="closing")

    def test_aware_datetime_and_date_accepted(self, plain: Pipeline) -> None:
        """Aware datetimes in another zone and plain dates both work."""
        tz = datetime(2026, 1, 20, 23, 0, tzinfo=UTC).astimezone().tzinfo
        events = closed(
            plain,
            [
                ("A", "won", {"critical_event": datetime(2026, 1, 20, tzinfo=tz)}),
                ("B", "won", {"critical_event": date(2026, 1, 20)}),
                ("C", "won", {"critical_event": "2026-01-20T10:00:00+05:00"}),
            ],
        )
        wl = win_loss(events, plain, by=within("critical_event", timedelta(days=30)), at="closing")
        assert [g.key for g in wl.groups] == ["critical_event within 30 days"]

    @pytest.mark.parametrize("value", ["two", True])
    def test_bad_count_refused(self, plain: Pipeline, value: Any) -> None:
        """A stakeholder value that is neither a count nor a list (a bool is no count) raises DataError."""
        events = closed(plain, [("A", "won", {"stakeholders": value})])
        with pytest.raises(DataError, match="neither a count nor a list"):
            win_loss(events, plain, by=fewer_than("stakeholders", 2), at="closing")

    @pytest.mark.parametrize(
        ("make", "match"),
        [
            (lambda: within("x", timedelta(days=-1)), "limit"),
            (lambda: within("x", 5), "limit"),  # type: ignore[arg-type]
            (lambda: within("x", timedelta(days=1), of="now"), "of"),  # type: ignore[arg-type]
            (lambda: days_until("x", []), "non-empty"),
            (lambda: days_until("x", "30"), "non-empty"),  # type: ignore[arg-type]
            (lambda: days_until("x", [30, 10]), "increasing"),
            (lambda: days_until("x", [-1]), "non-negative"),
            (lambda: days_until("x", [1.5]), "non-negative"),  # type: ignore[list-item]
            (lambda: fewer_than("x", 0), "n must"),
            (lambda: fewer_than("x", True), "n must"),
        ],
    )
    def test_bad_helper_arguments_refused(self, make: Any, match: str) -> None:
        """Each helper checks its arguments when it is built."""
        with pytest.raises(ValueError, match=match):
            make()


def test_public_surface() -> None:
    """The module's ``__all__`` is sorted and every class and function in it is documented."""
    from salesstages.metrics import _winloss

    assert list(_winloss.__all__) == sorted(set(_winloss.__all__))
    for name in set(_winloss.__all__) - {"Bucketer"}:  # a type alias, documented by its comment
        assert getattr(_winloss, name).__doc__, name
