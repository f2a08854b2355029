"""The Ibis engine: every metric and forecast of an Ibis table, run on its backend.

Each public function here has the name and signature of its pure-Python
counterpart (:mod:`salesstages.metrics._engine` routes to it by name). Two
pivots (:mod:`._pivots`: one row per visit, one row per deal) are built as
Ibis expressions over the canonical table (:mod:`._columns`), each metric is
a small aggregate over them (:mod:`._metrics`, :mod:`._forecast`), and the
rest (Kaplan–Meier, the Markov solve, Wilson intervals, the result records)
runs in Python on the aggregates, through the same code as the pure-Python
engine. Importing this package needs ``ibis-framework``; without it the
error names ``pip install 'salesstages[duckdb]'``.
"""

from __future__ import annotations

from ._forecast import (
    backtest,
    conditional_forecast,
    cumulative_incidence,
    markov,
    markov_forecast,
    stage_outlook,
    time_to_close,
    weighted,
)
from ._metrics import (
    conversion,
    funnel,
    lost_reasons,
    sales_cycle,
    snapshot,
    stage_durations,
    stalled,
    substate_durations,
    substate_visits,
    velocity,
    visits,
    win_loss,
    win_rate,
)

__all__ = [
    "backtest",
    "conditional_forecast",
    "conversion",
    "cumulative_incidence",
    "funnel",
    "lost_reasons",
    "markov",
    "markov_forecast",
    "sales_cycle",
    "snapshot",
    "stage_durations",
    "stage_outlook",
    "stalled",
    "substate_durations",
    "substate_visits",
    "time_to_close",
    "velocity",
    "visits",
    "weighted",
    "win_loss",
    "win_rate",
]
