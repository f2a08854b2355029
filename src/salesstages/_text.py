"""Text the library writes for other programs to show: CSV cells and terminal output.

Two helpers, used by every writer (the CSV report, :func:`salesstages.io.write_csv`,
the command line's tables and messages):

- :func:`csv_cell` makes a cell safe to open in a spreadsheet. A text cell
  starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run
  as a formula (OWASP, "CSV Injection"), and one holding a line break may start
  a row whose first cell is a formula, so it gets a leading ``'``, which
  spreadsheets read as "this is text"; :func:`csv_writer` quotes every cell
  holding a line break. Numbers stay numbers. :func:`csv_uncell` undoes the
  mark exactly, for readers of CSV the library wrote.
- :func:`terminal` makes text safe to print: control characters (C0, DEL and
  C1, including ESC, BEL, CR and LF) and the invisible characters that reorder
  or break lines (bidirectional controls, line and paragraph separators) are
  shown as escapes such as ``\\x1b`` or ``\\u202e``, so a deal id or a lost
  reason can neither drive the terminal nor forge a row of a table.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import IO, Any, Final, Protocol, TypeVar

__all__ = [
    "FORMULA_START",
    "CsvWriter",
    "csv_cell",
    "csv_uncell",
    "csv_writer",
    "terminal",
    "terminal_lines",
]

_T = TypeVar("_T")

#: The first characters that make a spreadsheet treat a cell as a formula.
FORMULA_START: Final = frozenset("=+-@\t\r")
_QUOTE: Final = "'"
#: What follows the quote ``csv_cell`` adds: a formula start or another quote.
_ESCAPED: Final = FORMULA_START | {_QUOTE}


def _needs_mark(text: str) -> bool:
    """Whether :func:`csv_cell` marks ``text``: it starts like a formula, holds a line
    break (after which a spreadsheet may start a row with a formula), or starts with
    ``'`` followed by what a mark precedes."""
    if not text:
        return False
    first = text[0]
    return (
        first in FORMULA_START
        or (first == _QUOTE and text[1:2] in _ESCAPED)
        or "\r" in text
        or "\n" in text
    )


def csv_cell(value: _T) -> _T | str:
    """``value`` ready for a CSV cell a spreadsheet may open.

    A string starting with a formula character (``= + - @``, tab, CR) or holding a
    line break (CR or LF: a spreadsheet splitting rows there would read what follows
    as the first cell of a row) gets a leading ``'``: ``"=HYPERLINK(...)"`` is
    written ``"'=HYPERLINK(...)"``. So that :func:`csv_uncell` can undo it exactly,
    a string that already starts with ``'`` followed by a formula character or
    another ``'`` gets one too. Anything else, numbers included (``-5`` stays the
    number ``-5``), is returned unchanged. Write the cells with :func:`csv_writer`,
    which also quotes every cell holding a line break.
    """
    if isinstance(value, str) and _needs_mark(value):
        return _QUOTE + value
    return value


def csv_uncell(text: str) -> str:
    """The string :func:`csv_cell` was given: one leading ``'`` is dropped when what
    follows it is a string :func:`csv_cell` marks; any other text is unchanged.

    ``csv_uncell(csv_cell(s)) == s`` for every string ``s``.
    """
    if text[:1] == _QUOTE and _needs_mark(text[1:]):
        return text[1:]
    return text


class _Writer(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class CsvWriter:
    """A :func:`csv.writer` (``lineterminator="\\n"``) that quotes every cell holding a
    CR or LF, which the standard writer leaves bare when the line ends in LF alone."""

    def __init__(self, f: IO[str]) -> None:
        self._plain: _Writer = csv.writer(f, lineterminator="\n")
        self._quoted: _Writer = csv.writer(f, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)

    def writerow(self, row: Iterable[Any]) -> None:
        """Write one row of cells (already through :func:`csv_cell`)."""
        cells = list(row)
        broken = any(isinstance(c, str) and ("\r" in c or "\n" in c) for c in cells)
        (self._quoted if broken else self._plain).writerow(cells)


def csv_writer(f: IO[str]) -> CsvWriter:
    """The writer every CSV the library writes for people goes through (see
    :class:`CsvWriter`); apply :func:`csv_cell` to each cell."""
    return CsvWriter(f)


# C0 controls, DEL and C1 controls; the bidirectional embeddings, overrides and isolates
# (U+202A-U+202E, U+2066-U+2069), the marks U+061C, U+200E, U+200F; line and paragraph
# separators U+2028, U+2029.
_CONTROL: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal(text: str) -> str:
    """``text`` with every control character shown as a visible escape.

    ``"ACME\\x1b]0;pwned\\x07"`` becomes ``ACME\\x1b]0;pwned\\x07`` printed
    literally (a backslash and the hex code), and a newline inside a value
    becomes ``\\x0a``, so one value is always one line. Printable text,
    accents and emoji included, is unchanged; a backslash is left as it is.
    Apply it to each value before it goes into a line, not to whole lines.
    """
    if _CONTROL.search(text) is None:
        return text
    return _CONTROL.sub(_escape, text)


def terminal_lines(text: str) -> str:
    """``text`` with :func:`terminal` applied to each of its lines: the line breaks
    stay, every other control character is escaped. The last guard on text printed
    to a terminal (a report), for any value a renderer did not escape itself; text
    already escaped is unchanged."""
    if _CONTROL.search(text.replace("\n", "")) is None:
        return text
    return "\n".join(terminal(line) for line in text.split("\n"))
