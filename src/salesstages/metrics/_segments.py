"""Segment keys of ``by=``: each value of the attribute keeps its type.

Python's ``1``, ``True`` and ``1.0`` are equal (and hash alike), so as plain dict
keys they would be one segment. :func:`typed_segments` keeps them apart: a value
that no differently-typed value equals stays a plain key (``result["eu"]``,
``result[1]``), and only values that collide are each wrapped in a
:class:`SegmentKey` (``result[SegmentKey(True)]``). Both engines build their
``by=`` dicts through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterable
from typing import Any, TypeVar

__all__ = ["SegmentKey", "signature", "typed_segments"]

T = TypeVar("T")


def signature(value: Any) -> Hashable:
    """``value`` with its type at every level: ``(bool, True)`` is not ``(int, 1)``."""
    if isinstance(value, tuple | list):
        return (tuple, tuple(signature(v) for v in value))
    return (type(value), value)


class SegmentKey:
    """The key of a segment whose value equals a value of another type in the same
    result (``1``, ``True`` and ``1.0``): equal only to a ``SegmentKey`` of the
    same value *and* type, so ``result[SegmentKey(True)]`` and
    ``result[SegmentKey(1)]`` are two segments. Prints as its value (``True``).
    """

    __slots__ = ("_sig", "value")

    def __init__(self, value: Hashable) -> None:
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "_sig", signature(value))

    value: Hashable
    _sig: Hashable

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"SegmentKey is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SegmentKey) and self._sig == other._sig

    def __hash__(self) -> int:
        return hash(self._sig)

    def __repr__(self) -> str:
        return f"SegmentKey({self.value!r})"

    def __str__(self) -> str:
        return str(self.value)

    def __reduce__(self) -> Any:
        return (SegmentKey, (self.value,))


def _order(pair: tuple[Hashable, Any]) -> tuple[bool, Any, str]:
    key = pair[0]
    return (key is None, key, type(key).__name__)


def typed_segments(pairs: Iterable[tuple[Hashable, T]]) -> list[tuple[Hashable, T]]:
    """The ``(key, result)`` pairs of distinct typed values (see the module
    docstring), sorted (``None`` last; equal values of different types by type
    name; in order of appearance when the keys don't sort), each colliding key
    wrapped in a :class:`SegmentKey`."""
    listed = list(pairs)
    seen: dict[Hashable, int] = {}
    for key, _ in listed:
        seen[key] = seen.get(key, 0) + 1
    with contextlib.suppress(TypeError):  # mixed types: keep the order of first appearance
        listed = sorted(listed, key=_order)
    return [(SegmentKey(k) if seen[k] > 1 else k, v) for k, v in listed]
