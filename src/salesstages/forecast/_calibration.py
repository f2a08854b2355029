"""Are the stage probabilities true? (CONTRACT §21): :func:`calibration` and
:func:`suggest_probabilities`.

:func:`calibration` sets each predicted probability of winning against what
happened: at each evaluation date ``d``, every deal open then whose outcome is
known at ``as_of`` gives one pair ``(p, y)``. From the pairs: the Brier score
``mean((p - y)²)``, the Brier score of always predicting the base rate ``ȳ``
(which is ``ȳ(1 - ȳ)``), the skill ``1 - brier / brier_base``, the log loss and
a reliability table over bins of equal width on [0, 1] (mean predicted against
observed rate, with its Wilson interval).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from .._errors import DataError
from .._stats import wilson_interval
from .._time import to_utc
from ..metrics._common import check_choice
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories, rewind
from ..metrics._types import _fields_row, _pct, _repr, _table
from ._common import _check_horizon, _hist, _stage_probabilities, _us
from ._markov import _markov
from ._outlook import _outlook, _Stays

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "CALIBRATION_METHODS",
    "Calibration",
    "ReliabilityRow",
    "StageProbability",
    "calibrate",
    "calibration",
    "check_calibration",
    "month_starts",
    "score_pairs",
    "stage_probability_rows",
    "suggest_probabilities",
]

#: The methods :func:`calibration` can score.
CALIBRATION_METHODS: Final = ("stage", "markov", "conditional")
#: Probabilities are clipped to [ε, 1 - ε] in the log loss (a 0 that came true
#: would make it infinite).
EPSILON: Final = 1e-15
NO_PAIRS: Final = (
    "no deal open at an evaluation date has an outcome known at as_of: "
    "nothing to score the probabilities against"
)
ONE_OUTCOME: Final = "every outcome was the same: the base rate predicts them all, so no skill"


@attrs.frozen(kw_only=True, repr=False)
class ReliabilityRow:
    """One bin of predicted probability (see :func:`calibration`).

    Attributes:
        bin_start: The bin's lower edge (included).
        bin_end: The bin's upper edge (excluded, except 1 in the last bin).
        mean_predicted: The mean predicted probability of the pairs in the bin.
        observed: The share of them that won.
        low: The lower end of the 95 % Wilson interval of ``observed``.
        high: Its upper end.
        count: How many pairs fell in the bin.
    """

    bin_start: float
    bin_end: float
    mean_predicted: float
    observed: float
    low: float
    high: float
    count: int

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        return (
            f"[{self.bin_start:.1f}, {self.bin_end:.1f}): predicted {_pct(self.mean_predicted)}, "
            f"observed {_pct(self.observed)} ({_pct(self.low)}–{_pct(self.high)}), "
            f"{self.count} pairs"
        )


@attrs.frozen(kw_only=True, repr=False)
class Calibration:
    """How well predicted probabilities of winning matched the outcomes.

    Attributes:
        method: ``"stage"``, ``"markov"`` or ``"conditional"``.
        horizon: The outcome's horizon (``None``: won ever).
        pairs: How many (deal, date) pairs were scored.
        brier: ``mean((p - y)²)``; ``None`` when there are no pairs.
        brier_base: The Brier score of always predicting the base rate ``ȳ``.
        skill: ``1 - brier / brier_base``; ``None`` when there are no pairs or
            every outcome was the same.
        log_loss: ``-mean(y·ln p + (1 - y)·ln(1 - p))`` (``p`` clipped to
            ``[1e-15, 1 - 1e-15]``).
        base_rate: ``ȳ``, the share of pairs that won.
        rows: The reliability table: one :class:`ReliabilityRow` per bin that
            holds pairs, in order.
        reason: Why a figure is ``None`` (one sentence), else ``None``.
    """

    method: str
    horizon: timedelta | None
    pairs: int
    brier: float | None
    brier_base: float | None
    skill: float | None
    log_loss: float | None
    base_rate: float | None
    rows: tuple[ReliabilityRow, ...]
    reason: str | None = None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """The reliability table, one row per bin."""
        return [r.to_records()[0] for r in self.rows]

    def __str__(self) -> str:
        def num(v: float | None) -> str:
            return "–" if v is None else f"{v:.4f}"

        head = (
            f"calibration of {self.method} over {self.pairs:,} pairs: Brier {num(self.brier)} "
            f"(the base rate's {num(self.brier_base)}), skill {num(self.skill)}, "
            f"log loss {num(self.log_loss)}"
        )
        if self.reason is not None:
            head += f": {self.reason}"
        if not self.rows:
            return head
        table = _table(
            ["bin", "predicted", "observed", "95% interval", "pairs"],
            [
                [
                    f"{r.bin_start:.1f}–{r.bin_end:.1f}",
                    _pct(r.mean_predicted),
                    _pct(r.observed),
                    f"{_pct(r.low)}–{_pct(r.high)}",
                    str(r.count),
                ]
                for r in self.rows
            ],
        )
        return f"{head}\n{table}"


@attrs.frozen(kw_only=True, repr=False)
class StageProbability:
    """A stage's configured probability against what deals in it did (see
    :func:`suggest_probabilities`).

    Attributes:
        stage: The open stage.
        configured: Its configured :attr:`Stage.probability
            <salesstages.Stage.probability>`, or ``None``.
        deals: Deals that entered it and are closed at ``as_of``.
        won: Of those, how many are won.
        observed: ``won / deals``; ``None`` when ``deals`` is 0.
        low: The lower end of the 95 % Wilson interval of ``observed``.
        high: Its upper end.
        outside: True when ``configured`` lies outside ``[low, high]``; ``None``
            when either is not known.
    """

    stage: str
    configured: float | None
    deals: int
    won: int
    observed: float | None
    low: float | None
    high: float | None
    outside: bool | None

    __repr__ = _repr

    def to_records(self) -> list[dict[str, Any]]:
        """One row, one column per field."""
        return [_fields_row(self)]

    def __str__(self) -> str:
        flag = " ← outside" if self.outside else ""
        return (
            f"{self.stage}: configured {_pct(self.configured)}, observed "
            f"{_pct(self.observed)} ({_pct(self.low)}–{_pct(self.high)}) "
            f"over {self.deals} deals{flag}"
        )


def score_pairs(
    pairs: Sequence[tuple[float, int]], *, method: str, horizon: timedelta | None, bins: int
) -> Calibration:
    """The :class:`Calibration` of ``(p, y)`` pairs (shared by both engines)."""
    n = len(pairs)
    if not n:
        return Calibration(
            method=method,
            horizon=horizon,
            pairs=0,
            brier=None,
            brier_base=None,
            skill=None,
            log_loss=None,
            base_rate=None,
            rows=(),
            reason=NO_PAIRS,
        )
    base = sum(y for _, y in pairs) / n
    brier = math.fsum((p - y) ** 2 for p, y in pairs) / n
    brier_base = math.fsum((base - y) ** 2 for _, y in pairs) / n
    loss = -math.fsum(
        math.log(min(max(p, EPSILON), 1 - EPSILON))
        if y
        else math.log(1 - min(max(p, EPSILON), 1 - EPSILON))
        for p, y in pairs
    )
    groups: dict[int, list[tuple[float, int]]] = {}
    for p, y in pairs:
        groups.setdefault(min(int(p * bins), bins - 1), []).append((p, y))
    rows = []
    for k in sorted(groups):
        g = groups[k]
        won = sum(y for _, y in g)
        low, high = wilson_interval(won, len(g))
        rows.append(
            ReliabilityRow(
                bin_start=k / bins,
                bin_end=(k + 1) / bins,
                mean_predicted=math.fsum(p for p, _ in g) / len(g),
                observed=won / len(g),
                low=low,
                high=high,
                count=len(g),
            )
        )
    return Calibration(
        method=method,
        horizon=horizon,
        pairs=n,
        brier=brier,
        brier_base=brier_base,
        skill=1 - brier / brier_base if brier_base > 0 else None,
        log_loss=loss / n,
        base_rate=base,
        rows=tuple(rows),
        reason=None if brier_base > 0 else ONE_OUTCOME,
    )


def month_starts(first: datetime, as_of: datetime) -> list[datetime]:
    """The first instant of every calendar month after ``first``, up to ``as_of``:
    :func:`calibration`'s default evaluation dates."""
    year, month = first.year, first.month
    out: list[datetime] = []
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        d = datetime(year, month, 1, tzinfo=UTC)
        if d > as_of:
            return out
        out.append(d)


def check_calibration(
    method: object, dates: object, horizon: object, bins: object
) -> tuple[str, list[datetime] | None, timedelta | None, int]:
    """Check :func:`calibration`'s arguments (both engines)."""
    m = check_choice("method", method, CALIBRATION_METHODS)
    h = None if horizon is None else _check_horizon(horizon)
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a whole number >= 1, got {bins!r}")
    if dates is None:
        return m, None, h, bins
    if isinstance(dates, datetime | str) or not isinstance(dates, Iterable):
        raise ValueError(f"dates must be a sequence of datetimes, got {dates!r}")
    days = sorted({to_utc(d, "dates") for d in dates})
    if not days:
        raise ValueError("dates must name at least one date")
    return m, days, h, bins


def _outcome(
    entries: Sequence[tuple[datetime, str, Any]],
    won_stages: frozenset[str],
    closed_now: bool,
    d: datetime,
    horizon: timedelta | None,
    as_of: datetime,
) -> int | None:
    """1 when the deal won in ``[d, d + horizon)`` (ever after ``d``, when None) by
    ``as_of``; 0 when it did not and that is known at ``as_of``; ``None`` when not
    known yet."""
    end = None if horizon is None else d + horizon
    for at, stage, _ in entries:
        if stage in won_stages and at >= d and (end is None or at < end):
            return 1
    if closed_now or (end is not None and end <= as_of):
        return 0
    return None


def _stage_pairs(
    final: Histories,
    configured: Mapping[str, float],
    won_stages: frozenset[str],
    dates: Sequence[datetime],
    horizon: timedelta | None,
    as_of: datetime,
) -> list[tuple[float, int]]:
    """The pairs of ``method="stage"``: each deal's stage at ``d`` read from its own
    entries (what :func:`rewind` gives, without rebuilding every deal per date)."""
    out: list[tuple[float, int]] = []
    for f in final.deals.values():
        entries = f.entries
        times = [at for at, _, _ in entries]
        closed_now = f.outcome != "open"
        for d in dates:
            i = bisect_right(times, d)
            if not i:
                continue
            stage = entries[i - 1][1]
            if stage not in configured:  # closed at d
                continue
            y = _outcome(entries, won_stages, closed_now, d, horizon, as_of)
            if y is not None:
                out.append((configured[stage], y))
    return out


def _pairs(
    final: Histories,
    pipeline: Pipeline,
    method: str,
    dates: Sequence[datetime],
    horizon: timedelta | None,
) -> list[tuple[float, int]]:
    assert final.as_of is not None
    as_of = final.as_of
    won_stages = frozenset(s.name for s in pipeline.stages if s.outcome == "won")
    configured = _stage_probabilities(pipeline)
    if method == "stage":
        return _stage_pairs(final, configured, won_stages, dates, horizon, as_of)
    h_us = None if horizon is None else _us(horizon)
    out: list[tuple[float, int]] = []
    for d in dates:
        now = rewind(final, d)
        model = _markov(now, pipeline) if method == "markov" else None
        stays: dict[str, _Stays] = {}
        for deal_id, h in now.deals.items():
            if h.outcome != "open":
                continue
            f = final.deals[deal_id]
            y = _outcome(f.entries, won_stages, f.outcome != "open", d, horizon, as_of)
            if y is None:
                continue
            p: float | None
            if method == "stage":
                p = configured[h.stage]
            elif model is not None:
                p = model.win_probability.get(h.stage)
            else:
                if h.stage not in stays:
                    stays[h.stage] = _Stays(now, pipeline, h.stage)
                o = _outlook(stays[h.stage], h.stage, _us(d - h.entries[-1][0]), h_us)
                p = o.win_probability if h_us is None else o.win_within
            if p is not None:
                out.append((p, y))
    return out


@engine
def calibration(
    events: Events,
    pipeline: Pipeline,
    *,
    method: Literal["stage", "markov", "conditional"] = "stage",
    dates: Sequence[datetime] | None = None,
    horizon: timedelta | None = None,
    bins: int = 10,
    as_of: datetime | None = None,
) -> Calibration:
    """How well a method's probabilities of winning matched what happened.

    For each date ``d`` in ``dates`` (default: the first of every month after
    the log's first stage entry, up to ``as_of``) and each deal open at ``d``
    whose outcome is known at ``as_of``, the predicted probability ``p`` of
    winning and the outcome ``y`` (1 when the deal won within ``horizon`` of
    ``d``, or ever when ``horizon`` is None). ``method="stage"`` predicts the
    stage's configured probability at ``d``; ``"markov"`` the Markov chain's
    probability fitted on the log as it stood at ``d``; ``"conditional"`` the
    stage outlook of a deal that old in its stage (learnt from the stays seen
    by ``d``; :func:`stage_outlook`). A deal with no estimate at ``d`` is left
    out. The outcome of a deal still open at ``as_of`` is known only when it
    won within the horizon or the horizon has passed.

    With no pair, every figure is ``None`` and ``reason`` says why (never 0).

    Raises:
        ValueError: An unknown ``method``, ``bins`` below 1, empty ``dates`` or a
            ``horizon`` that is not a non-negative timedelta.
        DataError: A date lies after ``as_of``.
    """
    m, days, h, n_bins = check_calibration(method, dates, horizon, bins)
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(calibration)(
            events,
            pipeline,
            method=m,  # type: ignore[arg-type]  # checked: one of CALIBRATION_METHODS
            dates=days,
            horizon=h,
            bins=n_bins,
            as_of=as_of,
        )
    return calibrate(_hist(events, pipeline, as_of), pipeline, m, days, h, n_bins)


def calibrate(
    final: Histories,
    pipeline: Pipeline,
    m: str,
    days: list[datetime] | None,
    h: timedelta | None,
    n_bins: int,
) -> Calibration:
    """:func:`calibration` of a folded log with checked arguments (both engines: the
    table engine folds the stage entries it reads)."""
    if final.as_of is None or not final.deals:
        return score_pairs([], method=m, horizon=h, bins=n_bins)
    if days is None:
        first = min(x.first_entered_at for x in final.deals.values())
        days = month_starts(first, final.as_of)
    elif days[-1] > final.as_of:
        raise DataError(
            f"calibration date {days[-1].isoformat()} is after as_of "
            f"{final.as_of.isoformat()}: pick dates at or before it",
            field="dates",
        )
    return score_pairs(_pairs(final, pipeline, m, days, h), method=m, horizon=h, bins=n_bins)


def stage_probability_rows(
    pipeline: Pipeline, counts: dict[str, tuple[int, int]]
) -> list[StageProbability]:
    """:func:`suggest_probabilities`' rows from ``(closed deals, won)`` per open stage
    (both engines)."""
    out = []
    for s in pipeline.open_stages:
        deals, won = counts.get(s.name, (0, 0))
        low: float | None = None
        high: float | None = None
        if deals:
            low, high = wilson_interval(won, deals)
        configured = s.probability
        outside = (
            None
            if configured is None or low is None or high is None
            else not low <= configured <= high
        )
        out.append(
            StageProbability(
                stage=s.name,
                configured=configured,
                deals=deals,
                won=won,
                observed=won / deals if deals else None,
                low=low,
                high=high,
                outside=outside,
            )
        )
    return out


@engine
def suggest_probabilities(
    events: Events, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[StageProbability]:
    """Per open stage, its configured probability against the observed rate.

    The observed rate is won / closed over the deals that entered the stage and
    are closed (won or lost) at ``as_of``, with its 95 % Wilson interval;
    ``outside`` flags a configured value outside that interval (a probability
    the history does not bear out). One row per open stage, in order.
    """
    if as_of is not None:
        as_of = to_utc(as_of, "as_of")
    if is_ibis_table(events):
        return on_table(suggest_probabilities)(events, pipeline, as_of=as_of)
    hist = _hist(events, pipeline, as_of)
    opens = frozenset(s.name for s in pipeline.open_stages)
    counts: dict[str, tuple[int, int]] = {}
    for h in hist.deals.values():
        if h.outcome == "open":
            continue
        won = int(h.outcome == "won")
        for stage in {st for _, st, _ in h.entries if st in opens}:
            deals, w = counts.get(stage, (0, 0))
            counts[stage] = (deals + 1, w + won)
    return stage_probability_rows(pipeline, counts)


def probabilities_table(rows: Sequence[StageProbability]) -> str:
    """A plain-text table of :func:`suggest_probabilities` rows."""
    return _table(
        ["stage", "configured", "observed", "95% interval", "deals", ""],
        [
            [
                r.stage,
                _pct(r.configured),
                _pct(r.observed),
                f"{_pct(r.low)}–{_pct(r.high)}",
                str(r.deals),
                "outside" if r.outside else "",
            ]
            for r in rows
        ],
    )
