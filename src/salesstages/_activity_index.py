"""A deal's activities indexed for its guards: by name, and by (name, key, value).

Internal to :class:`~salesstages.Deal` and :mod:`salesstages.guards`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ._events import Event

__all__ = ["_ActivityIndex", "_hashable"]


class _ActivityIndex:
    """A deal's activities by name, and by (name, data key, value) on demand.

    The deal builds it once and adds each activity as it is appended, so a guard
    looking for ``document_sent`` with ``document="proposal"`` reads only those
    events: activities with another document (or another meeting) cost nothing
    however many there are. Internal to the deal and its guards.
    """

    __slots__ = ("by_name", "keyed")

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.by_name: dict[str, list[Event]] = {}
        #: (name, key) -> value -> events, built the first time a guard asks for it
        self.keyed: dict[tuple[str, str], dict[Any, list[Event]]] = {}
        for event in events:
            self.add(event)

    def add(self, event: Event) -> None:
        """Index ``event`` (anything but a named activity is ignored)."""
        name = event.name
        if event.kind != "activity" or name is None:
            return
        self.by_name.setdefault(name, []).append(event)
        for (keyed_name, key), by_value in self.keyed.items():
            if keyed_name == name and key in event.data:
                _add_keyed(by_value, event.data[key], event)

    def where(self, name: str, key: str, value: Any) -> Sequence[Event]:
        """The activities ``name`` whose ``data[key] == value``, in ``seq`` order
        (``value`` must be hashable)."""
        by_value = self.keyed.get((name, key))
        if by_value is None:
            by_value = {}
            for event in self.by_name.get(name, ()):
                if key in event.data:
                    _add_keyed(by_value, event.data[key], event)
            self.keyed[name, key] = by_value
        return by_value.get(value, ())


def _add_keyed(by_value: dict[Any, list[Event]], value: Any, event: Event) -> None:
    # an unhashable value (a list, an object) never equals the hashable one looked up
    if _hashable(value):
        by_value.setdefault(value, []).append(event)


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
