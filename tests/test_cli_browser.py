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

import pytest

from salesstages import MemoryStore
from salesstages.cli import simulate_quarter
from salesstages.presets import inbound_b2b
from salesstages.report import build_report, render_html
from salesstages.report._html import CHARTS


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
WIDTH, HEIGHT = 1280, 2800


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


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML report of ``salesstages demo``'s quarter, segmented by lead source as the demo does."""
    path = tmp_path_factory.mktemp("html") / "report.html"
    store = MemoryStore()
    simulate_quarter(store)
    report = build_report(list(store.events()), inbound_b2b(), by="lead_source")
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_every_chart_is_drawn(page: Path, tmp_path: Path) -> None:
    """Chromium loads the page offline and lays out every chart with visible shapes."""
    result = _chrome(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, result.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    assert attrs["data-charts-total"] == str(len(CHARTS))
    assert attrs["data-charts-drawn"] == str(len(CHARTS))
    for name in CHARTS:
        assert f'data-chart="{name}"' in result.stdout


def test_legends_and_axis_titles_are_drawn(page: Path, tmp_path: Path) -> None:
    """Chromium lays out a legend in every chart and the axis titles of the charts with axes."""
    result = _chrome(tmp_path, "--dump-dom", page.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    body = re.search(r"<body[^>]*>", result.stdout)
    assert body is not None, result.stdout[:500]
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    assert attrs["data-legends-drawn"] == str(len(CHARTS))  # one legend per chart
    # time in stage (x), win rate (x), time to close (x and y), backtest (x and y)
    assert attrs["data-axis-labels-drawn"] == "6"
    for title in ("share of deals still open", "days since the deal was opened", "amount"):
        assert f">{title}</text>" in result.stdout


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
