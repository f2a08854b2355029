"""An in-memory event store."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from .._events import Event
from ._protocol import (
    D,
    RebuildsDeals,
    check_batch,
    check_follow,
    check_position,
    check_shape,
    check_times,
    deprecated_load,
    poll_follow,
)

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keeps events in memory; thread-safe; lost when the process ends.

    The global position of an event is its 1-based place in append order;
    ``events_after(position)`` follows the log incrementally.
    """

    def __init__(self) -> None:
        self._by_deal: dict[str, list[Event]] = {}
        self._log: list[Event] = []
        self._lock = threading.Lock()
        self._grown = threading.Condition(self._lock)

    def append(self, events: Sequence[Event]) -> None:
        """Append events of one deal, all or nothing (see :class:`EventStore`)."""
        batch = list(events)
        deal_id = check_shape(batch)
        with self._lock:
            current = self._by_deal.get(deal_id, [])
            check_batch(batch, len(current))
            check_times(batch, current[-1] if current else None)
            self._by_deal.setdefault(deal_id, current).extend(batch)
            self._log.extend(batch)
            self._grown.notify_all()

    def events(self, deal_id: str | None = None) -> Iterator[Event]:
        """Iterate one deal's events, or every deal's (grouped by deal, ``seq`` order)."""
        with self._lock:
            if deal_id is not None:
                snapshot = list(self._by_deal.get(deal_id, ()))
            else:
                snapshot = [e for evs in self._by_deal.values() for e in evs]
        return iter(snapshot)

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in append order, for positions after ``position``."""
        check_position(position)
        with self._lock:
            tail = self._log[position:]
        return ((position + i + 1, e) for i, e in enumerate(tail))

    def follow(
        self, after: int = 0, *, poll: float = 0.5, idle_timeout: float | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` after ``after``, then wait for new events.

        Ends after ``idle_timeout`` seconds without a new event (``None``: never).
        Appends wake a waiting follower at once (``poll`` only bounds each wait);
        positions are handed out under the store's lock, so none is ever skipped.
        """
        after, poll, idle_timeout = check_follow(after, poll, idle_timeout)
        return poll_follow(self.events_after, after, poll, idle_timeout, self._wait)

    def _wait(self, position: int, seconds: float) -> None:
        with self._grown:
            self._grown.wait_for(lambda: len(self._log) > position, timeout=seconds)

    def deal_ids(self) -> list[str]:
        """Every deal id, in order of first append."""
        with self._lock:
            return list(self._by_deal)

    def load(self, pipeline: RebuildsDeals[D], deal_id: str) -> D:
        """Deprecated: rebuild a deal with ``pipeline.load_deal(store, deal_id)`` (a
        store holds events only); warns, and works until the next release."""
        return deprecated_load(self, pipeline, deal_id)

    def __len__(self) -> int:
        return len(self._log)

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._by_deal)} deals, {len(self._log)} events)"
