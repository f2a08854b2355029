"""The Python snippets of ``docs/forecasting.md`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "forecasting.md"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_forecasting_page_snippets_run(capsys: pytest.CaptureFixture[str]) -> None:
    """All snippets of the forecasting page run in order in one namespace and print a backtest."""
    blocks = FENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(blocks) >= 6
    namespace: dict[str, object] = {"__name__": "docs:forecasting"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/forecasting.md[snippet {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    assert "Forecast backtest" in out
    assert "Win/loss by region" in out
