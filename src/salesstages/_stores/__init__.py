"""Event stores: the :class:`EventStore` protocol and its backends."""

from __future__ import annotations

from .._errors import StorePermissionError, StoreUnavailableError
from ._pgfaults import driver_fault
from ._protocol import EventStore, check_batch, check_shape, check_times
from .jsonl import JsonlStore
from .memory import MemoryStore
from .postgres import PostgresStore
from .sqlite import SqliteStore

__all__ = [
    "EventStore",
    "JsonlStore",
    "MemoryStore",
    "PostgresStore",
    "SqliteStore",
    "StorePermissionError",
    "StoreUnavailableError",
    "check_batch",
    "check_shape",
    "check_times",
    "driver_fault",
]
