"""Pausing the cyclic garbage collector around bulk allocation (shared by readers and folds)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


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
