"""The command line: the demo (playthrough and simulated quarter) and error handling."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from salesstages import MemoryStore
from salesstages._stores import SqliteStore
from salesstages.cli import main, play_demo, simulate_quarter
from salesstages.cli._demo import headline
from salesstages.presets import inbound_b2b


def test_demo_plays_every_kind_of_change() -> None:
    """The demo shows a refusal with reasons, sub-states, a win, a loss with reason, a reopening."""
    out = io.StringIO()
    store = play_demo(out)
    text = out.getvalue()
    assert (
        "Cannot move deal 'ACME-1' from 'discovery' to 'formal_proposal': not met: document 'proposal' sent."
        in text
    )
    assert (
        "↳ formal_proposal: delivered 01-21, review 01-24, negotiation 01-27, signing 01-30" in text
    )
    assert "· meeting 'discovery' booked, accepted by prospect 11:00 and rep 12:00" in text
    assert "→ closed_won (by='ana')" in text
    assert "→ closed_lost (reason: price, by='ben', competitor='Initrode')" in text
    assert "→ evaluation (by='ana', note='two stakeholders joined')" in text  # who and why
    assert "reopened; now evaluation (open)" in text
    assert "identical = True" in text
    assert "stateDiagram-v2" not in text  # the diagram is one command away, not dumped
    assert store.deal_ids() == ["ACME-1", "GLOBEX-7", "INITECH-3"]


def test_main_demo_exit_status(capsys: pytest.CaptureFixture[str]) -> None:
    """``salesstages demo`` exits 0 and prints the demo."""
    assert main(["demo", "--deals", "40"]) == 0
    assert "rebuilds the 3 deals: identical = True" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown command exits 2 with argparse's usage message."""
    with pytest.raises(SystemExit) as info:
        main(["fly"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_python_dash_m() -> None:
    """``python -m salesstages demo`` runs the same command."""
    result = subprocess.run(
        [sys.executable, "-m", "salesstages", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "→ closed_won (by='ana')" in result.stdout


def test_demo_simulates_a_quarter_into_sqlite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` writes the quarter to that SQLite file, prints the report's headline
    sections after the playthrough, and the full report to ``--html``."""
    db = tmp_path / "quarter.sqlite3"
    html = tmp_path / "report.html"
    assert main(["demo", "--db", str(db), "--deals", "120", "--html", str(html)]) == 0
    out = capsys.readouterr().out
    assert out.index("→ closed_won (by='ana')") < out.index("Pipeline report: inbound_b2b")
    assert "Simulated 120 inbound deals over 90 days" in out
    assert "checked the log, entry criteria included: 0 problems." in out
    for section in (
        "Funnel",
        "What moves deals forward",
        "Period 2026-Q1",
        "Coverage",
        "Movement",
        "Slipping deals",
    ):
        assert f"\n{section}" in out
    for section in ("Time in stage", "Lost reasons", "Forecast backtest", "By lead_source"):
        assert f"\n{section}" not in out  # in the full report
    with SqliteStore(db) as store:
        assert len(store.deal_ids()) == 120
    page = html.read_text(encoding="utf-8")
    # nine, plus the period's waterfall and bullet
    assert page.count('<svg class="chart"') == 11
    assert "Lost reasons" in page


def test_demo_refuses_a_store_that_holds_events(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` on a store that already holds events exits 2 with one line, leaving it untouched."""
    db = tmp_path / "quarter.sqlite3"
    assert main(["demo", "--db", str(db), "--deals", "5"]) == 0
    capsys.readouterr()
    with SqliteStore(db) as store:
        before = len(store)
    assert main(["demo", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "already holds" in err
    assert "give a new file" in err
    with SqliteStore(db) as store:
        assert len(store) == before


def test_demo_refuses_a_file_that_is_not_a_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``demo --db`` on some other file exits 2 before printing anything, and leaves it as it was."""
    other = tmp_path / "notes.db"
    other.write_text("my notes", encoding="utf-8")
    assert main(["demo", "--db", str(other)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "not a salesstages store" in captured.err
    assert other.read_text(encoding="utf-8") == "my notes"


def test_simulate_quarter_appends_one_batch_per_deal() -> None:
    """``simulate_quarter`` writes every simulated event, deals whole and replayable."""
    store = MemoryStore()
    n = simulate_quarter(store, deals=30, seed=1)
    assert n == len(store)
    assert len(inbound_b2b().replay(store.events())) == 30


def test_dot_labels_break_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """Graphviz labels use dot's line-break escape, not a literal backslash-n."""
    assert main(["diagram", "-p", "inbound_b2b", "--format", "dot"]) == 0
    out = capsys.readouterr().out
    assert '"Discovery\\nentry: meeting ' in out
    assert "\\\\n" not in out


@pytest.fixture(scope="module")
def output() -> str:
    """The whole demo, as printed (its default quarter of 400 deals)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["demo"]) == 0
    return out.getvalue()


class TestDemoStory:
    """What ``salesstages demo`` tells, read as a newcomer would."""

    def test_under_120_lines_ending_with_the_report(self, output: str) -> None:
        """The story fits in under 120 lines and its last part is the report."""
        lines = output.rstrip("\n").split("\n")
        assert len(lines) < 120
        report_at = output.index("Pipeline report: inbound_b2b")
        assert output.index("3. A simulated quarter") < report_at
        assert output.rstrip().endswith(lines[-1])
        for section in ("What moves deals forward", "Period 2026-Q1", "Movement"):
            assert f"\n{section}" in output[report_at:]

    def test_stages_in_order_then_the_ends(self, output: str) -> None:
        """Open stages are listed in order, then the ends; won never leads on to lost."""
        assert "closed_won → closed_lost" not in output
        assert "ends: Closed won / Closed lost" in output
        stages = re.findall(r"^  \d\. (\S+(?: \S+)*)", output, re.M)
        assert stages == [
            "Inbound lead",
            "Discovery",
            "Evaluation",
            "Solutions overview",
            "Solutions refinement",
            "Formal proposal / contract",
        ]
        assert output.index("Formal proposal / contract") < output.index("ends: Closed won")
        assert "salesstages diagram --pipeline inbound_b2b" in output
        assert "stateDiagram-v2" not in output

    def test_money_is_an_amount(self, output: str) -> None:
        """Amounts are worded as amounts, never as 'money'."""
        assert "money" not in output
        assert "amounts in the deals' own currency" in output

    def test_stages_by_label_and_a_few_slipping_deals(self, output: str) -> None:
        """The report names stages by label, and lists a few slipping deals with how many more."""
        report = output[output.index("Pipeline report") :]
        assert "inbound_lead" not in report
        assert "Formal proposal / contract" in report
        slipping = report[report.index("Slipping deals (") :].split("\n\n")[0].rstrip("\n")
        # title, what the columns mean, header, 3 deals, "… and"
        assert len(slipping.split("\n")) == 2 + 1 + 2 + 3 + 1
        assert "(overdue)" in slipping.split("\n")[2]
        assert re.search(r"… and \d+ more$", slipping)

    def test_actions_one_per_stage(self, output: str) -> None:
        """The demo's actions table shows the best activity of each of the six open stages."""
        table = output[output.index("What moves deals forward") :].split("\n\n")[0]
        rows = [
            r
            for r in table.split("\n")[4:]
            if r.startswith(("Inbound", "Discovery", "Eval", "Sol", "Formal"))
        ]
        assert len(rows) == 6
        assert "meeting_accepted" not in table  # an entry criterion's activity

    def test_the_review_date_and_its_deals_are_said_truly(self, output: str) -> None:
        """15 March is 16 days before Q1 ends (not mid-quarter), and the review's deal
        count is the one the report's header gives (the deals opened by then)."""
        assert "mid-quarter" not in output
        said = re.search(r"16 days before 2026-Q1 ends: the (\d+) deals opened by then", output)
        assert said is not None
        header = re.search(r"^(\d+) deals \(\d+ open", output, re.M)
        assert header is not None
        assert header[1] == said[1]

    def test_the_story_claims_only_what_the_log_holds(self, output: str) -> None:
        """ACME-1's meeting is booked and accepted, never recorded as held: the story says
        "accepted by both sides", as its log shows, not "holds"."""
        story = output[output.index("ACME-1 (amount") : output.index("refused:")]
        assert "holds" not in story
        assert "accepted by both sides" in story
        assert "· meeting 'discovery' booked, accepted by prospect" in output

    def test_actions_note_matches_the_one_row_per_stage(self, output: str) -> None:
        """The note under the demo's actions table describes one activity per stage."""
        table = output[output.index("What moves deals forward") :].split("\n\n")[0]
        assert "Per stage, the activity with the largest lift" in table
        assert "up to 3" not in table

    def test_the_printed_full_report_command_runs(
        self, output: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The command the demo prints for the full report is valid for a --db store."""
        monkeypatch.chdir(tmp_path)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["demo", "--db", str(tmp_path / "q.sqlite3"), "--deals", "60"]) == 0
        line = next(ln for ln in out.getvalue().split("\n") if "salesstages report" in ln)
        command = line[line.index("salesstages report") :].split()[1:]
        assert main(command) == 0
        page = (tmp_path / "report.html").read_text(encoding="utf-8")
        assert 'data-chart="movement"' in page


def test_headline_drops_detail_sections_and_shortens_stalled() -> None:
    """``headline`` keeps the sections not asked to drop, and the first stalled deals."""
    text = (
        "Report\n======\nAs of now\n\nFunnel\n======\nrows\n\nTime in stage\n=============\n"
        "rows\n\nStalled deals (4)\n=================\ndeal  stage\n----  -----\n"
        "A  x\nB  x\nC  x\nD  x\n… and more\n\nNew section\n===========\nkept\n"
    )
    brief = headline(text, drop=("Time in stage",), stalled=2)
    assert "Time in stage" not in brief
    assert "Funnel\n======\nrows\n" in brief
    assert "A  x\nB  x\n… and 2 more\n" in brief
    assert "C  x" not in brief
    assert brief.endswith("New section\n===========\nkept\n")
