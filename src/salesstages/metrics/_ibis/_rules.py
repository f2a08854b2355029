"""The pipeline's rules over an Ibis table: the twin of ``metrics/_rules.py``.

The check is the pure-Python one (:func:`salesstages._replay.check`), run over
light rows holding only what it reads, fetched column-wise in deal and ``seq``
order: the table's ``data`` (the largest column) never travels.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, NamedTuple, cast

from ._checks import prepare_checked
from ._columns import EPOCH
from ._pivots import _arrow

if TYPE_CHECKING:
    from ibis.expr.types import Table

    from ..._events import Event
    from ..._pipeline import Pipeline
    from ..._replay import Problem

__all__ = ["check_rules"]

_NO_DATA: Final[Mapping[str, Any]] = MappingProxyType({})
_COLUMNS: Final = ("deal_id", "seq", "at_us", "kind", "stage", "name")


class _Row(NamedTuple):
    """What the check reads of an event (``data`` only feeds the entry criteria)."""

    deal_id: str
    seq: int
    at: datetime
    kind: str
    stage: str | None
    name: str | None
    data: Mapping[str, Any] = _NO_DATA


def check_rules(events: Table, pipeline: Pipeline) -> list[Problem]:
    """:func:`salesstages.metrics._rules.check_rules` on the table's backend."""
    t = prepare_checked(events)  # the read rules first, once per table
    got = _arrow(t.select(*_COLUMNS).order_by(["deal_id", "seq"]), events, "order by")
    deal_ids, seqs, ats, kinds, stages, names = (got.column(c).to_pylist() for c in _COLUMNS)
    rows = [
        _Row(d, s, EPOCH + timedelta(microseconds=a), k, st, n)
        for d, s, a, k, st, n in zip(deal_ids, seqs, ats, kinds, stages, names, strict=True)
    ]
    return pipeline.check(cast("list[Event]", rows))
