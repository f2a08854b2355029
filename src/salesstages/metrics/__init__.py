"""Metrics over an event log: pure functions of ``(events, pipeline, ...)``.

Every function takes ``events`` (any iterable of :class:`~salesstages.Event`,
in any order) and the :class:`~salesstages.Pipeline`. ``as_of`` defaults to
the latest event time; events after it are ignored, so every metric can be
asked "as it stood then". ``by="<attribute>"`` returns a dict keyed by that
attribute's value when the deal was opened. Durations are exact
``timedelta``\\ s of calendar time. See ``docs/metrics.md`` for every
definition and counting policy.

The log is folded once per call (:func:`visits` is the pivot: one record per
stay in an open stage); the metrics trust it to follow the pipeline (check it
with :meth:`~salesstages.Pipeline.check`).
"""

from __future__ import annotations

from ._actions import ActionRow, action_conversion
from ._bowtie import BowTie, bowtie
from ._conformance import Conformance, DeviationRow, conformance
from ._durations import stage_durations, substate_durations, substate_visits, visits
from ._frames import records, to_pandas, to_polars
from ._funnel import conversion, funnel, period_conversion, skips_and_regressions
from ._history import DealHistory, Histories, histories
from ._outcomes import NO_REASON, lost_reasons, sales_cycle, snapshot, stalled, velocity, win_rate
from ._paths import PathRow, Rework, TransitionRow, paths, rework, transitions
from ._people import Handover, Scorecard, ScorecardRow, handovers, scorecard
from ._planning import Movement, PeriodStatus, Slip, Tally, movement, period_status, slippage
from ._quality import DataQuality, Finding, data_quality
from ._revenue import accounts, arr, cohort_retention, retention, revenue_movement
from ._revenue_types import AccountRow, CohortRow, Retention, RevenueMovement
from ._segments import SegmentKey
from ._session import Session, session
from ._trend import TrendRow, trend
from ._types import (
    DurationStats,
    FunnelRow,
    Keyed,
    LostReason,
    Ratio,
    SnapshotRow,
    StageFlow,
    Stall,
    SubstateVisit,
    Visit,
)
from ._whatif import StoppedDeal, WhatIf, WhatIfGroup, what_if
from ._winloss import (
    ClosedDeal,
    WinLoss,
    WinLossGroup,
    days_until,
    fewer_than,
    win_loss,
    within,
)

__all__ = [
    "NO_REASON",
    "AccountRow",
    "ActionRow",
    "BowTie",
    "ClosedDeal",
    "CohortRow",
    "Conformance",
    "DataQuality",
    "DealHistory",
    "DeviationRow",
    "DurationStats",
    "Finding",
    "FunnelRow",
    "Handover",
    "Histories",
    "Keyed",
    "LostReason",
    "Movement",
    "PathRow",
    "PeriodStatus",
    "Ratio",
    "Retention",
    "RevenueMovement",
    "Rework",
    "Scorecard",
    "ScorecardRow",
    "SegmentKey",
    "Session",
    "Slip",
    "SnapshotRow",
    "StageFlow",
    "Stall",
    "StoppedDeal",
    "SubstateVisit",
    "Tally",
    "TransitionRow",
    "TrendRow",
    "Visit",
    "WhatIf",
    "WhatIfGroup",
    "WinLoss",
    "WinLossGroup",
    "accounts",
    "action_conversion",
    "arr",
    "bowtie",
    "cohort_retention",
    "conformance",
    "conversion",
    "data_quality",
    "days_until",
    "fewer_than",
    "funnel",
    "handovers",
    "histories",
    "lost_reasons",
    "movement",
    "paths",
    "period_conversion",
    "period_status",
    "records",
    "retention",
    "revenue_movement",
    "rework",
    "sales_cycle",
    "scorecard",
    "session",
    "skips_and_regressions",
    "slippage",
    "snapshot",
    "stage_durations",
    "stalled",
    "substate_durations",
    "substate_visits",
    "to_pandas",
    "to_polars",
    "transitions",
    "trend",
    "velocity",
    "visits",
    "what_if",
    "win_loss",
    "win_rate",
    "within",
]


def __dir__() -> list[str]:
    return list(__all__)
