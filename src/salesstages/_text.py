"""Text the library writes for other programs to show: CSV cells and terminal output.

Two helpers, used by every writer (the CSV report, :func:`salesstages.io.write_csv`,
the command line's tables and messages):

- :func:`csv_cell` makes a cell safe to open in a spreadsheet. A text cell
  starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return would run
  as a formula (OWASP, "CSV Injection"), so it gets a leading ``'``, which
  spreadsheets read as "this is text". Numbers stay numbers. :func:`csv_uncell`
  undoes it exactly, for readers of CSV the library wrote.
- :func:`terminal` makes text safe to print: control characters (C0, DEL and
  C1, including ESC, BEL, CR and LF) and the invisible characters that reorder
  or break lines (bidirectional controls, line and paragraph separators) are
  shown as escapes such as ``\\x1b`` or ``\\u202e``, so a deal id or a lost
  reason can neither drive the terminal nor forge a row of a table.
"""

from __future__ import annotations

import re
from typing import Final, TypeVar

__all__ = ["FORMULA_START", "csv_cell", "csv_uncell", "terminal"]

_T = TypeVar("_T")

#: The first characters that make a spreadsheet treat a cell as a formula.
FORMULA_START: Final = frozenset("=+-@\t\r")
_QUOTE: Final = "'"
#: What follows the quote ``csv_cell`` adds: a formula start or another quote.
_ESCAPED: Final = FORMULA_START | {_QUOTE}


def csv_cell(value: _T) -> _T | str:
    """``value`` ready for a CSV cell a spreadsheet may open.

    A string starting with a formula character (``= + - @``, tab, CR) gets a
    leading ``'``: ``"=HYPERLINK(...)"`` is written ``"'=HYPERLINK(...)"``. So
    that :func:`csv_uncell` can undo it exactly, a string that already starts
    with ``'`` followed by a formula character or another ``'`` gets one too.
    Anything else, numbers included (``-5`` stays the number ``-5``), is
    returned unchanged.
    """
    if (
        isinstance(value, str)
        and value
        and (value[0] in FORMULA_START or (value[0] == _QUOTE and value[1:2] in _ESCAPED))
    ):
        return _QUOTE + value
    return value


def csv_uncell(text: str) -> str:
    """The string :func:`csv_cell` was given: one leading ``'`` is dropped when a
    formula character or another ``'`` follows it; any other text is unchanged.

    ``csv_uncell(csv_cell(s)) == s`` for every string ``s``.
    """
    if text[:1] == _QUOTE and text[1:2] in _ESCAPED:
        return text[1:]
    return text


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
