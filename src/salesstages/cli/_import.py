"""``salesstages import``: run an importer of :mod:`salesstages.io` from the command line.

The MAPPING file (JSON, TOML or YAML) holds the importer's keyword arguments,
for example for a stage-date table::

    id_column = "opportunity_id"
    status_column = "deal_stage"
    close_column = "close_date"
    amount_column = "close_value"
    attribute_columns = ["sales_agent", "product", "account"]

    [stage_columns]
    engage_date = "engaging"

    [status_map]
    Won = "won"
    Lost = "lost"

``tz`` may name an IANA zone (``"Europe/Paris"``). Reference tables are joined
with ``[[join]]`` entries (``table = "accounts.csv"``, read beside the mapping file,
and ``key = "account"``).
"""

from __future__ import annotations

import argparse
import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._events import Event
from .._files import atomic_open
from .._text import csv_cell, csv_writer, terminal
from ._output import check_outputs
from ._spec import CliError, load_mapping, load_pipeline

__all__ = ["IMPORT_KINDS", "run_import"]

#: ``KIND`` → the :mod:`salesstages.io` function it runs.
IMPORT_KINDS: Final = ("stage-table", "salesforce")
_FUNCTIONS: Final = {"stage-table": "read_stage_table", "salesforce": "read_opportunity_history"}
#: Seconds an import runs before the progress indicator shows.
PROGRESS_AFTER: Final = 1.0


class Progress:
    """A progress line on standard error for work that takes more than a second.

    Shows nothing when the work is quick or standard error is not a terminal
    (unless ``force``). ``update(done, total)`` turns the spinner into a bar.
    """

    def __init__(self, label: str, *, out: TextIO | None = None, force: bool = False) -> None:
        self.label = label
        self.out = out if out is not None else sys.stderr
        self.enabled = force or self.out.isatty()
        self.started = time.monotonic()
        self.done = 0
        self.total = 0
        self.shown = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Progress:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.shown:
            self._draw(final=True)

    def update(self, done: int, total: int) -> None:
        """Record progress: ``done`` of ``total`` items."""
        self.done, self.total = done, total

    def _run(self) -> None:
        if self._stop.wait(PROGRESS_AFTER):
            return
        while not self._stop.is_set():
            self._draw()
            self._stop.wait(0.1)

    def _draw(self, *, final: bool = False) -> None:
        self.shown = True
        elapsed = time.monotonic() - self.started
        if self.total:
            share = min(1.0, self.done / self.total)
            bar = "#" * round(30 * share)
            line = f"{self.label} [{bar:<30}] {share:4.0%} {elapsed:5.1f}s"
        else:
            spin = "|/-\\"[int(elapsed * 10) % 4]
            line = f"{self.label} {spin} {elapsed:5.1f}s"
        self.out.write("\r" + line + ("\n" if final else ""))
        self.out.flush()


def _importer(kind: str) -> Callable[..., Any]:
    from .. import io

    fn: Callable[..., Any] = getattr(io, _FUNCTIONS[kind])
    return fn


def _options(kind: str, mapping: Mapping[str, Any], mapping_path: str) -> dict[str, Any]:
    fn = _importer(kind)
    params = inspect.signature(fn).parameters
    allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "strict"]
    unknown = sorted(set(mapping) - set(allowed))
    if unknown:
        raise CliError(
            f"mapping {mapping_path!r} has unknown key(s) {', '.join(unknown)} for {kind}; "
            f"allowed: {', '.join(allowed)}"
        )
    missing = [
        n for n in allowed if params[n].default is inspect.Parameter.empty and n not in mapping
    ]
    if missing:
        raise CliError(
            f"mapping {mapping_path!r} lacks {', '.join(missing)}, which {kind} needs; "
            "see docs/cli.md for an example"
        )
    options = dict(mapping)
    if "tz" in options:
        options["tz"] = _zone(options["tz"], mapping_path)
    if "join" in options:  # [[join]] tables: table (beside the mapping file) and key
        options["join"] = _joins(options["join"], mapping_path)
    return options


#: The longest IANA zone name is some 30 characters; longer is not a zone.
_MAX_ZONE_NAME: Final = 64


def _joins(value: object, mapping_path: str) -> list[tuple[str, str]]:
    """The mapping's ``[[join]]`` tables as ``(path, key)`` pairs, a relative path read
    beside the mapping file; :class:`CliError` when one lacks ``table`` or ``key``."""
    joins = value if isinstance(value, list) else [value]
    out = []
    for item in joins:
        if not (isinstance(item, Mapping) and {"table", "key"} <= set(item)):
            raise CliError(
                f'mapping {mapping_path!r}: each [[join]] needs table = "accounts.csv" and '
                f'key = "account"; got {item!r}'
            )
        out.append((str(Path(mapping_path).parent / str(item["table"])), str(item["key"])))
    return out


def _zone(value: object, mapping_path: str) -> ZoneInfo:
    """The time zone a mapping's ``tz`` names; :class:`CliError` saying what is wrong."""
    text = str(value)
    shown = repr(text) if len(text) <= 40 else f"{text[:37]!r}... ({len(text):,} characters)"
    wrong = CliError(
        f"mapping {mapping_path!r}: tz {shown} is not a time zone; use an IANA name such "
        "as 'UTC' or 'Europe/Paris'"
    )
    if not isinstance(value, str) or len(text) > _MAX_ZONE_NAME:
        raise wrong
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long
        raise wrong from None


def _counting(events: Iterable[Event], progress: Progress, total: int) -> Iterator[Event]:
    for i, e in enumerate(events, 1):
        if i % 1000 == 0:
            progress.update(i, total)
        yield e
    progress.update(total, total)


def run_import(args: argparse.Namespace, *, out: TextIO, err: TextIO) -> int:
    """Import ``args.file`` with ``args.kind``'s importer and write ``args.out``."""
    from .. import io

    check_outputs(
        {"--out": args.out, "--problems": args.problems},
        {"FILE": args.file, "--mapping": args.mapping, "--pipeline": args.pipeline},
    )
    pipeline = load_pipeline(args.pipeline)
    if not args.mapping:
        raise CliError(f"import {args.kind} needs --mapping FILE; see docs/cli.md for an example")
    options = _options(args.kind, load_mapping(args.mapping), args.mapping)
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"file {args.file!r} does not exist; check the path")
    target = Path(args.out)
    suffix = target.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise CliError(f"--out {args.out!r} must end in .jsonl or .csv (the canonical formats)")
    with Progress(f"importing {terminal(source.name)}", out=err) as progress:
        result = _importer(args.kind)(source, pipeline, strict=args.strict, **options)
    writer = io.write_jsonl if suffix == ".jsonl" else io.write_csv
    with Progress(f"writing {terminal(target.name)}", out=err) as progress:
        writer(_counting(result.events, progress, len(result.events)), target)
    print(
        f"Imported {result.rows:,} rows of {terminal(source.name)} into {result.deals:,} "
        f"deals, {len(result.events):,} events: {terminal(str(target))}",
        file=out,
    )
    if result.problems:
        counts = result.counts()
        print(
            f"{len(result.problems):,} problems (kept what could be kept): "
            + ", ".join(f"{terminal(rule)} {n:,}" for rule, n in counts.items()),
            file=err,
        )
        shown: set[str] = set()
        for p in result.problems:
            if p.rule not in shown:
                shown.add(p.rule)
                print(f"  {terminal(p.rule)}, e.g. line {p.row}: {terminal(p.message)}", file=err)
        if args.problems:
            _write_problems(args.problems, result.problems)
            print(f"  all of them: {terminal(args.problems)}", file=err)
        else:
            print("  write all of them to a CSV file with --problems PATH", file=err)
    return 0


def _write_problems(path: str, problems: Iterable[Any]) -> None:
    try:
        with atomic_open(path) as f:
            w = csv_writer(f)
            w.writerow(["deal_id", "row", "rule", "message"])
            for p in problems:
                # A deal id or a message quoting a cell may start like a formula.
                w.writerow([csv_cell(v) for v in (p.deal_id or "", p.row, p.rule, p.message)])
    except OSError as exc:
        raise CliError(f"cannot write {path!r} ({exc.strerror}); check the folder exists") from None


def _cmd_import(args: argparse.Namespace) -> int:
    return run_import(args, out=sys.stdout, err=sys.stderr)
