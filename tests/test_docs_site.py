"""The documentation site's own pages: their Python snippets and command lines run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import salesstages
from salesstages._stores import SqliteStore
from salesstages.cli import main, simulate_quarter

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [
    "index.md",
    "reports.md",
    "how-to/import-a-crm-export.md",
    "how-to/add-a-custom-guard.md",
    "how-to/choose-a-funnel-policy.md",
    "how-to/forecast-a-quarter.md",
    "how-to/test-your-pipelines-rules.md",
    "how-to/sqlite-from-several-processes.md",
    "how-to/react-to-stage-changes.md",
    "how-to/project-with-follow.md",
    "how-to/suggest-the-next-step.md",
    "how-to/measure-recurring-revenue.md",
]


def fenced(page: str, kind: str) -> list[str]:
    """Every fenced block of one kind (``python``, ``console``, ``toml`` …) of a page, in order."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"^```{kind}\n(.*?)^```", text, re.S | re.M)


def commands(page: str) -> list[str]:
    """The ``$ salesstages …`` lines of a page's console blocks, in order."""
    return [
        line[2:]
        for block in fenced(page, "console")
        for line in block.splitlines()
        if line.startswith("$ salesstages ")
    ]


@pytest.mark.parametrize("page", PAGES)
def test_page_snippets_run(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """All Python snippets of a page run in order, in one namespace, in a scratch folder."""
    if "SqliteStore" in "".join(fenced(page, "python")) and not hasattr(
        salesstages, "SqliteStore"
    ):  # pragma: no cover - until the package front exports it (contract section 6)
        pytest.skip("salesstages.SqliteStore is not exported from the package yet")
    monkeypatch.chdir(tmp_path)
    if page == "reports.md":  # it reads the store of the command-line session in cli.md
        with SqliteStore(tmp_path / "quarter.sqlite3") as store:
            simulate_quarter(store, deals=60)
    blocks = fenced(page, "python")
    assert blocks, f"{page} has no python snippets"
    namespace: dict[str, object] = {"__name__": f"docs:{page}"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{page}[snippet {i}]", "exec"), namespace)
    capsys.readouterr()


def test_cli_page_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every ``$ salesstages`` line of cli.md runs in order and exits 0, with its files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "deals.csv").write_text(fenced("cli.md", "csv")[0], encoding="utf-8")
    (tmp_path / "mapping.toml").write_text(fenced("cli.md", "toml")[0], encoding="utf-8")
    lines = commands("cli.md")
    assert len(lines) >= 8
    for line in lines:
        argv = shlex.split(line)[1:]
        status = main(argv)
        captured = capsys.readouterr()
        assert status == 0, (line, captured.err)
    for name in (
        "quarter.html",
        "february.json",
        "stalled.csv",
        "inbound.dot",
        "my_pipeline.json",
        "report.html",
    ):
        assert (tmp_path / name).stat().st_size > 0
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == [
        "actions.svg",
        "backtest.svg",
        "calibration.svg",
        "funnel.svg",
        "team.svg",
        "time-in-stage.svg",
        "time-to-close.svg",
        "trends.svg",
        "win-rate.svg",
    ]
    problems = (tmp_path / "problems.csv").read_text(encoding="utf-8").splitlines()
    assert problems[1].startswith("A-4,")


def test_pages_link_the_screenshot() -> None:
    """The home and reports pages show the committed screenshot of the HTML report."""
    image = DOCS / "images" / "report.png"
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for page in ("index.md", "reports.md"):
        assert "](images/report.png)" in (DOCS / page).read_text(encoding="utf-8")


def test_every_site_page_is_in_the_nav() -> None:
    """Every page written for the site appears in mkdocs.yml's navigation."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in [
        *PAGES,
        "cli.md",
        "explanation/metric-definitions.md",
        "explanation/engines.md",
        "explanation/layout.md",
    ]:
        assert f": {page}" in nav, page
    for module in (
        "salesstages",
        "guards",
        "presets",
        "metrics",
        "forecast",
        "io",
        "report",
        "testing",
    ):
        assert f"reference/{module}.md" in nav
        assert ":::" in (DOCS / "reference" / f"{module}.md").read_text(encoding="utf-8")


def test_sphinx_roles_become_optional_autorefs() -> None:
    """The docs' Griffe extension turns Sphinx roles into optional autorefs and drops reST escapes."""
    import importlib.util

    pytest.importorskip("griffe")  # a docs-extra tool, absent from a dev-only install
    spec = importlib.util.spec_from_file_location("sphinx_roles", DOCS / "_ext" / "sphinx_roles.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.convert(
        "See :class:`~salesstages.Event`, :func:`visits`, "
        ":attr:`Stage.probability <salesstages.Stage.probability>`; ``timedelta``\\ s.",
        "salesstages.metrics",
    )
    assert text == (
        'See <autoref identifier="salesstages.Event" optional><code>Event</code></autoref>, '
        '<autoref identifier="salesstages.metrics.visits" optional><code>visits</code></autoref>, '
        '<autoref identifier="salesstages.Stage.probability" optional>'
        "<code>Stage.probability</code></autoref>; ``timedelta``s."
    )
