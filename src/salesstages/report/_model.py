"""The report as one typed model: a :class:`Report` is an ordered list of
:class:`Section` records, each a small table (:class:`Column` and rows of plain
cells) with its notes, written once when the report is built, and an optional
:class:`Chart` that names the columns it draws.

Every renderer (text, CSV, HTML, JSON, matplotlib) lays these records out by
column kind and chart kind; none of them computes or words a figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, Literal

import attrs

__all__ = [
    "CHART_KINDS",
    "FORMATS",
    "KINDS",
    "SCHEMA",
    "Cell",
    "Chart",
    "ChartKind",
    "Column",
    "Format",
    "Kind",
    "Mark",
    "Report",
    "Section",
    "chart_records",
    "records",
]

#: The report schema's name and version; a change that breaks a reader bumps it.
SCHEMA: Final = "salesstages.report/3"

#: One value of a row: text, a number, a flag, or ``None`` (no value: shown ``–``).
Cell = str | int | float | bool | None
#: What a column holds, which fixes how every renderer shows it:
#:
#: - ``text``: words (a stage label, a deal id, a reason);
#: - ``count``: a whole number (``1,234``);
#: - ``money``: an amount in the deals' own currency (``12,345``);
#: - ``days``: a duration in days (``4.5 d``);
#: - ``rate``: a share in [0, 1] (``12.5%``);
#: - ``ratio``: a multiple (``1.25×``);
#: - ``signed``: a whole number with its sign (``+24``);
#: - ``date``: an ISO date (``2026-03-01``);
#: - ``time``: an ISO instant in UTC (``2026-03-01 09:30 UTC``);
#: - ``flag``: yes or nothing.
Kind = Literal["text", "count", "money", "days", "rate", "ratio", "signed", "date", "time", "flag"]
KINDS: Final[tuple[Kind, ...]] = (
    "text",
    "count",
    "money",
    "days",
    "rate",
    "ratio",
    "signed",
    "date",
    "time",
    "flag",
)
#: How a chart draws its rows:
#:
#: - ``funnel``: one horizontal bar per row (``values[0]``), the rate to the next
#:   written under it (``values[1]``), the last bar the one reaching the end;
#: - ``bars``: one horizontal bar per row on a 0-1 axis (``values[0]``), with the
#:   text of ``note`` after it, and the chart's marks as dashed lines;
#: - ``ranges``: per row, a light bar to ``values[1]`` under a dark one to
#:   ``values[0]`` (median and 90th percentile), ``note`` after them;
#: - ``survival``: a step curve (``values[0]``) over ``label`` with its band
#:   (``values[1]`` to ``values[2]``), the marks as dashed lines;
#: - ``grouped``: per row, one bar per value column, each series in its colour;
#: - ``intervals``: per row, a bar (``values[0]``) with a whisker (``values[1]`` to
#:   ``values[2]``) and a tick (``values[3]``), ``note`` after them;
#: - ``waterfall``: levels and the changes between them (``values[0]``: the
#:   amount; ``step`` names the column saying ``total``, ``increase`` or
#:   ``decrease``);
#: - ``bullet``: per row, a bar (``values[0]``), a thinner one after it
#:   (``values[1]``) and a target mark (``values[2]``), ``note`` on the right.
ChartKind = Literal[
    "funnel", "bars", "ranges", "survival", "grouped", "intervals", "waterfall", "bullet"
]
CHART_KINDS: Final[tuple[ChartKind, ...]] = (
    "funnel",
    "bars",
    "ranges",
    "survival",
    "grouped",
    "intervals",
    "waterfall",
    "bullet",
)
#: The renderers; a section may be laid out in some of them only.
Format = Literal["text", "csv", "html", "json"]
FORMATS: Final[tuple[Format, ...]] = ("text", "csv", "html", "json")


def _cells(rows: Any) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(r) for r in rows)


@attrs.frozen
class Column:
    """A column of a section's table.

    Attributes:
        name: Its key (``reached``, ``median_days``), in JSON and CSV.
        label: Its header in the text and HTML tables.
        kind: What it holds (:data:`Kind`); ``kind_from`` overrides it per row.
        show: Whether the text and HTML tables show it (JSON and CSV always carry
            every column).
        kind_from: The name of a column whose cell gives this cell's kind, row by
            row (a table of figures of several kinds).
        missing: How a cell without a value (``None``) is written: ``–``, or
            ``n/a`` where a note under the table says why there is none.
    """

    name: str
    label: str
    kind: Kind = "text"
    show: bool = True
    kind_from: str | None = None
    missing: str = "–"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "kind": self.kind}
        if not self.show:
            out["show"] = False
        if self.kind_from is not None:
            out["kind_from"] = self.kind_from
        if self.missing != "–":
            out["missing"] = self.missing
        return out


@attrs.frozen
class Mark:
    """A reference line on a chart: ``value`` on its value axis, named ``label`` in
    the legend, with ``text`` written beside it (if any)."""

    value: float
    label: str
    colour: Literal["ink", "muted", "red"] = "ink"
    text: str = ""


@attrs.frozen(kw_only=True)
class Chart:
    """How a section is drawn: a kind, a title, and the columns that feed it.

    Attributes:
        kind: The drawing (:data:`ChartKind`).
        name: Its ``data-chart`` name in the HTML page and the file name of
            ``salesstages plot``.
        title: What it shows.
        label: The column naming each bar or point.
        values: The value columns it draws, in the order its kind reads them.
        legend: The legend's entries, one per value column (or per row for a
            chart coloured by row); empty when the labels say it all.
        axes: The titles of its value axis and of its other axis (``""``: none).
        unit: How its ticks are labelled: ``amount``, ``days``, ``share`` or
            ``count``.
        note: The column whose text is written beside each bar, if any.
        tip: The column whose text is each bar's tooltip, if any (else the bar's
            label and value).
        step: For a waterfall, the column saying whether a row is a total, an
            increase or a decrease.
        minor: The flag column marking a row drawn smaller and muted (a
            sub-state under its stage), if any.
        colour_by: ``series`` (one colour per value column, fixed by its name),
            ``row`` (one colour per row, fixed by its label), or ``kind`` (the
            chart kind's own colours).
        marks: Reference lines.
        empty: What the chart says when it has no rows.
        columns: Its own columns when it draws rows other than the section's
            (a survival curve under a table of figures); empty: the section's.
        rows: Its own rows, with ``columns``.
    """

    kind: ChartKind
    name: str
    title: str
    label: str
    values: tuple[str, ...]
    legend: tuple[str, ...] = ()
    axes: tuple[str, str] = ("", "")
    unit: Literal["amount", "days", "share", "count"] = "count"
    note: str | None = None
    tip: str | None = None
    step: str | None = None
    minor: str | None = None
    colour_by: Literal["series", "row", "kind"] = "kind"
    marks: tuple[Mark, ...] = ()
    empty: str = ""
    columns: tuple[Column, ...] = ()
    rows: tuple[tuple[Cell, ...], ...] = attrs.field(default=(), converter=_cells)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "title": self.title,
            "label": self.label,
            "values": list(self.values),
            "legend": list(self.legend),
            "axes": list(self.axes),
            "unit": self.unit,
            "note": self.note,
            "tip": self.tip,
            "step": self.step,
            "minor": self.minor,
            "colour_by": self.colour_by,
            "marks": [attrs.asdict(m) for m in self.marks],
            "empty": self.empty,
            "columns": [c.to_dict() for c in self.columns],
            "rows": [list(r) for r in self.rows],
        }


@attrs.frozen(kw_only=True)
class Section:
    """One part of the report: a table, the words about it, and maybe a chart.

    Attributes:
        id: Its stable key (``funnel``, ``stalled``), in JSON, CSV and HTML.
        title: Its heading, as every renderer shows it.
        columns: The table's columns.
        rows: The table's rows, one cell per column.
        key: The columns that name a row (the ``item`` of a CSV row).
        lead: Lines said above the table.
        notes: Lines said under the table (what its columns count, what a gap
            in the data means).
        empty: What is said instead of the table when it has no rows.
        total: For a list capped in the report (stalled, slipping deals): how many
            rows the full list has; ``None`` when every row is here.
        chart: How it is drawn, if it is.
        formats: The renderers that lay it out (all by default).
        wide: In HTML, whether it takes the page's whole width.
        layout: ``table``, or ``cards`` (a row of headline figures, each its value
            over its name).
    """

    id: str
    title: str
    columns: tuple[Column, ...] = ()
    rows: tuple[tuple[Cell, ...], ...] = attrs.field(default=(), converter=_cells)
    key: tuple[str, ...] = ()
    lead: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    empty: str = ""
    total: int | None = None
    chart: Chart | None = None
    formats: tuple[Format, ...] = FORMATS
    wide: bool = False
    layout: Literal["table", "cards"] = "table"

    def records(self) -> list[dict[str, Cell]]:
        """The rows as dicts keyed by column name."""
        names = [c.name for c in self.columns]
        return [dict(zip(names, r, strict=True)) for r in self.rows]

    def to_records(self) -> list[dict[str, Cell]]:
        """The rows as dicts keyed by column name, as every result of the library
        gives them (for ``pandas.DataFrame(section.to_records())``)."""
        return self.records()

    def column(self, name: str) -> list[Cell]:
        """One column's cells, row by row.

        Raises:
            KeyError: The section has no such column.
        """
        names = [c.name for c in self.columns]
        if name not in names:
            raise KeyError(f"section {self.id!r} has no column {name!r}; it has {names}")
        i = names.index(name)
        return [r[i] for r in self.rows]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "columns": [c.to_dict() for c in self.columns],
            "rows": [list(r) for r in self.rows],
            "key": list(self.key),
            "lead": list(self.lead),
            "notes": list(self.notes),
            "empty": self.empty,
            "total": self.total,
            "chart": None if self.chart is None else self.chart.to_dict(),
            "formats": list(self.formats),
            "layout": self.layout,
        }


@attrs.frozen(kw_only=True)
class Report:
    """The whole report: what it is about, and its sections in order.

    Attributes:
        title: Its heading (``Pipeline report: inbound_b2b``).
        pipeline: The pipeline's name.
        as_of: The instant the figures are as of (ISO 8601, UTC), ``None`` for an
            empty log.
        source: Where the events came from, if said.
        by: The attribute the segments are keyed by, if any.
        engine: ``python`` (the fold) or the Ibis backend's name.
        generator: The library and version that built it.
        schema: :data:`SCHEMA`.
        summary: The lines under the title (as of, how many deals and events).
        warnings: What the reader must know before trusting a figure (also
            printed on standard error by the command line).
        sections: The sections, in the order every renderer lays them out.
    """

    title: str
    pipeline: str
    as_of: str | None
    source: str | None
    by: str | None
    engine: str
    generator: str
    schema: str = SCHEMA
    summary: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()

    def __iter__(self) -> Iterator[Section]:
        return iter(self.sections)

    @property
    def ids(self) -> list[str]:
        """The sections' ids, in order."""
        return [s.id for s in self.sections]

    def section(self, id: str) -> Section:
        """The section with this id.

        Raises:
            KeyError: There is none; the message lists the ids there are.
        """
        for s in self.sections:
            if s.id == id:
                return s
        raise KeyError(f"the report has no section {id!r}; it has {self.ids}")

    def get(self, id: str) -> Section | None:
        """The section with this id, or ``None``."""
        return next((s for s in self.sections if s.id == id), None)

    def replace(self, section: Section) -> Report:
        """A copy with the section of the same id replaced by ``section``."""
        return attrs.evolve(
            self, sections=tuple(section if s.id == section.id else s for s in self.sections)
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (schema :data:`SCHEMA`; see
        ``docs/reference/report-schema.json``)."""
        return {
            "schema": self.schema,
            "generator": self.generator,
            "title": self.title,
            "pipeline": self.pipeline,
            "as_of": self.as_of,
            "source": self.source,
            "by": self.by,
            "engine": self.engine,
            "summary": list(self.summary),
            "warnings": list(self.warnings),
            "sections": [s.to_dict() for s in self.sections],
        }


def records(report: Report | Mapping[str, Any], id: str) -> list[dict[str, Any]]:
    """The rows of section ``id`` as dicts, from a :class:`Report` or its JSON form."""
    if isinstance(report, Report):
        return [dict(r) for r in report.section(id).records()]
    for s in report["sections"]:
        if s["id"] == id:
            names = [c["name"] for c in s["columns"]]
            return [dict(zip(names, r, strict=True)) for r in s["rows"]]
    raise KeyError(f"the report has no section {id!r}")


def chart_records(chart: Chart, section: Section) -> list[dict[str, Cell]]:
    """The rows a chart draws, as dicts: its own, or its section's."""
    if chart.columns:
        names = [c.name for c in chart.columns]
        return [dict(zip(names, r, strict=True)) for r in chart.rows]
    return section.records()
