"""An event store in one JSON Lines file, safe for several threads and processes.

File format (version 2): UTF-8, one line per append call, each line ending in
``\\n``. An event is a JSON array of its fields in a fixed order,
``[deal_id, seq, at, kind, stage, name, data]`` (``at`` in ISO 8601 with its
offset, ``data`` a JSON object), which reads about twice as fast as an object
with keys. A single-event append is one such array; a batch is an array of
them, so a batch is all or nothing. Each line wraps that payload with its
checksum: ``[<crc>,<payload>]``, where ``<crc>`` is the CRC-32 (zlib's, the
IEEE polynomial) of the payload's UTF-8 bytes as written, in decimal. So a line
stays one JSON value, and damage to any byte (a flipped bit) is a
:class:`~salesstages.DataError` naming the line instead of a different event.
The global position of an event is its 1-based place in the file. (For
interchange, export with :func:`salesstages.io.write_jsonl`, which writes one
JSON object per event.)

Version 1 files (written before checksums; each line is the bare payload) still
read, and new appends to them are checksummed: their old lines are counted in
:attr:`JsonlStore.unverified_lines` (``salesstages check`` reports them). A line
without a checksum after one with a checksum is damage. A line longer than
:data:`MAX_LINE_BYTES` (64 MiB) is refused on writing, and on reading with its
line number; reading is linear in each line's length.

Writers take an exclusive ``fcntl.flock`` on ``<path>.lock``, catch up with
what other processes appended, check the batch, write it with one ``write``
call and ``fsync`` it (unless ``fsync=False``). Readers take no lock.

Torn-tail policy: a last line without its ``\\n`` is an append that has not
finished, or one that a crash cut short. Readers ignore it (it was never
acknowledged to its writer); the next append, holding the lock so no writer
can be active, truncates it before writing. Every complete line must be a
valid event or batch: anything else raises :class:`~salesstages.DataError`
naming the file, the line and the field, because it is damage a tool cannot
repair by guessing.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from json.scanner import make_scanner
from pathlib import Path
from typing import Any, Final, cast

from .._codec import (
    FieldError,
    Interner,
    event_from_row,
    event_to_row_json,
    events_from_lines,
)
from .._errors import DataError, StoreUnavailableError
from .._events import Event
from ._protocol import (
    D,
    RebuildsDeals,
    check_batch,
    check_follow,
    check_position,
    check_shape,
    check_times,
    deprecated_load,
    poll_follow,
)

if sys.platform != "win32":
    import fcntl

__all__ = ["MAX_LINE_BYTES", "JsonlStore"]

_CHUNK: Final = 1 << 20  # bytes read and parsed at a time
#: The longest line (one append's batch) the store writes or reads, in bytes.
MAX_LINE_BYTES: Final = 64 << 20
_crc32: Final = zlib.crc32
#: Parses one JSON value at a given index of a text and returns it with the index
#: where it ended, so each line is parsed on its own without cutting the text.
_SCAN_VALUE: Final[Callable[[str, int], tuple[Any, int]]] = cast(Any, make_scanner)(
    json.JSONDecoder()
)


class JsonlStore:
    """Events in one JSON Lines file; safe for several threads and processes.

    Args:
        path: The log file (created when missing). A lock file
            ``<path>.lock`` is created beside it.
        fsync: ``True`` (the default) fsyncs every append before returning, so a
            power cut cannot lose it; ``False`` leaves flushing to the OS (a
            process crash still loses nothing that was appended).

    Each append is one line (a batch is a JSON array) with its CRC-32 checksum
    (format 2, see the module's notes), written under an exclusive lock on
    ``<path>.lock`` (POSIX ``flock``; on Windows only threads of one process
    are serialised). A torn last line, left by a crash in the middle of an
    append, is ignored by readers and truncated by the next append; any other
    malformed or changed line raises :class:`~salesstages.DataError` naming it.
    Lines of a format 1 file (no checksum) still read, counted in
    :attr:`unverified_lines`.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        real = self.path.resolve()  # one lock file per log, however the path is spelt
        self.lock_path = real.with_name(real.name + ".lock")
        self.fsync = bool(fsync)
        self._lock = threading.RLock()
        self._fd = -1
        self._lock_fd = -1
        self._pid = 0
        # What this handle knows about the file: complete lines up to ``_offset``.
        self._offset = 0
        self._count = 0
        self._lines = 0
        self._index: dict[str, tuple[int, datetime]] = {}
        #: Bytes of a torn last line (one without its ``\\n``) that the latest
        #: :meth:`events` call skipped; 0 when the file ended with a complete line.
        self.torn_tail = 0
        #: Lines the latest :meth:`events` call read without a checksum to verify
        #: (written by a version before format 2); 0 for a file written since.
        self.unverified_lines = 0
        self.path.touch(exist_ok=True)

    # ------------------------------------------------------------------ files
    def _open(self) -> int:
        pid = os.getpid()
        if self._fd < 0 or self._pid != pid:
            # After fork() the parent's descriptors (and its flock) must not be shared.
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            self._pid = pid
        return self._fd

    def close(self) -> None:
        """Close the file descriptors (a later append reopens them)."""
        with self._lock:
            if self._fd >= 0 and self._pid == os.getpid():
                os.close(self._fd)
                os.close(self._lock_fd)
            self._fd = self._lock_fd = -1

    def __enter__(self) -> JsonlStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # interpreter shutdown may have torn down os
            self.close()

    # ------------------------------------------------------------------ writing
    def append(self, events: Sequence[Event]) -> None:
        """Append events of one deal, all or nothing (see :class:`EventStore`).

        Raises:
            ConcurrencyError: The first ``seq`` is not the deal's current length
                (another writer got there first); nothing was written.
            OutOfOrderError: An event is earlier than the one before it.
            DataError: A complete line of the file is malformed.
            ValueError: A malformed batch, or data that JSON cannot represent.
        """
        self.append_many((events,))

    def append_many(self, batches: Iterable[Sequence[Event]]) -> int:
        """Append several batches (each one deal's, as for :meth:`append`) with one
        write and one fsync. Returns the number of events written.

        Every batch is checked before anything is written, so a refused call
        writes nothing. Each batch is still its own line: if the process dies
        in the middle of the write, the complete lines stand and the torn one
        is dropped, so a crash may keep a prefix of the batches (each whole),
        never half of one. Raises what :meth:`append` raises.
        """
        prepared = []
        for events in batches:
            batch = list(events)
            deal_id = check_shape(batch)
            if len(batch) == 1:
                line = event_to_row_json(batch[0])
            else:
                line = "[" + ",".join(event_to_row_json(e) for e in batch) + "]"
            body = line.encode("utf-8")
            if len(body) > MAX_LINE_BYTES - 16:
                raise DataError(
                    f"deal {deal_id!r}: one append of {len(batch):,} events is {len(body):,} "
                    f"bytes, over the store's line limit of {MAX_LINE_BYTES >> 20} MiB; "
                    "append it in smaller batches",
                    path=str(self.path),
                )
            prepared.append((deal_id, batch, b"[%d,%b]" % (_crc32(body), body)))
        if not prepared:
            return 0
        payload = b"\n".join(p[2] for p in prepared) + b"\n"
        with self._lock:
            fd = self._open()
            if sys.platform != "win32":
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                self._catch_up(fd)
                state: dict[str, tuple[int, datetime]] = {}
                for deal_id, batch, _ in prepared:
                    known = state.get(deal_id) or self._index.get(deal_id)
                    length, last_at = known if known is not None else (0, None)
                    check_batch(batch, length)
                    check_times(batch, None if last_at is None else _stub(deal_id, last_at))
                    state[deal_id] = (length + len(batch), batch[-1].at)
                self._write(fd, payload, prepared)
                self._offset += len(payload)
                self._lines += len(prepared)
                self._index.update(state)
                count = sum(len(p[1]) for p in prepared)
                self._count += count
            finally:
                if sys.platform != "win32":
                    fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        return count

    def _write(self, fd: int, payload: bytes, prepared: list[tuple[str, Any, bytes]]) -> None:
        """Write and fsync ``payload``; an error after the first byte went out leaves
        the outcome unknown, and says so."""
        view = memoryview(payload)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self.fsync:
                os.fsync(fd)
        except OSError as exc:
            if len(view) == len(payload):
                raise  # nothing went out: nothing was written
            deals = [p[0] for p in prepared[:3]]
            shown = ", ".join(
                f"store.events({d!r}) has {p[1][-1].seq + 1} events if it was"
                for d, p in zip(deals, prepared, strict=False)
            )
            raise StoreUnavailableError(
                f"{self.path}: the append failed after it was partly or wholly written "
                f"({exc}), so it may or may not have been stored: the outcome is unknown; "
                f"read the deal back before retrying: {shown}"
            ) from exc

    def _catch_up(self, fd: int) -> None:
        """Index what other writers appended; truncate a torn tail (the lock is held)."""
        size = os.fstat(fd).st_size
        if size < self._offset:
            raise DataError(
                f"the file shrank from {self._offset} to {size} bytes while open; "
                "an event log must only grow (was it edited or replaced?)",
                path=str(self.path),
            )
        if size == self._offset:
            return
        scan = _Scan(self.path, self._offset, self._lines)
        index = self._index
        seen: dict[str, tuple[int, datetime]] = {}  # applied only if the whole scan is good
        count = 0
        for chunk in scan.chunks(fd):
            for e in chunk:
                known = seen.get(e.deal_id) or index.get(e.deal_id)
                length = 0 if known is None else known[0]
                if e.seq != length:
                    raise _seq_error(self.path, scan, e, length)
                seen[e.deal_id] = (length + 1, e.at)
            count += len(chunk)
        index.update(seen)
        self._count += count
        self._offset = scan.offset
        self._lines = scan.lines
        if scan.offset < size:  # a torn last line: no writer is active, so a crash left it
            os.ftruncate(fd, scan.offset)
            if self.fsync:
                os.fsync(fd)

    # ------------------------------------------------------------------ reading
    def events(self, deal_id: str | None = None) -> Iterator[Event]:
        """Iterate one deal's events, or every deal's (deals in order of first
        append, each in ``seq`` order).

        Reads the file as it is now (complete lines only). Raises
        :class:`~salesstages.DataError` for a malformed line, or for a ``seq``
        that repeats or skips within a deal.
        """
        groups: dict[str, list[Event]] = {}
        get = groups.get
        scan = _Scan(self.path, 0, 0)
        # Every event is kept until the end (to group them), so without the pause the
        # collector would walk the growing heap again and again.
        with open(self.path, "rb") as f:
            for chunk in scan.chunks(f.fileno()):
                for e in chunk:
                    did = e.deal_id
                    if deal_id is not None and did != deal_id:
                        continue
                    lst = get(did)
                    if lst is None:
                        lst = groups[did] = []
                    if e.seq != len(lst):
                        raise _seq_error(self.path, scan, e, len(lst))
                    lst.append(e)
        self.torn_tail = scan.torn
        self.unverified_lines = scan.unverified
        return (e for lst in groups.values() for e in lst)

    def events_after(self, position: int = 0) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` in append order, for positions after ``position``.

        Positions are 1-based places in the file. Following the log from the
        last position this handle wrote or read resumes at its byte offset.
        """
        check_position(position)
        return self._after(position)

    def _after(self, position: int) -> Iterator[tuple[int, Event]]:
        with self._lock:
            marks = [self._mark, (self._offset, self._lines, self._count)]
        usable = [m for m in marks if m[2] <= position]
        start, lines, pos = max(usable, key=lambda m: m[2]) if usable else (0, 0, 0)
        scan = _Scan(self.path, start, lines)
        with open(self.path, "rb") as f:
            for chunk in scan.chunks(f.fileno()):
                for e in chunk:
                    pos += 1
                    if pos > position:
                        yield pos, e
                with self._lock:
                    if pos > self._mark[2]:
                        self._mark = (scan.offset, scan.lines, pos)

    # (byte offset, lines, position) at a line start, to resume following the log
    _mark: tuple[int, int, int] = (0, 0, 0)

    def follow(
        self, after: int = 0, *, poll: float = 0.5, idle_timeout: float | None = None
    ) -> Iterator[tuple[int, Event]]:
        """Iterate ``(position, event)`` after ``after``, then poll every ``poll`` seconds
        for new events; end after ``idle_timeout`` seconds without one (``None``: never).

        Positions are places in the file; appends take the file lock and write
        whole lines, and a line without its newline is not read yet, so events
        become visible in position order and polling never skips one.
        """
        after, poll, idle_timeout = check_follow(after, poll, idle_timeout)
        return poll_follow(self.events_after, after, poll, idle_timeout)

    def deal_ids(self) -> list[str]:
        """Every deal id, in order of first append."""
        seen: dict[str, None] = {}
        scan = _Scan(self.path, 0, 0)
        with open(self.path, "rb") as f:
            for chunk in scan.chunks(f.fileno()):
                for e in chunk:
                    seen.setdefault(e.deal_id)
        return list(seen)

    def load(self, pipeline: RebuildsDeals[D], deal_id: str) -> D:
        """Deprecated: rebuild a deal with ``pipeline.load_deal(store, deal_id)`` (a
        store holds events only); warns, and works until the next release."""
        return deprecated_load(self, pipeline, deal_id)

    def __len__(self) -> int:
        return sum(1 for _ in self.events_after(0))

    def __repr__(self) -> str:
        return f"JsonlStore({str(self.path)!r})"


def _stub(deal_id: str, at: datetime) -> Event:
    return Event(deal_id=deal_id, seq=0, at=at, kind="activity")


def _seq_error(path: Path, scan: _Scan, e: Event, expected: int) -> DataError:
    what = "repeats" if e.seq < expected else "skips"
    return DataError(
        f"deal {e.deal_id!r}: seq {e.seq} {what} (expected {expected}); "
        "the log was edited by hand or two files were concatenated",
        path=str(path),
        line=scan.line_of(e),
        field="seq",
    )


class _Scan:
    """Parse complete lines of a JSON Lines event file in chunks.

    ``offset`` and ``lines`` advance over complete lines only; a last line
    without ``\\n`` (torn, or still being written) is left alone.
    ``complete`` is true once the scan reached the end of the complete lines;
    ``torn`` is then the length in bytes of the torn last line it left alone.
    ``unverified`` counts the lines read without a checksum (format 1).

    Every line is parsed on its own, in the fast path too, so a line must hold
    exactly one event or one batch: a line holding two values, or a batch split
    over two lines, is refused naming its line. Each checksummed line is
    verified before its events are built.
    """

    def __init__(self, path: Path, offset: int, lines: int) -> None:
        self.path = path
        self.offset = offset
        self.lines = lines
        self.complete = False
        self.torn = 0
        self.unverified = 0
        self._checked = False  # a checksummed line was read: every later one must be
        self._intern = Interner()
        self._where: dict[int, int] = {}
        self._last: tuple[list[Event], list[Any], int] = ([], [], 0)

    def line_of(self, e: Event) -> int | None:
        """The line an event of the last chunk came from (for error messages)."""
        if id(e) in self._where:
            return self._where[id(e)]
        out, objs, first_line = self._last
        i = next((i for i, x in enumerate(out) if x is e), None)
        if i is None:
            return None
        for n, obj in enumerate(objs, first_line):
            i -= len(obj) if type(obj) is list and obj and type(obj[0]) is list else 1
            if i < 0:
                return n
        return None  # pragma: no cover - every event came from a line

    def chunks(self, fd: int) -> Iterator[list[Event]]:
        """Yield the events of each chunk of complete lines, in file order.

        A line is gathered from the blocks it spans and joined once, so reading
        is linear in its length; one longer than :data:`MAX_LINE_BYTES` is refused.
        """
        parts: list[bytes] = []  # the start of a line that runs past the blocks read
        held = 0
        pos = self.offset
        while True:
            os.lseek(fd, pos, os.SEEK_SET)  # (os.pread is POSIX-only)
            block = os.read(fd, _CHUNK)
            pos += len(block)
            if not block:
                self.complete = True
                tail = b"".join(parts)
                self.torn = len(tail)
                if tail:
                    self._check_torn(tail)
                return
            end = block.rfind(b"\n") + 1
            if end == 0:
                parts.append(block)
                held += len(block)
                if held > MAX_LINE_BYTES:
                    raise self._too_long()
                continue
            if parts:
                if held + block.find(b"\n") + 1 > MAX_LINE_BYTES:
                    raise self._too_long()
                parts.append(block[:end])
                body = b"".join(parts)
            else:
                body = block if end == len(block) else block[:end]
            rest = block[end:]
            parts = [rest] if rest else []
            held = len(rest)
            events = self._parse(body)
            self.offset += len(body)
            self.lines += body.count(b"\n")
            yield events

    def _too_long(self) -> DataError:
        return DataError(
            f"the line is longer than {MAX_LINE_BYTES >> 20} MiB, the store's limit for one "
            "append; the file is damaged, or is not a salesstages JSON Lines store",
            path=str(self.path),
            line=self.lines + 1,
        )

    def _check_torn(self, tail: bytes) -> None:
        """A last line without its newline is an unfinished append, unless it is a whole
        checksummed line plus one byte: then a newline was damaged, not left out."""
        line = tail[:-1]
        if line[:1] == b"[" and line[-1:] == b"]" and _verified(line):
            raise DataError(
                "the last line's newline is damaged (the line before it is whole and its "
                "checksum matches): restore the file from a backup",
                path=str(self.path),
                line=self.lines + 1,
            )

    def _parse(self, body: bytes) -> list[Event]:
        first_line = self.lines + 1
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = first_line + body.count(b"\n", 0, exc.start)
            raise DataError(
                f"not UTF-8 text (byte {exc.object[exc.start]:#04x}); the file is damaged",
                path=str(self.path),
                line=line,
            ) from None
        lines = text.split("\n")
        lines.pop()  # the empty string after the last newline
        objs = _values_by_line(text, lines)
        if objs is None:
            return self._parse_lines(lines, first_line)
        payloads = self._unwrap(objs, body)
        if payloads is None:
            return self._parse_lines(lines, first_line)  # to name the line
        try:
            out = events_from_lines(payloads, self._intern)
        except FieldError:
            return self._parse_lines(lines, first_line)  # again, slowly, to name the line
        self._where = {}
        self._last = (out, payloads, first_line)
        return out

    def _unwrap(self, objs: list[Any], body: bytes) -> list[Any] | None:
        """Each line's payload, its checksum verified; ``None`` when a line fails (the
        slow path then names it)."""
        if objs and not _is_checked(objs[0]) and not _is_checked(objs[-1]):
            # format 1 throughout (the common case of an old file): nothing to verify
            if self._checked or any(_is_checked(o) for o in objs):
                return None
            self.unverified += len(objs)
            return objs
        raw = body.split(b"\n")
        crc = _crc32
        out: list[Any] = []
        append = out.append
        for obj, line in zip(objs, raw, strict=False):
            if type(obj) is list and len(obj) == 2 and type(obj[0]) is int:
                if crc(line[line.index(b",") + 1 : -1]) != obj[0]:
                    return None
                self._checked = True
                append(obj[1])
            else:
                return None  # unchecked after checked, or odd: the slow path says which
        return out

    def _parse_lines(self, lines: list[str], first_line: int) -> list[Event]:
        intern = self._intern
        out: list[Event] = []
        where: dict[int, int] = {}
        for n, text in enumerate(lines, first_line):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except ValueError as exc:
                raise DataError(
                    f"not valid JSON ({exc}); every complete line must be one event or one batch",
                    path=str(self.path),
                    line=n,
                ) from None
            except RecursionError:
                raise DataError(
                    "JSON nested too deeply; every complete line must be one event or one batch",
                    path=str(self.path),
                    line=n,
                ) from None
            obj = self._payload(obj, text, n)
            objs = obj if type(obj) is list and obj and type(obj[0]) is list else [obj]
            for o in objs:
                try:
                    e = event_from_row(o, intern)
                except FieldError as exc:
                    raise DataError(
                        exc.message, path=str(self.path), line=n, field=exc.field
                    ) from None
                where[id(e)] = n
                out.append(e)
        self._where = where
        self._last = ([], [], 0)
        return out

    def _payload(self, obj: Any, text: str, n: int) -> Any:
        """Line ``n``'s payload after checking its checksum (format 2), or the line as
        it is (format 1, counted as unverified); raises :class:`DataError`."""
        if not _is_checked(obj):
            if self._checked:
                raise DataError(
                    "the line has no checksum but lines before it do: it is damaged, or was "
                    "added by hand; restore the file from a backup",
                    path=str(self.path),
                    line=n,
                )
            self.unverified += 1
            return obj
        if len(obj) != 2 or type(obj[0]) is not int:
            raise DataError(
                "expected [checksum, event or batch], got an array of "
                f"{len(obj)} starting with {repr(obj[0])[:40]}",
                path=str(self.path),
                line=n,
            )
        if not _verified(text.strip().encode("utf-8")):
            raise DataError(
                "the checksum does not match the line (a changed byte: bit rot, a bad copy "
                "or an edit); restore the file from a backup",
                path=str(self.path),
                line=n,
            )
        self._checked = True
        return obj[1]


def _is_checked(obj: object) -> bool:
    """Whether a line's value is a checksummed line (format 2): an array whose first
    item is not an event field (a string) nor an event (an array)."""
    return type(obj) is list and bool(obj) and type(obj[0]) is not str and type(obj[0]) is not list


def _verified(line: bytes) -> bool:
    """Whether ``[<crc>,<payload>]`` holds the CRC-32 of its payload."""
    head, comma, rest = line.partition(b",")
    if not comma or not head[1:].isdigit() or line[:1] != b"[" or line[-1:] != b"]":
        return False
    return _crc32(rest[:-1]) == int(head[1:])


def _values_by_line(text: str, lines: list[str]) -> list[Any] | None:
    """The JSON value of each line of ``text`` (split into ``lines``), or ``None`` when a
    line is not exactly one value with nothing around it (blank, invalid, two values,
    a value running on into the next line, spaces): the slow path then names it.

    One scanner call per line on the whole text: no substring copies, and as fast
    as parsing every line joined into one array, which could not tell where a value
    crossed a line boundary.
    """
    scan = _SCAN_VALUE
    objs: list[Any] = []
    append = objs.append
    pos = 0
    try:
        for ln in lines:
            end = pos + len(ln)
            obj, stop = scan(text, pos)
            if stop != end:
                return None
            append(obj)
            pos = end + 1
    except (ValueError, StopIteration, RecursionError):
        return None
    return objs
