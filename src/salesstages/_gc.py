"""Pausing the cyclic garbage collector around bulk work, when the host chooses to.

The library itself never touches the collector: it is the host's process, and
the collector's state is process-wide (every thread). :func:`bulk` is the
opt-in for a host that reads or analyses a large log and knows it is safe.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["bulk"]


@contextmanager
def bulk() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (off by default; opt in).

    Reading or folding a million events allocates millions of small, acyclic
    objects; with the collector on, it re-walks the growing heap again and
    again, which can cost as much as the work itself. Inside ``with
    salesstages.bulk():`` the collector does not run; objects are still freed
    by reference counting as usual. On leaving, the collector's previous state
    is restored (even on an error), so a host that had disabled it keeps it
    disabled.

    The pause is process-wide: every thread's cyclic garbage waits until the
    block ends. Use it around batch work (a script, a nightly report), not in a
    long-lived server handling other requests meanwhile::

        with salesstages.bulk():
            events = list(store)
            print(salesstages.metrics.funnel(events, pipeline))
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
