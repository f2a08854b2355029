"""The empirical absorbing Markov chain: :func:`markov` and :func:`markov_forecast`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import attrs

from .._stats import (
    absorbing_chain,
)
from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ..metrics._history import Histories
from ..metrics._types import _pct, _table
from ._common import (
    _check_horizon,
    _expected_value,
    _frozen_map,
    _hist,
    _stage_probabilities,
    _us,
)
from ._outlook import _conditional_sum

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = ["MarkovModel", "markov", "markov_forecast"]


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
        support: For every open stage, in pipeline order, how many moves
            out of it were observed: the data behind its estimate (0: none,
            and the stage has no estimate).
    """

    moves: Mapping[str, Mapping[str, int]]
    transition: Mapping[str, Mapping[str, float]]
    win_probability: Mapping[str, float]
    loss_probability: Mapping[str, float]
    expected_moves: Mapping[str, float]
    absorption: Mapping[str, Mapping[str, float]]
    stages: tuple[str, ...]
    unresolved: tuple[str, ...]
    support: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def no_estimate(self) -> tuple[str, ...]:
        """The open stages without an estimate (never left, or :attr:`unresolved`), in
        pipeline order: :func:`markov_forecast` falls back to their configured
        ``probability`` for the deals in them."""
        return tuple(s for s in self.support if s not in self.win_probability)

    def __repr__(self) -> str:
        wins = ", ".join(f"{s}: {self.win_probability[s]:.4g}" for s in self.stages)
        moves = sum(sum(m.values()) for m in self.moves.values())
        extra = f", unresolved={list(self.unresolved)!r}" if self.unresolved else ""
        return f"MarkovModel(moves={moves}, win_probability={{{wins}}}{extra})"

    def to_records(self) -> list[dict[str, Any]]:
        """One row per open stage, in pipeline order: ``stage``, ``support`` (moves
        observed out of it), ``win_probability``, ``loss_probability`` and
        ``expected_moves`` (``None`` for a stage without an estimate), then one
        ``absorption_<closed stage>`` column per closed stage. The moves and the
        transition probabilities stay in :attr:`moves` and :attr:`transition`."""
        closed = list(dict.fromkeys(c for row in self.absorption.values() for c in row))
        return [
            {
                "stage": stage,
                "support": support,
                "win_probability": self.win_probability.get(stage),
                "loss_probability": self.loss_probability.get(stage),
                "expected_moves": self.expected_moves.get(stage),
                **{f"absorption_{c}": self.absorption.get(stage, {}).get(c) for c in closed},
            }
            for stage, support in self.support.items()
        ]

    def __str__(self) -> str:
        """A table: per open stage the moves out of it, P(win) and the expected moves left."""
        rows = [
            (
                r["stage"],
                f"{r['support']:,}",
                _pct(r["win_probability"]),
                "–" if r["expected_moves"] is None else f"{r['expected_moves']:.1f}",
            )
            for r in self.to_records()
        ]
        return _table(("stage", "moves out", "P(win)", "moves to close"), rows)


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
    if is_ibis_table(events):
        return on_table(markov)(events, pipeline, as_of=as_of)
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
        support=_frozen_map(
            {s.name: sum(moves.get(s.name, {}).values()) for s in pipeline.open_stages}
        ),
    )


@engine
def markov_forecast(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    model: MarkovModel | None = None,
    horizon: timedelta | None = None,
) -> float:
    """Σ amount × P(win | current stage) over the deals open at ``as_of``.

    ``model`` defaults to :func:`markov` fitted on the same events up to
    ``as_of`` (pass one fitted on a longer history to reuse it). A deal in a
    stage the model has no estimate for (see :attr:`MarkovModel.support`)
    falls back to the stage's configured ``probability`` (0 when unset).

    The chain knows nothing about time, so this forecasts eventual wins. With
    ``horizon``, the amount won within ``horizon`` of ``as_of``: each deal's
    term is also multiplied by the probability that a deal in its stage, as
    long as it has been there, closes within ``horizon`` (as
    :func:`weighted` with ``horizon``).

    Raises:
        ValueError: ``horizon`` is not a non-negative timedelta.
    """
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    if is_ibis_table(events):
        return on_table(markov_forecast)(
            events, pipeline, as_of=as_of, model=model, horizon=horizon
        )
    hist = _hist(events, pipeline, as_of)
    if model is None:
        model = _markov(hist, pipeline)
    return _markov_sum(hist, pipeline, model, h_us)


def _markov_sum(
    hist: Histories, pipeline: Pipeline, model: MarkovModel, horizon_us: int | None = None
) -> float:
    prob = _markov_probabilities(pipeline, model)
    if horizon_us is not None:
        return _conditional_sum(hist, pipeline, horizon_us, prob)
    return _expected_value(hist, prob)


def _markov_probabilities(pipeline: Pipeline, model: MarkovModel) -> dict[str, float]:
    """P(win | stage): the model's, else the stage's configured probability."""
    prob = _stage_probabilities(pipeline)
    prob.update(model.win_probability)
    return prob
