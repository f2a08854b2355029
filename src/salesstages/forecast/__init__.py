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
- :func:`accuracy` → :class:`CallScore`: each forecast :class:`Call` (what an
  owner said they would win in a period) against what they won;
  summed up per owner and per week of the period.
- :func:`calibration` → :class:`Calibration`: are a method's probabilities of
  winning true? Brier score, skill and a reliability table;
  :func:`suggest_probabilities` sets each stage's configured probability
  against the rate its deals won at.
- :func:`backtest` → :class:`Backtest`: replays the forecasts at past dates
  and compares them with what was actually won. Every method has a horizon
  form (``horizon=``: the amount won within that time), and the backtest
  compares those, so every method forecasts the same quantity.

See ``docs/forecasting.md`` for the formulas and when to trust each one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..metrics._engine import Events, engine, is_ibis_table, on_table
from ._actions import ActionAdvice, next_actions
from ._backtest import Backtest, BacktestRow, MethodError, backtest
from ._calibration import (
    Calibration,
    ReliabilityRow,
    StageProbability,
    calibration,
    suggest_probabilities,
)
from ._calls import Call, CallScore, CallScores, CallSummary, UnknownOwnerWarning, accuracy
from ._common import _check_horizon, _expected_value, _hist, _stage_probabilities, _us
from ._markov import MarkovModel, markov, markov_forecast
from ._outlook import StageOutlook, _conditional_sum, conditional_forecast, stage_outlook
from ._planning import Coverage, categories, coverage
from ._survival import CumulativeIncidence, Survival, cumulative_incidence, time_to_close

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "ActionAdvice",
    "Backtest",
    "BacktestRow",
    "Calibration",
    "Call",
    "CallScore",
    "CallScores",
    "CallSummary",
    "Coverage",
    "CumulativeIncidence",
    "MarkovModel",
    "MethodError",
    "ReliabilityRow",
    "StageOutlook",
    "StageProbability",
    "Survival",
    "UnknownOwnerWarning",
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


@engine
def weighted(
    events: Events,
    pipeline: Pipeline,
    *,
    as_of: datetime | None = None,
    horizon: timedelta | None = None,
) -> float:
    """Σ amount × stage probability over the deals open at ``as_of``.

    The probability is each open stage's configured
    :attr:`Stage.probability <salesstages.Stage.probability>`; a stage without
    one contributes 0. This is the classic CRM "weighted pipeline": a
    forecast of the amount the open deals will eventually win, with no time
    dimension.

    With ``horizon``, the amount won within ``horizon`` of ``as_of``: each
    deal's term is also multiplied by the probability that a deal in its
    stage, as long as it has been there, closes (won or lost) within
    ``horizon``, learnt from the past stays as in :func:`stage_outlook`
    (whole days, as :func:`conditional_forecast`). A deal with no past stay
    as old as it that was seen to close counts 0 then.

    Raises:
        ValueError: ``horizon`` is not a non-negative timedelta.
    """
    h_us = None if horizon is None else _us(_check_horizon(horizon))
    if is_ibis_table(events):
        return on_table(weighted)(events, pipeline, as_of=as_of, horizon=horizon)
    hist = _hist(events, pipeline, as_of)
    if h_us is not None:
        return _conditional_sum(hist, pipeline, h_us, _stage_probabilities(pipeline))
    return _expected_value(hist, _stage_probabilities(pipeline))


# The public names read as salesstages.forecast's own (in reprs, pickles and
# the docs), wherever in the package they are defined.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name


def __dir__() -> list[str]:
    return list(__all__)
