"""Where a command writes: never over one of its inputs, never over an event store.

Every output path of every command (``report --out``, ``import --out`` and
``--problems``, ``export --out``, ``demo --html``, ``diagram --out``, ``plot``'s
chart files) is checked by :func:`check_outputs` before anything is read or
written, and written through :mod:`salesstages._files` (atomically).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from .._files import same_file
from .._text import terminal
from ._spec import CliError

__all__ = ["check_outputs", "store_kind"]

_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_DUCKDB_MAGIC: Final = b"DUCK"  # at byte 8


def store_kind(path: str | os.PathLike[str]) -> str | None:
    """What kind of database or event store the existing file ``path`` is (``a SQLite
    database``, ``a DuckDB database``, ``a JSON Lines event store``), or None."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError:
        return None
    if head.startswith(_SQLITE_MAGIC):
        return "a SQLite database"
    if head[8:12] == _DUCKDB_MAGIC:
        return "a DuckDB database"
    if head.lstrip()[:1] == b"[":  # JsonlStore writes each append as a JSON array
        return "a JSON Lines event store"
    return None


def _inputs(inputs: Mapping[str, str | None]) -> Iterable[tuple[str, str]]:
    for label, text in inputs.items():
        if text and not text.startswith(("postgresql://", "postgres://")) and Path(text).exists():
            yield label, text


def check_outputs(outputs: Mapping[str, str | None], inputs: Mapping[str, str | None]) -> None:
    """Refuse (:class:`CliError`, one line naming both) an output that is one of the
    inputs (the same real path or the same inode), another output, or an existing
    event store or database.

    ``outputs`` and ``inputs`` map how the command line names each path (``--out
    'x.csv'``) to the path; ``None`` entries are ignored.
    """
    given = [(label, text) for label, text in outputs.items() if text]
    sources = list(_inputs(inputs))
    for i, (label, text) in enumerate(given):
        for source_label, source in sources:
            if same_file(text, source):
                raise CliError(
                    f"{label} {terminal(repr(text))} is {source_label} "
                    f"{terminal(repr(source))} itself; writing there would destroy it: "
                    "give another file name"
                )
        for other_label, other in given[i + 1 :]:
            if same_file(text, other):
                raise CliError(
                    f"{label} {terminal(repr(text))} and {other_label} "
                    f"{terminal(repr(other))} are the same file; give each its own name"
                )
        if Path(text).is_file():
            kind = store_kind(text)
            if kind is not None:
                raise CliError(
                    f"{label} {terminal(repr(text))} is {kind}, which writing there would "
                    "destroy; give another file name"
                )
