"""The report as one self-contained HTML page (:func:`render_html`).

Each section is a card laid out from its columns and its chart: a chart beside
its table, a long table folded after its first rows, headline figures as
cards. The charts are inline SVG (:mod:`._svg`); styles are inline, nothing is
fetched from the network. A few lines of inline script only mark, on
``<body>``, how many charts the browser drew (``data-charts-drawn``), which the
browser test reads.
"""

from __future__ import annotations

from html import escape
from typing import Final

from ._format import cell_kind, fmt
from ._model import Cell, Column, Report, Section
from ._style import BLUE, INK, MUTED
from ._svg import FONT, chart_svg

__all__ = ["BESIDE", "CHARTS", "PERIOD_CHARTS", "SHOWN", "render_html"]

#: The charts of a full report, by their ``data-chart`` name, in page order.
CHARTS: Final = (
    "funnel",
    "time-in-stage",
    "win-rate",
    "time-to-close",
    "backtest",
    "actions",
    "team",
    "trends",  # issue 27
    "calibration",
)
#: The period view's charts (``period=``); ``coverage`` only with a target.
PERIOD_CHARTS: Final = ("coverage", "movement")
#: How many rows a table shows before a "show the others" fold.
SHOWN: Final = 20
#: The most columns a table may have to stand beside its chart (wider: under it).
BESIDE: Final = 5


def _e(value: object) -> str:
    return escape(str(value), quote=True)


_CSS: Final = "".join(
    (
        f"body{{font-family:{FONT};color:{INK};margin:0;background:#f3f4f6}}",
        "main{max-width:1240px;margin:0 auto;padding:24px}",
        "h1{font-size:26px;margin:0 0 4px} h2{font-size:18px;margin:0 0 10px}",
        f".sub{{color:{MUTED};margin:0 0 6px}}",
        ".warning{color:#b45309;margin:0 0 6px} .kpis{margin-top:12px}",
        ".kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));",
        "gap:12px;margin-bottom:16px}",
        ".kpi{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px #0001}",
        f".kpi b{{display:block;font-size:22px}} .kpi span{{color:{MUTED};font-size:12px}}",
        ".grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));",
        "gap:16px;align-items:start}",
        ".wide{grid-column:1/-1}",
        ".pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:20px}",
        "@media (max-width:900px){.pair{grid-template-columns:1fr}}",
        "section{background:#fff;border-radius:8px;padding:16px;box-shadow:0 1px 2px #0001;",
        "min-width:0;overflow-x:auto}",
        "table{border-collapse:collapse;width:100%;font-size:13px;margin:0 0 12px}",
        "th,td{padding:4px 8px;border-bottom:1px solid #e5e7eb;text-align:left}",
        f"th{{color:{MUTED};font-weight:600}}",
        ".num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}",
        ".pair>div{min-width:0;overflow-x:auto} .lead{font-size:13px;margin:0 0 8px}",
        ".solo{max-width:760px}",
        f".note{{color:{MUTED};font-size:12px}} svg.chart{{display:block;max-width:100%}}",
        f"details.more summary{{color:{BLUE};cursor:pointer;font-size:13px;margin:0 0 8px}}",
        f"footer{{color:{MUTED};font-size:12px;text-align:center;padding:12px}}",
    )
)

_CHECK_SCRIPT: Final = """<script>
(function(){var n=0,s=document.querySelectorAll('svg.chart');
s.forEach(function(c){var b=c.getBBox();
if(b.width>0&&b.height>0&&c.querySelectorAll('rect,polyline,polygon,line').length>0){n++;}});
document.body.setAttribute('data-charts-drawn',String(n));
document.body.setAttribute('data-charts-total',String(s.length));
function drawn(q){var k=0;document.querySelectorAll(q).forEach(function(e){
var b=e.getBBox();if(b.width>0&&b.height>0){k++;}});return String(k);}
document.body.setAttribute('data-legends-drawn',drawn('svg.chart g.legend'));
document.body.setAttribute('data-axis-labels-drawn',drawn('svg.chart text.axis-label'));})();
</script>"""


def _num_class(c: Column) -> str:
    return "" if c.kind == "text" and c.kind_from is None else "num"


def _td(c: Column, text: str) -> str:
    cls = _num_class(c)
    return f'<td class="{cls}">{_e(text)}</td>' if cls else f"<td>{_e(text)}</td>"


def _rows_html(section: Section, columns: list[Column], rows: list[dict[str, Cell]]) -> str:
    return "".join(
        "<tr>"
        + "".join(_td(c, fmt(r[c.name], cell_kind(c, r), c.missing)) for c in columns)
        + "</tr>"
        for r in rows
    )


def _table(section: Section) -> str:
    """The section's table: its shown columns, the first :data:`SHOWN` rows, every
    other one behind a fold that opens in the page."""
    columns = [c for c in section.columns if c.show]
    if not section.rows:
        return f"<p>{_e(section.empty or 'none')}</p>" if section.empty else ""
    if not columns:
        return ""
    head = "".join(f'<th class="{_num_class(c)}">{_e(c.label)}</th>' for c in columns)
    rows = section.records()

    def table(part: list[dict[str, Cell]]) -> str:
        body = _rows_html(section, columns, part)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    html = table(rows[:SHOWN])
    rest = rows[SHOWN:]
    if rest:
        html += (
            f'<details class="more"><summary>Show the other {len(rest):,} rows</summary>'
            f"{table(rest)}</details>"
        )
    return html


def _cards(section: Section) -> str:
    cards = []
    value = next(c for c in section.columns if c.name == "value")
    for r in section.records():
        shown = fmt(r["value"], cell_kind(value, r), value.missing)
        cards.append(f'<div class="kpi"><b>{_e(shown)}</b><span>{_e(r["figure"])}</span></div>')
    return f'<div class="kpis">{"".join(cards)}</div>'


def _section(section: Section) -> str:
    """A card: the chart (if any) with the table beside it, the words around them."""
    lead = "".join(f'<p class="lead">{_e(line)}</p>' for line in section.lead)
    notes = "".join(f'<p class="note">{_e(line)}</p>' for line in section.notes)
    table = _table(section)
    ident = f' id="{_e(section.id)}"'
    if section.chart is not None:
        svg = chart_svg(section.chart, section)
        if sum(1 for c in section.columns if c.show) > BESIDE:  # too wide: folded, under it
            fold = (
                f'<details class="more"><summary>Show the table</summary>{table}</details>'
                if section.rows
                else table
            )
            inner = f'<div class="solo">{svg}</div>{fold}'
        else:
            inner = f'<div class="pair"><div>{svg}</div><div>{table}</div></div>'
        return (
            f'<section class="wide"{ident}><h2>{_e(section.title)}</h2>{lead}'
            f"{inner}{notes}</section>"
        )
    wide = ' class="wide"' if section.wide else ""
    return f"<section{wide}{ident}><h2>{_e(section.title)}</h2>{lead}{table}{notes}</section>"


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    shown = [
        s
        for s in report.sections
        if "html" in s.formats and (s.rows or s.empty or s.notes or s.lead or s.chart)
    ]
    cards = "".join(_cards(s) for s in shown if s.layout == "cards")
    body = "".join(_section(s) for s in shown if s.layout != "cards")
    charts = sum(1 for s in shown if s.chart is not None)
    warnings = "".join(f'<p class="warning">{_e(w)}</p>' for w in report.warnings)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{_CSS}</style></head>"
        f'<body data-charts="{charts}"><main>'
        f"<h1>{_e(report.title)}</h1>"
        + "".join(f'<p class="sub">{_e(line)}</p>' for line in report.summary)
        + f"{warnings}{cards}"
        f'<div class="grid">{body}</div>'
        f"<footer>{_e(report.generator)} · {_e(report.schema)}</footer>"
        f"</main>{_CHECK_SCRIPT}</body></html>\n"
    )
