"""``salesstages report``'s period options (issues 14, 22): ``--period``,
``--from``/``--to``, ``--target`` and ``--targets``, and the log's first event for the
``--as-of`` check.

One date grammar (:func:`~salesstages.cli._spec.parse_day`): a bare date as ``--from``
is the start of that day, as ``--to`` (its last day, included) the start of the next
day, and as ``--as-of`` the end of that day; the period is ``[from, to + 1 day)``."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from .._text import terminal
from ..metrics._engine import is_ibis_table
from ..report._period import parse_period, period_between, read_targets
from ._spec import CliError, day_arg

if TYPE_CHECKING:
    from ..report._model import Report

__all__ = ["add_period_arguments", "first_event", "period_options", "warn_planning"]


def add_period_arguments(p: argparse.ArgumentParser) -> None:
    """Add the period view's options to a parser (``report``, ``plot``)."""
    g = p.add_argument_group(
        "period view",
        "forecast categories, coverage, movement since the period began and slipping deals",
    )
    g.add_argument(
        "--period",
        metavar="PERIOD",
        help="the period to review: a quarter (2026-Q1), a month (2026-03) or a year (2026)",
    )
    g.add_argument(
        "--from",
        dest="period_from",
        metavar="DATE",
        help="first day of the period (from its start, 00:00 UTC)",
    )
    g.add_argument(
        "--to",
        dest="period_to",
        metavar="DATE",
        help="last day of the period, included (up to the start of the next day)",
    )
    g.add_argument(
        "--target",
        metavar="AMOUNT",
        help="the amount to win in the period: adds coverage and attainment",
    )
    g.add_argument(
        "--targets",
        metavar="FILE.csv",
        help="targets per segment: a CSV with a header such as 'owner,target'",
    )


def _target(text: str) -> float:
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        raise CliError(f"--target {text!r} is not a number; write it as 250000") from None
    if not math.isfinite(value) or value < 0:
        raise CliError(f"--target {text!r} must be a finite number >= 0")
    return value


#: The last year a period may fall in (as for --as-of and the events' own times).
LAST_YEAR: Final = 9998
_LEADING_YEAR: Final = re.compile(r"\s*(\d{4,})")


def _check_year(option: str, text: str | None) -> None:
    """Refuse a period option whose year is past :data:`LAST_YEAR` (naming it, instead
    of calling it "not a period" or overflowing)."""
    m = _LEADING_YEAR.match(text or "")
    if m is None:
        return
    digits = m[1]
    if len(digits) == 8:  # YYYYMMDD
        digits = digits[:4]
    if len(digits) > 4 or int(digits) > LAST_YEAR:
        year = digits if len(digits) <= 12 else digits[:12] + "…"
        shown = (text or "")[:40]
        raise CliError(
            f"{option} {shown!r}: the year {year} is after {LAST_YEAR}, the last year in "
            "which a period's end and every date computed from it still exist; give an "
            "earlier period"
        )


def period_options(args: argparse.Namespace) -> dict[str, Any]:
    """The :func:`~salesstages.report.build_report` keywords the options ask for."""
    period, first, last = args.period, args.period_from, args.period_to
    for option, text in (("--period", period), ("--from", first), ("--to", last)):
        _check_year(option, text)
    if period is not None and (first is not None or last is not None):
        raise CliError("give either --period or --from/--to, not both")
    if (first is None) != (last is None):
        raise CliError("--from and --to go together: give the first and the last day")
    if args.target is not None and args.targets is not None:
        raise CliError("give either --target or --targets, not both")
    if period is None and first is None:
        if args.target is not None or args.targets is not None:
            raise CliError("--target and --targets need a period: add --period 2026-Q1")
        return {}
    out: dict[str, Any] = {
        "period": parse_period(period)
        if period is not None
        else period_between(day_arg(first, "--from"), day_arg(last, "--to"))
    }
    if args.target is not None:
        out["target"] = _target(args.target)
    elif args.targets is not None:
        out["target_by"], out["target"] = read_targets(args.targets)
    return out


def warn_planning(report: Report) -> None:
    """Print the report's warnings (targets naming unknown owners, a period with nothing
    to show) on standard error."""
    for warning in report.warnings:
        print(f"salesstages: warning: {terminal(warning)}", file=sys.stderr)


def first_event(events: Iterable[Any] | Any) -> datetime | None:
    """The earliest event time of ``events`` (a list of events or an Ibis table), for
    :func:`~salesstages.cli._spec.check_as_of`; ``None`` for an empty log."""
    if is_ibis_table(events):
        from ..metrics._ibis._checks import prepare_checked
        from ..metrics._ibis._columns import from_us

        t = prepare_checked(events)
        value = t.aggregate(m=t.at_us.min()).to_pyarrow().column("m")[0].as_py()
        return None if value is None else from_us(int(value))
    return min((e.at for e in events), default=None)
