"""The command line: the demo (playthrough and simulated quarter) and error handling."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from salesstages import MemoryStore
from salesstages._stores import SqliteStore
from salesstages.cli import main, play_demo, simulate_quarter
from salesstages.presets import inbound_b2b


def test_demo_plays_every_kind_of_change() -> None:
    """The demo shows a refusal with reasons, sub-states, a win, a loss with reason, a reopening, the diagram."""
    out = io.StringIO()
    store = play_demo(out)
    text = out.getvalue()
    assert (
        "Cannot move deal 'ACME-1' from 'discovery' to 'formal_proposal': document 'proposal' has not been sent"
        in text
    )
    assert "↳ formal_proposal/signing" in text
    assert "ACME-1: closed_won (won)" in text
    assert "→ closed_lost (reason: price, by='ben', competitor='Initrode')" in text
    assert "→ evaluation (by='ana', note='two stakeholders joined')" in text  # who and why
    assert "GLOBEX-7: evaluation (open)" in text
    assert "identical = True" in text
    assert "stateDiagram-v2" in text
    assert store.deal_ids() == ["ACME-1", "GLOBEX-7", "INITECH-3"]


def test_main_demo_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """``salesstages demo`` exits 0 and prints the demo."""
    assert main(["demo", "--deals", "40"]) == 0
    assert "Replayed 3 deals" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as info:
        main(["fly"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m() -> None:
    """``python -m salesstages demo`` runs the same command."""
    result = subprocess.run(
        [sys.executable, "-m", "salesstages", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "ACME-1: closed_won" in result.stdout


def test_demo_simulates_a_quarter_into_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` writes the quarter to that SQLite file and prints the full report after the playthrough."""
    db = tmp_path / "quarter.sqlite3"
    html = tmp_path / "report.html"
    assert main(["demo", "--db", str(db), "--deals", "120", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.index("ACME-1: closed_won") < out.index("Pipeline report: inbound_b2b")
    assert "Simulated 120 inbound deals over 90 days" in out
    assert "Checked the log, entry criteria included: 0 problems." in out
    for section in (
        "Funnel",
        "Time in stage",
        "By lead_source",
        "Lost reasons",
        "Forecast backtest",
    ):
        assert f"\n{section}" in out
    with SqliteStore(db) as store:
        assert len(store.deal_ids()) == 120
    assert html.read_text(encoding="utf-8").count('<svg class="chart"') == 6


def test_demo_refuses_a_store_that_holds_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` on a store that already holds events exits 2 with one line, leaving it untouched."""
    db = tmp_path / "quarter.sqlite3"
    assert main(["demo", "--db", str(db), "--deals", "5"]) == 0
    capsys.readouterr()
    with SqliteStore(db) as store:
        before = len(store)
    assert main(["demo", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "already holds" in err
    assert "give a new file" in err
    with SqliteStore(db) as store:
        assert len(store) == before


def test_demo_refuses_a_file_that_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` on some other file exits 2 before printing anything, and leaves it as it was."""
    other = tmp_path / "notes.db"
    other.write_text("my notes", encoding="utf-8")
    assert main(["demo", "--db", str(other)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not a salesstages store" in captured.err
    assert other.read_text(encoding="utf-8") == "my notes"


def test_simulate_quarter_appends_one_batch_per_deal() -> None:
    """``simulate_quarter`` writes every simulated event, deals whole and replayable."""
    store = MemoryStore()
    n = simulate_quarter(store, deals=30, seed=1)
    assert n == len(store)
    assert len(inbound_b2b().replay(store.events())) == 30


def test_dot_labels_break_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Graphviz labels use dot's line-break escape, not a literal backslash-n."""
    assert main(["diagram", "-p", "inbound_b2b", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert '"Discovery\\nentry: meeting ' in out
    assert "\\\\n" not in out
