"""The Ibis engine of :mod:`salesstages.metrics`: every metric of an Ibis table, run
on its backend (the forecasts' engine, :mod:`salesstages.forecast._ibis`, builds
on the same pivots).

Each public function here has the name and signature of its pure-Python
counterpart and registers itself as its table kernel
(:func:`salesstages.metrics._engine.table_kernel`). Two
pivots (:mod:`._pivots`: one row per visit, one row per deal) are built as
Ibis expressions over the canonical table (:mod:`._columns`), each metric is
a small aggregate over them (in the module named as its pure-Python twin:
:mod:`._durations`, :mod:`._funnel`, :mod:`._outcomes`, :mod:`._winloss` …), and the
rest (Kaplan–Meier, the Markov solve, Wilson intervals, the result records)
runs in Python on the aggregates, through the same code as the pure-Python
engine. Importing this package needs ``ibis-framework``; without it the
error names ``pip install 'salesstages[duckdb]'``.
"""

from __future__ import annotations

from ._actions import action_conversion
from ._bowtie import bowtie  # issue 25
from ._conformance import conformance
from ._durations import stage_durations, substate_durations, substate_visits, visits
from ._funnel import conversion, funnel, period_conversion, skips_and_regressions
from ._outcomes import lost_reasons, sales_cycle, snapshot, stalled, velocity, win_rate
from ._paths import paths, rework, transitions
from ._people import handovers, scorecard
from ._planning import movement, period_status, slippage  # issues 14, 22
from ._quality import data_quality
from ._revenue import accounts, arr, cohort_retention, retention, revenue_movement  # issue 25
from ._trend import trend
from ._whatif import what_if
from ._winloss import win_loss

__all__ = [
    "accounts",
    "action_conversion",
    "arr",
    "bowtie",
    "cohort_retention",
    "conformance",
    "conversion",
    "data_quality",
    "funnel",
    "handovers",
    "lost_reasons",
    "movement",
    "paths",
    "period_conversion",
    "period_status",
    "retention",
    "revenue_movement",
    "rework",
    "sales_cycle",
    "scorecard",
    "skips_and_regressions",
    "slippage",
    "snapshot",
    "stage_durations",
    "stalled",
    "substate_durations",
    "substate_visits",
    "transitions",
    "trend",
    "velocity",
    "visits",
    "what_if",
    "win_loss",
    "win_rate",
]
