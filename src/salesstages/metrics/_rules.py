"""The pipeline's rules over a log, the same on either engine.

:func:`check_rules` is :meth:`Pipeline.check <salesstages.Pipeline.check>` for
whatever a metric accepts as ``events``: on events it is that check; on an
Ibis table it runs the very same check over the six columns it reads
(``deal_id``, ``seq``, ``at``, ``kind``, ``stage``, ``name``; never ``data``),
fetched in deal and ``seq`` order. So whether a log breaks the rules, and
what the command line's ``report`` exits with, never depends on the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._engine import Events, is_ibis_table
from ._history import Histories

if TYPE_CHECKING:
    from .._pipeline import Pipeline
    from .._replay import Problem

__all__ = ["check_rules"]


def check_rules(events: Events, pipeline: Pipeline) -> list[Problem]:
    """Every rule of ``pipeline`` the log breaks (entry criteria not re-evaluated).

    On events, the problems come deal by deal in order of each deal's first
    event; on a table, by deal id.

    Raises:
        TypeError: ``events`` is a :class:`~salesstages.metrics.Histories`: a fold
            keeps too little of the log to check it.
        DataError: The table lacks a canonical column or holds one of the wrong type.
    """
    if is_ibis_table(events):
        from ._ibis._rules import check_rules as check_table

        return check_table(events, pipeline)
    if isinstance(events, Histories):
        raise TypeError(
            "cannot check the pipeline's rules over Histories (a fold keeps too little of "
            "the log); pass the events themselves"
        )
    return pipeline.check(events)
