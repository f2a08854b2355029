"""The HTML report in a real browser: headless Chromium loads it and draws every chart.

Skipped when no Chromium is installed (Debian: ``apt-get install -y chromium``;
or point ``SALESSTAGES_CHROMIUM`` at a Chrome/Chromium binary). Set
``SALESSTAGES_SCREENSHOT_DIR`` (``make screenshot`` does) to keep the
screenshot, e.g. for ``docs/images/report.png``.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

import attrs
import pytest

from salesstages import MemoryStore
from salesstages.cli import simulate_quarter
from salesstages.cli._main import DEMO_PERIOD, DEMO_REVIEW, DEMO_TARGET
from salesstages.presets import inbound_b2b
from salesstages.report import Report, build_report, render_html
from salesstages.report._html import CHARTS, PERIOD_CHARTS


def _chromium() -> str | None:
    explicit = os.environ.get("SALESSTAGES_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


CHROMIUM = _chromium()
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"
    ),
]
WIDTH, HEIGHT = 1280, 5700  # the whole demo page, footer included


def _chrome(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium offline with a throwaway profile."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)


#: The charts of the demo's page: the period view's first, then the others.
PAGE_CHARTS = (*PERIOD_CHARTS, *CHARTS)


def _demo_report(*, finding: bool = False) -> Report:
    """The report ``salesstages demo --html`` writes: its quarter, by lead source,
    reviewed for 2026-Q1 on March 15 against its target; with ``finding``, one lost
    deal loses its reason, so the data-quality section has something to say."""
    store = MemoryStore()
    simulate_quarter(store)
    events = list(store.events())
    if finding:
        i = next(i for i, e in enumerate(events) if e.data.get("reason"))
        events[i] = attrs.evolve(events[i], data={})
    return build_report(
        events,
        inbound_b2b(),
        by="lead_source",
        as_of=DEMO_REVIEW,
        period=DEMO_PERIOD,
        target=DEMO_TARGET,
    )


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's HTML page (the one ``docs/images/report.png`` shows)."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render_html(_demo_report()), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def flawed_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same page from a log with a lost deal without a reason."""
    path = tmp_path_factory.mktemp("html") / "flawed.html"
    path.write_text(render_html(_demo_report(finding=True)), encoding="utf-8")
    return path


def _body_attributes(html: str) -> dict[str, str]:
    body = re.search(r"<body[^>]*>", html)
    assert body is not None, html[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))


def test_every_chart_is_drawn(page: Path, tmp_path: Path) -> None:
    """Chromium loads the page offline and lays out every chart with visible shapes."""
    result = _chrome(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    seen = _body_attributes(result.stdout)
    assert seen["data-charts-total"] == str(len(PAGE_CHARTS))
    assert seen["data-charts-drawn"] == str(len(PAGE_CHARTS))
    for name in PAGE_CHARTS:
        assert f'data-chart="{name}"' in result.stdout


def test_legends_and_axis_titles_are_drawn(page: Path, tmp_path: Path) -> None:
    """Chromium lays out a legend in every chart and the axis titles of the charts with axes."""
    result = _chrome(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    seen = _body_attributes(result.stdout)
    assert seen["data-legends-drawn"] == str(len(PAGE_CHARTS))  # one legend per chart
    # coverage (x), movement (y), time in stage (x), win rate (x), time to close (x and y),
    # backtest (x and y), actions (x), team (x), and three for the trends and calibration
    # charts (issue 27)
    assert seen["data-axis-labels-drawn"] == "13"
    for title in (
        "share of deals still open",
        "days since the deal was opened",
        "amount",
        "open pipeline amount",
        "share of deals that advanced",
    ):
        assert f">{title}</text>" in result.stdout
    for label in ("won in the period", "target", "increase", "decrease", "advanced without it"):
        assert f">{label}</text>" in result.stdout
    assert 'id="data-quality"' not in result.stdout  # the demo's log has nothing to report


def test_data_quality_section_is_drawn(flawed_page: Path, tmp_path: Path) -> None:
    """A log with a lost deal without a reason shows the data-quality section, laid out
    above the charts, and still draws every chart."""
    result = _chrome(tmp_path, "--dump-dom", flawed_page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    html = result.stdout
    assert 'id="data-quality"' in html
    section = html[html.index('id="data-quality"') :]
    section = section[: section.index("</section>")]
    assert "lost_without_reason" in section
    assert html.index('id="data-quality"') < html.index('data-chart="coverage"')
    seen = _body_attributes(html)
    assert seen["data-charts-drawn"] == str(len(PAGE_CHARTS))


def test_screenshot(page: Path, tmp_path: Path) -> None:
    """A full-page screenshot is a PNG of the window's size with real content in it."""
    shot = tmp_path / "report.png"
    result = _chrome(
        tmp_path, f"--window-size={WIDTH},{HEIGHT}", f"--screenshot={shot}", page.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH, HEIGHT)
    assert len(data) > 100_000  # a blank page compresses to a few kilobytes
    keep = os.environ.get("SALESSTAGES_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, Path(keep) / "report.png")
