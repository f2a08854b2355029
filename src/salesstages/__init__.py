"""salesstages: model a B2B sales pipeline in code and measure it.

Define stages with guarded transitions (:class:`Stage`, :class:`Pipeline`,
:mod:`salesstages.guards`), run live deals (:class:`Deal`) that write every
change to an append-only event log (:class:`Event`, :class:`MemoryStore`,
:class:`JsonlStore`, :class:`SqliteStore`), and compute what sales leaders ask
for with :mod:`salesstages.metrics` and :mod:`salesstages.forecast`. Import
and export CRM histories with :mod:`salesstages.io`, and property-test your
own pipeline with the Hypothesis toolkit in :mod:`salesstages.testing`.
"""

from __future__ import annotations

from ._deal import Deal, HandlerError, UnknownDealError
from ._errors import (
    ConcurrencyError,
    DataError,
    DataTypeError,
    InvalidLogError,
    NaiveTimeError,
    OutOfOrderError,
    PipelineError,
    SalesStagesError,
    StorePermissionError,
    StoreUnavailableError,
    TransitionRefused,
    UnknownStageError,
)
from ._events import Event
from ._gc import bulk
from ._pipeline import Pipeline, Stage, Substate
from ._replay import Problem
from ._stores import (
    EventStore,
    JsonlStore,
    MemoryStore,
    PostgresStore,
    SqliteStore,
)
from .guards import (
    DealView,
    Verdict,
    activity,
    all_of,
    any_of,
    at_least,
    document_sent,
    field,
    guard,
    meeting_accepted,
    not_,
    substate_reached,
)

__version__ = "0.1.0"

__all__ = [
    "ConcurrencyError",
    "DataError",
    "DataTypeError",
    "Deal",
    "DealView",
    "Event",
    "EventStore",
    "HandlerError",
    "InvalidLogError",
    "JsonlStore",
    "MemoryStore",
    "NaiveTimeError",
    "OutOfOrderError",
    "Pipeline",
    "PipelineError",
    "PostgresStore",
    "Problem",
    "SalesStagesError",
    "SqliteStore",
    "Stage",
    "StorePermissionError",
    "StoreUnavailableError",
    "Substate",
    "TransitionRefused",
    "UnknownDealError",
    "UnknownStageError",
    "Verdict",
    "activity",
    "all_of",
    "any_of",
    "at_least",
    "bulk",
    "document_sent",
    "field",
    "guard",
    "meeting_accepted",
    "not_",
    "substate_reached",
]


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
