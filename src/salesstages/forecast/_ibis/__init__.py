"""The Ibis engine of :mod:`salesstages.forecast`: every forecast of an Ibis table.

Each module is named as its pure-Python twin. The aggregates run on the
table's backend; the Markov solve, Kaplan–Meier, Aalen–Johansen and the
landmark estimates run in Python on the aggregates, through the same
functions as the pure-Python engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ...metrics._engine import table_kernel
from ...metrics._ibis._pivots import Pivots
from .. import weighted as _python_weighted
from .._common import _stage_probabilities, _us
from ._actions import next_actions
from ._backtest import backtest
from ._calibration import calibration, suggest_probabilities
from ._calls import accuracy
from ._common import open_amounts, value
from ._markov import markov, markov_forecast
from ._outlook import conditional, conditional_forecast, stage_outlook
from ._planning import categories, coverage  # issue 14
from ._survival import cumulative_incidence, time_to_close

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = [
    "accuracy",
    "backtest",
    "calibration",
    "categories",
    "conditional_forecast",
    "coverage",
    "cumulative_incidence",
    "markov",
    "markov_forecast",
    "next_actions",
    "stage_outlook",
    "suggest_probabilities",
    "time_to_close",
    "weighted",
]


@table_kernel(_python_weighted)
def weighted(
    events: Table,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    horizon: timedelta | None = None,
) -> float:
    """:func:`salesstages.forecast.weighted` on the table's backend."""
    h_us = None if horizon is None else _us(horizon)
    pv = Pivots(events, pipeline, as_of)
    if h_us is not None:
        return conditional(pv, h_us, _stage_probabilities(pipeline))
    return value(open_amounts(pv), _stage_probabilities(pipeline))
