"""The report's "Paths", "Conformance" and "Team" sections, and segment charts with many
segments (at most 12 named plus "others", legend wrapped, no repeated colour)."""

from __future__ import annotations

import re

from _helpers import day, plain_pipeline
from salesstages import Event, MemoryStore, metrics
from salesstages.report import build_report, render_html, render_text
from salesstages.report._segments import MAX_NAMED, capped
from salesstages.report._style import segment_colours
from test_people import EV as PEOPLE
from test_people import P as PEOPLE_P


class TestSections:
    def test_paths_conformance_and_team(self) -> None:
        """The sections carry the metrics' figures: the people log's 4 paths, its
        conformance (P1, P3, P5 follow the main path; P2 lost from b is fine too: 4 of 4
        closed), and the scorecard's rows."""
        report = build_report(PEOPLE, PEOPLE_P, as_of=day(10))
        paths = report.section("paths").records()
        assert len(paths) == len(metrics.paths(PEOPLE, PEOPLE_P, as_of=day(10)))
        assert paths[0]["path"] == "a → b → c → won"
        assert paths[0]["deals"] == 2  # P1 and P5
        conf = report.section("conformance")
        assert conf.lead == ("100% of closed deals followed the main path (4 of 4)",)
        team = report.section("team").records()
        card = metrics.scorecard(PEOPLE, PEOPLE_P, as_of=day(10))
        assert [(r["owner"], r["stage"], r["rank"]) for r in team] == [
            (r.owner, r.stage, r.rank) for r in card
        ]
        text = render_text(report)
        assert "Team: stage conversion by owner" in text
        assert "not different from the team" in text
        assert 'data-chart="team"' in render_html(report)

    def test_team_from_a_fold_says_why(self) -> None:
        """Given a fold, the team section is empty and says it needs the events."""
        report = build_report(metrics.histories(PEOPLE, PEOPLE_P), PEOPLE_P)
        assert report.section("team").rows == ()
        assert "needs the events" in report.section("team").empty

    def test_no_owner(self) -> None:
        """A log without owners: the team section says no deal has one."""
        store = MemoryStore()
        PEOPLE_P.open_deal("X", at=day(0), store=store).win(at=day(1))
        report = build_report(list(store.events()), PEOPLE_P)
        assert "no deal has the attribute 'owner'" in report.section("team").empty


def test_capped_by_hand() -> None:
    """15 segments: the 12 best by rate named (20/20 … 9/20), the 3 last pooled
    (1 + 0 + 0 of 4 + 2 + 2 = 1/8)."""
    rows = [(f"s{i:02d}", 20 - i, 20) for i in range(12)] + [
        ("x", 1, 4),
        ("y", 0, 2),
        ("z", 0, 2),
    ]
    got = capped(rows)
    assert [r[0] for r in got][:3] == ["s00", "s01", "s02"]
    assert len(got) == MAX_NAMED + 1
    assert got[-1][0] == "others (3)"
    assert (got[-1][2], got[-1][3]) == (1, 8)
    assert got[-1][1] == 1 / 8
    assert capped([("a", 0, 0), ("b", 1, 2)]) == [("b", 0.5, 1, 2), ("a", None, 0, 0)]


def test_named_segments_never_share_a_colour() -> None:
    """12 named segments, 12 colours; "others" and "(none)" are greys of their own."""
    names = [f"rep {i}" for i in range(12)] + ["others (18)", "(none)"]
    colours = segment_colours(names)
    named = [colours[n] for n in names[:12]]
    assert len(set(named)) == 12
    assert colours["others (18)"] not in named
    assert colours["(none)"] not in named


def _thirty() -> list[Event]:
    """30 sources, one won and one lost deal each (a third of them a second win)."""
    p = plain_pipeline()
    store = MemoryStore()
    for i in range(30):
        src = f"source number {i:02d}"
        p.open_deal(f"W{i}", at=day(0), store=store, source=src).win(at=day(1))
        p.open_deal(f"L{i}", at=day(0), store=store, source=src).lose(at=day(1), reason="x")
        if i % 3 == 0:
            p.open_deal(f"V{i}", at=day(0), store=store, source=src).win(at=day(2))
    return list(store.events())


def test_a_segment_chart_with_thirty_values() -> None:
    """--by with 30 values: the win-rate chart names 12, sorted by rate, then "others";
    its legend wraps onto several lines inside the chart."""
    report = build_report(_thirty(), plain_pipeline(), by="source")
    chart = report.section("win-rate").chart
    assert chart is not None
    names = [r[0] for r in chart.rows]
    assert len(names) == MAX_NAMED + 1
    assert names[-1] == "others (18)"
    rates = [r[1] for r in chart.rows[:-1]]
    assert rates == sorted(rates, reverse=True)  # type: ignore[type-var]
    html = render_html(report)
    svg = re.search(r'<svg class="chart" data-chart="win-rate".*?</svg>', html, re.S)
    assert svg is not None
    legend = re.search(r'<g class="legend">(.*?)</g>', svg.group(0), re.S)
    assert legend is not None
    ys = {float(y) for y in re.findall(r'<text[^>]* y="([\d.]+)"', legend.group(1))}
    assert len(ys) >= 2  # wrapped
    view = re.search(r'viewBox="0 0 ([\d.]+) ', svg.group(0))
    assert view is not None
    width = float(view.group(1))
    for x, label in re.findall(r'<text[^>]* x="([\d.]+)"[^>]*>([^<]*)</text>', legend.group(1)):
        assert float(x) + 6.2 * len(label) <= width, label  # inside the chart
