"""Which engine runs a metric: the pure-Python fold, or the table's own backend.

Every public metric and forecast is declared with :func:`engine`. Its body
checks the arguments once, then, when ``events`` is an Ibis table, hands the
call to its table kernel::

    @engine
    def funnel(events, pipeline, *, skips="imputed", ...):
        check_choice("skips", skips, _SKIPS)
        if is_ibis_table(events):
            return on_table(funnel)(events, pipeline, skips=skips, ...)
        ...  # the pure-Python engine, the reference

The table kernels live in the mirrored modules of each package's ``_ibis``
(``metrics/_ibis/_funnel.py`` beside ``metrics/_funnel.py``) and register
themselves with :func:`table_kernel`, keyed by the public function object:
no name is looked up by string. The engine packages need the optional Ibis
extra, so they are imported on the first table call, never at import time.

A function that runs on events only is declared ``@engine(table=False)``:
given a table, it says so and how to read the table into events. The docs
(``docs/explanation/engines.md``) list those functions; a test checks that
every other function has a kernel with its exact signature.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeAlias, TypeVar, overload

from .._compat import Rename, spellings
from .._errors import SalesStagesError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ibis.expr.types import Table as IbisTable

    from .._events import Event
    from ._history import Histories

__all__ = [
    "ENGINE_PACKAGES",
    "Events",
    "declared",
    "engine",
    "is_ibis_table",
    "on_table",
    "table_kernel",
    "table_kernels",
]

#: What every metric and forecast accepts as its ``events`` argument.
Events: TypeAlias = "Iterable[Event] | Histories | IbisTable"

#: The packages whose modules register the table kernels (imported on first use).
ENGINE_PACKAGES: Final = ("salesstages.metrics._ibis", "salesstages.forecast._ibis")

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

_KERNELS: dict[object, Callable[..., Any]] = {}
_DECLARED: dict[object, bool] = {}  # public function -> has a table kernel
_loaded: list[bool] = []


def is_ibis_table(obj: object) -> bool:
    """True for an Ibis table expression (checked without importing Ibis)."""
    cls = type(obj)
    return cls.__name__ == "Table" and cls.__module__.startswith("ibis.")


def _public_name(fn: Callable[..., Any]) -> str:
    module = ".".join(p for p in fn.__module__.split(".") if not p.startswith("_"))
    return f"{module}.{fn.__name__}"


@overload
def engine(fn: Callable[P, R], /) -> Callable[P, R]: ...


@overload
def engine(
    *,
    table: bool = True,
    positional: Sequence[str] = (),
    renamed: Mapping[str, Rename] | None = None,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def engine(
    fn: Callable[P, R] | None = None,
    /,
    *,
    table: bool = True,
    positional: Sequence[str] = (),
    renamed: Mapping[str, Rename] | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Declare a public metric or forecast.

    With ``table`` true (the default) the function's body hands a table to
    :func:`on_table` after checking its arguments; with ``table`` false, a
    table is refused with a message naming what to do instead. ``positional``
    and ``renamed`` are the old spellings kept for one release
    (:func:`salesstages._compat.spellings`); an unknown keyword is a
    ``TypeError`` listing the accepted ones.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        inner = fn if table else _events_only(fn)
        public = spellings(positional=positional, renamed=renamed)(inner)
        _DECLARED[public] = table
        return public

    return decorate if fn is None else decorate(fn)


def _events_only(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn``, refusing an Ibis table with a message saying what to do instead."""
    name = _public_name(fn)

    @wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        if is_ibis_table(args[0] if args else kwargs.get("events")):
            raise SalesStagesError(
                f"{name} has no Ibis engine: it runs on events or Histories only; "
                f"read the table into events first (salesstages.io.read_parquet, or "
                f"Event.from_dict over its rows)"
            )
        return fn(*args, **kwargs)

    return run


def table_kernel(public: Callable[..., Any]) -> Callable[[F], F]:
    """Register the decorated function as the table kernel of ``public``: it is
    called (through :func:`on_table`) with the arguments ``public`` has checked."""

    def register(kernel: F) -> F:
        if _DECLARED.get(public) is not True:
            raise TypeError(f"{public!r} is not declared with a table engine (@engine)")
        if public in _KERNELS:
            raise TypeError(f"{_public_name(public)} already has a table kernel")
        _KERNELS[public] = kernel
        return kernel

    return register


def _load() -> None:
    if not _loaded:
        for package in ENGINE_PACKAGES:
            importlib.import_module(package)
        _loaded.append(True)


def on_table(public: F) -> F:
    """The table kernel of ``public`` (loading the engine packages on first use)."""
    _load()
    kernel = _KERNELS.get(public)
    if kernel is None:  # pragma: no cover - the convention test checks every function
        raise SalesStagesError(f"{_public_name(public)} has no table kernel registered")
    return kernel  # type: ignore[return-value]


def declared() -> dict[object, bool]:
    """Every declared public function and whether it runs on tables."""
    return dict(_DECLARED)


def table_kernels() -> dict[object, Callable[..., Any]]:
    """Every registered table kernel, keyed by its public function (loads them)."""
    _load()
    return dict(_KERNELS)
