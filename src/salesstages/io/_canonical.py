"""The canonical event format, as JSON Lines and as CSV, both directions."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from .._codec import FIELDS, FieldError, Interner, dump_data, event_from_obj, event_to_json
from .._errors import DataError, typed_faults
from .._events import Event
from .._files import atomic_open
from .._text import csv_cell, csv_uncell
from ._common import Source, Target, csv_table, read_source, source_name
from ._validate import event_problem

__all__ = ["read_csv", "read_jsonl", "write_csv", "write_jsonl"]


@contextmanager
def _text_target(target: Target) -> Iterator[IO[str]]:
    name = source_name(target)
    to_path = isinstance(target, str | os.PathLike)
    # a path is written atomically: on an error the file is left as it was
    outcome = "the file is left as it was" if to_path else "the file is incomplete"

    def error(message: str) -> DataError:
        return DataError(f"{message}; {outcome}", path=name)

    # text that cannot be encoded (a lone surrogate) is a DataError naming the file
    with typed_faults(error, "an event"):
        if isinstance(target, str | os.PathLike):
            with atomic_open(target) as f:  # the file appears whole or not at all
                yield f
        else:
            yield target


def write_jsonl(events: Iterable[Event], target: Target) -> int:
    """Write events as JSON Lines, one :meth:`Event.to_dict` object per line.

    ``target`` is a path (created or overwritten, UTF-8) or a text file object.
    Returns the number of events written. Raises ``ValueError`` when an event's
    data holds something JSON cannot represent.
    """
    n = 0
    with _text_target(target) as f:
        for e in events:
            f.write(event_to_json(e))
            f.write("\n")
            n += 1
    return n


def write_csv(events: Iterable[Event], target: Target) -> int:
    """Write events as CSV with the columns ``deal_id, seq, at, kind, stage, name, data``.

    ``stage`` and ``name`` are empty when ``None``; ``data`` is a JSON object.
    ``target`` is a path (created or overwritten, UTF-8) or a text file object
    opened with ``newline=""``. Returns the number of events written. Raises
    ``ValueError`` when an event's data holds something JSON cannot represent.

    The file is safe to open in a spreadsheet: a cell starting with ``=``,
    ``+``, ``-``, ``@``, a tab or CR (a deal id such as ``=HYPERLINK(...)``)
    is written with a leading ``'`` so that it is not run as a formula, and a
    cell that starts with ``'`` followed by one of those (or another ``'``)
    gets one more. :func:`read_csv` drops exactly that ``'`` again, so the
    events read back are the events written.
    """
    n = 0
    with _text_target(target) as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        for e in events:
            data = dump_data(e)
            writer.writerow(
                (
                    csv_cell(e.deal_id),
                    e.seq,
                    e.at.isoformat(),
                    e.kind,
                    csv_cell(e.stage or ""),
                    csv_cell(e.name or ""),
                    data,
                )
            )
            n += 1
    return n


def read_jsonl(source: Source, *, complete: bool = True) -> list[Event]:
    """Read events written by :func:`write_jsonl` (one JSON object per line).

    ``source`` is a path or a file object (text or binary). Blank lines are
    skipped. With ``complete=True`` (the default) every deal's ``seq`` must run
    0, 1, 2 … with no gap or repeat, so a truncated or filtered file never
    passes for whole deals; pass ``complete=False`` to read a slice of a log.

    Raises:
        DataError: The first malformed line, naming the file, the line and the
            field.
    """
    name, text = read_source(source)
    intern = Interner()
    events: list[Event] = []
    lines: list[int] = []
    all_lines = text.split("\n")
    n = 0
    with typed_faults(lambda m: DataError(m, path=name, line=n), "the line"):
        for n, line in enumerate(all_lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                torn = n == len(all_lines) and not text.endswith("\n")
                raise DataError(
                    f"not valid JSON ({exc})"
                    + ("; the last line has no newline: was the file cut short?" if torn else ""),
                    path=name,
                    line=n,
                ) from None
            events.append(_checked(obj, intern, name, n))
            lines.append(n)
    if complete:
        _check_complete(name, events, lines)
    return events


def _checked(obj: object, intern: Interner, name: str, line: int) -> Event:
    """The event ``obj`` describes, refused (naming the file, line and field) when any
    of its values is one its writer would have refused."""
    try:
        event = event_from_obj(obj, intern)
    except FieldError as exc:
        raise DataError(exc.message, path=name, line=line, field=exc.field) from None
    problem = event_problem(event)
    if problem is not None:
        raise DataError(problem[1], path=name, line=line, field=problem[0])
    return event


def read_csv(source: Source, *, complete: bool = True) -> list[Event]:
    """Read events written by :func:`write_csv`.

    The header must name the seven columns (in any order) and nothing else. An
    empty ``stage`` or ``name`` cell is ``None``; an empty ``data`` cell is
    ``{}``. ``complete`` works as in :func:`read_jsonl`. A ``deal_id``,
    ``stage`` or ``name`` cell starting with ``'`` followed by a formula
    character (``= + - @``, tab, CR) or another ``'`` loses that first ``'``:
    it is the mark :func:`write_csv` adds to keep spreadsheets from running a
    formula.

    Raises:
        DataError: The first malformed row, naming the file, the line and the
            column.
    """
    name, text = read_source(source)
    header, rows = csv_table(name, text)
    for column in header:
        if column not in FIELDS:
            raise DataError(
                f"unknown column; the canonical columns are {', '.join(FIELDS)}",
                path=name,
                line=1,
                field=column,
            )
    for column in FIELDS:
        if column not in header:
            raise DataError("the header lacks this column", path=name, line=1, field=column)
    index = [header.index(c) for c in FIELDS]
    intern = Interner()
    events: list[Event] = []
    lines: list[int] = []
    n = 0
    with typed_faults(lambda m: DataError(m, path=name, line=n), "the row"):
        for n, cells in rows:
            assert isinstance(cells, list)  # csv_table raises for a bad row unless lenient
            if len(cells) != len(header):
                raise DataError(
                    f"expected {len(header)} cells, got {len(cells)}", path=name, line=n
                )
            deal_id, seq, at, kind, stage, ev_name, data = (cells[i] for i in index)
            obj: dict[str, Any] = {
                "deal_id": csv_uncell(deal_id),
                "seq": _int(seq, name, n),
                "at": at,
                "kind": kind,
                "stage": csv_uncell(stage) or None,
                "name": csv_uncell(ev_name) or None,
                "data": _json_object(data, name, n),
            }
            events.append(_checked(obj, intern, name, n))
            lines.append(n)
    if complete:
        _check_complete(name, events, lines)
    return events


def _int(text: str, name: str, line: int) -> int:
    t = text.strip()
    if not t.isascii() or not t.isdigit():
        raise DataError(
            f"expected an integer >= 0, got {text!r}", path=name, line=line, field="seq"
        )
    return int(t)


def _json_object(text: str, name: str, line: int) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise DataError(f"not valid JSON ({exc})", path=name, line=line, field="data") from None
    if type(value) is not dict:
        raise DataError(
            f"expected a JSON object, got {type(value).__name__}",
            path=name,
            line=line,
            field="data",
        )
    return value


def _check_complete(name: str, events: list[Event], lines: list[int]) -> None:
    """Every deal's seq runs 0..n-1 exactly once; else DataError naming the line."""
    by_deal: dict[str, list[tuple[int, int]]] = {}
    for e, line in zip(events, lines, strict=True):
        by_deal.setdefault(e.deal_id, []).append((e.seq, line))
    for deal_id, seqs in by_deal.items():
        seqs.sort()
        for expected, (seq, line) in enumerate(seqs):
            if seq == expected:
                continue
            if seq < expected:
                message = f"deal {deal_id!r}: seq {seq} appears twice"
            else:
                message = (
                    f"deal {deal_id!r}: seq {expected} is missing before seq {seq}; the file "
                    "holds only part of this deal (pass complete=False to read a slice)"
                )
            raise DataError(message, path=name, line=line, field="seq")
