"""The Python snippets of ``docs/metrics.md`` run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


def test_snippets_run() -> None:
    """Every python block of the metrics page runs, in order, in one namespace."""
    pytest.importorskip("pandas")
    blocks = re.findall(r"^```python\n(.*?)^```", DOC.read_text(encoding="utf-8"), re.S | re.M)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "docs:metrics.md"}
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), namespace)
    assert "df" in namespace
