"""What every chart of the report shares, whichever renderer draws it.

The inline-SVG charts of :mod:`salesstages.report._html` and the matplotlib
ones of :mod:`salesstages.report._plot` take their colours, tick values, tick
labels, axis titles and stage labels from here, so that a method or a segment
has the same colour in every chart and every report, and the two renderers
draw the same picture.

- :func:`method_colour`: a fixed colour per forecast method (and for what was
  actually won), never the order of a ranking.
- :func:`segment_colours`: one colour per segment value, by the values'
  sorted names, the same in every chart of a report.
- :func:`nice_ticks` and :func:`tick_label`: round tick values ("nice
  numbers": steps of 1, 2 or 5 times a power of ten) and their labels
  (``500k``, ``1.5M``, ``20 d``, ``40%``).
- :data:`AXES`: each chart's axis titles.
- :func:`stage_labels`: a stage's label (its title) from the report dict.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

__all__ = [
    "ACTUAL",
    "AXES",
    "COVERAGE_KEYS",
    "METHOD_COLOURS",
    "MOVEMENT_KEYS",
    "method_colour",
    "method_name",
    "nice_ticks",
    "segment_colours",
    "stage_labels",
    "tick_label",
]

INK: Final = "#1f2937"
MUTED: Final = "#6b7280"
GRID: Final = "#e5e7eb"
BLUE: Final = "#2563eb"
LIGHT_BLUE: Final = "#93c5fd"
BAND: Final = "#bfdbfe"
GREEN: Final = "#16a34a"
RED: Final = "#dc2626"
#: A light green, for the bars a darker mark is drawn over.
LIGHT_GREEN: Final = "#86efac"

#: The backtest's "what was actually won" series.
ACTUAL: Final = "actual"
#: A fixed colour per forecast method, whatever order a ranking puts them in.
METHOD_COLOURS: Final[Mapping[str, str]] = {
    ACTUAL: "#111827",
    "weighted": "#2563eb",
    "markov": "#8b5cf6",
    "conditional": "#f59e0b",
    "conditional_within_horizon": "#10b981",
}
#: Colours for methods without a fixed one (picked by a hash of the name) and for
#: segments (in their sorted order); none of them is a method's fixed colour.
_EXTRA: Final = ("#0891b2", "#db2777", "#65a30d", "#ea580c", "#4f46e5", "#0d9488")
_SEGMENTS: Final = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#17becf",
    "#6b3fa0",
)
#: The colour of the segment of deals without the attribute.
NO_SEGMENT: Final = "#9ca3af"
#: The colour of a chart's pooled "others" segment.
OTHERS_SEGMENT: Final = "#d1d5db"


def method_colour(method: str) -> str:
    """The fixed colour of a forecast method (or of :data:`ACTUAL`): the same in
    every chart and every report; a method without a fixed colour gets one by a
    stable hash of its name."""
    fixed = METHOD_COLOURS.get(method)
    if fixed is not None:
        return fixed
    return _EXTRA[zlib.crc32(method.encode("utf-8")) % len(_EXTRA)]


def method_name(method: str) -> str:
    """How a chart's legend names a backtest series."""
    return "actually won" if method == ACTUAL else method


def segment_colours(names: Iterable[str], *, none: str = "(none)") -> dict[str, str]:
    """One colour per segment name, assigned in the names' sorted order (not their
    ranking), so a segment keeps its colour in every chart of a report; the
    segment of deals without the attribute (``none``) is grey."""
    out: dict[str, str] = {}
    names = list(names)
    ordered = sorted({n for n in names if n != none and not n.startswith("others (")})
    for i, name in enumerate(ordered):
        out[name] = _SEGMENTS[i % len(_SEGMENTS)]
    out[none] = NO_SEGMENT
    for name in names:  # the pooled segments of a capped chart
        if name.startswith("others ("):
            out[name] = OTHERS_SEGMENT
    return out


# ---------------------------------------------------------------------- ticks
def _nice(x: float, *, round_: bool) -> float:
    """A "nice number" near ``x``: 1, 2 or 5 (or 10) times a power of ten."""
    exp = math.floor(math.log10(x))
    f = x / 10.0**exp
    if round_:
        nf = 1.0 if f < 1.5 else 2.0 if f < 3.0 else 5.0 if f < 7.0 else 10.0
    else:
        nf = 1.0 if f <= 1.0 else 2.0 if f <= 2.0 else 5.0 if f <= 5.0 else 10.0
    return nf * 10.0**exp


def nice_ticks(high: float, low: float = 0.0, *, count: int = 5) -> list[float]:
    """Round tick values from at most ``low`` to at least ``high``, about ``count``
    of them, in steps of 1, 2 or 5 times a power of ten (Heckbert's "nice
    numbers"): ``nice_ticks(2_450_000)`` is ``[0, 500k, 1M, 1.5M, 2M, 2.5M]``."""
    if not (math.isfinite(high) and math.isfinite(low)) or high <= low:
        high = low + 1.0
    step = _nice((high - low) / max(1, count - 1), round_=True)
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [float(f"{i * step:.12g}") for i in range(first, last + 1)]


def _trim(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _decimals(step: float) -> int:
    return max(0, math.ceil(-math.log10(step) - 1e-9)) if step > 0 else 0


def tick_label(
    value: float, ticks: list[float], kind: Literal["amount", "days", "share", "count"]
) -> str:
    """A tick's label, with just the decimals its step needs: amounts as ``500k``
    or ``1.5M``, days as ``20 d``, shares (0–1) as ``40%``, counts as ``1,200``."""
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    if kind == "share":
        return _trim(f"{100 * value:.{_decimals(100 * step)}f}") + "%"
    if kind == "days":
        return _trim(f"{value:.{_decimals(step)}f}") + " d"
    if kind == "count":
        return f"{value:,.{_decimals(step)}f}"
    top = max(abs(t) for t in ticks)
    unit, suffix = (1e6, "M") if top >= 1e6 else (1e3, "k") if top >= 1e3 else (1.0, "")
    if abs(value) < unit:  # 500k on an axis that reaches millions
        unit, suffix = (1e3, "k") if abs(value) >= 1e3 else (1.0, "")
    text = _trim(f"{value / unit:,.{_decimals(step / unit)}f}")
    return "0" if text in ("0", "-0") else text + suffix


#: Each chart's axis titles, by its ``data-chart`` name: ``(x, y)``; ``""`` for
#: an axis whose labels say it all (stage names, dates).
AXES: Final[Mapping[str, tuple[str, str]]] = {
    "funnel": ("deals that reached the stage", ""),
    "time-in-stage": ("days in the stage (completed visits)", ""),
    "win-rate": ("won ÷ closed deals", ""),
    "time-to-close": ("days since the deal was opened", "share of deals still open"),
    "backtest": ("forecast date", "amount"),
    "actions": ("share of deals that advanced", ""),
    "movement": ("", "open pipeline amount"),
    "coverage": ("amount", ""),
}

#: The waterfall's (movement's) legend, ``(label, colour)``: the levels of the open
#: pipeline (opening and closing) and the lines that raise or lower it.
MOVEMENT_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "total": ("open pipeline (opening, closing)", BLUE),
    "increase": ("increase", GREEN),
    "decrease": ("decrease", RED),
}
#: The coverage (bullet) chart's legend, ``(label, colour)``.
COVERAGE_KEYS: Final[Mapping[str, tuple[str, str]]] = {
    "won": ("won in the period", GREEN),
    "open": ("open, closing in the period", LIGHT_BLUE),
    "target": ("target", INK),
}


def stage_labels(report: Mapping[str, Any]) -> dict[str, str]:
    """Each stage's label (its title) by name, from the report's pipeline."""
    return {s["name"]: s["label"] for s in report["pipeline"]["stages"]}
