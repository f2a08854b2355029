"""Event stores: the :class:`EventStore` protocol and its backends."""

from __future__ import annotations

from ._protocol import EventStore, check_batch
from .memory import MemoryStore

__all__ = ["EventStore", "MemoryStore", "check_batch"]
