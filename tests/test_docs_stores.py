"""The Python snippets of docs/stores.md and docs/importing.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import salesstages

ROOT = Path(__file__).resolve().parents[1]
MAVEN = (
    ROOT / ".." / "shared" / "data" / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
).resolve()
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
PAGES = ["docs/stores.md", "docs/importing.md"]


@pytest.mark.skipif(
    not hasattr(salesstages, "SqliteStore"),
    reason="JsonlStore / SqliteStore are not exported from salesstages yet",
)
@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """All snippets of a page run in order, in one namespace, in a scratch directory."""
    if "importing" in page:
        if not MAVEN.exists():
            pytest.skip("the Maven data set is not beside the repository")
        (tmp_path / "sales_pipeline.csv").symlink_to(MAVEN)
    monkeypatch.chdir(tmp_path)
    blocks = FENCE.findall((ROOT / page).read_text(encoding="utf-8"))
    assert blocks, f"{page} has no python snippets"
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[snippet {i}]", "exec"), namespace)
    out = capsys.readouterr().out
    if "importing" in page:
        assert "8800 8300 {'no_dates': 500}" in out
