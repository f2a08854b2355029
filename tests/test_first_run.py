"""The first run (issue 24): ``make demo`` installs the package alone and says how to
run ``salesstages``; the docs never promise a package index the project is not on."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from salesstages.cli import main

ROOT = Path(__file__).resolve().parent.parent


def _target(name: str) -> tuple[str, list[str]]:
    """A Makefile target's prerequisites and recipe lines."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    m = re.search(rf"^{re.escape(name)}:(.*)\n((?:\t.*\n)*)", text, re.M)
    assert m, name
    return m.group(1), [line.strip() for line in m.group(2).splitlines()]


def test_demo_installs_the_package_alone() -> None:
    prereqs, recipe = _target("demo")
    assert prereqs.split() == ["$(DEMO_STAMP)"]
    _, install = _target("$(DEMO_STAMP)")
    pip = [line for line in install if "pip install" in line]
    assert pip
    assert all(line.endswith("-e .") for line in pip), pip  # no extras
    assert any("activate" in line for line in recipe)
    assert any("$(BIN)/salesstages" in line and "echo" in line for line in recipe)


def test_make_test_installs_the_dev_tools() -> None:
    _, install = _target("$(STAMP)")
    assert any("-e '.[dev]'" in line for line in install)
    for name in ("lint", "typecheck", "pytest"):
        assert _target(name)[0].split() == ["$(STAMP)"]


def test_no_package_index_promised() -> None:
    """``pip install salesstages`` (from an index) appears nowhere until a release exists."""
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    bare = re.compile(r"pip install ['\"]?salesstages(?![\w\[ ]*@)(?:\s|['\"]|$)")
    offending = [str(p.relative_to(ROOT)) for p in pages if bare.search(p.read_text("utf-8"))]
    assert offending == []
    install = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "git+" in install
    assert "pip install -e ." in install


def test_tutorial_goes_on_to_a_report_from_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The tutorial's snippets run in order, then its ``$ salesstages`` lines exit 0."""
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    namespace: dict[str, object] = {"__name__": "docs:tutorial"}
    for i, block in enumerate(re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)):
        exec(compile(block, f"tutorial.md[snippet {i}]", "exec"), namespace)
    lines = [
        line[2:]
        for block in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M)
        for line in block.splitlines()
        if line.startswith("$ salesstages ")
    ]
    assert len(lines) >= 2
    for line in lines:
        assert main(shlex.split(line)[1:]) == 0, line
    assert "Funnel" in capsys.readouterr().out
    assert (tmp_path / "acme.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
