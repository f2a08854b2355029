"""``salesstages plot``: the report's charts as PNG or SVG files through matplotlib."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from _cli_data import write_demo_files
from salesstages.cli import main
from salesstages.presets import inbound_b2b
from salesstages.report import _plot, build_report
from salesstages.report._html import CHARTS

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo quarter as a JSONL file."""
    return write_demo_files(tmp_path_factory.mktemp("plot"))["jsonl"]


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_plot_writes_every_chart(
    events_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    magic: bytes,
) -> None:
    """``plot`` writes one file per chart of the HTML report, in the asked format, and lists them."""
    out = tmp_path / "charts"
    status = main(
        ["plot", str(events_file), "-p", "inbound_b2b", "-o", str(out), "-f", fmt, "--by", "owner"]
    )
    assert status == 0
    written = capsys.readouterr().out.split()
    assert sorted(Path(p).name for p in written) == sorted(f"{c}.{fmt}" for c in CHARTS)
    for name in CHARTS:
        data = (out / f"{name}.{fmt}").read_bytes()
        assert data.startswith(magic)
        assert len(data) > 2_000


def test_plot_without_matplotlib_names_the_extra(
    events_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without matplotlib, ``plot`` exits 2 with one line naming ``pip install 'salesstages[plot]'``."""
    real = importlib.import_module

    def fake(name: str, package: str | None = None) -> object:
        if name.startswith("matplotlib"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, package)

    monkeypatch.setattr(_plot, "import_module", fake)
    status = main(["plot", str(events_file), "-p", "inbound_b2b", "-o", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1
    assert "pip install 'salesstages[plot]'" in err
    assert not (tmp_path / "c").exists()


def test_save_charts_refuses_unknown_format(tmp_path: Path) -> None:
    """``save_charts`` names the formats it knows."""
    from _cli_data import demo_events

    report = build_report(demo_events(20), inbound_b2b())
    with pytest.raises(ValueError, match="png, svg"):
        _plot.save_charts(report, tmp_path, fmt="gif")


def test_plot_draws_the_period_view(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ``--period`` and ``--target``, ``plot`` adds the coverage and movement charts;
    with ``--period`` alone, movement only (coverage needs a target)."""
    base = ["plot", str(events_file), "-p", "inbound_b2b", "--as-of", "2026-03-15"]
    out = tmp_path / "with"
    status = main([*base, "-o", str(out), "--period", "2026-Q1", "--target", "4_000_000"])
    assert status == 0
    names = sorted(Path(p).name for p in capsys.readouterr().out.split())
    assert names == sorted(f"{c}.png" for c in (*CHARTS, "coverage", "movement"))
    assert (out / "movement.png").read_bytes().startswith(b"\x89PNG")
    out = tmp_path / "without"
    assert main([*base, "-o", str(out), "--period", "2026-Q1"]) == 0
    names = sorted(Path(p).name for p in capsys.readouterr().out.split())
    assert names == sorted(f"{c}.png" for c in (*CHARTS, "movement"))


def test_plot_target_needs_a_period(
    events_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``plot --target`` without a period exits 2 saying to add ``--period``, drawing nothing."""
    status = main(
        ["plot", str(events_file), "-p", "inbound_b2b", "-o", str(tmp_path / "c"), "--target", "5"]
    )
    assert status == 2
    assert "--target and --targets need a period" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()
