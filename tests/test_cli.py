"""The command line: the demo and error handling."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest

from salesstages.cli import main, play_demo


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
    assert "→ closed_lost (reason: price)" in text
    assert "GLOBEX-7: evaluation (open)" in text
    assert "identical = True" in text
    assert "stateDiagram-v2" in text
    assert store.deal_ids() == ["ACME-1", "GLOBEX-7", "INITECH-3"]


def test_main_demo_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """``salesstages demo`` exits 0 and prints the demo."""
    assert main(["demo"]) == 0
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
