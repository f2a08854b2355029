"""The how-tos "Coach with the scorecard" and "Find where deals stray" run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["how-to/coach-with-the-scorecard.md", "how-to/find-where-deals-stray.md"]


@pytest.mark.parametrize("page", PAGES)
def test_how_to_runs(page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """All Python snippets of the page run in order, in one namespace, in a scratch folder."""
    monkeypatch.chdir(tmp_path)
    text = (DOCS / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 3
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[snippet {i}]", "exec"), namespace)
