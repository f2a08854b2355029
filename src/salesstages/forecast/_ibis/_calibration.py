""":func:`~salesstages.forecast.calibration` and
:func:`~salesstages.forecast.suggest_probabilities` on an Ibis table (CONTRACT §21).

``suggest_probabilities`` is one aggregate on the backend. ``calibration`` refolds
the log at each evaluation date, which needs only the stage entries: it reads
those rows (``opened`` and ``stage_entered``, without their data) and runs the
pure-Python scoring on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from ...metrics._common import load
from ...metrics._engine import table_kernel
from ...metrics._ibis._columns import from_us, ibis
from ...metrics._ibis._pivots import Pivots
from ...metrics._ibis._read import read_events
from .. import _calibration as _python
from .._calibration import Calibration, StageProbability, calibrate, stage_probability_rows

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["calibration", "suggest_probabilities"]


@table_kernel(_python.calibration)
def calibration(
    events: Table,
    pipeline: Pipeline,
    *,
    method: Literal["stage", "markov", "conditional"] = "stage",
    dates: Sequence[datetime] | None = None,
    horizon: timedelta | None = None,
    bins: int = 10,
    as_of: datetime | None = None,
) -> Calibration:
    """:func:`salesstages.forecast.calibration` on the table's stage entries."""
    pv = Pivots(events, pipeline, as_of)
    rows = read_events(pv, ("opened", "stage_entered"), data=False)
    cut = None if pv.as_of_us is None else from_us(pv.as_of_us)
    final = load(rows, pipeline, cut)
    days = None if dates is None else list(dates)
    return calibrate(final, pipeline, method, days, horizon, bins)


@table_kernel(_python.suggest_probabilities)
def suggest_probabilities(
    events: Table, pipeline: Pipeline, *, as_of: datetime | None = None
) -> list[StageProbability]:
    """:func:`salesstages.forecast.suggest_probabilities` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    e = pv.entries
    e = e.filter(e.stage.isin(pv.opens)).select(e_deal="deal_id", e_stage="stage").distinct()
    d = pv.deals_with()
    d = d.filter(d.outcome != "open").select(c_deal="deal_id", c_won=d.outcome == "won")
    j = e.join(d, e.e_deal == d.c_deal)
    agg = j.group_by("e_stage").aggregate(n=j.count(), won=ibis.ifelse(j.c_won, 1, 0).sum())
    counts = {
        r["e_stage"]: (int(r["n"]), int(r["won"])) for r in pv.run(agg, "suggest_probabilities")
    }
    return stage_probability_rows(pipeline, counts)
