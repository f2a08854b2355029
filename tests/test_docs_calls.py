"""The how-tos of issue 27 run as written: "Score the forecast call", "Check your stage
probabilities" and "Try a rule on last year" (their Python snippets, then their
command lines)."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from salesstages.cli import main

HOW_TO = Path(__file__).resolve().parents[1] / "docs" / "how-to"


def _fenced(page: str, kind: str) -> list[str]:
    text = (HOW_TO / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{kind}\n(.*?)^```", text, re.S | re.M)


@pytest.mark.parametrize(
    ("page", "printed"),
    [
        ("score-the-forecast-call.md", "median |error|"),
        ("check-your-stage-probabilities.md", "← outside"),
        ("try-a-rule-on-last-year.md", "share of the won amount"),
    ],
)
def test_how_to_runs(
    page: str,
    printed: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # a snippet adds "." to it
    monkeypatch.delitem(sys.modules, "pipelines", raising=False)
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    blocks = _fenced(page, "python")
    assert blocks
    try:
        for i, block in enumerate(blocks):
            exec(compile(block, f"{page}[snippet {i}]", "exec"), namespace)
        assert printed in capsys.readouterr().out
        for block in _fenced(page, "console"):
            for line in block.splitlines():
                if line.startswith("$ salesstages "):
                    assert main(shlex.split(line)[2:]) == 0, line
                    assert "D2" in capsys.readouterr().out
    finally:
        sys.modules.pop("pipelines", None)  # the page's own module, imported from tmp_path
