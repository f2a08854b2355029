"""The "review a quarter" how-to runs as written: its Python snippets and its
command lines (issue 14)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from salesstages.cli import main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "how-to" / "review-a-quarter.md"


def _fenced(kind: str) -> list[str]:
    return re.findall(rf"^```{kind}\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)


def test_review_a_quarter_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The page's snippets run in order, then each `salesstages` command exits 0."""
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs:review-a-quarter"}
    blocks = _fenced("python")
    assert len(blocks) == 3
    for i, block in enumerate(blocks):
        exec(compile(block, f"review-a-quarter.md[snippet {i}]", "exec"), namespace)
    (tmp_path / "targets.csv").write_text(_fenced("csv")[0], encoding="utf-8")
    lines = [
        line[2:]
        for block in _fenced("console")
        for line in block.splitlines()
        if line.startswith("$ salesstages ")
    ]
    assert len(lines) == 2
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
    out = capsys.readouterr().out
    assert "Period 2026-Q1 (2026-01-01 to 2026-03-31)" in out
    assert 'data-chart="movement"' in (tmp_path / "q1.html").read_text(encoding="utf-8")
