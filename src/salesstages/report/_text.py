"""The report as text (:func:`render_text`) and as CSV (:func:`render_csv`,
:func:`render_deals_csv`): each section laid out by its columns' kinds, nothing
computed or worded here."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import Final

from .._text import csv_cell, csv_writer, terminal
from ._format import cell_kind, fmt
from ._model import Cell, Column, Report, Section

__all__ = [
    "CSV_COLUMNS",
    "DEALS_CSV_COLUMNS",
    "render_csv",
    "render_deals_csv",
    "render_text",
    "table",
]


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, left: int = 1, align: str = ""
) -> str:
    """An aligned text table: the first ``left`` columns left-aligned, the rest right
    (or, with ``align``, one letter per column: ``l`` or ``r``).

    Every header and cell goes through :func:`salesstages._text.terminal`: control
    characters show as escapes, so a cell is always one line and drives nothing.
    """
    headers = [terminal(h) for h in headers]
    body = [[terminal(c) for c in r] for r in rows]
    align = align or "l" * left + "r" * (len(headers) - left)
    widths = [len(h) for h in headers]
    for r in body:
        for i, cell in enumerate(r):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(widths[i]) if align[i] == "l" else c.rjust(widths[i])
            for i, c in enumerate(cells)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in body)
    return "\n".join(out)


def _title(text: str) -> str:
    text = terminal(text)
    return f"{text}\n{'=' * len(text)}"


def cells(section: Section, columns: Sequence[Column]) -> list[list[str]]:
    """The shown cells of each row, written by their columns' kinds."""
    out = []
    for row in section.records():
        out.append([fmt(row[c.name], cell_kind(c, row), c.missing) for c in columns])
    return out


def _align(columns: Sequence[Column]) -> str:
    """Words left, numbers right: the leading text columns (the row's names) and a
    last text column (a sentence) are left-aligned, every other column right."""
    out = []
    leading = True
    for i, c in enumerate(columns):
        text = c.kind == "text" and c.kind_from is None
        leading = leading and text
        out.append("l" if text and (leading or i == len(columns) - 1) else "r")
    return "".join(out)


def _has_words(s: Section) -> bool:
    return bool(s.rows or s.empty or s.notes or s.lead)


def render_text(report: Report) -> str:
    """The report as aligned text tables, for a terminal.

    Every value from the data (deal ids, stage labels, lost reasons, segment
    values, the pipeline's name) has its control characters escaped
    (:func:`salesstages._text.terminal`), so none can drive the terminal or
    break a row in two.
    """
    parts = [_title(report.title), *(terminal(line) for line in report.summary)]
    for s in report.sections:
        if "text" not in s.formats or not _has_words(s):
            continue
        shown = [c for c in s.columns if c.show]
        parts += ["", _title(s.title), *(terminal(line) for line in s.lead)]
        if s.rows and shown:
            parts.append(table([c.label for c in shown], cells(s, shown), align=_align(shown)))
        elif not s.rows:
            parts.append(terminal(s.empty or "none"))
        parts += [terminal(line) for line in s.notes]
    parts += [f"warning: {terminal(w)}" for w in report.warnings]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------ csv
#: The columns of the report's CSV form: one row per figure.
CSV_COLUMNS: Final = ("section", "item", "metric", "value")


def _csv_value(value: Cell) -> Cell:
    return "" if value is None else csv_cell(value)


def _csv_rows(report: Report) -> Iterable[tuple[Cell, ...]]:
    yield ("report", "", "schema", report.schema)
    yield ("report", "", "pipeline", report.pipeline)
    yield ("report", "", "as_of", report.as_of)
    yield ("report", "", "engine", report.engine)
    for w in report.warnings:
        yield ("report", "", "warning", w)
    for s in report.sections:
        if "csv" not in s.formats:
            continue
        key = [c.name for c in s.columns if c.name in s.key]
        for n, row in enumerate(s.records()):
            item = "/".join(str(row[k]) for k in key) if key else ("" if len(s.rows) == 1 else n)
            for c in s.columns:
                if c.name not in s.key:
                    yield (s.id, item, c.name, row[c.name])


def render_csv(report: Report) -> str:
    """The report as one long CSV table: ``section, item, metric, value`` (``item``
    names the row: its key columns joined by ``/``).

    Text cells that a spreadsheet would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or CR) get a leading ``'``; see
    :func:`salesstages._text.csv_cell`.
    """
    buf = io.StringIO()
    writer = csv_writer(buf)  # quotes a cell holding a line break
    writer.writerow(CSV_COLUMNS)
    for row in _csv_rows(report):
        writer.writerow([_csv_value(v) for v in row])
    return buf.getvalue()


#: The columns of :func:`render_deals_csv`.
DEALS_CSV_COLUMNS: Final = ("list", "deal_id", "field", "value")


def render_deals_csv(sections: Iterable[Section]) -> str:
    """Per-deal lists (stalled, slipping …) as one long CSV table: ``list, deal_id,
    field, value``, every row of every section given (pass complete, uncapped
    sections: see :func:`salesstages.report.deal_lists`). Cells are neutralised
    like :func:`render_csv`'s."""
    buf = io.StringIO()
    writer = csv_writer(buf)  # quotes a cell holding a line break
    writer.writerow(DEALS_CSV_COLUMNS)
    for s in sections:
        for row in s.records():
            for c in s.columns:
                if c.name != "deal_id":
                    writer.writerow(
                        [s.id, _csv_value(row["deal_id"]), c.name, _csv_value(row[c.name])]
                    )
    return buf.getvalue()
