"""What the command line reads: pipeline specs, event sources and dates.

Opening an event source is the library's (:mod:`salesstages.io`'s
:class:`~salesstages.io.EventSource`); :func:`event_source` only names its
``table`` argument ``--table`` in messages. Every failure raises
:class:`CliError` (or a library error) with one line that says what is wrong
and what to do; the command line prints it and exits 2.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import tomllib
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

from .._errors import DataError, PipelineError, SalesStagesError
from .._pipeline import Pipeline
from .._redact import redact
from ..io import EventSource
from ..io._sources import ENGINES, ibis_available, is_store

__all__ = [
    "ENGINES",
    "MAX_FILE_BYTES",
    "MAX_NESTING",
    "MAX_STAGES",
    "PRESETS",
    "CliError",
    "EventSource",
    "add_as_of",
    "as_of_arg",
    "check_as_of",
    "day_arg",
    "event_source",
    "ibis_available",
    "is_store",
    "load_mapping",
    "load_pipeline",
    "parse_as_of",
    "parse_day",
    "redact",
]

#: Preset names a SPEC may give, each with the function that builds it.
PRESETS: Final = ("inbound_b2b", "classic_b2b", "modern_b2b", "customer_success")
_PIPELINE_SUFFIXES: Final = (".json", ".toml", ".yaml", ".yml")
_SPEC_HELP: Final = (
    "give a preset name (" + ", ".join(PRESETS) + "), a module:attribute, "
    "or a .json/.toml/.yaml file in Pipeline.to_dict form"
)


class CliError(SalesStagesError, ValueError):
    """A command-line input is wrong; the message says what to do instead."""


# ------------------------------------------------------------------ pipelines
#: Limits of a pipeline or mapping file (CONTRACT section 12): its size in bytes, how
#: deeply its values nest (the top-level table is level 1) and, for a pipeline, the
#: number of stages. YAML aliases and anchors are refused too.
MAX_FILE_BYTES: Final = 1 << 20
MAX_NESTING: Final = 64
MAX_STAGES: Final = 500

ErrorFactory = Callable[[str], SalesStagesError]


def _read_document(path: Path, what: str, error: ErrorFactory) -> Any:
    """Parse a JSON, TOML or YAML file safely (never runs code), within the limits.

    Every problem with the file's content raises ``error(message)``.
    """
    suffix = path.suffix.lower()
    if suffix not in _PIPELINE_SUFFIXES:
        if not path.exists():
            raise CliError(f"{what} file {str(path)!r} does not exist; check the path")
        raise CliError(
            f"cannot tell the format of {what} file {str(path)!r}; "
            "name it .json, .toml, .yaml or .yml"
        )
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise CliError(f"{what} file {str(path)!r} does not exist; check the path") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} file {str(path)!r}: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise error(
            f"larger than {MAX_FILE_BYTES // (1 << 20)} MiB, the limit of a {what} file; "
            "a pipeline definition is a few kilobytes"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise error(f"line {line}: not UTF-8 text; save the file as UTF-8") from None
    too_deep = f"nests deeper than {MAX_NESTING} levels, the limit of a {what} file; flatten it"
    try:
        if suffix == ".json":
            document = json.loads(text)
        elif suffix == ".toml":
            document = tomllib.loads(text)
        else:
            document = _load_yaml(text, path, error, too_deep)
    except json.JSONDecodeError as exc:
        raise error(f"line {exc.lineno}: not valid JSON: {exc.msg}") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"not valid TOML: {exc}") from None
    except RecursionError:
        raise error(too_deep) from None
    except ValueError as exc:  # an integer of more digits than Python converts
        raise error(f"holds a value that cannot be read ({' '.join(str(exc).split())})") from None
    if _depth(document) > MAX_NESTING:
        raise error(too_deep)
    return document


def _depth(value: object) -> int:
    """How deeply ``value`` nests (a scalar is 0, ``{}`` or ``[]`` is 1), without recursion."""
    deepest = 0
    todo: list[tuple[object, int]] = [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if level > MAX_NESTING:
            break  # deep enough to refuse: no need to walk the rest
        todo.extend((c, level + 1) for c in children)
    return deepest


def _load_yaml(text: str, path: Path, error: ErrorFactory, too_deep: str) -> Any:
    """YAML with the safe loader, after a pass over its parse events that refuses
    aliases and anchors (so an alias bomb fails at its first anchor) and nesting
    deeper than :data:`MAX_NESTING`."""
    try:
        import yaml
    except ImportError:
        raise CliError(
            f"reading {str(path)!r} needs PyYAML; install it with "
            "pip install 'salesstages[yaml]', or use a .json or .toml file"
        ) from None
    loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        level = 0
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                line = event.start_mark.line + 1 if event.start_mark is not None else "?"
                raise error(
                    f"line {line}: uses a YAML anchor or alias (&name / *name), which a "
                    f"pipeline file may not; write each value out"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                level += 1
                if level > MAX_NESTING:
                    raise error(too_deep)
            elif isinstance(event, yaml.CollectionEndEvent):
                level -= 1
        return yaml.load(text, Loader=loader)  # a safe loader (CSafeLoader or SafeLoader)
    except yaml.YAMLError as exc:
        raise error(f"not valid YAML: {' '.join(str(exc).split())}") from None


def _from_object(obj: object, spec: str) -> Pipeline:
    if isinstance(obj, Pipeline):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, Pipeline):
            return made
        raise CliError(
            f"{spec!r} returned {type(made).__name__}, not a Pipeline; "
            "point SPEC at a Pipeline or a function returning one"
        )
    raise CliError(
        f"{spec!r} is a {type(obj).__name__}, not a Pipeline; "
        "point SPEC at a Pipeline or a function returning one"
    )


def _import_spec(spec: str) -> Pipeline:
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise CliError(f"pipeline {spec!r} is not module:attribute; {_SPEC_HELP}")
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:  # like `python -m`, let a module beside the user be found
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise CliError(
            f"cannot import module {module_name!r} for pipeline {spec!r} ({exc}); "
            "run from the folder that holds it or install it"
        ) from None
    finally:
        if added:
            sys.path.remove(cwd)
    obj: Any = module
    for part in attribute.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CliError(
                f"module {module_name!r} has no attribute {attribute!r}; "
                "check the name after the colon"
            ) from None
    return _from_object(obj, spec)


def load_pipeline(spec: str) -> Pipeline:
    """The pipeline a SPEC names: a pipeline file, a preset name or ``module:attribute``.

    A file is parsed as data (JSON, TOML, or YAML with ``yaml.safe_load``) and
    built with :meth:`Pipeline.from_dict`, so loading it never runs code. Only
    ``module:attribute`` imports Python, which the user asked for by naming it.
    """
    path = Path(spec)
    if path.suffix.lower() in _PIPELINE_SUFFIXES or path.is_file():

        def error(message: str) -> PipelineError:
            return PipelineError(f"pipeline file {spec!r}: {message}")

        document = _read_document(path, "pipeline", error)
        stages = document.get("stages") if isinstance(document, dict) else None
        if isinstance(stages, list) and len(stages) > MAX_STAGES:
            raise error(
                f"defines {len(stages):,} stages, more than the {MAX_STAGES} a pipeline file "
                "may hold; split the pipeline, or build it in Python"
            )
        try:
            return Pipeline.from_dict(document)
        except PipelineError as exc:
            raise PipelineError(f"pipeline file {spec!r}: {exc}") from None
        except (TypeError, ValueError, KeyError) as exc:
            raise PipelineError(
                f"pipeline file {spec!r} is not in Pipeline.to_dict form ({exc}); "
                "write one with `salesstages diagram`'s --format json or Pipeline.to_dict()"
            ) from None
    if spec in PRESETS:
        from .. import presets

        builder: Callable[[], Pipeline] = getattr(presets, spec)
        return builder()
    if ":" in spec:
        return _import_spec(spec)
    raise CliError(f"unknown pipeline {spec!r}; {_SPEC_HELP}")


def load_mapping(path_text: str) -> dict[str, Any]:
    """An importer's mapping from a JSON, TOML or YAML file (a table at the top)."""
    path = Path(path_text)
    document = _read_document(path, "mapping", lambda m: DataError(m, path=str(path)))
    if not isinstance(document, dict):
        raise CliError(
            f"mapping file {path_text!r} must hold a table/object at the top, "
            f"not {type(document).__name__}"
        )
    return document


# --------------------------------------------------------------------- events
def event_source(text: str, *, complete: bool = True, table: str | None = None) -> EventSource:
    """The events file, store or table ``text`` names (see
    :class:`salesstages.io.EventSource`), its messages naming ``--table``."""
    return EventSource(text, complete=complete, table=table, table_option="--table")


# ---------------------------------------------------------------------- dates
#: The help of every command's ``--as-of`` (see :func:`add_as_of`).
AS_OF_HELP: Final = (
    "as it stood then: now (this moment), today (the end of today, UTC), a date "
    "(2026-03-31, 20260331 or 2026-03-31Z: the end of that day, UTC) or a date-time "
    "(UTC unless it has an offset); default: the last event. A moment before the first "
    "event or more than a day after now is refused unless --force"
)
#: How far after the current time an ``--as-of`` may lie (a clock a little ahead).
AS_OF_SLACK: Final = timedelta(days=1)
_DAY_FORMS: Final = "2026-03-31, 20260331 or 2026-03-31Z"
_BASIC_DAY = re.compile(r"(\d{4})(\d{2})(\d{2})")


def add_as_of(parser: Any) -> None:
    """Give a command the ``--as-of`` option, read by :func:`parse_as_of` (every command
    taking ``--as-of`` adds it this way, so they all accept the same values), and
    ``--force``, which accepts an ``--as-of`` outside the log's time (see
    :func:`check_as_of`)."""
    parser.add_argument("--as-of", metavar="WHEN", help=AS_OF_HELP)
    parser.add_argument(
        "--force",
        action="store_true",
        help="accept an --as-of before the first event or more than a day after now",
    )


def as_of_arg(
    text: str | None, *, force: bool = False, now: Callable[[], datetime] | None = None
) -> datetime | None:
    """A command's ``--as-of`` value read by :func:`parse_as_of` (``None`` when absent);
    more than a day after now is refused unless ``force``."""
    if text is None:
        return None
    moment = parse_as_of(text, now=now)
    if not force:
        current = _now(now)
        if moment > current + AS_OF_SLACK:
            raise CliError(
                f"--as-of {text!r} is more than a day after now ({current.isoformat()}): "
                "a report then would show the future as empty; pass --force to accept it"
            )
    return moment


def check_as_of(
    as_of: datetime | None, first_event: datetime | None, *, force: bool = False
) -> None:
    """Refuse an ``--as-of`` before the log's first event (the report would be empty)
    unless ``force``.

    Raises:
        CliError: ``as_of`` lies before ``first_event``.
    """
    if as_of is None or first_event is None or force or as_of >= first_event:
        return
    raise CliError(
        f"--as-of {as_of.isoformat()} is before the first event of the log "
        f"({first_event.isoformat()}): every figure would be empty; pass a later --as-of, "
        "or --force to accept it"
    )


def parse_day(text: str) -> date | None:
    """A bare date in any accepted spelling (``2026-03-31``, ``20260331``,
    ``2026-03-31Z``, surrounding blanks ignored); ``None`` when ``text`` is not one."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1]
    if m := _BASIC_DAY.fullmatch(value):
        value = f"{m[1]}-{m[2]}-{m[3]}"
    if len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def day_arg(text: str, option: str) -> date:
    """``--from``/``--to``: a bare date in any spelling :func:`parse_day` accepts.

    Raises:
        CliError: ``text`` is not a date; the message names the option and the forms.
    """
    day = parse_day(text)
    if day is None:
        raise CliError(f"{option} {text!r} is not a date; write it as {_DAY_FORMS}")
    return day


def _now(now: Callable[[], datetime] | None) -> datetime:
    moment = (now or (lambda: datetime.now(UTC)))()
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_as_of(text: str, *, now: Callable[[], datetime] | None = None) -> datetime:
    """``--as-of``: ``now`` (this moment, from ``now()``, default the current UTC time),
    ``today`` (the end of today, UTC), a date in any spelling :func:`parse_day`
    accepts (the end of that day, UTC) or an ISO date-time (UTC unless it has an
    offset). A live pipeline's idle times run to ``now``; the default (the last
    event) understates them."""
    value = text.strip()
    word = value.lower()
    if word in ("now", "today"):
        moment = _now(now)
        if word == "now":
            return moment
        return datetime.combine(moment.date(), time.max, tzinfo=UTC)
    day = parse_day(value)
    if day is not None:
        return _within_years(datetime.combine(day, time.max, tzinfo=UTC), text)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"--as-of {text!r} is not a date; write it as {_DAY_FORMS}, "
            "2026-03-31T17:00+02:00, now or today"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _within_years(_within_years(moment, text).astimezone(UTC), text)


#: The last year an option or an event may name (see salesstages/io/_validate.py).
LAST_YEAR: Final = 9998


def _within_years(moment: datetime, text: str) -> datetime:
    """``moment`` when it falls in a year up to :data:`LAST_YEAR`, else :class:`CliError`."""
    if moment.year > LAST_YEAR:
        raise CliError(
            f"--as-of {text!r} is after the year {LAST_YEAR}, the last one in which every "
            "date a report computes (a horizon, a period's end) still exists; give an "
            "earlier date"
        )
    return moment


def days(td: timedelta | None) -> float | None:
    """A duration in days (a float), or None."""
    return None if td is None else td / timedelta(days=1)
