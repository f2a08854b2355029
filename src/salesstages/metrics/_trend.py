"""Period-scoped figures and their change (CONTRACT §17, §21): :func:`trend`.

One row per period (month, quarter or year) from the first period with
something to count to the one holding ``as_of``; each with the measure's
figure, its change from the previous period and, for rates and medians,
whether that change is beyond chance: a two-proportion z-test for the rates,
a Mann–Whitney U test (normal approximation, ties corrected) for the medians.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, NamedTuple

import attrs

from .._errors import DataError
from .._time import to_utc
from ._common import check_by, check_choice, check_stage, load, segmented
from ._engine import Events, engine, is_ibis_table, on_table
from ._history import DealHistory
from ._planning import amount_at
from ._segments import signature, typed_segments
from ._types import Keyed, _amount, _days, _fields_row, _pct, _repr, _table

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "MEASURES",
    "PERIODS",
    "Fact",
    "TrendRow",
    "check_trend",
    "fact_of",
    "mann_whitney",
    "trend",
    "trend_rows",
    "two_proportions",
]

MEASURES: Final = ("created", "won", "win_rate", "cycle", "conversion")
PERIODS: Final = ("month", "quarter", "year")
#: The level of the tests: a change is ``significant`` when its p-value is below 1 - LEVEL.
LEVEL: Final = 0.95
_TICK: Final = timedelta(microseconds=1)
_DAY: Final = timedelta(days=1)


class Fact(NamedTuple):
    """What :func:`trend` needs of one deal (both engines build these)."""

    key: Hashable
    opened_at: datetime
    opened_amount: float
    outcome: str
    closed_at: datetime | None
    closed_amount: float
    from_at: datetime | None  # first entry into the conversion's first stage
    reached: bool  # entered its second stage after that


@attrs.frozen(kw_only=True, repr=False)
class TrendRow:
    """One period of a :func:`trend`.

    Attributes:
        period: Its label: ``2026-03``, ``2026-Q1`` or ``2026``.
        start: Its first instant (midnight UTC).
        end: Its end (not included); the period is counted up to
            ``min(end, as_of⁺)``.
        count: The deals counted: created, won, closed (``win_rate``), won
            (``cycle``) or that entered the first stage (``conversion``).
        amount: Their amount (``created``: at opening; ``won``: at winning);
            ``None`` for the other measures.
        value: The measure's figure: the count (``created``), the amount
            (``won``), the rate (``win_rate``, ``conversion``; ``None`` for no
            deal) or the median cycle in days (``cycle``; ``None`` for no deal).
        change: ``value`` minus the previous period's (``None`` for the first
            period, or when either is ``None``).
        p_value: For rates and cycles, the two-sided p-value of the change
            (two-proportion z-test; Mann–Whitney U); ``None`` otherwise.
        significant: ``p_value < 0.05`` (level 0.95); ``None`` without a p-value.
    """

    period: str
    start: datetime
    end: datetime
    count: int
    amount: float | None
    value: float | None
    change: float | None
    p_value: float | None
    significant: bool | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        mark = " *" if self.significant else ""
        return f"{self.period}: {_num(self.value)} (change {_num(self.change)}{mark})"


def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}".rstrip("0").rstrip(".") if not float(v).is_integer() else f"{v:,.0f}"


def trend_table(rows: Sequence[TrendRow], measure: str) -> str:
    """A plain-text table of :func:`trend` rows."""

    def show(v: float | None) -> str:
        if measure in ("win_rate", "conversion"):
            return _pct(v)
        if measure == "cycle":
            return _days(None if v is None else v * _DAY)
        return _amount(v)

    return _table(
        ["period", "deals", measure, "change", "p-value"],
        [
            [
                r.period,
                str(r.count),
                show(r.value),
                "–"
                if r.change is None
                else (
                    f"{r.change:+.1%}"
                    if measure in ("win_rate", "conversion")
                    else f"{r.change:+,.1f}"
                ),
                "–" if r.p_value is None else f"{r.p_value:.3f}" + (" *" if r.significant else ""),
            ]
            for r in rows
        ],
    )


# ----------------------------------------------------------------------- tests
def _normal_p(z: float) -> float:
    """Two-sided p-value of a standard normal statistic."""
    return math.erfc(abs(z) / math.sqrt(2))


def two_proportions(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test of ``x1/n1`` against
    ``x2/n2``; ``None`` when either group is empty (1.0 when both rates are 0 or 1)."""
    if n1 < 1 or n2 < 1:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    return _normal_p((x2 / n2 - x1 / n1) / se)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of the Mann–Whitney U test of ``a`` against ``b`` (normal
    approximation with the tie correction and a continuity correction of 0.5);
    ``None`` when either sample is empty (1.0 when every value is tied)."""
    n1, n2 = len(a), len(b)
    if n1 < 1 or n2 < 1:
        return None
    pooled = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    n = n1 + n2
    ranks = [0.0] * n
    ties = 0.0
    i = 0
    while i < n:
        j = i
        while j + 1 < n and pooled[j + 1][0] == pooled[i][0]:
            j += 1
        mid = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[k] = mid
        t = j - i + 1
        ties += t**3 - t
        i = j + 1
    r1 = math.fsum(r for r, (_, g) in zip(ranks, pooled, strict=True) if g == 0)
    u = r1 - n1 * (n1 + 1) / 2
    mu = n1 * n2 / 2
    var = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if var <= 0:
        return 1.0
    diff = abs(u - mu) - 0.5
    return _normal_p(max(diff, 0.0) / math.sqrt(var))


# --------------------------------------------------------------------- periods
def _period_start(moment: datetime, period: str) -> datetime:
    if period == "year":
        return datetime(moment.year, 1, 1, tzinfo=UTC)
    month = moment.month if period == "month" else 3 * ((moment.month - 1) // 3) + 1
    return datetime(moment.year, month, 1, tzinfo=UTC)


def _next(start: datetime, period: str) -> datetime:
    if period == "year":
        return start.replace(year=start.year + 1)
    step = 1 if period == "month" else 3
    month = start.month + step
    return start.replace(year=start.year + (month - 1) // 12, month=(month - 1) % 12 + 1)


def _label(start: datetime, period: str) -> str:
    if period == "year":
        return str(start.year)
    if period == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def periods_between(
    first: datetime, as_of: datetime, period: str
) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` of every period from the one holding ``first`` to the one
    holding ``as_of``."""
    out = []
    start = _period_start(first, period)
    while start <= as_of:
        end = _next(start, period)
        out.append((start, end))
        start = end
    return out


# ------------------------------------------------------------------------ rows
def _moment(f: Fact, measure: str) -> datetime | None:
    if measure == "created":
        return f.opened_at
    if measure == "conversion":
        return f.from_at
    if measure == "win_rate":
        return f.closed_at if f.outcome in ("won", "lost") else None
    return f.closed_at if f.outcome == "won" else None  # won, cycle


def trend_rows(
    facts: Iterable[Fact], measure: str, period: str, as_of: datetime | None
) -> list[TrendRow]:
    """The rows of one segment's facts (both engines)."""
    listed = [(m, f) for f in facts if (m := _moment(f, measure)) is not None]
    if not listed or as_of is None:
        return []
    first = min(m for m, _ in listed)
    rows: list[TrendRow] = []
    prev: list[Fact] | None = None
    for start, end in periods_between(first, as_of, period):
        hi = min(end, as_of + _TICK)
        group = [f for m, f in listed if start <= m < hi]
        rows.append(_row(group, prev, measure, start, end, period, rows[-1] if rows else None))
        prev = group
    return rows


def _cycle_days(f: Fact) -> float:
    assert f.closed_at is not None
    return (f.closed_at - f.opened_at) / _DAY


def _row(
    group: list[Fact],
    prev: list[Fact] | None,
    measure: str,
    start: datetime,
    end: datetime,
    period: str,
    last: TrendRow | None,
) -> TrendRow:
    amount: float | None = None
    value: float | None
    p: float | None = None
    n = len(group)
    if measure == "created":
        amount = math.fsum(f.opened_amount for f in group)
        value = float(n)
    elif measure == "won":
        amount = math.fsum(f.closed_amount for f in group)
        value = amount
    elif measure in ("win_rate", "conversion"):
        hit: Callable[[Fact], bool] = (
            (lambda f: f.outcome == "won") if measure == "win_rate" else (lambda f: f.reached)
        )
        x = sum(1 for f in group if hit(f))
        value = x / n if n else None
        if prev is not None:
            p = two_proportions(sum(1 for f in prev if hit(f)), len(prev), x, n)
    else:  # cycle
        days = sorted(_cycle_days(f) for f in group)
        value = _median(days)
        if prev is not None:
            p = mann_whitney([_cycle_days(f) for f in prev], days)
    before = None if last is None else last.value
    return TrendRow(
        period=_label(start, period),
        start=start,
        end=end,
        count=n,
        amount=amount,
        value=value,
        change=None if value is None or before is None else value - before,
        p_value=p,
        significant=None if p is None else p < 1 - LEVEL,
    )


def _median(ordered: list[float]) -> float | None:
    if not ordered:
        return None
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# ---------------------------------------------------------------------- public
def check_trend(
    pipeline: Pipeline, measure: object, period: object, stages: object
) -> tuple[str, str, tuple[str, str]]:
    """Check :func:`trend`'s arguments (both engines); the conversion's stage pair."""
    m = check_choice("measure", measure, MEASURES)
    p = check_choice("period", period, PERIODS)
    if stages is None:
        pair = (pipeline.open_stages[0].name, pipeline.won_stages[0].name)
    else:
        if not isinstance(stages, tuple | list) or len(stages) != 2:
            raise DataError(
                f"stages must be a (from, to) pair of stage names, got {stages!r}", field="stages"
            )
        pair = (
            check_stage(pipeline, stages[0], "stages", open_only=True),
            check_stage(pipeline, stages[1], "stages"),
        )
    return m, p, pair


def fact_of(h: DealHistory, key: Hashable, pair: tuple[str, str]) -> Fact:
    """The :class:`Fact` of one folded deal."""
    from_at: datetime | None = None
    reached = False
    for at, stage, _ in h.entries:
        if from_at is None:
            if stage == pair[0]:
                from_at = at
        elif stage == pair[1]:
            reached = True
            break
    closed_amount = (
        amount_at(h, h.closed_at) if h.outcome == "won" and h.closed_at is not None else 0.0
    )
    return Fact(
        key=key,
        opened_at=h.opened_at,
        opened_amount=amount_at(h, h.opened_at),
        outcome=h.outcome,
        closed_at=h.closed_at if h.outcome != "open" else None,
        closed_amount=closed_amount,
        from_at=from_at,
        reached=reached,
    )


@engine
def trend(
    events: Events,
    pipeline: Pipeline,
    *,
    measure: Literal["created", "won", "win_rate", "cycle", "conversion"],
    period: Literal["month", "quarter", "year"] = "month",
    stages: tuple[str, str] | None = None,
    as_of: datetime | None = None,
    by: str | None = None,
) -> list[TrendRow] | dict[Hashable, list[TrendRow]]:
    """One :class:`TrendRow` per period, with the change from the previous one.

    Measures (an event counts in a period when ``start <= at < min(end, as_of⁺)``,
    §17):

    - ``created``: the deals opened in the period (count, and amount at opening);
    - ``won``: the deals won in the period (count, and amount at winning: the
      bookings);
    - ``win_rate``: won / closed over the deals whose latest closing falls in the
      period;
    - ``cycle``: the median time from opening to winning of the deals won in the
      period (days);
    - ``conversion``: of the deals that first entered ``stages[0]`` in the period,
      the share that entered ``stages[1]`` after it (default: the first open
      stage and the first won stage).

    For rates, ``p_value`` is that of a two-proportion z-test against the
    previous period; for the cycle, of a Mann–Whitney U test; ``significant``
    when it is below 0.05. Rows run from the first period with something to
    count to the period holding ``as_of``; with ``by``, a dict of such lists by
    the attribute's value at opening.

    Raises:
        ValueError: An unknown ``measure`` or ``period``.
        DataError: ``stages`` is not a pair of stage names.
        UnknownStageError: A stage of ``stages`` is not in the pipeline.
    """
    m, p, pair = check_trend(pipeline, measure, period, stages)
    by = check_by(by)
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(trend)(
            events,
            pipeline,
            measure=m,  # type: ignore[arg-type]  # checked: one of MEASURES
            period=p,  # type: ignore[arg-type]  # checked: one of PERIODS
            stages=pair,
            as_of=as_of,
            by=by,
        )
    hist = load(events, pipeline, as_of)
    cut = hist.as_of

    def compute(deals: list[DealHistory]) -> list[TrendRow]:
        return trend_rows((fact_of(h, None, pair) for h in deals), m, p, cut)

    return segmented(hist.deals.values(), by, compute)


def keyed_rows(
    facts: list[Fact], by: str | None, measure: str, period: str, as_of: datetime | None
) -> list[TrendRow] | dict[Hashable, list[TrendRow]]:
    """:func:`trend`'s answer from facts carrying their segment key (the table engine)."""
    if by is None:
        return trend_rows(facts, measure, period, as_of)
    groups: dict[Hashable, tuple[Hashable, list[Fact]]] = {}
    for f in facts:  # by value and type, as segmented: 1, True and 1.0 are three
        groups.setdefault(signature(f.key), (f.key, []))[1].append(f)
    pairs = typed_segments(groups.values())
    return Keyed(by, {k: trend_rows(fs, measure, period, as_of) for k, fs in pairs})
