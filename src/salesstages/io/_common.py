"""What every reader and importer shares: sources, CSV rows, dates, numbers, problems,
and the builder that turns a CRM row history into a valid event log."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time, tzinfo
from typing import IO, Any, Final, TypeAlias

import attrs

from .._errors import DataError
from .._events import _EMPTY, Event, freeze_data
from .._pipeline import Pipeline
from .._time import as_utc
from .._values import check_amount

__all__ = [
    "CELL_LIMIT",
    "TOO_LARGE",
    "DealBuilder",
    "ImportProblem",
    "ImportResult",
    "Reporter",
    "Skipped",
    "Source",
    "Target",
    "attribute_map",
    "csv_table",
    "parse_amount",
    "parse_date",
    "parse_number",
    "read_source",
    "require_columns",
    "source_name",
]

Source: TypeAlias = "str | os.PathLike[str] | IO[str] | IO[bytes]"
Target: TypeAlias = "str | os.PathLike[str] | IO[str]"


@attrs.frozen
class ImportProblem:
    """One thing an importer could not take as it was.

    Attributes:
        deal_id: The deal (row id) concerned, or ``None`` when the row has none.
        row: The file line the row starts on (the header is line 1).
        rule: A short, stable name: ``no_dates``, ``date``, ``amount``,
            ``unknown_status``, ``unknown_stage``, ``status_mismatch``,
            ``no_close_date``, ``move_not_allowed``, ``after_won``, ``time``,
            ``duplicate_id``, ``no_id``, ``columns``, ``cell_too_large``, ``stray_quote``.
        message: What was wrong and what the importer did about it.
    """

    deal_id: str | None
    row: int
    rule: str
    message: str


@attrs.frozen
class ImportResult:
    """What an importer produced.

    Attributes:
        events: The events of every imported deal, each deal's in ``seq`` order;
            they replay with ``strict=True`` on the pipeline they were built for.
        problems: Every problem met (empty in strict mode, which raises instead).
        rows: Data rows read (the header not counted).
        deals: Deals imported (a deal whose rows were all unusable is not).
    """

    events: tuple[Event, ...]
    problems: tuple[ImportProblem, ...]
    rows: int
    deals: int

    def batches(self) -> list[list[Event]]:
        """The events grouped by deal, one list per deal, ready for ``append_many``
        (or one ``append`` per deal)."""
        out: dict[str, list[Event]] = {}
        for e in self.events:
            out.setdefault(e.deal_id, []).append(e)
        return list(out.values())

    def counts(self) -> dict[str, int]:
        """The number of problems per rule, most frequent first."""
        out: dict[str, int] = {}
        for p in self.problems:
            out[p.rule] = out.get(p.rule, 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


# ---------------------------------------------------------------------- sources
def source_name(source: object) -> str:
    """A name for error messages: the path, or the file object's ``name``."""
    if isinstance(source, str | os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str | int) else "<stream>"


def read_source(source: Source) -> tuple[str, str]:
    """Read a whole source as text: ``(name, text)``; a BOM is dropped.

    Raises :class:`DataError` naming the line of the first byte that is not UTF-8.
    """
    name = source_name(source)
    raw: str | bytes
    if isinstance(source, str | os.PathLike):
        try:
            with open(source, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise DataError(f"cannot read the file: {exc.strerror or exc}", path=name) from None
    else:
        raw = source.read()
    if isinstance(raw, str):
        return name, raw.removeprefix("\ufeff")
    try:
        return name, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(
            f"not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as UTF-8",
            path=name,
            line=line,
        ) from None


@attrs.frozen
class Skipped:
    """A row a lenient :func:`csv_table` could not read: the import problem's rule and
    message (the message says which line was skipped and where reading went on)."""

    rule: str
    message: str


def csv_table(
    name: str, text: str, *, lenient: bool = False
) -> tuple[list[str], Iterator[tuple[int, list[str] | Skipped]]]:
    """The header and an iterator of ``(line, cells)`` of a CSV text.

    ``line`` is the physical line a row starts on. Raises :class:`DataError` for
    an empty file, a blank or duplicated header name, or a CSV syntax error.

    A row holding a cell larger than the CSV reader's limit (128 KiB,
    :data:`CELL_LIMIT` characters) raises :class:`DataError` naming its line;
    with ``lenient=True`` it is yielded as ``(line, Skipped(...))`` instead, and
    reading goes on with the next row (an importer reports it as a problem of
    that row and keeps every other row). So is, leniently, a row whose quote does
    not close where the row should end (a stray ``"``: the record would run over
    the following lines with the wrong number of cells, or to the end of the
    file): only its own line is skipped, and reading resumes at the next line.
    """
    buf = io.StringIO(text, newline="")
    reader = csv.reader(buf, strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise DataError(f"bad CSV: {exc}", path=name, line=reader.line_num) from None
    if not header:
        raise DataError("the file is empty; expected a header row", path=name, line=1)
    header = [h.strip() for h in header]
    seen: set[str] = set()
    for h in header:
        if not h:
            raise DataError("a column has no name in the header row", path=name, line=1)
        if h in seen:
            raise DataError("the column appears twice in the header", path=name, line=1, field=h)
        seen.add(h)

    skipped = 0  # lines jumped over (or read again) beyond what the reader counted

    def stray(start: int, offset: int, why: str) -> Skipped:
        """Skip the line ``start`` alone (it holds a stray quote); resume after it."""
        nonlocal skipped
        after = text.find("\n", offset)
        buf.seek(len(text) if after < 0 else after + 1)
        skipped = start - reader.line_num  # the next row starts on line start + 1
        return Skipped(
            "stray_quote",
            f"line {start}: {why}, so the row cannot be read (a stray '\"'?); line {start} "
            f"skipped, reading resumed at line {start + 1}",
        )

    def rows() -> Iterator[tuple[int, list[str] | Skipped]]:
        nonlocal skipped
        while True:
            start = reader.line_num + skipped + 1
            offset = buf.tell()
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if lenient and not _oversized(exc):
                    yield start, stray(start, offset, f"a quote does not close ({exc})")
                    continue
                if not _oversized(exc):
                    raise DataError(f"bad CSV: {exc}", path=name, line=start) from None
                message = (
                    f"a cell is larger than {CELL_LIMIT:,} characters (128 KiB), the most a "
                    "CSV cell may hold; split the text or leave it out of the export"
                )
                if not lenient:
                    raise DataError(message, path=name, line=start) from None
                eol = text.find("\n", offset)
                if eol >= 0 and text.count('"', offset, eol) % 2 and text.find('"', eol) < 0:
                    # the line opens a quote that nothing below closes: a stray quote
                    # that ran over the rows below; skip only this line
                    yield start, stray(start, offset, "a quote opens a cell that never closes")
                    continue
                # resume after the whole record, however many lines its quoted cell spans
                read_to = buf.tell()
                end = max(_record_end(text, offset), read_to)
                skipped += text.count("\n", read_to, end)
                buf.seek(end)
                yield start, Skipped("cell_too_large", TOO_LARGE)
                continue
            spans = reader.line_num + skipped > start
            if lenient and spans and len(cells) != len(header) and '"' in text[offset : buf.tell()]:
                yield (
                    start,
                    stray(
                        start,
                        offset,
                        f"a quoted cell runs over {reader.line_num + skipped - start} "
                        f"more lines and the row has {len(cells)} cells, the header {len(header)}",
                    ),
                )
                continue
            if cells:
                yield start, cells

    return header, rows()


#: The most characters one CSV cell may hold (the ``csv`` module's field limit).
CELL_LIMIT: Final = csv.field_size_limit()
#: The message of a ``cell_too_large`` import problem.
TOO_LARGE: Final = (
    f"a cell is larger than {CELL_LIMIT:,} characters (128 KiB), the most a CSV cell may hold; "
    "row skipped, the rows around it are kept"
)


def _oversized(exc: csv.Error) -> bool:
    return "field larger than field limit" in str(exc)


def _record_end(text: str, start: int) -> int:
    """The offset just past the CSV record that starts at ``start`` (quote-aware:
    a newline inside a quoted cell does not end it)."""
    i, n = start, len(text)
    while i < n:
        if text.startswith('"', i):  # a quoted cell: up to its closing quote ("" is a quote)
            j = i + 1
            while True:
                j = text.find('"', j)
                if j < 0:
                    return n
                if not text.startswith('""', j):
                    break
                j += 2
            i = j + 1
        stop = _CELL_END.search(text, i)
        if stop is None:
            return n
        i = stop.end()
        if stop.group() == "\n":
            return i
    return n


_CELL_END: Final = re.compile(r"[,\n]")


def require_columns(name: str, header: Sequence[str], columns: Sequence[str | None]) -> None:
    """Raise :class:`DataError` naming the first configured column the header lacks
    (a set lookup per column: linear in the header and the columns)."""
    present = frozenset(header)
    for c in columns:
        if c is not None and c not in present:
            shown = ", ".join(header[:50]) + (
                f", … {len(header) - 50:,} more" if len(header) > 50 else ""
            )
            raise DataError(
                f"the header has no column {c!r} (it has: {shown}); "
                "check the column names passed to the importer",
                path=name,
                line=1,
                field=c,
            )


def attribute_map(columns: Mapping[str, str] | Sequence[str]) -> dict[str, str]:
    """``attribute_columns`` as ``{column: attribute}`` (a sequence keeps the names)."""
    if isinstance(columns, str):
        raise TypeError("attribute_columns must be a list of columns or a mapping, not a string")
    if isinstance(columns, Mapping):
        return dict(columns)
    return {c: c for c in columns}


# ---------------------------------------------------------------------- values
_DATE_ONLY: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str, *, fmt: str | None = None, tz: tzinfo = UTC) -> datetime:
    """A date or date-time cell as aware UTC; a naive value is taken in ``tz``.

    Accepts ISO 8601 (``2024-05-01``, ``2024-05-01T09:30:00Z``,
    ``2024-05-01 09:30:00.000+0000``) or, with ``fmt``, a :meth:`datetime.strptime`
    format. A bare date means midnight in ``tz``. Raises ``ValueError`` (a
    :class:`DataError` for a moment outside the years 1 to 9999 in UTC).
    """
    text = text.strip()
    if fmt is not None:
        value = datetime.strptime(text, fmt)
    elif _DATE_ONLY.match(text):
        value = datetime.combine(date.fromisoformat(text), time())
    else:
        value = datetime.fromisoformat(text)
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=tz)
    return as_utc(value, "date")  # a DataError (a ValueError) past the years 1 to 9999


def parse_number(text: str) -> int | float:
    """A number cell, read strictly: ``int`` when written without a point or an
    exponent, else ``float``.

    Accepted: ASCII digits with one optional leading minus, an optional decimal
    part (``12.50``, ``.5``) and an optional exponent (``1.2e4``), surrounded by
    optional spaces. Two conveniences of CRM exports are allowed and nothing
    else: one currency sign ``$``, ``€`` or ``£`` right before the digits, and
    thousands separated by commas in groups of exactly three (``1,234,567.89``).
    So ``1,5``, ``1.234,50``, ``1_000``, ``12k``, ``１２`` (full-width digits),
    ``٣`` (Arabic-Indic), ``+5``, ``NaN`` and ``inf`` are all refused.

    Raises:
        DataError: The text is not such a number, or it overflows a float.
    """
    match = _NUMBER.fullmatch(text.strip())
    if match is None or (match["int"] is None and match["frac"] is None):
        raise DataError(
            f"{_show(text)} is not a number (ASCII digits, an optional minus, decimal point "
            "and exponent; thousands may be grouped by commas: 1,234.50)"
        )
    sign, whole, frac, exp = match.group("sign", "int", "frac", "exp")
    body = (sign or "") + (whole or "").replace(",", "") + (frac or "") + (exp or "")
    if frac is None and exp is None:
        if len(body) > 309:  # beyond any float: no amount, and int() would refuse 4,300 digits
            raise DataError(f"{_show(text)} is too large for a number")
        return int(body)
    value = float(body)
    if not math.isfinite(value):
        raise DataError(f"{_show(text)} is too large for a number")
    return value


def parse_amount(text: str) -> int | float:
    """An amount cell: :func:`parse_number`, then the API's own amount check
    (finite and not negative), so an importer keeps exactly what ``open_deal`` would.

    Raises:
        DataError: The text is not a number, or the number is not an amount.
    """
    amount = check_amount(parse_number(text), "the cell")
    assert amount is not None  # a parsed number is never None
    return amount


_NUMBER: Final = re.compile(
    r"(?P<sign>-)?[$€£]?"
    r"(?P<int>\d{1,3}(?:,\d{3})+|\d+)?"
    r"(?P<frac>\.\d+)?"
    r"(?P<exp>[eE][+-]?\d+)?",
    re.ASCII,
)


def _show(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:37] + "...")


# ---------------------------------------------------------------------- problems
class Reporter:
    """Collects problems (lenient) or raises the first as :class:`DataError` (strict)."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name = name
        self.strict = strict
        self.problems: list[ImportProblem] = []

    def __call__(
        self, deal_id: str | None, row: int, rule: str, message: str, field: str | None = None
    ) -> None:
        """Record one problem, or raise it in strict mode."""
        if self.strict:
            raise DataError(
                f"{message} (rule {rule!r}); fix the row, or import with strict=False to "
                "keep what can be kept and get every problem back",
                path=self.name,
                line=row,
                field=field,
            )
        self.problems.append(ImportProblem(deal_id, row, rule, message))


# ---------------------------------------------------------------------- building
class DealBuilder:
    """Builds one deal's events hop by hop, refusing what the pipeline's rules refuse.

    Every refused step is reported (and skipped), so the events produced always
    replay with ``strict=True``.
    """

    def __init__(self, pipeline: Pipeline, deal_id: str, report: Reporter) -> None:
        self.pipeline = pipeline
        self.deal_id = deal_id
        self.report = report
        self.events: list[Event] = []
        self.stage: str | None = None
        self.attributes: dict[str, Any] = {}

    @property
    def last_at(self) -> datetime | None:
        """The time of the latest event, or ``None`` before the first."""
        return self.events[-1].at if self.events else None

    def _add(self, at: datetime, kind: str, stage: str | None, data: Mapping[str, Any]) -> None:
        self.events.append(
            Event(
                deal_id=self.deal_id,
                seq=len(self.events),
                at=at,
                kind=kind,  # type: ignore[arg-type]
                stage=stage,
                data=freeze_data(data) if data else _EMPTY,
            )
        )

    def _in_time(self, at: datetime, row: int, what: str, field: str | None) -> bool:
        last = self.last_at
        if last is not None and at < last:
            self.report(
                self.deal_id,
                row,
                "time",
                f"deal {self.deal_id!r}: {what} at {at.isoformat()} is earlier than the "
                f"previous event at {last.isoformat()}; skipped",
                field,
            )
            return False
        return True

    def open(
        self, at: datetime, stage: str, attributes: Mapping[str, Any], row: int, field: str | None
    ) -> None:
        """Open the deal at ``at``; a closed ``stage`` opens in the first stage and moves."""
        start = stage if self.pipeline.stage(stage).is_open else self.pipeline.first_stage.name
        self.attributes = dict(attributes)
        self._add(at, "opened", None, attributes)
        self._add(at, "stage_entered", start, _EMPTY)
        self.stage = start
        if start != stage:
            self.hop(stage, at, row, field)

    def hop(
        self,
        stage: str,
        at: datetime,
        row: int,
        field: str | None,
        data: Mapping[str, Any] | None = None,
    ) -> bool:
        """Enter ``stage`` at ``at`` if the rules allow; report and skip otherwise."""
        current = self.stage
        assert current is not None, "open() first"
        if stage == current:
            return False
        pipeline = self.pipeline
        if pipeline.stage(current).outcome == "won":
            self.report(
                self.deal_id,
                row,
                "after_won",
                f"deal {self.deal_id!r}: a move to {stage!r} after the deal was won in "
                f"{current!r}; nothing leaves a won stage, skipped",
                field,
            )
            return False
        if not pipeline.allowed(current, stage):
            allowed = pipeline.targets(current)
            self.report(
                self.deal_id,
                row,
                "move_not_allowed",
                f"deal {self.deal_id!r}: the pipeline does not allow moving from {current!r} "
                f"to {stage!r} (allowed next: {', '.join(allowed) or 'nothing'}); skipped",
                field,
            )
            return False
        if not self._in_time(at, row, f"entering {stage!r}", field):
            return False
        self._add(at, "stage_entered", stage, data or _EMPTY)
        self.stage = stage
        return True

    def update(self, at: datetime, changes: Mapping[str, Any], row: int, field: str | None) -> None:
        """Record changed attributes as an ``updated`` event (nothing when none changed)."""
        changed = {k: v for k, v in changes.items() if self.attributes.get(k) != v}
        if not changed or not self._in_time(at, row, "an update", field):
            return
        self.attributes.update(changed)
        self._add(at, "updated", self.stage, changed)
