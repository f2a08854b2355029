"""How far closed deals strayed from the designed process: :func:`conformance`.

Each closed deal's stage entries (and sub-state entries) are replayed against a
*reference* pipeline with the same stage names: by default the pipeline's main
path (each open stage to the next, the last open stage to a won stage, any open
stage to a lost stage, sub-states in order). Every move the reference forbids is
a deviation of one kind; a deal conforms when it has none. Each kind is compared
by the win rate and the median cycle of the deals with it and without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

import attrs

from .._errors import PipelineError
from .._pipeline import Pipeline
from .._stage import Stage
from .._stats import wilson_interval
from ._common import load, percentile
from ._engine import Events, engine, is_ibis_table, on_table
from ._types import Keyed, Ratio, _days, _pct, _repr, _table

if TYPE_CHECKING:
    from ._history import DealHistory

__all__ = [
    "DEVIATIONS",
    "Conformance",
    "DeviationRow",
    "conformance",
    "conformance_result",
    "deviation_codes",
    "main_path",
    "reference_of",
    "summary_result",
]

Deviation: TypeAlias = Literal[
    "opened_late", "skipped", "regressed", "reopened", "not_allowed", "substate_order"
]
#: Every kind of deviation, in the order the rows come.
DEVIATIONS: Final[tuple[Deviation, ...]] = (
    "opened_late",
    "skipped",
    "regressed",
    "reopened",
    "not_allowed",
    "substate_order",
)
#: One closed deal as both engines bring it: ``(won, cycle, month of opening, the
#: deviations it has)``.
ClosedFacts: TypeAlias = tuple[bool, timedelta, str, frozenset[str]]


@attrs.frozen(kw_only=True, repr=False)
class DeviationRow:
    """One kind of deviation and its effect (see :func:`~salesstages.metrics.conformance`).

    Attributes:
        deviation: ``"opened_late"``, ``"skipped"``, ``"regressed"``, ``"reopened"``,
            ``"not_allowed"`` or ``"substate_order"``.
        deals: Closed deals with at least one such deviation.
        share: ``deals`` over the closed deals.
        win_rate_with: The share of those deals won; ``None`` when there are none.
        win_rate_without: The share of the other closed deals won.
        cycle_with: The median cycle (opening to latest closing) of the deals with it.
        cycle_without: The same for the others.
        with_low, with_high: The 95 % Wilson interval of ``win_rate_with``.
        without_low, without_high: The same for ``win_rate_without``.
    """

    deviation: Deviation
    deals: int
    share: float | None
    win_rate_with: float | None
    win_rate_without: float | None
    cycle_with: timedelta | None
    cycle_without: timedelta | None
    with_low: float | None
    with_high: float | None
    without_low: float | None
    without_high: float | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [attrs.asdict(self)]

    def __str__(self) -> str:
        """``skipped: 4 deals (20.0%), won 75.0% with it vs 50.0% without, median cycle
        12.0 days vs 20.0 days``."""
        return (
            f"{self.deviation}: {self.deals:,} deals ({_pct(self.share)}), won "
            f"{_pct(self.win_rate_with)} with it vs {_pct(self.win_rate_without)} without, "
            f"median cycle {_days(self.cycle_with)} vs {_days(self.cycle_without)}"
        )


@attrs.frozen(kw_only=True, repr=False)
class Conformance:
    """Closed deals against a reference process (see
    :func:`~salesstages.metrics.conformance`).

    Attributes:
        rate: The share of closed deals with no deviation; ``None`` when none closed.
        deviations: One :class:`DeviationRow` per kind, in a fixed order.
        by_month: Month of opening (``"2026-01"``) → conforming deals over the closed
            deals opened that month, months in order.
        closed: The closed deals looked at.
        conforming: Those with no deviation.
    """

    rate: float | None
    deviations: list[DeviationRow]
    by_month: Keyed[str, Ratio]
    closed: int
    conforming: int

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row per deviation (see :class:`DeviationRow`)."""
        return [row for d in self.deviations for row in d.to_records()]

    def __str__(self) -> str:
        """The rate, then a table of the deviations."""
        head = (
            f"conformance {_pct(self.rate)} ({self.conforming:,} of {self.closed:,} closed "
            "deals followed the reference)"
        )
        table = _table(
            [
                "deviation",
                "deals",
                "share",
                "won with",
                "won without",
                "cycle with",
                "cycle without",
            ],
            (
                [
                    d.deviation,
                    f"{d.deals:,}",
                    _pct(d.share),
                    _pct(d.win_rate_with),
                    _pct(d.win_rate_without),
                    _days(d.cycle_with),
                    _days(d.cycle_without),
                ]
                for d in self.deviations
            ),
        )
        return f"{head}\n{table}"


# ------------------------------------------------------------------ reference
def main_path(pipeline: Pipeline) -> Pipeline:
    """The pipeline's main path as a pipeline: each open stage to the next, the last
    open stage to every won stage, any open stage to a lost stage; sub-states in
    order."""
    opens = [s.name for s in pipeline.open_stages]
    moves = list(pairwise(opens)) + [(opens[-1], s.name) for s in pipeline.won_stages]
    stages = [Stage(s.name, substates=s.substates, outcome=s.outcome) for s in pipeline.stages]
    return Pipeline(f"{pipeline.name} (main path)", stages, transitions=moves)


def reference_of(pipeline: Pipeline, reference: object) -> Pipeline:
    """``reference`` checked: a :class:`Pipeline` with the same stage names (the main
    path when ``None``)."""
    if reference is None:
        return main_path(pipeline)
    if not isinstance(reference, Pipeline):
        raise TypeError(
            f"reference must be a salesstages.Pipeline with the same stage names, or None "
            f"for the main path; got {type(reference).__name__}"
        )
    mine = [s.name for s in pipeline.stages]
    theirs = {s.name for s in reference.stages}
    missing = [n for n in mine if n not in theirs]
    extra = [s.name for s in reference.stages if s.name not in set(mine)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it lacks {', '.join(repr(n) for n in missing)}")
        if extra:
            parts.append(f"it has {', '.join(repr(n) for n in extra)} that the pipeline lacks")
        raise PipelineError(
            f"reference pipeline {reference.name!r} must have the same stage names as "
            f"{pipeline.name!r}: {'; '.join(parts)}"
        )
    for s in pipeline.stages:
        if reference.stage(s.name).outcome != s.outcome:
            raise PipelineError(
                f"reference pipeline {reference.name!r}: stage {s.name!r} is "
                f"{reference.stage(s.name).outcome} there but {s.outcome} in {pipeline.name!r}"
            )
    return reference


def deviation_codes(pipeline: Pipeline, reference: Pipeline) -> dict[tuple[str, str], str]:
    """Every move A → B the reference forbids, with the deviation it is."""
    position = {s.name: i for i, s in enumerate(reference.open_stages)}
    out: dict[tuple[str, str], str] = {}
    for a in pipeline.stages:
        for b in pipeline.stages:
            if reference.allowed(a.name, b.name):
                continue
            if a.outcome == "lost" and b.is_open:
                out[a.name, b.name] = "reopened"
            elif a.is_open and b.is_open:
                i, j = position[a.name], position[b.name]
                out[a.name, b.name] = (
                    "skipped" if j > i + 1 else "regressed" if j <= i else "not_allowed"
                )
            else:
                out[a.name, b.name] = "not_allowed"
    return out


# ------------------------------------------------------------------ the metric
@engine
def conformance(
    events: Events,
    pipeline: Pipeline,
    *,
    reference: Pipeline | None = None,
    as_of: datetime | None = None,
) -> Conformance:
    """How the deals closed at ``as_of`` followed ``reference`` (default: the main path).

    Per closed deal, its deviations: ``opened_late`` (its first stage is not the
    reference's first open stage), ``skipped`` (a move forward between open stages
    over at least one, which the reference forbids), ``regressed`` (a move back
    between open stages it forbids), ``reopened`` (out of a lost stage, when it
    forbids that), ``not_allowed`` (any other move it forbids), ``substate_order``
    (a sub-state the reference's stage does not allow next). ``rate`` is the share of
    closed deals with none.

    Args:
        events: Events, a :class:`~salesstages.metrics.Histories`, or an Ibis table.
        pipeline: The pipeline the events follow.
        reference: A pipeline with the same stage names whose moves are the designed
            process; ``None`` for the pipeline's main path.
        as_of: Ignore later events; defaults to the latest event time.

    Raises:
        PipelineError: ``reference`` does not have the same stage names (the message
            names the missing ones) or gives a stage another outcome.
    """
    ref = reference_of(pipeline, reference)
    if is_ibis_table(events):
        return on_table(conformance)(events, pipeline, reference=ref, as_of=as_of)
    hist = load(events, pipeline, as_of)
    codes = deviation_codes(pipeline, ref)
    first = ref.open_stages[0].name
    facts: list[ClosedFacts] = []
    for h in hist.deals.values():
        if h.outcome == "open":
            continue
        facts.append(
            (
                h.outcome == "won",
                h.closed_at - h.opened_at,  # type: ignore[operator]
                h.opened_at.strftime("%Y-%m"),
                frozenset(_deviations(h, ref, codes, first)),
            )
        )
    return conformance_result(facts)


def _deviations(
    h: DealHistory, ref: Pipeline, codes: dict[tuple[str, str], str], first: str
) -> Iterable[str]:
    entries = h.entries
    if entries[0][1] != first:
        yield "opened_late"
    for (_, a, _), (_, b, _) in pairwise(entries):
        code = codes.get((a, b))
        if code is not None:
            yield code
    current: str | None = None
    index = -1
    for _, stage, sub, entry in h.substates:
        if entry != index:
            index, current = entry, None
        if sub not in ref.substate_targets(stage, current):
            yield "substate_order"
        current = sub


def conformance_result(facts: Sequence[ClosedFacts]) -> Conformance:
    """The result from each closed deal's facts (the pure-Python engine)."""
    sides: dict[Deviation, Sides] = {}
    for name in DEVIATIONS:
        with_ = [f for f in facts if name in f[3]]
        without = [f for f in facts if name not in f[3]]
        sides[name] = (*_side(with_), *_side(without))
    months: dict[str, list[int]] = {}
    for f in facts:
        m = months.setdefault(f[2], [0, 0])
        m[1] += 1
        if not f[3]:
            m[0] += 1
    conforming = sum(1 for f in facts if not f[3])
    return summary_result(
        len(facts), conforming, sides, {k: (v[0], v[1]) for k, v in months.items()}
    )


def _side(facts: list[ClosedFacts]) -> tuple[int, int, timedelta | None]:
    return (
        len(facts),
        sum(1 for f in facts if f[0]),
        percentile(sorted(f[1] for f in facts), 0.5) if facts else None,
    )


#: Per deviation: ``(deals with it, won of them, their median cycle, deals without,
#: won of them, their median cycle)``.
Sides: TypeAlias = tuple[int, int, "timedelta | None", int, int, "timedelta | None"]


def summary_result(
    closed: int, conforming: int, sides: dict[Deviation, Sides], months: dict[str, tuple[int, int]]
) -> Conformance:
    """The result from the counts both engines gather: the closed and conforming deals,
    each deviation's sides, and per month of opening ``(conforming, closed)``."""
    rows = []
    for name in DEVIATIONS:
        n_w, won_w, cyc_w, n_o, won_o, cyc_o = sides[name]
        low_w, high_w = wilson_interval(won_w, n_w) if n_w else (None, None)
        low_o, high_o = wilson_interval(won_o, n_o) if n_o else (None, None)
        rows.append(
            DeviationRow(
                deviation=name,
                deals=n_w,
                share=n_w / closed if closed else None,
                win_rate_with=won_w / n_w if n_w else None,
                win_rate_without=won_o / n_o if n_o else None,
                cycle_with=cyc_w,
                cycle_without=cyc_o,
                with_low=low_w,
                with_high=high_w,
                without_low=low_o,
                without_high=high_o,
            )
        )
    by_month: Keyed[str, Ratio] = Keyed(
        "month",
        {
            k: Ratio(numerator=v[0], denominator=v[1], rate=v[0] / v[1])
            for k, v in sorted(months.items())
        },
    )
    return Conformance(
        rate=conforming / closed if closed else None,
        deviations=rows,
        by_month=by_month,
        closed=closed,
        conforming=conforming,
    )
