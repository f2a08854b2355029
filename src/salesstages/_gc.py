"""Pausing the cyclic garbage collector around bulk allocation (shared by readers and folds)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["FREEZE_AFTER", "gc_paused", "gc_paused_then_frozen"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a block builds many objects.

    Decoding or folding a million events allocates a million small containers,
    none of them part of a cycle; left on, the collector re-walks the growing
    heap again and again and more than halves the speed. Restores the previous
    state (even on an error), so a caller that had disabled the collector keeps
    it disabled.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


#: A reader freezes what it built once it has built this many objects (a bulk read).
FREEZE_AFTER = 50_000


@contextmanager
def gc_paused_then_frozen(freeze: bool = True) -> Iterator[None]:
    """Pause the collector while a block builds objects that will live on, then move
    every tracked object to the permanent generation (``gc.freeze()``).

    Re-enabling after a mere pause leaves the new objects young: the next
    allocations trigger collections that walk all of them, then again as they
    age, which costs about a third of reading a million events. Freezing is
    O(1) and the collector never walks them again; they are still freed by
    reference counting when dropped (events hold no cycles). The price:
    cyclic garbage that exists at that moment is not collected until
    ``gc.unfreeze()``, so callers freeze only for bulk reads (see
    :data:`FREEZE_AFTER`). With ``freeze=False`` this is :func:`gc_paused`.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if freeze:
            gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
