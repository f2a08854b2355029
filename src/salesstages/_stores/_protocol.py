"""The protocol every event store follows, and the batch checks they share."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .._errors import ConcurrencyError, OutOfOrderError
from .._events import EVENT_KINDS, Event

if TYPE_CHECKING:
    from .._deal import Deal
    from .._pipeline import Pipeline

__all__ = ["EventStore", "check_batch", "check_shape", "check_times"]


@runtime_checkable
class EventStore(Protocol):
    """An append-only store of events, with optimistic concurrency per deal.

    ``append`` takes the events of one deal with consecutive ``seq`` starting at
    the deal's current length and writes all of them or none; a ``seq`` that is
    already taken raises :class:`~salesstages.ConcurrencyError`.
    """

    def append(self, events: Sequence[Event]) -> None:
        """Append events of one deal, all or nothing."""
        ...

    def events(self, deal_id: str | None = None) -> Iterator[Event]:
        """Iterate events: one deal's, or all of them, each deal's in ``seq`` order."""
        ...

    def deal_ids(self) -> list[str]:
        """Every deal id in the store, in order of first append."""
        ...

    def load(self, pipeline: Pipeline, deal_id: str) -> Deal:
        """Rebuild a deal from its events; further changes are appended to this store."""
        ...

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in append order for positions after ``position``.

        Positions are 1, 2, 3 … in append order across deals; a reader that keeps
        the last position it saw follows the log incrementally.
        """
        ...


def check_shape(events: Sequence[Event]) -> str:
    """Check that a batch is non-empty, all :class:`Event`, one deal, consecutive ``seq``;
    return its deal id.

    Raises ``ValueError`` (``TypeError`` for a non-event) naming what is wrong.
    """
    if not events:
        raise ValueError("append() needs at least one event")
    for e in events:
        if not isinstance(e, Event):
            raise TypeError(f"append() takes Event objects, got {type(e).__name__}")
        if (
            e.kind not in EVENT_KINDS
            or (e.stage is not None and type(e.stage) is not str)
            or (e.name is not None and type(e.name) is not str)
        ):
            # an event whose fields were changed behind the constructor's back
            raise ValueError(
                f"deal {e.deal_id!r}, seq {e.seq}: malformed event (kind={e.kind!r}, "
                f"stage={e.stage!r}, name={e.name!r}); build events with Event(...)"
            )
    deal_id = events[0].deal_id
    first = events[0].seq
    for i, e in enumerate(events):
        if e.deal_id != deal_id:
            raise ValueError(
                f"all events of one append must belong to one deal; got {deal_id!r} "
                f"and {e.deal_id!r}"
            )
        if e.seq != first + i:
            raise ValueError(
                f"events of one append must carry consecutive seq; got {events[i - 1].seq} "
                f"then {e.seq} for deal {deal_id!r}"
            )
    return deal_id


def check_batch(events: Sequence[Event], current_length: int) -> str:
    """Validate one append batch against the deal's current length; return its deal id.

    Raises ``ValueError`` for a malformed batch (see :func:`check_shape`),
    :class:`ConcurrencyError` when the first ``seq`` is not the deal's current
    length; :class:`OutOfOrderError` is :func:`check_times`' job (it needs the
    last event's time).
    """
    deal_id = check_shape(events)
    first = events[0].seq
    if first != current_length:
        raise ConcurrencyError(
            f"deal {deal_id!r}: seq {first} is "
            + ("already taken" if first < current_length else "not the next one")
            + f" (the deal has {current_length} events); reload the deal and retry"
        )
    return deal_id


def check_times(events: Sequence[Event], last: Event | None) -> None:
    """Raise :class:`OutOfOrderError` if the batch goes back in time."""
    prev = last.at if last is not None else None
    for e in events:
        if prev is not None and e.at < prev:
            raise OutOfOrderError(
                f"deal {e.deal_id!r}: event seq {e.seq} at {e.at.isoformat()} is earlier than "
                f"the previous event at {prev.isoformat()}"
            )
        prev = e.at
