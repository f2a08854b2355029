"""The command line: ``salesstages`` (the console script) and ``python -m salesstages``.

:mod:`._main` holds the parser and the commands, :mod:`._spec` reads the
pipeline, events and store arguments, :mod:`._import` runs the importers.
Nothing in the library imports this package.
"""

from __future__ import annotations

from ._main import main, play_demo, simulate_quarter, to_dot

__all__ = ["main", "play_demo", "simulate_quarter", "to_dot"]
