"""The report's charts, in HTML (inline SVG) and matplotlib: one style for both.

A method and a segment keep their colour whatever the ranking, ticks are round
numbers, every chart has its axis titles and a legend where two colours or
more appear, stages show by label, and the page holds no command-line hint.
"""

from __future__ import annotations

import itertools
import math
import re
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _cli_data import demo_events
from salesstages.presets import inbound_b2b
from salesstages.report import Report, Section, build_report, render_html, render_text
from salesstages.report._html import CHARTS, PERIOD_CHARTS
from salesstages.report._model import chart_records
from salesstages.report._style import (
    METHOD_COLOURS,
    method_colour,
    nice_ticks,
    segment_colours,
    tick_label,
)
from salesstages.report._svg import chart_svg


@pytest.fixture(scope="module")
def report() -> Report:
    """The demo quarter's report (150 deals), by lead source."""
    return build_report(demo_events(), inbound_b2b(), by="lead_source")


@pytest.fixture(scope="module")
def period_report() -> Report:
    """The same log reviewed as a period (2026-Q1, mid-March) against a target, so the
    page also draws the coverage and movement charts."""
    return build_report(
        demo_events(),
        inbound_b2b(),
        by="lead_source",
        as_of=datetime(2026, 3, 15, 23, 59, tzinfo=UTC),
        period="2026-Q1",
        target=4_000_000,
    )


def _charted(report: Report, name: str) -> Section:
    """The section drawn as chart ``name``."""
    return next(s for s in report.sections if s.chart is not None and s.chart.name == name)


def _svg(report: Report, name: str) -> str:
    section = _charted(report, name)
    assert section.chart is not None
    return chart_svg(section.chart, section)


def _plot(ax: Any, report: Report, name: str) -> None:
    from salesstages.report._plot import draw

    section = _charted(report, name)
    assert section.chart is not None
    draw(ax, section.chart, chart_records(section.chart, section))


def _reordered(report: Report) -> Report:
    """The same report with the backtest's methods ranked the other way round."""
    section = report.section("backtest")
    assert section.chart is not None
    actual, *methods = section.chart.values
    values = (actual, *reversed(methods))
    legend = (section.chart.legend[0], *reversed(section.chart.legend[1:]))
    chart = attrs.evolve(section.chart, values=values, legend=legend)
    return report.replace(attrs.evolve(section, chart=chart))


def _bar_colours(svg: str) -> dict[str, set[str]]:
    """Each backtest series' bar colours, from the bars' tooltips (``<date> <series>: …``)."""
    out: dict[str, set[str]] = {}
    for fill, series in re.findall(
        r'fill="(#[0-9a-f]{6})" rx="2"><title>\d{4}-\d\d-\d\d (\w+): ', svg
    ):
        out.setdefault(series, set()).add(fill)
    return out


# --------------------------------------------------------------------- colours
def test_method_colour_does_not_follow_the_ranking(report: Report) -> None:
    """The backtest draws each method in its fixed colour, whichever rank it has."""
    first = _bar_colours(_svg(report, "backtest"))
    second = _bar_colours(_svg(_reordered(report), "backtest"))
    assert first == second
    assert first["weighted"] == {METHOD_COLOURS["weighted"]}
    assert first["actual"] == {METHOD_COLOURS["actual"]}
    assert len({c for cs in first.values() for c in cs}) == len(first)  # all distinct


def test_unknown_method_gets_a_stable_colour() -> None:
    """A method without a fixed colour gets the same one every time, not a fixed one's."""
    assert method_colour("ensemble") == method_colour("ensemble")
    assert method_colour("ensemble") not in METHOD_COLOURS.values()


def test_segment_colours_by_name_not_rank() -> None:
    """A segment's colour depends on the set of names, not on their order."""
    a = segment_colours(["referral", "event", "(none)", "partner"])
    b = segment_colours(["partner", "(none)", "event", "referral"])
    assert a == b
    assert len(set(a.values())) == 4
    assert a["(none)"] == "#9ca3af"


def test_win_rate_bars_wear_their_segment_colour_with_a_legend(report: Report) -> None:
    """Each segment's bar has its colour, and the legend names every segment and the overall line."""
    svg = _svg(report, "win-rate")
    names = report.section("segments").column("value")
    colours = segment_colours(str(name) for name in names)
    legend = re.search(r'<g class="legend">(.*?)</g>', svg)
    assert legend is not None
    for value in names:
        name = str(value)
        assert re.search(rf'fill="{colours[name]}" rx="2"><title>{name}: ', svg)
        assert f">{name}</text>" in legend.group(1)
    assert "overall" in legend.group(1)


# ----------------------------------------------------------------------- ticks
def test_nice_ticks_example() -> None:
    """An axis up to 2.45M ticks every 500k, labelled 0, 500k, 1M … 2.5M (not 625k, 1.2M)."""
    ticks = nice_ticks(2_450_000)
    assert [tick_label(t, ticks, "amount") for t in ticks] == [
        "0",
        "500k",
        "1M",
        "1.5M",
        "2M",
        "2.5M",
    ]
    days = nice_ticks(39.3)
    assert [tick_label(t, days, "days") for t in days] == ["0 d", "10 d", "20 d", "30 d", "40 d"]
    share = nice_ticks(1.0)
    assert [tick_label(t, share, "share") for t in share] == [
        "0%",
        "20%",
        "40%",
        "60%",
        "80%",
        "100%",
    ]


@given(st.floats(min_value=1e-3, max_value=1e12, allow_nan=False))
def test_nice_ticks_are_round_and_cover(high: float) -> None:
    """Ticks start at 0, reach ``high``, step evenly by 1, 2 or 5 times a power of ten."""
    ticks = nice_ticks(high)
    assert ticks[0] == 0.0
    assert ticks[-1] >= high * (1 - 1e-9)
    assert 3 <= len(ticks) <= 9
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-9) for m in (1.0, 2.0, 5.0, 10.0))
    for a, b in itertools.pairwise(ticks):
        assert math.isclose(b - a, step, rel_tol=1e-6)


def test_backtest_ticks_are_round(report: Report) -> None:
    """The backtest's amount axis is labelled with round values only."""
    svg = _svg(report, "backtest")
    labels = re.findall(
        r'text-anchor="end" font-size="10" fill="#6b7280" font-weight="normal">([^<]+)</text>', svg
    )
    assert len(labels) >= 3
    scale = {"k": 1e3, "M": 1e6}
    values = sorted(float(x[:-1]) * scale[x[-1]] if x[-1] in scale else float(x) for x in labels)
    step = values[1] - values[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m) for m in (1.0, 2.0, 5.0)), labels
    for a, b in itertools.pairwise(values):
        assert math.isclose(b - a, step), labels


# ------------------------------------------------------------------------ axes
def test_time_to_close_y_title_beside_the_y_axis(report: Report) -> None:
    """The y-axis title is turned up left of the plot, the x-axis title under the x axis."""
    svg = _svg(report, "time-to-close")
    titles = re.findall(
        r'<text class="axis-label" x="([\d.]+)" y="([\d.]+)"[^>]*?(transform="rotate\(-90[^"]*")?>'
        r"([^<]+)</text>",
        svg,
    )
    by_text = {t[3]: t for t in titles}
    x_title = by_text["days since the deal was opened"]
    y_title = by_text["share of deals still open"]
    assert y_title[2]  # rotated
    assert float(y_title[0]) < 76  # left of the plot area
    assert not x_title[2]
    assert float(x_title[1]) > 250  # below the plot area (which ends at y = 250)


@pytest.mark.parametrize("which", ["plain", "period"])
def test_every_chart_has_axis_titles_or_a_legend(
    report: Report, period_report: Report, which: str
) -> None:
    """Each chart of the page carries a legend; charts with an axis carry its title; the
    period view's coverage and movement charts too, drawn first."""
    rep = period_report if which == "period" else report
    html = render_html(rep)
    found = re.findall(r'<svg class="chart" data-chart="([\w-]+)"(.*?)</svg>', html, re.S)
    expected = (PERIOD_CHARTS if which == "period" else ()) + CHARTS
    assert [name for name, _ in found] == list(expected)
    for name, body in found:
        assert '<g class="legend">' in body, name
        if name != "funnel":
            assert 'class="axis-label"' in body, name


def _legend_labels(svg: str) -> list[str]:
    legend = re.search(r'<g class="legend">(.*?)</g>', svg)
    assert legend is not None
    return re.findall(r">([^<>]+)</text>", legend.group(1))


def test_period_charts_name_what_they_draw(period_report: Report) -> None:
    """The waterfall's legend names total, increase and decrease, the bullet's won, open
    and target, and the actions' bar, whisker and tick; each in the colour it draws."""
    from salesstages.report._style import BLUE, COVERAGE_KEYS, GREEN, MOVEMENT_KEYS, RED

    waterfall = _svg(period_report, "movement")
    assert _legend_labels(waterfall) == [label for label, _ in MOVEMENT_KEYS.values()]
    assert 'class="axis-label"' in waterfall
    # the demo quarter: created is a rise (green), won a fall (red), closing a level (blue)
    assert re.search(rf'fill="{GREEN}" rx="2"><title>\+ created: ', waterfall)
    assert re.search(rf'fill="{RED}" rx="2"><title>− won: ', waterfall)
    assert re.search(rf'fill="{BLUE}" rx="2"><title>closing: ', waterfall)
    bullet = _svg(period_report, "coverage")
    assert _legend_labels(bullet) == [label for label, _ in COVERAGE_KEYS.values()]
    assert re.search(rf'fill="{COVERAGE_KEYS["won"][1]}" rx="2"><title>all: won ', bullet)
    actions = _svg(period_report, "actions")
    assert _legend_labels(actions) == [
        "advanced with the activity",
        "95% interval",
        "advanced without it",
    ]


def _tick_values(svg: str, anchor: str) -> list[float]:
    """The numbers of a chart's tick labels (``500k``, ``1.5M``, ``40%``)."""
    labels = re.findall(
        rf'text-anchor="{anchor}" font-size="10" fill="#6b7280" font-weight="normal">'
        r"([^<]+)</text>",
        svg,
    )
    scale = {"k": 1e3, "M": 1e6, "%": 1e-2}
    numbers = [x for x in labels if re.fullmatch(r"-?[\d.]+[kM%]?", x)]  # not a column title
    return [float(x[:-1]) * scale[x[-1]] if x[-1] in scale else float(x) for x in numbers]


def test_period_and_actions_ticks_are_round(period_report: Report) -> None:
    """The waterfall's amount axis, the bullet's and the actions' axes tick at round values
    in even steps (1, 2 or 5 times a power of ten)."""
    for values in (
        _tick_values(_svg(period_report, "movement"), "end"),
        _tick_values(_svg(period_report, "coverage"), "middle"),
        _tick_values(_svg(period_report, "actions"), "middle"),
    ):
        assert len(values) >= 3, values
        step = values[1] - values[0]
        mantissa = step / 10 ** math.floor(math.log10(abs(step)))
        assert any(math.isclose(mantissa, m) for m in (1.0, 2.0, 5.0)), values
        for a, b in itertools.pairwise(values):
            assert math.isclose(b - a, step), values


def test_period_charts_import_no_colour_from_the_html_module() -> None:
    """The period and actions charts take their colours from ``_style``, not ``_html``."""
    from pathlib import Path

    from salesstages.report import _actions, _period, _period_sections, _sections

    for module in (_actions, _period, _period_sections, _sections):
        text = Path(str(module.__file__)).read_text(encoding="utf-8")
        for name in ("_BLUE", "_GREEN", "_RED", "_INK", "_MUTED", "_GRID", "_LIGHT_BLUE"):
            assert f" {name}," not in text, (module, name)
            assert f" {name}\n" not in text, (module, name)


# ---------------------------------------------------------------- labels, hints
def test_stalled_deals_show_stage_labels(report: Report) -> None:
    """The stalled tables (HTML and text) name stages by their label, not their id."""
    assert report.section("stalled").rows
    html = render_html(report)
    text = render_text(report)
    stalled_html = html[html.index("Stalled deals") :]
    stalled_text = text[text.index("Stalled deals") :].split("\n\n")[0]
    for name in ("inbound_lead", "formal_proposal", "solution_overview"):
        assert name not in stalled_html
        assert name not in stalled_text
    assert "Inbound lead" in stalled_html or "Evaluation" in stalled_html


def test_html_holds_no_command_line_hint(report: Report) -> None:
    """The page lists every stalled deal (the rest behind a fold), with no ``--format`` hint."""
    stalled = report.section("stalled")
    rows = [(f"X{i:03}", "Discovery", 30.0 - i / 10, None, "discovery") for i in range(45)]
    big = report.replace(attrs.evolve(stalled, rows=rows, total=45))
    html = render_html(big)
    assert "--format" not in html
    assert "Show the other 25 rows" in html
    for i in range(45):
        assert f">X{i:03}<" in html


def test_period_view_holds_no_command_line_hint() -> None:
    """The period view's page lists every slipping deal (the rest behind a fold) and
    names no option, with a target or without one."""
    events = demo_events()
    as_of = datetime(2026, 3, 15, 23, 59, tzinfo=UTC)
    for target in (4_000_000, None):
        rep = build_report(events, inbound_b2b(), as_of=as_of, period="2026-Q1", target=target)
        slipping = rep.section("slipping")
        rows = [(f"S{i:03}", *slipping.rows[0][1:]) for i in range(30)]
        html = render_html(rep.replace(attrs.evolve(slipping, rows=rows, total=30)))
        assert re.search(r"--[a-z]", html) is None
        assert "Show the other 10 rows" in html  # 30 deals, 20 shown
        for i in range(30):
            assert f">S{i:03}<" in html


# ------------------------------------------------------------------ matplotlib
def _axes() -> Any:
    figure = pytest.importorskip("matplotlib.figure").Figure
    return figure(figsize=(8, 4.5), layout="constrained").add_subplot()


def test_matplotlib_funnel_has_the_won_bar(report: Report) -> None:
    """The matplotlib funnel ends with the Won bar, like the HTML one, with room for its labels."""
    ax = _axes()
    _plot(ax, report, "funnel")
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "Won"  # the lowest bar (ticks listed bottom-up)
    widest = max(p.get_width() for p in ax.patches)
    assert ax.get_xlim()[1] >= 1.3 * widest  # the "n ↓ x% convert" notes fit
    assert ax.get_legend() is not None


def test_matplotlib_backtest_uses_the_fixed_colours(report: Report) -> None:
    """The matplotlib backtest colours each method as the HTML one does, whatever the ranking."""
    from matplotlib.colors import to_hex

    for rep in (report, _reordered(report)):
        ax = _axes()
        _plot(ax, rep, "backtest")
        handles, names = ax.get_legend_handles_labels()
        colours = {
            n: to_hex(h.patches[0].get_facecolor()) for h, n in zip(handles, names, strict=True)
        }
        assert colours["weighted"] == METHOD_COLOURS["weighted"]
        assert colours["actually won"] == METHOD_COLOURS["actual"]
        ticks = [t.get_text() for t in ax.get_yticklabels()]
        assert "625k" not in ticks


def test_matplotlib_axis_titles(report: Report, period_report: Report) -> None:
    """Every matplotlib chart (the period view's too) has its x-axis title and a legend,
    time to close and the waterfall their y-axis title too."""
    charts = [(name, report) for name in CHARTS] + [(name, period_report) for name in PERIOD_CHARTS]
    for name, rep in charts:
        ax = _axes()
        _plot(ax, rep, name)
        assert ax.get_xlabel(), name
        assert ax.get_legend() is not None, name
    ax = _axes()
    _plot(ax, period_report, "movement")
    assert ax.get_ylabel() == "open pipeline amount"
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    mv = {r["line"]: r["amount"] for r in period_report.section("movement").records()}
    # the rises come before the falls, so the highest bar ends at opening + the rises
    expected = nice_ticks(mv["opening"] + mv["created"] + mv["reopened"] + mv["increased"])
    assert ticks == [tick_label(t, expected, "amount") for t in expected]
    ax = _axes()
    _plot(ax, report, "time-to-close")
    assert ax.get_ylabel() == "share of deals still open"


def test_matplotlib_period_charts_match_the_html_ones(period_report: Report) -> None:
    """The matplotlib waterfall colours its bars as the HTML one (rise green, fall red,
    level blue) and the bullet names won, open and target in its legend."""
    from matplotlib.colors import to_hex

    from salesstages.report._style import BLUE, COVERAGE_KEYS, GREEN, RED

    ax = _axes()
    _plot(ax, period_report, "movement")
    lines = period_report.section("movement").column("line")
    colours = [to_hex(p.get_facecolor()) for p in ax.patches[: len(lines)]]
    assert colours[lines.index("opening")] == BLUE
    assert colours[lines.index("created")] == GREEN
    assert colours[lines.index("won")] == RED
    ax = _axes()
    _plot(ax, period_report, "coverage")
    names = [t.get_text() for t in ax.get_legend().get_texts()]
    assert names == [label for label, _ in COVERAGE_KEYS.values()]


def test_save_charts_draws_the_period_view(period_report: Report, tmp_path: Any) -> None:
    """``save_charts`` writes the coverage and movement charts when the report has a period."""
    pytest.importorskip("matplotlib")
    from salesstages.report import save_charts

    written = [p.name for p in save_charts(period_report, tmp_path, fmt="svg")]
    assert written == [f"{name}.svg" for name in (*PERIOD_CHARTS, *CHARTS)]


def test_a_method_without_an_estimate_draws_no_bar(report: Report) -> None:
    """A forecast of ``None`` (no estimate on that date) draws no bar, in SVG and in
    matplotlib, rather than a bar of 0; the table shows it as –."""
    section = report.section("backtest")
    names = [c.name for c in section.columns]
    i = names.index("weighted")
    rows = [(*r[:i], None, *r[i + 1 :]) if n == 0 else r for n, r in enumerate(section.rows)]
    changed = report.replace(attrs.evolve(section, rows=rows))
    first = str(rows[0][0])[:10]
    svg = _svg(changed, "backtest")
    assert f"<title>{first} weighted: " not in svg
    assert f"<title>{first} markov: " in svg
    text = render_text(changed)
    line = next(ln for ln in text.splitlines() if ln.startswith(first))
    assert line.split()[names.index("weighted") - 2] == "–"  # open_amount and won_new hidden
