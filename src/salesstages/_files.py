"""Files the library writes: each one appears whole or not at all.

Every writer of the library and the command line (the canonical JSONL, CSV and
Parquet files, the report, the import's problems, the charts) goes through
:func:`atomic_path`: the content is written to a temporary file in the target's
own folder, flushed to disk, then renamed over the target with
:func:`os.replace`. A crash, a full disk or an error half-way leaves the old
file as it was (and no temporary file behind), never half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Final

__all__ = ["atomic_open", "atomic_path", "atomic_write", "same_file"]

_FILE_MODE: Final = 0o666


def _mode_for(target: Path) -> int:
    """The permissions the written file gets: the old file's, or the umask's default."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return _FILE_MODE & ~mask


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path``; on a clean exit it replaces ``path``.

    For writers that want a file name (pyarrow, matplotlib). On an error the
    temporary file is removed and ``path`` is left unchanged.
    """
    target = Path(path)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        with open(tmp, "rb+") as f:  # the data reaches the disk before the rename
            os.fsync(f.fileno())
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_open(path: str | os.PathLike[str]) -> Iterator[IO[str]]:
    """A text file (UTF-8, ``newline=""``) open for writing that replaces ``path``
    on a clean exit (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        yield f
        f.flush()


def atomic_write(path: str | os.PathLike[str], content: str | bytes) -> None:
    """Write ``content`` (text as UTF-8) to ``path`` atomically."""
    with atomic_path(path) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8", newline="")


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True when ``a`` and ``b`` name one file: the same real path (symbolic links
    followed) or, both existing, the same inode (hard links)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
