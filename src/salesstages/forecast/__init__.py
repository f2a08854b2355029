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

from datetime import datetime
from typing import TYPE_CHECKING

from ..metrics._engine import Events, engine
from ._backtest import Backtest, BacktestRow, MethodError, backtest
from ._common import _expected_value, _hist, _stage_probabilities
from ._markov import MarkovModel, markov, markov_forecast
from ._outlook import StageOutlook, conditional_forecast, stage_outlook
from ._planning import Coverage, categories, coverage
from ._survival import CumulativeIncidence, Survival, cumulative_incidence, time_to_close

if TYPE_CHECKING:
    from .._pipeline import Pipeline

__all__ = [
    "Backtest",
    "BacktestRow",
    "Coverage",
    "CumulativeIncidence",
    "MarkovModel",
    "MethodError",
    "StageOutlook",
    "Survival",
    "backtest",
    "categories",
    "conditional_forecast",
    "coverage",
    "cumulative_incidence",
    "markov",
    "markov_forecast",
    "stage_outlook",
    "time_to_close",
    "weighted",
]


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


# The public names read as salesstages.forecast's own (in reprs, pickles and
# the docs), wherever in the package they are defined.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name


def __dir__() -> list[str]:
    return list(__all__)
