"""Stage outlooks: what became of stays as long as a deal's in its stage
(:func:`stage_outlook`), summed over the open deals by :func:`conditional_forecast`."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final

import attrs

from .._stats import (
    aalen_johansen,
    quantile_time,
    restricted_mean,
    step_value,
)
from ..metrics._common import check_stage
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories, stay_cells
from ..metrics._types import _days, _one_row, _pct
from ._common import (
    _DAY,
    _DAY_US,
    _ZERO,
    _check_horizon,
    _fields_repr,
    _hist,
    _open_amount,
    _td,
    _us,
)

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["StageOutlook", "conditional_forecast", "stage_outlook"]


@attrs.frozen(kw_only=True, repr=False)
class StageOutlook:
    """What became of stays in one stage that lasted at least ``age`` (see :func:`stage_outlook`).

    Attributes:
        stage: The open stage.
        age: How long the deal has been in the stage.
        stays: The stays in ``stage`` that lasted at least ``age`` (still
            open ones included): the sample the estimate is built on.
        won: Of those, how many were next closed as won.
        lost: How many were next closed as lost.
        open: How many have not closed yet (censored).
        win_probability: The Aalen–Johansen probability that the deal's next
            closing is a win (at the last observed closing time); ``None``
            when no stay that lasted that long was seen to close (for a deal
            older than every past stay, say): there is no data, which is not
            a 0 % chance.
        win_within: The probability of winning within ``horizon`` from now;
            ``None`` when no horizon was asked for or, as for
            ``win_probability``, no stay in the sample was seen to close.
        horizon: The horizon asked for, or ``None``.
        expected_remaining: The restricted mean time until the next
            closing, won or lost: ∫ S over the observed span (an
            underestimate when many stays are still open); ``None`` when
            there are no stays.
        median_remaining: The Kaplan–Meier median time until the next
            closing; ``None`` when fewer than half are seen to close.
    """

    stage: str
    age: timedelta
    stays: int
    won: int
    lost: int
    open: int
    win_probability: float | None
    win_within: float | None
    horizon: timedelta | None
    expected_remaining: timedelta | None
    median_remaining: timedelta | None

    def __repr__(self) -> str:
        names = ["stage", "age", "stays", "won", "lost", "open", "win_probability"]
        if self.horizon is not None:
            names += ["horizon", "win_within"]
        names += ["expected_remaining", "median_remaining"]
        return _fields_repr(self, names)

    to_records = _one_row

    def __str__(self) -> str:
        """``proposal after 10.0 days: 34 stays (10 won, 12 lost, 12 open), win
        probability 45.5%, within 30.0 days 20.0%, remaining mean 12.3 days, median
        10.0 days``."""
        within = (
            ""
            if self.horizon is None
            else f", within {_days(self.horizon)} {_pct(self.win_within)}"
        )
        return (
            f"{self.stage} after {_days(self.age)}: {self.stays:,} stays ({self.won:,} won, "
            f"{self.lost:,} lost, {self.open:,} open), win probability "
            f"{_pct(self.win_probability)}{within}, remaining mean "
            f"{_days(self.expected_remaining)}, median {_days(self.median_remaining)}"
        )


class _Stays:
    """Every stay in one open stage, with what became of the deal after it.

    Parallel lists per stage: ``length`` of the stay (to ``as_of`` when it is
    still going), ``total`` time from entering the stage to the deal's next
    closing (or to ``as_of`` when none), and ``cause``: 1 won, 2 lost, 0 not
    closed yet (censored).
    """

    __slots__ = ("cause", "length", "total")

    @classmethod
    def of(
        cls, stage: str, length: list[timedelta], total: list[timedelta], cause: list[int]
    ) -> _Stays:
        """Stays given as their parallel lists (shared with the Ibis engine)."""
        self = cls.__new__(cls)
        self.length = {stage: length}
        self.total = {stage: total}
        self.cause = {stage: cause}
        return self

    def __init__(self, hist: Histories, pipeline: Pipeline, only: str) -> None:
        code = {
            s.name: (0 if s.is_open else 1 if s.outcome == "won" else 2) for s in pipeline.stages
        }
        names = [only]
        self.length: dict[str, list[timedelta]] = {n: [] for n in names}
        self.total: dict[str, list[timedelta]] = {n: [] for n in names}
        self.cause: dict[str, list[int]] = {n: [] for n in names}
        length, total, cause = self.length, self.total, self.cause
        if hist.as_of is None:
            return
        as_of: datetime = hist.as_of
        for h in hist.deals.values():
            entries = h.entries
            close_at: datetime | None = None
            close_code = 0
            nxt_at: datetime = as_of
            # walk backwards so each stay knows the first closing after it
            for at, stage, _ in reversed(entries):
                c = code[stage]
                if c:
                    close_at, close_code = at, c
                elif stage in length:
                    length[stage].append(nxt_at - at)
                    if close_at is None:
                        total[stage].append(as_of - at)
                        cause[stage].append(0)
                    else:
                        total[stage].append(close_at - at)
                        cause[stage].append(close_code)
                nxt_at = at


_CAUSES: Final = (None, "won", "lost")


def _outlook(stays: _Stays, stage: str, age_us: int, horizon_us: int | None) -> StageOutlook:
    """The exact :class:`StageOutlook` (times not rounded) from one stage's stays."""
    length, total, cause = stays.length[stage], stays.total[stage], stays.cause[stage]
    age = timedelta(microseconds=age_us)
    keep = [i for i, n in enumerate(length) if n >= age]
    durations = [_us(total[i]) - age_us for i in keep]
    causes = [_CAUSES[cause[i]] for i in keep]
    won = sum(1 for c in causes if c == "won")
    lost = sum(1 for c in causes if c == "lost")
    win_p: float | None = None
    within: float | None = None
    expected: timedelta | None = None
    median: timedelta | None = None
    if keep:
        aj = aalen_johansen(durations, causes, ["won", "lost"])
        inc = aj.incidence["won"]
        if won or lost:  # no closing seen: no estimate (None), not a 0 % chance
            win_p = inc[-1] if inc else 0.0
            if horizon_us is not None:
                within = step_value(aj.times, inc, horizon_us, 0.0)
        expected = _td(restricted_mean(aj.times, aj.survival, max(durations)))
        med = quantile_time(aj.times, aj.survival)
        median = None if med is None else _td(med)
    return StageOutlook(
        stage=stage,
        age=timedelta(microseconds=age_us),
        stays=len(keep),
        won=won,
        lost=lost,
        open=len(keep) - won - lost,
        win_probability=win_p,
        win_within=within,
        horizon=None if horizon_us is None else timedelta(microseconds=horizon_us),
        expected_remaining=expected,
        median_remaining=median,
    )


@engine(positional=("stage",))
def stage_outlook(
    events: Events,
    pipeline: Pipeline,
    *,
    stage: str,
    age: timedelta = _ZERO,
    horizon: timedelta | None = None,
    as_of: datetime | None = None,
) -> StageOutlook:
    """The outlook of a deal that has been in ``stage`` for ``age``, learnt from history.

    The sample is every stay in ``stage`` that lasted at least ``age``
    (a stay still going at ``as_of`` counts when it is that old already),
    each followed from the moment it was ``age`` old to the deal's next
    closing: won, lost, or not yet (censored at ``as_of``). A lost deal that
    is reopened starts over, as in :func:`markov`. Over that sample,
    Aalen–Johansen gives the probability that the next closing is a win
    (and, with ``horizon``, a win within ``horizon``), and Kaplan–Meier the
    time left until closing.

    Raises:
        UnknownStageError: ``stage`` is not a stage of the pipeline.
        ValueError: ``stage`` is a closed stage, or ``age`` or ``horizon`` is
            not a non-negative timedelta.
    """
    stage = check_stage(pipeline, stage, "stage", open_only=True)
    _check_horizon(age, "age")
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    if is_ibis_table(events):
        return on_table(stage_outlook)(
            events, pipeline, stage=stage, age=age, horizon=horizon, as_of=as_of
        )
    hist = _hist(events, pipeline, as_of)
    return _outlook(_Stays(hist, pipeline, stage), stage, _us(age), h_us)


@engine
def conditional_forecast(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    horizon: timedelta | None = None,
) -> float:
    """Σ amount × P(win | stage, days in stage) over the deals open at ``as_of``.

    Each open deal gets the estimate of :func:`stage_outlook` for its stage
    and its age there: the probability of winning eventually, or within
    ``horizon`` when given. So that thousands of open deals cost one pass,
    ages and times are counted in whole days here (a deal 12.7 days in its
    stage is compared with the stays that lasted 12 days or more, and
    closings are grouped by day), so the figure can differ slightly from
    summing :func:`stage_outlook` at exact ages.

    A deal whose sample has no closing (older than every past stay in its
    stage that closed; :func:`stage_outlook` gives ``None`` for it) counts 0
    in the sum: :func:`salesstages.metrics.data_quality` lists such deals
    (finding ``older_than_history``) so that the fallback is never silent.
    """
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    if is_ibis_table(events):
        return on_table(conditional_forecast)(events, pipeline, as_of=as_of, horizon=horizon)
    hist = _hist(events, pipeline, as_of)
    return _conditional_sum(hist, pipeline, h_us)


def _conditional_sum(
    hist: Histories,
    pipeline: Pipeline,
    horizon_us: int | None,
    prob: Mapping[str, float] | None = None,
) -> float:
    """:func:`conditional_forecast`'s sum; with ``prob`` (P(win) per stage), the
    horizon form of a probability forecast instead: Σ amount × ``prob[stage]`` ×
    P(closed within the horizon | stage, whole days in it).

    The open amounts by (stage, whole days), the stays' cells and the binned
    tables are derived once per ``hist`` and shared by every call on it (the
    report and each backtest date ask for several sums on the same fold)."""
    wanted = hist._derive(_WANTED, _open_by_stage_day)
    if not wanted:
        return 0.0
    h_days = None if horizon_us is None else horizon_us // _DAY_US
    tables = hist._derive(
        (_TABLES, h_days), lambda h: _win_tables(wanted, stay_cells(h, pipeline), h_days)
    )
    return _table_sum(wanted, tables, prob)


_WANTED: Final = "open_by_stage_day"
_TABLES: Final = "binned_win_tables"


def _open_by_stage_day(hist: Histories) -> dict[str, dict[int, float]]:
    """The open deals' amounts summed per (stage, whole days in it at ``as_of``);
    a deal whose stage entry is after ``as_of`` (time running backwards in the
    log) counts as 0 days in it."""
    as_of = hist.as_of
    parts: dict[str, dict[int, list[float]]] = {}
    day = _DAY
    for h in hist.deals.values():
        if h.outcome == "open":
            assert as_of is not None
            amount = _open_amount(h)
            if amount:
                days = (as_of - h.entries[-1][0]) // day
                row = parts.get(h.stage)
                if row is None:
                    row = parts[h.stage] = {}
                cell = row.get(days if days > 0 else 0)
                if cell is None:
                    row[days if days > 0 else 0] = [amount]
                else:
                    cell.append(amount)
    # exactly rounded sums: the same whatever order the deals come in
    return {
        stage: {days: math.fsum(amounts) for days, amounts in row.items()}
        for stage, row in parts.items()
    }


def _conditional_value(
    wanted: dict[str, dict[int, float]],
    cells: dict[str, Counter[int]],
    horizon_us: int | None,
    prob: Mapping[str, float] | None = None,
) -> float:
    """Σ amount × P(win) from the open amounts by (stage, whole days in it) and the
    stays' cells (see :func:`~salesstages.metrics._history.stay_cells`; shared with
    the Ibis engine). With
    ``prob``: Σ amount × ``prob[stage]`` × P(closed within the horizon)."""
    h_days = None if horizon_us is None else horizon_us // _DAY_US
    return _table_sum(wanted, _win_tables(wanted, cells, h_days), prob)


def _win_tables(
    wanted: dict[str, dict[int, float]], cells: dict[str, Counter[int]], h_days: int | None
) -> dict[str, dict[int, tuple[float, float, bool]]]:
    """:func:`_binned` for each stage of ``wanted``, at the ages wanted there."""
    empty: Counter[int] = Counter()
    return {
        stage: _binned(cells.get(stage, empty), sorted(amounts), h_days)
        for stage, amounts in wanted.items()
    }


def _table_sum(
    wanted: dict[str, dict[int, float]],
    tables: dict[str, dict[int, tuple[float, float, bool]]],
    prob: Mapping[str, float] | None,
) -> float:
    """Σ amount × P(win), or with ``prob`` Σ amount × ``prob[stage]`` × P(closed)."""
    terms: list[float] = []
    for stage in sorted(wanted):  # a fixed order, whatever order the deals came in
        amounts = wanted[stage]
        probs = tables[stage]
        if prob is None:
            terms.append(math.fsum(amounts[d] * probs[d][0] for d in amounts))
        else:
            p = prob.get(stage, 0.0)
            if p:
                terms.append(p * math.fsum(amounts[d] * probs[d][1] for d in amounts))
    return math.fsum(terms)


def _binned(
    cells: Counter[int], ages: list[int], h_days: int | None
) -> dict[int, tuple[float, float, bool]]:
    """(P(win), P(closed), seen) for each landmark age (whole days), by
    Aalen–Johansen on day bins; ``seen`` is False when no stay that reached the
    age was ever seen to close (the probabilities then mean "no data", not 0).

    Landmarks are taken from the oldest down, adding the stays that reach
    each one to running per-day counts, so the whole pass costs one count per
    stay plus one look at each occupied day bin per landmark. The counts are
    sparse (keyed by the day bins that occur), so the work and memory are
    bounded by the number of cells, never by how many days a stay lasted.
    With ``h_days``, the probability of winning within that many days (bins up
    to ``age + h_days`` inclusive, which matches :func:`stage_outlook` on
    whole-day timestamps).
    """
    by_len: dict[int, list[tuple[int, int, int]]] = {}
    for key, k in cells.items():
        lb, tb, c = key >> 32, (key >> 2) & 0x3FFFFFFF, key & 3
        by_len.setdefault(lb, []).append((tb, c, k))
    lens = sorted(by_len, reverse=True)
    bins = sorted({tb for row in by_len.values() for tb, _, _ in row})
    rank = {b: r for r, b in enumerate(bins)}  # counts are kept by a bin's rank
    count = [0] * len(bins)
    won = [0] * len(bins)
    closed = [0] * len(bins)
    size = 0
    i = 0
    out: dict[int, tuple[float, float, bool]] = {}
    seen = 0  # closings among the stays that reach the current landmark
    for age in reversed(ages):
        while i < len(lens) and lens[i] >= age:
            for tb, c, k in by_len[lens[i]]:
                r = rank[tb]
                count[r] += k
                size += k
                if c:
                    closed[r] += k
                    seen += k
                    if c == 1:
                        won[r] += k
            i += 1
        s = 1.0
        f = 0.0
        n = size
        j = bisect_left(bins, age)
        end = len(bins) if h_days is None else bisect_right(bins, age + h_days, lo=j)
        for r in range(j, end):
            if n <= 0:
                break
            d = closed[r]
            if d:
                f += s * won[r] / n
                s *= 1.0 - d / n
            n -= count[r]
        out[age] = (f, 1.0 - s, seen > 0)
    return out
