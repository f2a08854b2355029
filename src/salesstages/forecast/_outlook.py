"""Forecasts: what the open pipeline will bring, when deals close, and which method to trust.

Every function takes ``events`` (any iterable of :class:`~salesstages.Event`,
in any order) and the ``pipeline``; ``as_of`` (default: the latest event
time) ignores later events, so each forecast can be asked "as it stood
then". Amounts are each deal's ``amount`` attribute (missing, ``None`` or
not a number counts as 0, as in :mod:`salesstages.metrics`).

- :func:`weighted`: Σ amount × the stage's configured ``probability``.
- :func:`markov` → :class:`MarkovModel`: the empirical stage-to-stage chain
  and each stage's probability of ending won; :func:`markov_forecast` turns
  it into Σ amount × P(win | current stage).
- :func:`time_to_close` → :class:`Survival`: Kaplan–Meier of opened → closed
  with a Greenwood interval; :func:`cumulative_incidence` →
  :class:`CumulativeIncidence`: the Aalen–Johansen probability of being won
  (or lost) within a time, with the other outcome competing.
- :func:`stage_outlook` → :class:`StageOutlook`: for a deal that has sat in a
  stage for some time, its chance to win and the time it has left, learnt
  from the deals that sat there as long; :func:`conditional_forecast` sums it
  over the open deals.
- :func:`backtest` → :class:`Backtest`: replays the forecasts at past dates
  and compares them with what was actually won.

See ``docs/forecasting.md`` for the formulas and when to trust each one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from ._errors import DataError
from ._stats import (
    aalen_johansen,
    absorbing_chain,
    greenwood_interval,
    kaplan_meier,
    quantile_time,
    restricted_mean,
    step_value,
    z_value,
)
from ._time import to_utc
from .metrics._common import amount_of, check_stage, load
from .metrics._engine import Events, engine
from .metrics._history import DealHistory, Histories, rewind

if TYPE_CHECKING:
    from ._pipeline import Pipeline

__all__ = [
    "Backtest",
    "BacktestRow",
    "CumulativeIncidence",
    "MarkovModel",
    "MethodError",
    "StageOutlook",
    "Survival",
    "backtest",
    "conditional_forecast",
    "cumulative_incidence",
    "markov",
    "markov_forecast",
    "stage_outlook",
    "time_to_close",
    "weighted",
]

_US: Final = timedelta(microseconds=1)
_ZERO: Final = timedelta(0)
_DAY_US: Final = 86_400_000_000
_DAY: Final = timedelta(days=1)
#: The methods :func:`backtest` compares, in report order.
METHODS: Final = ("weighted", "markov", "conditional")


# ------------------------------------------------------------------ helpers
def _us(td: timedelta) -> int:
    """A duration in whole microseconds (exact, unlike ``total_seconds()``)."""
    return td // _US


def _td(us: float) -> timedelta:
    return _US * round(us)


def _open_amount(h: DealHistory) -> float:
    return amount_of(h.attributes.get("amount"))


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return repr(value)


def _fields_repr(obj: Any, names: Sequence[str], extra: str = "") -> str:
    inner = ", ".join(f"{n}={_show(getattr(obj, n))}" for n in names)
    return f"{type(obj).__name__}({inner}{extra})"


def _check_horizon(horizon: Any, what: str = "horizon") -> timedelta:
    if not isinstance(horizon, timedelta) or horizon < _ZERO:
        raise ValueError(f"{what} must be a non-negative timedelta, got {horizon!r}")
    return horizon


def _hist(events: Events, pipeline: Pipeline, as_of: datetime | None) -> Histories:
    return load(events, pipeline, as_of)


# ----------------------------------------------------------------- weighted
@engine
def weighted(events: Events, pipeline: Pipeline, *, as_of: datetime | None = None) -> float:
    """Σ amount × stage probability over the deals open at ``as_of``.

    The probability is each open stage's configured
    :attr:`Stage.probability <salesstages.Stage.probability>`; a stage without
    one contributes 0. This is the classic CRM "weighted pipeline": a
    forecast of the amount the open deals will eventually win, with no time
    dimension.
    """
    hist = _hist(events, pipeline, as_of)
    return _expected_value(hist, _stage_probabilities(pipeline))


def _stage_probabilities(pipeline: Pipeline) -> dict[str, float]:
    """Each open stage's configured probability (0 when it has none)."""
    return {s.name: s.probability or 0.0 for s in pipeline.open_stages}


def _expected_value(hist: Histories, prob: Mapping[str, float]) -> float:
    """Σ amount × probability of the open deal's current stage, over open deals."""
    total = 0.0
    for h in hist.deals.values():
        if h.outcome == "open":
            p = prob[h.stage]
            if p:
                total += _open_amount(h) * p
    return total


# ------------------------------------------------------------------- Markov
@attrs.frozen(kw_only=True, repr=False)
class MarkovModel:
    """The empirical absorbing Markov chain of a pipeline (see :func:`markov`).

    Attributes:
        moves: Every observed move out of each open stage: ``moves[a][b]`` is
            how many times a deal went from ``a`` to ``b`` (open stages that
            were never left are absent).
        transition: The transition probabilities used for the estimates:
            ``moves`` normalised per stage, leaving out moves into open stages
            whose own future cannot be estimated (see :attr:`unresolved`).
        win_probability: For every stage in :attr:`stages`, the probability
            of ending in a won stage: the sum over won stages of B = N · R.
        loss_probability: The same for lost stages (``1 - win_probability``).
        expected_moves: Expected number of moves until a won or lost stage
            (the row sums of N).
        absorption: ``absorption[stage][closed_stage]``: B = N · R per closed stage.
        stages: The open stages with an estimate, in pipeline order.
        unresolved: Open stages that have observed moves but no estimate,
            because every path out of them runs into stages no deal has left
            yet (or loops among them without ever closing).
    """

    moves: Mapping[str, Mapping[str, int]]
    transition: Mapping[str, Mapping[str, float]]
    win_probability: Mapping[str, float]
    loss_probability: Mapping[str, float]
    expected_moves: Mapping[str, float]
    absorption: Mapping[str, Mapping[str, float]]
    stages: tuple[str, ...]
    unresolved: tuple[str, ...]

    def __repr__(self) -> str:
        wins = ", ".join(f"{s}: {self.win_probability[s]:.4g}" for s in self.stages)
        moves = sum(sum(m.values()) for m in self.moves.values())
        extra = f", unresolved={list(self.unresolved)!r}" if self.unresolved else ""
        return f"MarkovModel(moves={moves}, win_probability={{{wins}}}{extra})"


def _frozen_map(d: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(d))


def _count_moves(hist: Histories, pipeline: Pipeline) -> dict[str, dict[str, int]]:
    opens = frozenset(s.name for s in pipeline.open_stages)
    counts: dict[tuple[str, str], int] = {}
    get = counts.get
    for h in hist.deals.values():
        prev: str | None = None
        for _, stage, _ in h.entries:
            if prev is not None and prev in opens:
                key = (prev, stage)
                counts[key] = get(key, 0) + 1
            prev = stage
    moves: dict[str, dict[str, int]] = {}
    order = {s.name: i for i, s in enumerate(pipeline.stages)}
    for (a, b), n in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], order[kv[0][1]])):
        moves.setdefault(a, {})[b] = n
    return moves


def _fit_chain(
    moves: Mapping[str, Mapping[str, int]], pipeline: Pipeline
) -> tuple[list[str], dict[str, dict[str, float]], dict[str, list[float]], list[float], list[str]]:
    """Pick the solvable transient stages, normalise their rows and solve the chain.

    A stage is solvable when it has observed moves and some observed path
    from it reaches a closed stage through solvable stages only. Moves into an
    open stage that is not solvable are left out of its row: nothing says
    where those deals go next, so they are treated like censored paths.
    """
    closed = [s.name for s in pipeline.stages if not s.is_open]
    closed_set = frozenset(closed)
    alive = {a for a, row in moves.items() if row}
    while True:
        # stages that reach a closed stage through alive stages
        reach = {a for a in alive if any(b in closed_set for b in moves[a])}
        grew = True
        while grew:
            grew = False
            for a in alive - reach:
                if any(b in reach for b in moves[a]):
                    reach.add(a)
                    grew = True
        if reach == alive:
            break
        alive = reach
    order = [s.name for s in pipeline.open_stages if s.name in alive]
    index = {a: i for i, a in enumerate(order)}
    col = {c: i for i, c in enumerate(closed)}
    transition: dict[str, dict[str, float]] = {}
    q = [[0.0] * len(order) for _ in order]
    r = [[0.0] * len(closed) for _ in order]
    for a in order:
        kept = {b: n for b, n in moves[a].items() if b in closed_set or b in index}
        total = sum(kept.values())
        transition[a] = {b: n / total for b, n in kept.items()}
        i = index[a]
        for b, p in transition[a].items():
            if b in index:
                q[i][index[b]] += p
            else:
                r[i][col[b]] += p
    chain = absorbing_chain(q, r)
    absorption = {a: chain.absorption[index[a]] for a in order}
    unresolved = [s.name for s in pipeline.open_stages if s.name in moves and s.name not in alive]
    return order, transition, absorption, chain.expected_steps, unresolved


@engine
def markov(events: Events, pipeline: Pipeline, *, as_of: datetime | None = None) -> MarkovModel:
    """Estimate the pipeline's absorbing Markov chain from every observed move.

    Each ``stage_entered`` that follows a deal's stay in an open stage is one
    observed move out of that stage: forward, skipping ahead, back
    (regression) or into a closed stage. Won and lost stages are absorbing,
    so the move out of a lost stage that reopens a deal is not counted; the
    reopened deal starts a new path from the stage it re-enters.

    With Q the transient-to-transient and R the transient-to-closed
    probabilities, N = (I − Q)⁻¹ is the fundamental matrix, B = N · R gives
    the absorption probabilities and N · 1 the expected number of moves.

    An open stage whose observed moves only lead into stages no deal has left
    yet has no estimate and is listed in :attr:`MarkovModel.unresolved`.
    """
    hist = _hist(events, pipeline, as_of)
    return _markov(hist, pipeline)


def _markov(hist: Histories, pipeline: Pipeline) -> MarkovModel:
    return _markov_model(_count_moves(hist, pipeline), pipeline)


def _markov_model(moves: dict[str, dict[str, int]], pipeline: Pipeline) -> MarkovModel:
    """The model from the move counts (shared with the Ibis engine)."""
    order, transition, absorption, steps, unresolved = _fit_chain(moves, pipeline)
    closed = [s for s in pipeline.stages if not s.is_open]
    won_cols = [i for i, s in enumerate(closed) if s.outcome == "won"]
    lost_cols = [i for i, s in enumerate(closed) if s.outcome == "lost"]
    win = {a: min(1.0, max(0.0, math.fsum(absorption[a][i] for i in won_cols))) for a in order}
    loss = {a: min(1.0, max(0.0, math.fsum(absorption[a][i] for i in lost_cols))) for a in order}
    return MarkovModel(
        moves=_frozen_map({a: _frozen_map(row) for a, row in moves.items()}),
        transition=_frozen_map({a: _frozen_map(row) for a, row in transition.items()}),
        win_probability=_frozen_map(win),
        loss_probability=_frozen_map(loss),
        expected_moves=_frozen_map(dict(zip(order, steps, strict=True))),
        absorption=_frozen_map(
            {
                a: _frozen_map({c.name: absorption[a][i] for i, c in enumerate(closed)})
                for a in order
            }
        ),
        stages=tuple(order),
        unresolved=tuple(unresolved),
    )


@engine
def markov_forecast(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    model: MarkovModel | None = None,
) -> float:
    """Σ amount × P(win | current stage) over the deals open at ``as_of``.

    ``model`` defaults to :func:`markov` fitted on the same events up to
    ``as_of`` (pass one fitted on a longer history to reuse it). A deal in a
    stage the model has no estimate for falls back to the stage's configured
    ``probability`` (0 when unset).
    """
    hist = _hist(events, pipeline, as_of)
    if model is None:
        model = _markov(hist, pipeline)
    return _markov_sum(hist, pipeline, model)


def _markov_sum(hist: Histories, pipeline: Pipeline, model: MarkovModel) -> float:
    return _expected_value(hist, _markov_probabilities(pipeline, model))


def _markov_probabilities(pipeline: Pipeline, model: MarkovModel) -> dict[str, float]:
    """P(win | stage): the model's, else the stage's configured probability."""
    prob = _stage_probabilities(pipeline)
    prob.update(model.win_probability)
    return prob


# ------------------------------------------------------------ Kaplan–Meier
@attrs.frozen(kw_only=True, repr=False)
class Survival:
    """The Kaplan–Meier estimate of the time from opening to closing (see :func:`time_to_close`).

    Attributes:
        times: The distinct closing times (time since opening), ascending.
        survival: S just after each of those times: the estimated share of
            deals still open that long after opening.
        lower: The lower bound of S's confidence interval at each time.
        upper: The upper bound.
        at_risk: Deals still open (and observed) just before each time.
        closed: Deals that closed at each time.
        median: The first time at which S ≤ 0.5; ``None`` when S never gets there.
        deals: How many deals the estimate is built on.
        censored: How many of them were still open (right-censored).
        level: The confidence level of ``lower`` and ``upper``.
    """

    times: tuple[timedelta, ...]
    survival: tuple[float, ...]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    at_risk: tuple[int, ...]
    closed: tuple[int, ...]
    median: timedelta | None
    deals: int
    censored: int
    level: float

    def __repr__(self) -> str:
        return _fields_repr(
            self, ("deals", "censored", "median", "level"), f", times=<{len(self.times)} times>"
        )

    def at(self, t: timedelta) -> float:
        """S(t): the estimated share of deals still open ``t`` after opening."""
        _check_horizon(t, "t")
        return step_value(self.times, self.survival, t, 1.0)  # type: ignore[arg-type]

    def interval(self, t: timedelta) -> tuple[float, float]:
        """The confidence interval of S(t) (``(1, 1)`` before the first closing)."""
        _check_horizon(t, "t")
        i = _index_at(self.times, t)
        if i < 0:
            return 1.0, 1.0
        return self.lower[i], self.upper[i]

    def close_within(self, horizon: timedelta, *, age: timedelta = _ZERO) -> float:
        """P(a deal closes, won or lost, within ``horizon``), for one already open for ``age``.

        ``1 - S(age + horizon) / S(age)``; 1.0 when S(age) is already 0. For
        the chance to *win* within a horizon use :func:`cumulative_incidence`.
        """
        _check_horizon(horizon)
        _check_horizon(age, "age")
        s_age = self.at(age)
        if s_age <= 0.0:
            return 1.0
        return min(1.0, max(0.0, 1.0 - self.at(age + horizon) / s_age))


def _index_at(times: Sequence[Any], t: Any) -> int:
    """Index of the last time ≤ t, -1 when none."""
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] <= t:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


def _close_samples(hist: Histories) -> tuple[list[int], list[str | None]]:
    """Opened → latest closing (µs) and the outcome, or as_of − opened and None when open."""
    as_of = hist.as_of
    durations: list[int] = []
    causes: list[str | None] = []
    for h in hist.deals.values():
        if h.outcome == "open":
            assert as_of is not None
            durations.append(max(0, _us(as_of - h.opened_at)))
            causes.append(None)
        else:
            assert h.closed_at is not None
            durations.append(max(0, _us(h.closed_at - h.opened_at)))
            causes.append(h.outcome)
    return durations, causes


@engine
def time_to_close(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    level: float = 0.95,
) -> Survival:
    """Kaplan–Meier estimate of the time from opening to closing, won or lost.

    A closed deal's time runs from its ``opened`` event to its latest closing
    (a lost deal that was reopened and closed again counts once, at its last
    closing); a deal still open at ``as_of`` is right-censored at
    ``as_of - opened``. At each closing time t with n deals at risk and d
    closings, S(t) = S(t−) · (1 − d / n); a deal censored at the same time as
    a closing is still at risk at that time. The interval is Greenwood's, on
    the log(−log S) scale, at confidence ``level``.
    """
    z_value(level)
    hist = _hist(events, pipeline, as_of)
    durations, causes = _close_samples(hist)
    return _survival(durations, causes, level)


def _survival(durations: list[int], causes: list[str | None], level: float) -> Survival:
    """The :class:`Survival` from each deal's µs and outcome (shared with the Ibis engine)."""
    km = kaplan_meier(durations, [c is not None for c in causes])
    lower, upper = greenwood_interval(km, level)
    times = tuple(_US * t for t in km.times)  # exact: the times are whole µs
    median = quantile_time(km.times, km.survival)
    return Survival(
        times=times,
        survival=km.survival,
        lower=lower,
        upper=upper,
        at_risk=km.at_risk,
        closed=km.events,
        median=None if median is None else _td(median),
        deals=km.total,
        censored=sum(1 for c in causes if c is None),
        level=level,
    )


# ---------------------------------------------------------- Aalen–Johansen
@attrs.frozen(kw_only=True, repr=False)
class CumulativeIncidence:
    """The probability of one outcome within a time, with the other competing.

    See :func:`cumulative_incidence`.

    Attributes:
        outcome: ``"won"`` or ``"lost"``.
        times: The distinct closing times (of either outcome), ascending.
        incidence: F(t) just after each time: the estimated share of deals
            that reach ``outcome`` within that time of opening.
        survival: The Kaplan–Meier share still open at each time, so that
            F_won(t) + F_lost(t) = 1 − survival(t).
        at_risk: Deals still open (and observed) just before each time.
        events: Deals that reached ``outcome`` at each time.
        final: F at the last closing time: the estimated share that ever
            reaches ``outcome`` (within the observed span).
        deals: How many deals the estimate is built on.
    """

    outcome: Literal["won", "lost"]
    times: tuple[timedelta, ...]
    incidence: tuple[float, ...]
    survival: tuple[float, ...]
    at_risk: tuple[int, ...]
    events: tuple[int, ...]
    final: float
    deals: int

    def __repr__(self) -> str:
        return _fields_repr(
            self, ("outcome", "deals", "final"), f", times=<{len(self.times)} times>"
        )

    def at(self, t: timedelta) -> float:
        """F(t): the estimated share of deals that reach the outcome within ``t`` of opening."""
        _check_horizon(t, "t")
        return step_value(self.times, self.incidence, t, 0.0)  # type: ignore[arg-type]


def _check_outcome(outcome: Any) -> Literal["won", "lost"]:
    if outcome not in ("won", "lost"):
        raise ValueError(f"outcome must be 'won' or 'lost', got {outcome!r}")
    return outcome  # type: ignore[no-any-return]


@engine
def cumulative_incidence(
    events: Events,
    pipeline: Pipeline,
    outcome: Literal["won", "lost"] = "won",
    *,
    as_of: datetime | None = None,
) -> CumulativeIncidence:
    """Aalen–Johansen estimate of P(a deal reaches ``outcome`` within t of opening).

    Won and lost compete: a lost deal can no longer be won, so 1 − KM (the
    chance to close at all) overstates the chance to win. With S the
    all-cause Kaplan–Meier curve of :func:`time_to_close` (same times, same
    censoring of open deals), F(t) = Σ_{tᵢ ≤ t} S(tᵢ−) · dᵢ / nᵢ where dᵢ
    counts the deals reaching ``outcome`` at tᵢ. A deal's outcome is the
    one of its latest closing.
    """
    outcome = _check_outcome(outcome)
    hist = _hist(events, pipeline, as_of)
    durations, causes = _close_samples(hist)
    return _incidence(durations, causes, outcome)


def _incidence(
    durations: list[int], causes: list[str | None], outcome: Literal["won", "lost"]
) -> CumulativeIncidence:
    """The :class:`CumulativeIncidence` from each deal's µs and outcome (shared)."""
    aj = aalen_johansen(durations, causes, ["won", "lost"])
    inc = aj.incidence[outcome]
    return CumulativeIncidence(
        outcome=outcome,
        times=tuple(_US * t for t in aj.times),
        incidence=inc,
        survival=aj.survival,
        at_risk=aj.at_risk,
        events=aj.events[outcome],
        final=inc[-1] if inc else 0.0,
        deals=aj.total,
    )


# -------------------------------------------------------- stage-conditional
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
            when no stay lasted that long.
        win_within: The probability of winning within ``horizon`` from now;
            ``None`` when no horizon was asked for or there are no stays.
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


def _stay_cells(hist: Histories, pipeline: Pipeline) -> dict[str, Counter[int]]:
    """Every stay in every open stage, counted per (whole days in the stage, whole days
    from entering it to the next closing or to ``as_of``, cause), for
    :func:`_binned_win`. Each cell is one int, ``days_in << 32 | days_to << 2 |
    cause`` (cause 1 won, 2 lost, 0 censored), so counting allocates no tuples.
    """
    code = {s.name: 0 if s.is_open else 1 if s.outcome == "won" else 2 for s in pipeline.stages}
    keys: dict[str, list[int]] = {s.name: [] for s in pipeline.open_stages}
    if hist.as_of is None:
        return {}
    as_of: datetime = hist.as_of
    for h in hist.deals.values():
        close_at: datetime = as_of
        close_code = 0
        nxt_at: datetime = as_of
        for at, stage, _ in reversed(h.entries):
            c = code[stage]
            if c:
                close_at, close_code = at, c
            else:
                keys[stage].append(
                    (nxt_at - at).days << 32 | (close_at - at).days << 2 | close_code
                )
            nxt_at = at
    return {stage: Counter(k) for stage, k in keys.items()}


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


@engine
def stage_outlook(
    events: Events,
    pipeline: Pipeline,
    stage: str,
    *,
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
    """
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    hist = _hist(events, pipeline, as_of)
    return _conditional_sum(hist, pipeline, h_us)


def _conditional_sum(hist: Histories, pipeline: Pipeline, horizon_us: int | None) -> float:
    as_of = hist.as_of
    # the open deals' amounts by stage and by whole days in the stage
    wanted: dict[str, dict[int, float]] = {}
    for h in hist.deals.values():
        if h.outcome == "open":
            assert as_of is not None
            amount = _open_amount(h)
            if amount:
                days = (as_of - h.entries[-1][0]) // _DAY
                row = wanted.setdefault(h.stage, {})
                row[days] = row.get(days, 0.0) + amount
    if not wanted:
        return 0.0
    return _conditional_value(wanted, _stay_cells(hist, pipeline), horizon_us)


def _conditional_value(
    wanted: dict[str, dict[int, float]], cells: dict[str, Counter[int]], horizon_us: int | None
) -> float:
    """Σ amount × P(win) from the open amounts by (stage, whole days in it) and the
    stays' cells (see :func:`_stay_cells`; shared with the Ibis engine)."""
    h_days = None if horizon_us is None else horizon_us // _DAY_US
    total = 0.0
    for stage, amounts in wanted.items():
        probs = _binned_win(cells[stage], sorted(amounts), h_days)
        total += math.fsum(amounts[d] * probs[d] for d in amounts)
    return total


def _binned_win(cells: Counter[int], ages: list[int], h_days: int | None) -> dict[int, float]:
    """P(win) for each landmark age (whole days), by Aalen–Johansen on day bins.

    Landmarks are taken from the oldest down, adding the stays that reach
    each one to running per-day counts, so the whole pass costs one count per
    stay plus one look at each day bin per landmark. With ``h_days``, the
    probability of winning within that many days (bins up to ``age + h_days``
    inclusive, which matches :func:`stage_outlook` on whole-day timestamps).
    """
    by_len: dict[int, list[tuple[int, int, int]]] = {}
    top = 0
    for key, k in cells.items():
        lb, tb, c = key >> 32, (key >> 2) & 0x3FFFFFFF, key & 3
        by_len.setdefault(lb, []).append((tb, c, k))
        if tb > top:
            top = tb
    lens = sorted(by_len, reverse=True)
    count = [0] * (top + 1)
    won = [0] * (top + 1)
    closed = [0] * (top + 1)
    size = 0
    i = 0
    out: dict[int, float] = {}
    for age in reversed(ages):
        while i < len(lens) and lens[i] >= age:
            for tb, c, k in by_len[lens[i]]:
                count[tb] += k
                size += k
                if c:
                    closed[tb] += k
                    if c == 1:
                        won[tb] += k
            i += 1
        s = 1.0
        f = 0.0
        n = size
        end = top + 1 if h_days is None else min(top + 1, age + h_days + 1)
        for b in range(age, end):
            if n <= 0:
                break
            d = closed[b]
            if d:
                f += s * won[b] / n
                s *= 1.0 - d / n
            n -= count[b]
        out[age] = f
    return out


# ----------------------------------------------------------------- backtest
@attrs.frozen(kw_only=True, repr=False)
class BacktestRow:
    """One date of a :func:`backtest`.

    Attributes:
        at: The date the forecasts were made as of.
        open_deals: Deals open at ``at``.
        open_amount: Their total amount at ``at``.
        actual: The amount of those deals won by ``at + horizon`` (at closing).
        won_new: The amount won by ``at + horizon`` by deals opened after
            ``at`` (not part of any forecast; shown for context).
        forecasts: Method name → forecast amount.
    """

    at: datetime
    open_deals: int
    open_amount: float
    actual: float
    won_new: float
    forecasts: Mapping[str, float]

    def __repr__(self) -> str:
        fc = ", ".join(f"{k}: {v:.4g}" for k, v in self.forecasts.items())
        return _fields_repr(
            self, ("at", "open_deals", "open_amount", "actual", "won_new"), f", forecasts={{{fc}}}"
        )


@attrs.frozen(kw_only=True, repr=False)
class MethodError:
    """How far one method's forecasts were from what was won, over a backtest's dates.

    Attributes:
        method: ``"weighted"``, ``"markov"`` or ``"conditional"``.
        bias: Mean of forecast − actual (positive: the method overshoots).
        mae: Mean absolute error.
        rmse: Root mean squared error.
        mape: Mean absolute error relative to the actual amount, over the
            dates where something was won; ``None`` when nothing was.
    """

    method: str
    bias: float
    mae: float
    rmse: float
    mape: float | None

    def __repr__(self) -> str:
        return _fields_repr(self, ("method", "bias", "mae", "rmse", "mape"))


@attrs.frozen(kw_only=True, repr=False)
class Backtest:
    """The result of :func:`backtest`: one row per date and each method's error.

    ``str(backtest)`` (or :meth:`summary`) is a printable table.

    Attributes:
        horizon: The horizon each forecast was checked over.
        rows: One :class:`BacktestRow` per date, in date order.
        errors: Method name → :class:`MethodError`, best (lowest MAE) first.
    """

    horizon: timedelta
    rows: tuple[BacktestRow, ...]
    errors: Mapping[str, MethodError]

    def __repr__(self) -> str:
        best = next(iter(self.errors), None)
        return f"Backtest(horizon={self.horizon}, dates={len(self.rows)}, best={best!r})"

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        """A printable table: each date's forecasts and actual, then each method's error."""
        methods = list(METHODS)
        head = f"{'as of':<20} {'open':>6} {'actual':>14} " + " ".join(f"{m:>14}" for m in methods)
        lines = [f"Forecast backtest, horizon {self.horizon}", head, "-" * len(head)]
        for r in self.rows:
            lines.append(
                f"{r.at.strftime('%Y-%m-%d %H:%M'):<20} {r.open_deals:>6} {r.actual:>14,.0f} "
                + " ".join(f"{r.forecasts[m]:>14,.0f}" for m in methods)
            )
        lines.append("")
        lines.append(f"{'method':<12} {'bias':>14} {'MAE':>14} {'RMSE':>14} {'MAPE':>8}")
        for e in self.errors.values():
            mape = "n/a" if e.mape is None else f"{e.mape:.1%}"
            lines.append(
                f"{e.method:<12} {e.bias:>14,.0f} {e.mae:>14,.0f} {e.rmse:>14,.0f} {mape:>8}"
            )
        return "\n".join(lines)


@engine
def backtest(
    events: Events,
    pipeline: Pipeline,
    *,
    at: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """Forecast as of each date in ``at`` and compare with what was won within ``horizon``.

    As of each date, each method forecasts the amount the deals open then
    will win: :func:`weighted`, :func:`markov_forecast` (both learn nothing
    about time, so they forecast eventual wins) and
    :func:`conditional_forecast` with ``horizon`` (wins within the horizon).
    Each model is fitted only on the events up to its date, as it would have
    been then. The actual is the amount (at closing) of those same deals won
    in (date, date + horizon]. Dates whose horizon runs past the end of the
    log are measured against an incomplete future: pick dates at least
    ``horizon`` before the last event.

    The log is folded once (at the last date + ``horizon``); each date's view
    is rewound from that fold. ``events`` may be a
    :class:`~salesstages.metrics.Histories`: its ``as_of`` then ends every
    actual, and no date may be later than it.

    Raises:
        ValueError: ``at`` is empty or ``horizon`` is not a positive timedelta.
        DataError: A date is after the ``as_of`` of the given ``Histories``.
        NaiveTimeError: A date has no timezone.
    """
    if not isinstance(horizon, timedelta) or horizon <= _ZERO:
        raise ValueError(f"horizon must be a positive timedelta, got {horizon!r}")
    if isinstance(at, datetime) or not isinstance(at, Sequence | Iterable):
        raise ValueError(f"at must be a sequence of datetimes, got {at!r}")
    dates = sorted({to_utc(d, "at") for d in at})
    if not dates:
        raise ValueError("at must name at least one date")
    if isinstance(events, Histories):
        final = _hist(events, pipeline, None)
        if final.as_of is not None and dates[-1] > final.as_of:
            raise DataError(
                f"backtest date {dates[-1].isoformat()} is after the as_of these histories "
                f"were folded for ({final.as_of.isoformat()}); fold the log at the last "
                "date + horizon or later"
            )
    else:
        final = _hist(events, pipeline, dates[-1] + horizon)
    return _backtest_folded(final, pipeline, dates, horizon)


def _backtest_folded(
    final: Histories,
    pipeline: Pipeline,
    dates: Sequence[datetime],
    horizon: timedelta,
) -> Backtest:
    """:func:`backtest` over sorted aware ``dates``, given ``final``: the log folded
    at the last date + ``horizon`` or later. Each date's view is rewound from it
    (no pass over the events), and it gives every date's actual wins."""
    rows = [_backtest_row(rewind(final, d), final, pipeline, d, horizon) for d in dates]
    return _backtest_result(rows, horizon)


def _backtest_row(
    now: Histories, final: Histories, pipeline: Pipeline, d: datetime, horizon: timedelta
) -> BacktestRow:
    """One backtest date: the forecasts fitted on ``now`` (the log folded at ``d``)
    against the actual wins in ``(d, d + horizon]``, read from ``final`` (the log
    folded at ``d + horizon`` or later: a win is final, so a deal won by then is
    won there too, at the same time and amount)."""
    end = d + horizon
    open_now = {k: h for k, h in now.deals.items() if h.outcome == "open"}
    actual = won_new = 0.0
    for k, h in final.deals.items():
        if h.outcome != "won" or h.closed_at is None or not d < h.closed_at <= end:
            continue
        amount = amount_of(h.closed_amount)
        if k in open_now:
            actual += amount
        elif k not in now.deals:
            won_new += amount
    prob = {s.name: s.probability or 0.0 for s in pipeline.open_stages}
    w = sum(_open_amount(h) * prob[h.stage] for h in open_now.values())
    forecasts = {
        "weighted": w,
        "markov": _markov_sum(now, pipeline, _markov(now, pipeline)),
        "conditional": _conditional_sum(now, pipeline, _us(horizon)),
    }
    return BacktestRow(
        at=d,
        open_deals=len(open_now),
        open_amount=sum(_open_amount(h) for h in open_now.values()),
        actual=actual,
        won_new=won_new,
        forecasts=_frozen_map(forecasts),
    )


def _backtest_result(rows: Sequence[BacktestRow], horizon: timedelta) -> Backtest:
    """Each method's errors over the backtest ``rows``, best first."""
    errors: list[MethodError] = []
    for m in METHODS:
        diffs = [r.forecasts[m] - r.actual for r in rows]
        rel = [abs(r.forecasts[m] - r.actual) / r.actual for r in rows if r.actual > 0]
        errors.append(
            MethodError(
                method=m,
                bias=math.fsum(diffs) / len(diffs),
                mae=math.fsum(abs(x) for x in diffs) / len(diffs),
                rmse=math.sqrt(math.fsum(x * x for x in diffs) / len(diffs)),
                mape=math.fsum(rel) / len(rel) if rel else None,
            )
        )
    errors.sort(key=lambda e: (e.mae, METHODS.index(e.method)))
    return Backtest(
        horizon=horizon,
        rows=tuple(rows),
        errors=_frozen_map({e.method: e for e in errors}),
    )
