"""The protocol every event store follows, and the batch checks they share."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeGuard, TypeVar, runtime_checkable

from .._errors import ConcurrencyError, DataError, OutOfOrderError
from .._events import EVENT_KINDS, Event

__all__ = [
    "D",
    "EventStore",
    "RebuildsDeals",
    "check_batch",
    "check_follow",
    "check_position",
    "check_shape",
    "check_text",
    "check_times",
    "deprecated_load",
    "poll_follow",
]

#: What a pipeline's ``load_deal`` returns (a :class:`~salesstages.Deal`), for the
#: deprecated ``store.load`` without the stores importing the live layer.
D = TypeVar("D", covariant=True)


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

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in append order for positions after ``position``.

        Positions are 1, 2, 3 … in append order across deals; a reader that keeps
        the last position it saw follows the log incrementally.
        """
        ...

    def follow(
        self, after: int = 0, *, poll: float = 0.5, idle_timeout: float | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Like :meth:`events_after`, then wait for new events; end after ``idle_timeout``
        seconds without one (``None``: never).

        A follower never skips an event, even one another process commits after
        an event with a higher position was already visible.
        """
        ...


class RebuildsDeals(Protocol[D]):
    """What rebuilds a deal from a store (a :class:`~salesstages.Pipeline`)."""

    def load_deal(self, store: Any, deal_id: str, /) -> D:
        """Rebuild deal ``deal_id`` from ``store``'s events."""
        ...


def deprecated_load(store: object, pipeline: RebuildsDeals[D], deal_id: str) -> D:
    """The deprecated ``store.load(pipeline, deal_id)``: warns, then rebuilds the deal
    with ``pipeline.load_deal(store, deal_id)`` (stores hold events only)."""
    warnings.warn(
        "store.load(pipeline, deal_id) is deprecated; use pipeline.load_deal(store, deal_id)",
        DeprecationWarning,
        stacklevel=3,
    )
    return pipeline.load_deal(store, deal_id)


def check_position(position: object, name: str = "position") -> int:
    """A position argument: an ``int >= 0``; raises :class:`DataError` (a ``ValueError``)."""
    if type(position) is not int or position < 0:
        raise DataError(f"{name} must be an int >= 0, got {position!r}")
    return position


def check_follow(
    after: object, poll: object, idle_timeout: object
) -> tuple[int, float, float | None]:
    """Check :meth:`EventStore.follow`'s arguments; raise :class:`DataError` naming the bad one."""
    start = check_position(after, "after")
    if not _seconds(poll) or poll == 0:
        raise DataError(f"poll must be a number of seconds > 0, got {poll!r}")
    if idle_timeout is not None and not _seconds(idle_timeout):
        raise DataError(
            f"idle_timeout must be a number of seconds >= 0 or None, got {idle_timeout!r}"
        )
    return start, float(poll), None if idle_timeout is None else float(idle_timeout)


def _seconds(value: object) -> TypeGuard[int | float]:
    """A finite number >= 0 (not a bool)."""
    return type(value) in (int, float) and 0 <= value < math.inf  # type: ignore[operator]


def poll_follow(
    events_after: Callable[[int], Iterator[tuple[int, Event]]],
    after: int,
    poll: float,
    idle_timeout: float | None,
    wait: Callable[[int, float], object] | None = None,
) -> Iterator[tuple[int, Event]]:
    """``follow`` built on ``events_after``: read what is there, wait, read again.

    Sound only for stores whose positions become visible in order (a position is
    never committed after a higher one is visible); each store says why it is.
    ``wait(position, seconds)`` may return early when something new may have
    arrived (default: sleep). The idle clock restarts when new events were
    handed over, so a slow consumer does not count as idle time.
    """
    sleep = wait or (lambda _position, seconds: time.sleep(seconds))
    last_new = time.monotonic()
    while True:
        got = False
        for position, event in events_after(after):
            yield position, event
            after = position
            got = True
        now = time.monotonic()
        if got:
            last_new = now
        if idle_timeout is None:
            sleep(after, poll)
            continue
        left = last_new + idle_timeout - now
        if left <= 0:
            return
        sleep(after, min(poll, left))


def _unstorable(text: str, nul: bool) -> str | None:
    """What makes ``text`` unstorable: a lone surrogate (never UTF-8), or NUL when refused."""
    if nul and "\x00" in text:
        return "a NUL character (\\x00), which PostgreSQL cannot store in text"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (
            f"a lone surrogate ({text[exc.start]!r} at index {exc.start}), which is not "
            "Unicode text any store can keep"
        )
    return None


def _walk_data(value: object, path: str, nul: bool) -> tuple[str, str] | None:
    if type(value) is str:
        why = _unstorable(value, nul)
        return None if why is None else (path, why)
    if isinstance(value, Mapping):
        for k, v in value.items():
            if type(k) is str:
                why = _unstorable(k, nul)
                if why is not None:
                    return (f"{path} key {k!r}", why)
            found = _walk_data(v, f"{path}[{k!r}]", nul)
            if found is not None:
                return found
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            found = _walk_data(v, f"{path}[{i}]", nul)
            if found is not None:
                return found
    return None


def _plain(value: str, nul: bool) -> bool:
    """True when ``value`` is ASCII (and, with ``nul``, has no NUL): surely storable."""
    return value.isascii() and not (nul and "\x00" in value)


def _flat_plain(data: Mapping[str, Any], nul: bool) -> bool:
    """The common case, quickly: flat data whose strings are all plain."""
    for k, v in data.items():
        if type(k) is str and not _plain(k, nul):
            return False
        t = type(v)
        if t is str:
            if not _plain(v, nul):
                return False
        elif t is not int and t is not float and t is not bool and v is not None:
            return False  # nested (or unusual): walk it
    return True


def check_text(events: Sequence[Event], *, nul: bool = False) -> None:
    """Refuse text a store cannot keep exactly, the same way in every store.

    Lone surrogates are refused everywhere (no encoding of Unicode holds them);
    with ``nul=True`` (PostgreSQL) NUL characters too. Raises :class:`DataError`
    naming the deal, the seq and the field.
    """
    for e in events:
        st = e.stage
        n = e.name
        if (
            nul
            or not e.deal_id.isascii()
            or (st is not None and not st.isascii())
            or (n is not None and not n.isascii())
        ):
            _check_fields(e, nul)
        data = e.data
        if data and not _flat_plain(data, nul):
            found = _walk_data(data, "data", nul)
            if found is not None:
                raise DataError(
                    f"deal {e.deal_id!r}, seq {e.seq}: {found[0]} holds {found[1]}; "
                    "store only valid text",
                    field=found[0],
                )


def _check_fields(e: Event, nul: bool) -> None:
    for name, value in (("deal_id", e.deal_id), ("stage", e.stage), ("name", e.name)):
        if value is not None and not _plain(value, nul):
            why = _unstorable(value, nul)
            if why is not None:
                raise DataError(
                    f"deal {e.deal_id!r}, seq {e.seq}: {name} holds {why}; store only valid text",
                    field=name,
                )


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
    check_text(events)
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
