"""The Python snippets in the README and the core docs pages run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    "README.md",
    "docs/tutorial.md",
    "docs/pipelines.md",
    "docs/guards.md",
    "docs/deals-and-events.md",
]
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def snippets(page: str) -> list[str]:
    """Every ```python block of a page, in order."""
    return FENCE.findall((ROOT / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """All snippets of a page run in order in one namespace without error (in a
    scratch folder: the tutorial writes a store and a pipeline file)."""
    monkeypatch.chdir(tmp_path)
    blocks = snippets(page)
    assert blocks, f"{page} has no python snippets"
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for i, block in enumerate(blocks):
        code = compile(block, f"{page}[snippet {i}]", "exec")
        exec(code, namespace)
    capsys.readouterr()
