"""Argument spellings: the one place where old ways of calling a public function keep working.

Contract §16 makes every metric and forecast ``f(events, pipeline, *, ...)``
and renames a few arguments. :func:`spellings` wraps a function so that, for
one release, its old spellings still work with a :class:`DeprecationWarning`
that names the new one:

- ``positional``: arguments that are keyword-only now but used to be
  positional, in their old order (``snapshot(events, pipeline, as_of)``);
- ``renamed``: old keyword → new keyword (``within=`` → ``horizon=``), or
  old keyword → ``(new keyword, {old value: new value})`` when the values
  were renamed too (``attributes="opened"`` → ``at="opening"``).

Passing both the old and the new spelling is a ``TypeError`` naming both; an
unknown keyword is a ``TypeError`` listing the accepted ones (Python's own
message names only the stranger). ``inspect.signature`` of the wrapper shows
the new signature (``__wrapped__`` and ``__signature__`` are kept).

Stack it outermost (above :func:`~salesstages.metrics._engine.engine`), so the
warning points at the caller's line: Python then shows it once per call site.
This module is on the ground floor: it imports nothing of the package.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import wraps
from typing import Any, ParamSpec, TypeAlias, TypeVar

__all__ = ["Rename", "accepted_keywords", "spellings"]

P = ParamSpec("P")
R = TypeVar("R")

#: A renamed keyword: the new name, or the new name and how its values map.
Rename: TypeAlias = "str | tuple[str, Mapping[Hashable, object]]"

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _public_name(fn: Callable[..., Any]) -> str:
    """``salesstages.metrics.funnel`` for a function defined in ``metrics/_funnel.py``."""
    module = ".".join(p for p in fn.__module__.split(".") if not p.startswith("_"))
    return f"{module}.{fn.__name__}" if module else fn.__name__


def accepted_keywords(fn: Callable[..., Any]) -> tuple[str, ...]:
    """The names ``fn`` accepts as keywords, in signature order."""
    return tuple(
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        and p.kind is not inspect.Parameter.POSITIONAL_ONLY
    )


class _Spelling:
    """What one wrapped function accepts, and how to translate its old spellings."""

    __slots__ = (
        "accepted",
        "keywords",
        "n_positional",
        "name",
        "positional",
        "positional_names",
        "renamed",
    )

    def __init__(
        self,
        fn: Callable[..., Any],
        positional: Sequence[str],
        renamed: Mapping[str, Rename],
    ) -> None:
        params = inspect.signature(fn).parameters
        self.name = _public_name(fn)
        self.positional_names = [n for n, p in params.items() if p.kind in _POSITIONAL]
        self.n_positional = len(self.positional_names)
        self.keywords = accepted_keywords(fn)
        self.accepted = frozenset(self.keywords)
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            raise TypeError(f"{self.name}: spellings() needs a function without **kwargs")
        for name in positional:
            if name not in params or params[name].kind is not inspect.Parameter.KEYWORD_ONLY:
                raise TypeError(f"{self.name}: {name!r} is not a keyword-only argument")
        self.positional = tuple(positional)
        self.renamed: dict[str, tuple[str, Mapping[Hashable, object] | None]] = {}
        for old, rename in renamed.items():
            new, values = (rename, None) if isinstance(rename, str) else rename
            if new not in params or old in params:
                raise TypeError(f"{self.name}: cannot rename {old!r} to {new!r}")
            self.renamed[old] = (new, values)

    def needs_translation(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bool:
        return len(args) > self.n_positional or not self.accepted.issuperset(kwargs)

    def translate(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """``args`` and ``kwargs`` in the new spelling, warning once for each old one."""
        extra = args[self.n_positional :]
        if extra:
            if len(extra) > len(self.positional):
                keywords = ", ".join(f"{n}=" for n in self.positional) or "keywords"
                raise TypeError(
                    f"{self.name}() takes {self.n_positional} positional arguments "
                    f"({', '.join(self.positional_names)}) but {len(args)} were given; "
                    f"pass the others as keywords ({keywords})"
                )
            moved = self.positional[: len(extra)]
            for name, value in zip(moved, extra, strict=True):
                if name in kwargs:
                    raise TypeError(
                        f"{self.name}() got {name!r} both positionally and as {name}=; "
                        f"pass only {name}="
                    )
                kwargs[name] = value
            spelled = ", ".join(f"{n}=..." for n in moved)
            _warn(
                f"{self.name}(): passing {', '.join(moved)} positionally is deprecated; "
                f"pass {spelled} as keywords"
            )
            args = args[: self.n_positional]
        for old in [k for k in kwargs if k in self.renamed]:
            new, values = self.renamed[old]
            if new in kwargs:
                raise TypeError(
                    f"{self.name}() got both {old}= (its old name) and {new}=; pass only {new}="
                )
            value = kwargs.pop(old)
            if values is not None and isinstance(value, Hashable) and value in values:
                now = values[value]
                _warn(f"{self.name}(): {old}={value!r} is deprecated; use {new}={now!r}")
                value = now
            else:
                _warn(f"{self.name}(): {old}= is deprecated; use {new}=")
            kwargs[new] = value
        unknown = [k for k in kwargs if k not in self.accepted]
        if unknown:
            listed = ", ".join(self.keywords)
            raise TypeError(
                f"{self.name}() got an unexpected keyword argument {unknown[0]!r}; "
                f"it accepts: {listed}"
            )
        return args, kwargs


def _warn(message: str) -> None:
    # 1: here, 2: translate, 3: the wrapper, 4: the caller of the public function.
    warnings.warn(message, DeprecationWarning, stacklevel=4)


def spellings(
    *, positional: Sequence[str] = (), renamed: Mapping[str, Rename] | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Accept ``fn``'s old spellings for one release (see the module docstring).

    Raises:
        TypeError: at decoration, when a ``positional`` name is not keyword-only
            in ``fn`` or a rename does not lead to one of ``fn``'s arguments.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        spelling = _Spelling(fn, positional, renamed or {})
        needs, translate = spelling.needs_translation, spelling.translate

        @wraps(fn)
        def call(*args: P.args, **kwargs: P.kwargs) -> R:
            if needs(args, kwargs):
                new_args, new_kwargs = translate(args, dict(kwargs))
                return fn(*new_args, **new_kwargs)
            return fn(*args, **kwargs)

        call.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
        return call

    return decorate
