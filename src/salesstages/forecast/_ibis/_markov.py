"""The Markov chain forecast on an Ibis table: the twin of ``forecast/_markov.py``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ...metrics._engine import table_kernel
from ...metrics._ibis._pivots import Pivots
from .. import _markov as python
from .._common import _us
from .._markov import MarkovModel, _markov_model, _markov_probabilities
from ._common import open_amounts, value
from ._outlook import conditional

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["count_moves", "markov", "markov_forecast"]


def count_moves(pv: Pivots) -> dict[str, dict[str, int]]:
    """Every observed move out of an open stage, counted (as ``_count_moves``)."""
    moves: dict[str, dict[str, int]] = {}
    if pv.as_of_us is None:
        return moves
    e = pv.entries
    e = e.filter(e.stage.isin(pv.opens) & e.next_stage.notnull())
    agg = e.group_by(["stage", "next_stage"]).aggregate(n=e.count())
    order = {name: i for i, name in enumerate(pv.names)}
    got = sorted(pv.run(agg, "count"), key=lambda r: (order[r["stage"]], order[r["next_stage"]]))
    for r in got:
        moves.setdefault(r["stage"], {})[r["next_stage"]] = int(r["n"])
    return moves


@table_kernel(python.markov)
def markov(events: Table, pipeline: Pipeline, *, as_of: datetime | None = None) -> MarkovModel:
    """:func:`salesstages.forecast.markov` on the table's backend."""
    return _markov_model(count_moves(Pivots(events, pipeline, as_of)), pipeline)


@table_kernel(python.markov_forecast)
def markov_forecast(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    model: MarkovModel | None = None,
    horizon: timedelta | None = None,
) -> float:
    """:func:`salesstages.forecast.markov_forecast` on the table's backend."""
    h_us = None if horizon is None else _us(horizon)
    pv = Pivots(events, pipeline, as_of)
    if model is None:
        model = _markov_model(count_moves(pv), pipeline)
    if h_us is not None:
        return conditional(pv, h_us, _markov_probabilities(pipeline, model))
    return value(open_amounts(pv), _markov_probabilities(pipeline, model))
