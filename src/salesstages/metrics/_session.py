"""A session over one Ibis table: its pivots computed once, kept until the session ends.

Without a session every call on a table computes its figures from the table as
it is: nothing is kept between calls, so a table corrected in place gives new
figures on the next call. A host that asks many questions of a table that will
not change meanwhile (a report asks some thirty) opens a session and holds it::

    with metrics.session(table) as s:
        metrics.funnel(table, pipeline)
        metrics.win_rate(table, pipeline)

Inside the ``with`` block, calls on that table (the same Ibis expression, the key
the caller controls) in the same thread or task share one scan of the table per
pipeline and ``as_of`` and the pivots materialised on its backend; leaving the
block (or :meth:`Session.close`) drops them. The table must not change while the
session is open: write to it after the block, then open a new session.

The session is found through a context variable set by ``with``, so it reaches
the calls made in that block (and nowhere else: other threads and tasks never
see it). Sessions nest; the innermost one over a table serves it.
"""

from __future__ import annotations

import threading
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Callable, Hashable
from contextvars import ContextVar, Token
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ._engine import is_ibis_table

if TYPE_CHECKING:
    from ibis.expr.types import Table as IbisTable

__all__ = ["Session", "current", "session"]

#: The sessions open in this context, innermost last.
_OPEN: ContextVar[tuple[Session, ...]] = ContextVar("salesstages_sessions", default=())


class Session:
    """The pivots of one Ibis table, kept while the session is open (see the module
    docstring). Create one with :func:`salesstages.metrics.session`."""

    #: How many materialised pivots a session keeps (least recently used dropped).
    size: int = 16

    def __init__(self, table: IbisTable) -> None:
        if not is_ibis_table(table):
            raise TypeError(
                f"metrics.session takes an Ibis table, got {type(table).__name__}; "
                "calls on events or Histories need no session"
            )
        self.table = table
        self._key = table.op()
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, str, Any]] = OrderedDict()
        self._scans: dict[Hashable, Any] = {}
        self._tokens: list[Token[tuple[Session, ...]]] = []
        self.closed = False

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{len(self._items)} pivots kept"
        return f"<salesstages.metrics.Session ({state})>"

    def __enter__(self) -> Session:
        if self.closed:
            raise RuntimeError("this metrics session is closed; open a new one")
        self._tokens.append(_OPEN.set((*_OPEN.get(), self)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _OPEN.reset(self._tokens.pop())
        if not self._tokens:
            self.close()

    def serves(self, table: Any) -> bool:
        """True when ``table`` is this session's table (the same expression)."""
        return not self.closed and bool(table.op() == self._key)

    def scan(self, key: Hashable, run: Callable[[], Any]) -> Any:
        """``run()`` once per ``key`` (a scan of the table) while the session is open."""
        with self._lock:
            if key in self._scans:
                return self._scans[key]
        value = run()
        with self._lock:
            self._scans[key] = value
        return value

    def materialised(self, key: Hashable, backend: Any, build: Callable[[], Any]) -> Any:
        """``build()`` materialised on ``backend`` once per ``key`` (Ibis ``.cache()``)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key][2]
        name = "salesstages_" + uuid.uuid4().hex[:16]
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "fetch_arrow_table", DeprecationWarning)
            value = backend._create_cached_table(name, build())
        with self._lock:
            self._items[key] = (backend, name, value)
            while len(self._items) > self.size:
                _, (old_backend, old_name, _) = self._items.popitem(last=False)
                _drop(old_backend, old_name)
        return value

    def close(self) -> None:
        """Drop every materialised pivot and forget every scan (idempotent)."""
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
            self._scans.clear()
            self.closed = True
        for backend, name, _ in items:
            _drop(backend, name)


def session(table: IbisTable) -> Session:
    """A :class:`Session` over ``table``: use it as ``with metrics.session(table):``.

    Within the block, every metric and forecast called on ``table`` scans it
    once per pipeline and ``as_of`` and computes its pivots once on the table's
    backend; leaving the block drops them. Without a session nothing is kept
    between calls. The table must not change while the session is open.
    """
    return Session(table)


def current(table: Any) -> Session | None:
    """The innermost open session over ``table`` in this context, if any."""
    for s in reversed(_OPEN.get()):
        if s.serves(table):
            return s
    return None


def _drop(backend: Any, name: str) -> None:
    """Drop a materialised pivot (Ibis 12's own drop_table trips on sqlglot 30)."""
    try:
        if hasattr(backend, "_cached_dataframes"):  # PySpark: a cached temp view
            backend._drop_cached_table(name)
        else:
            backend.raw_sql(f'DROP TABLE IF EXISTS "{name}"')
    except Exception:  # a connection closed meanwhile: nothing left to free
        pass
