"""Which engine runs a metric: the pure-Python fold, or the table's own backend.

Every public metric and forecast is wrapped by :func:`engine`. When its
``events`` argument is an Ibis table expression, the call is routed to the
function of the same name in :mod:`salesstages.metrics._ibis`, which compiles
the work to the table's backend (DuckDB, PostgreSQL, PySpark …) and brings back
only aggregates. Anything else (an iterable of events, or a
:class:`~salesstages.metrics.Histories`) runs the pure-Python engine, which
stays the reference.

The check costs one attribute lookup a call and imports nothing: Ibis is an
optional extra, and the core must import without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeAlias, TypeVar

from .._errors import SalesStagesError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ibis.expr.types import Table as IbisTable

    from .._events import Event
    from ._history import Histories

__all__ = ["Events", "engine", "is_ibis_table"]

#: What every metric and forecast accepts as its ``events`` argument.
Events: TypeAlias = "Iterable[Event] | Histories | IbisTable"

P = ParamSpec("P")
R = TypeVar("R")


def is_ibis_table(obj: object) -> bool:
    """True for an Ibis table expression (checked without importing Ibis)."""
    cls = type(obj)
    return cls.__name__ == "Table" and cls.__module__.startswith("ibis.")


def engine(fn: Callable[P, R]) -> Callable[P, R]:
    """Route ``fn`` to the Ibis engine when its ``events`` is an Ibis table."""
    name = fn.__name__
    public = ".".join(p for p in fn.__module__.split(".") if not p.startswith("_"))
    qualname = f"{public}.{name}"
    engine_module = f"{public}._ibis"  # each package brings its own engine

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        events = args[0] if args else kwargs.get("events")
        if is_ibis_table(events):
            return _ibis_function(engine_module, name, qualname)(*args, **kwargs)  # type: ignore[no-any-return]
        return fn(*args, **kwargs)

    return run


def _ibis_function(module: str, name: str, qualname: str) -> Callable[..., Any]:
    """The Ibis engine's ``name`` from ``module``, loaded on first use (the engine
    needs the optional Ibis extra; this module must import without it)."""
    impl = getattr(importlib.import_module(module), name, None)
    if impl is None:
        raise SalesStagesError(
            f"{qualname} has no Ibis engine: it runs on events or Histories only; "
            f"read the table into events first (salesstages.io.read_parquet, or "
            f"Event.from_dict over its rows)"
        )
    return impl  # type: ignore[no-any-return]
