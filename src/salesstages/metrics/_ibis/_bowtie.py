"""The bow-tie on an Ibis table: the twin of ``metrics/_bowtie.py`` (the funnels, the
knot and the success log's visits through their own kernels, the contracts as in
:mod:`._revenue`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import _bowtie as python
from .._bowtie import BowTie, _knot, bowtie_of, success_visits
from .._contracts import Book
from .._engine import table_kernel
from .._funnel import funnel
from ._pivots import Pivots
from ._revenue import _books

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._pipeline import Pipeline

__all__ = ["bowtie"]


@table_kernel(python.bowtie)
def bowtie(
    events: Table,
    pipeline: Pipeline,
    *,
    success_events: Any | Sequence[Any],
    success_pipeline: Pipeline,
    as_of: datetime | None = None,
) -> BowTie:
    """:func:`salesstages.metrics.bowtie` on the table's backend."""
    pv = Pivots(events, pipeline, as_of)
    at = pv.as_of
    return bowtie_of(
        _books(pv)[0].get((), Book(())),
        at,
        funnel(events, pipeline, as_of=at),
        _knot(events, pipeline, at),
        funnel(success_events, success_pipeline, as_of=at),
        success_visits(success_events, success_pipeline, at),
    )
