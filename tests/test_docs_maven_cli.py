"""The Maven recipe on the command line (issue 24): the pipeline and mapping files
shipped in docs/examples/ and the how-to's ``$ salesstages`` lines, run on the shared
Maven data (skipped when it is absent)."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest

from _cli_data import MAVEN, MAVEN_MAPPING, MAVEN_PIPELINE
from salesstages import Pipeline
from salesstages.cli import main
from salesstages.report._model import records

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "docs" / "examples"
HOWTO = ROOT / "docs" / "how-to" / "import-a-crm-export.md"


def _commands() -> list[str]:
    text = HOWTO.read_text(encoding="utf-8")
    return [
        line[2:]
        for block in re.findall(r"^```console\n(.*?)^```", text, re.S | re.M)
        for line in block.splitlines()
        if line.startswith("$ salesstages ")
    ]


def test_shipped_files_are_the_tested_recipe() -> None:
    """The shipped files say what the Maven tests of the import command use."""
    spec = tomllib.loads((EXAMPLES / "maven_pipeline.toml").read_text(encoding="utf-8"))
    assert Pipeline.from_dict(spec) == Pipeline.from_dict(MAVEN_PIPELINE)
    mapping = tomllib.loads((EXAMPLES / "maven_mapping.toml").read_text(encoding="utf-8"))
    assert mapping == tomllib.loads(MAVEN_MAPPING)


def test_howto_commands_use_the_shipped_files() -> None:
    lines = _commands()
    assert [line.split()[1] for line in lines] == ["import", "check", "report", "report"]
    for line in lines:
        for word in shlex.split(line):
            if word.startswith("docs/"):
                assert (ROOT / word).is_file(), word


@pytest.mark.skipif(
    not (MAVEN / "sales_pipeline.csv").is_file(), reason="the shared Maven data set is absent"
)
def test_howto_commands_run_on_the_maven_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a folder holding the export (and a clone's docs/), every line exits 0."""
    (tmp_path / "sales_pipeline.csv").symlink_to(MAVEN / "sales_pipeline.csv")
    (tmp_path / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    for line in _commands():
        assert main(shlex.split(line)[1:]) == 0, line
    out = capsys.readouterr().out
    assert "Imported 8,800 rows of sales_pipeline.csv into 8,300 deals, 23,311 events" in out
    assert "8,300 deals (1,589 open, 4,238 won, 2,473 lost)" in out
    assert (tmp_path / "maven.html").is_file()
    problems = (tmp_path / "problems.csv").read_text(encoding="utf-8").splitlines()
    assert len(problems) == 1 + 500  # a header and the 500 no_dates rows
    status = main(
        ["report", "maven.jsonl", "-p", "docs/examples/maven_pipeline.toml", "-f", "json"]
    )
    assert status == 0
    (counts,) = records(json.loads(capsys.readouterr().out), "counts")
    assert counts["deals"] == 8300
