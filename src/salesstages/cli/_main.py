"""The ``salesstages`` command line (also ``python -m salesstages``).

Nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TextIO

from .. import __version__
from .._deal import Deal
from .._errors import DataError, SalesStagesError, TransitionRefused
from .._events import Event
from .._pipeline import Pipeline
from .._simulate import simulate
from .._stores import EventStore, MemoryStore, SqliteStore
from .._text import terminal
from ..guards import _describe as describe_guard
from ..presets import PROPOSAL_SUBSTATES, inbound_b2b
from ..report import build_report, render_csv, render_html, render_text
from ..report._render import table
from ._import import IMPORT_KINDS, Progress, _cmd_import
from ._period import add_period_arguments, period_options, warn_planning
from ._spec import (
    ENGINES,
    PRESETS,
    CliError,
    EventSource,
    is_store,
    load_pipeline,
    parse_as_of,
)

__all__ = ["main", "play_demo", "simulate_quarter", "to_dot"]


def _describe(event: Event) -> str:
    when = event.at.strftime("%Y-%m-%d %H:%M")
    if event.kind == "opened":
        attrs = ", ".join(f"{k}={v!r}" for k, v in event.data.items())
        return f"{when}  opened ({attrs})"
    if event.kind == "stage_entered":
        extra = dict(event.data)
        reason = extra.pop("reason", None)
        notes = ([f"reason: {reason}"] if reason else []) + [f"{k}={v!r}" for k, v in extra.items()]
        return f"{when}  → {event.stage}" + (f" ({', '.join(notes)})" if notes else "")
    if event.kind == "substate_entered":
        return f"{when}    ↳ {event.stage}/{event.name}"
    if event.kind == "updated":
        return f"{when}  updated " + ", ".join(f"{k}={v!r}" for k, v in event.data.items())
    data = ", ".join(f"{k}={v!r}" for k, v in event.data.items())
    return f"{when}  · {event.name}" + (f" ({data})" if data else "")


def _meeting(deal: Deal, meeting: str, at: datetime) -> None:
    deal.record("meeting_booked", at=at, meeting=meeting)
    deal.record("meeting_accepted", at=at + timedelta(hours=2), meeting=meeting, party="prospect")
    deal.record("meeting_accepted", at=at + timedelta(hours=3), meeting=meeting, party="rep")


def play_demo(out: TextIO) -> MemoryStore:
    """Play a handful of realistic deals through the inbound preset, printing as it goes."""
    pipeline = inbound_b2b()
    store = MemoryStore()
    t0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def day(n: float) -> datetime:
        return t0 + timedelta(days=n)

    print(f"Pipeline {pipeline.name!r}: " + " → ".join(s.name for s in pipeline.stages), file=out)
    print(file=out)

    # ACME: all the way to a win, through the proposal's sub-states.
    acme = pipeline.open_deal(
        "ACME-1", at=day(0), store=store, amount=48_000, owner="ana", lead_source="webinar"
    )
    _meeting(acme, "discovery", day(1))
    acme.move("discovery", at=day(2))
    try:
        acme.move("formal_proposal", at=day(3))
    except TransitionRefused as exc:
        print("Refused, as it should be:", file=out)
        print(f"  {exc}", file=out)
        print(file=out)
    _meeting(acme, "evaluation", day(6))
    acme.move("evaluation", at=day(7), by="ana", note="two stakeholders joined")
    acme.record("document_sent", at=day(15), document="proposal")
    acme.move("formal_proposal", at=day(15))
    for i, sub in enumerate(PROPOSAL_SUBSTATES):
        acme.enter_substate(sub, at=day(16 + 3 * i))
    acme.update(at=day(26), amount=52_000)
    acme.win(at=day(30), by="ana")

    # Globex: lost on price, then reopened and back in evaluation.
    globex = pipeline.open_deal(
        "GLOBEX-7", at=day(3), store=store, amount=20_000, owner="ben", lead_source="referral"
    )
    _meeting(globex, "discovery", day(4))
    globex.move("discovery", at=day(5))
    _meeting(globex, "evaluation", day(9))
    globex.move("evaluation", at=day(10))
    globex.lose(at=day(18), reason="price", by="ben", competitor="Initrode")
    globex.record("call", at=day(40), note="new budget approved")
    globex.reopen(at=day(41))

    # Initech: a declined meeting keeps it in the lead stage.
    initech = pipeline.open_deal(
        "INITECH-3", at=day(8), store=store, amount=9_000, owner="ana", lead_source="inbound"
    )
    initech.record("meeting_booked", at=day(9), meeting="discovery")
    initech.record("meeting_declined", at=day(10), meeting="discovery", party="prospect")
    verdict = initech.can_move("discovery")
    print(f"INITECH-3 may not enter discovery yet: {'; '.join(verdict.reasons)}", file=out)
    print(file=out)

    for deal in (acme, globex, initech):
        amount = deal.attributes.get("amount")
        print(f"{deal.id}: {deal.state} ({deal.outcome}), amount {amount:,}", file=out)
        for event in deal.events:
            print(f"  {_describe(event)}", file=out)
        print(file=out)

    replayed = pipeline.replay(store.events())
    same = all(replayed[d.id] == d for d in (acme, globex, initech))
    print(f"Replayed {len(replayed)} deals from {len(store)} events: identical = {same}", file=out)
    print(file=out)
    print("Mermaid diagram of the pipeline:", file=out)
    print(pipeline.to_mermaid(), file=out)
    return store


# ---------------------------------------------------------------- the quarter
#: The simulated quarter of ``salesstages demo``: deals opened, first day, length.
DEMO_DEALS: Final = 400
DEMO_START: Final = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_DAYS: Final = 90.0


def simulate_quarter(store: EventStore, *, deals: int = DEMO_DEALS, seed: int = 7) -> int:
    """Simulate a realistic quarter of the inbound preset into ``store``; return the
    number of events written."""
    pipeline = inbound_b2b()
    events = simulate(pipeline, deals=deals, start=DEMO_START, days=DEMO_DAYS, seed=seed)
    batch: list[Event] = []
    for e in events:  # events come grouped by deal, in seq order: one append per deal
        if batch and e.deal_id != batch[0].deal_id:
            store.append(batch)
            batch = []
        batch.append(e)
    if batch:
        store.append(batch)
    return len(events)


def _open_demo_store(db: str | None, folder: Path) -> tuple[SqliteStore, Path]:
    path = Path(db) if db else folder / "demo.sqlite3"
    if path.is_file() and path.stat().st_size and not is_store(path):
        raise CliError(
            f"--db {str(path)!r} is a file but not a salesstages store; give a new file name"
        )
    store = SqliteStore(path)
    held = len(store)
    if held:
        store.close()
        raise CliError(
            f"--db {str(path)!r} already holds {held:,} events; give a new file "
            "(or delete that one) so the demo can simulate a fresh quarter into it"
        )
    return store, path


def _cmd_demo(args: argparse.Namespace) -> int:
    out = sys.stdout
    pipeline = inbound_b2b()
    with tempfile.TemporaryDirectory(prefix="salesstages-demo-") as folder:
        store, path = _open_demo_store(args.db, Path(folder))
        try:
            print(_heading("1. A few deals, step by step"), file=out)
            play_demo(out)
            n = simulate_quarter(store, deals=args.deals, seed=args.seed)
            print(_heading("2. A simulated quarter"), file=out)
            where = str(path) if args.db else "a SQLite store in a temporary folder"
            print(
                f"Simulated {args.deals:,} inbound deals over {DEMO_DAYS:g} days from "
                f"{DEMO_START:%Y-%m-%d} into {where} ({n:,} events).",
                file=out,
            )
            events = list(store.events())
        finally:
            store.close()
    problems = pipeline.check(events, guards=True)
    print(f"Checked the log, entry criteria included: {len(problems)} problems.", file=out)
    print(file=out)
    report = build_report(events, pipeline, by="lead_source", source=args.db)
    print(render_text(report), file=out, end="")
    if args.html:
        _write(args.html, render_html(report))
        print(f"\nHTML report written to {args.html}", file=out)
    return 0


def _heading(text: str) -> str:
    return f"\n{text}\n{'#' * len(text)}\n"


# ------------------------------------------------------------------ commands
def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write {path!r} ({exc.strerror}); check the folder exists") from None


def _emit(text: str, out_path: str | None) -> None:
    if out_path:
        _write(out_path, text)
    else:
        sys.stdout.write(text)


def _report_events(source: EventSource, engine: str | None, by: str | None) -> Any:
    """What ``report`` passes to :func:`build_report`: the events, or an Ibis table."""
    if engine is None:
        engine = source.default_engine()
    if engine == "duckdb":
        return source.ibis_table()
    events = source.read()
    _check_by(events, by)
    return events


def _cmd_report(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.pipeline)
    as_of = parse_as_of(args.as_of) if args.as_of else None
    with EventSource(args.events, table=args.table) as source:
        events = _report_events(source, args.engine, args.by)
        _warn(source)
        report = build_report(
            events,
            pipeline,
            as_of=as_of,
            by=args.by,
            skips=args.skips,
            horizon=timedelta(days=args.horizon),
            source=source.name,
            **period_options(args),  # the period view (issue 14)
        )
    warn_planning(report)
    if args.format == "json":
        text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif args.format == "csv":
        text = render_csv(report)
    elif args.format == "html":
        text = render_html(report)
    else:
        text = render_text(report)
    _emit(text, args.out)
    return 0


def _warn(source: EventSource) -> None:
    """Print what reading ``source`` skipped (a torn last line) on standard error."""
    for warning in source.warnings:
        print(f"salesstages: warning: {terminal(warning)}", file=sys.stderr)


def _check_by(events: Sequence[Event], by: str | None) -> None:
    if by is None:
        return
    seen: set[str] = set()
    for e in events:
        if e.kind == "opened":
            if by in e.data:
                return
            seen.update(e.data)
    if events:
        known = ", ".join(sorted(seen)) or "none"
        raise CliError(f"no deal has the attribute {by!r} at opening; --by takes one of: {known}")


def _cmd_export(args: argparse.Namespace) -> int:
    from ..io._arrow import write_parquet_counted

    target = Path(args.out)
    if target.suffix.lower() not in (".parquet", ".pq"):
        raise CliError(
            f"--out {args.out!r} must end in .parquet; export writes the canonical table as "
            "Parquet (`salesstages import` writes JSONL and CSV)"
        )
    if not target.parent.is_dir():
        raise CliError(f"cannot write {args.out!r}: the folder does not exist")
    source = EventSource(args.events, table=args.table)
    if source.path is not None and target.resolve() == source.path.resolve():
        raise CliError(f"--out {args.out!r} is the source itself; give another file name")
    total = source.count()
    events: Any = source
    if total is None and source.kind not in ("duckdb", "postgres"):
        events = source.read()  # read whole anyway (JSONL, CSV): the bar can show a share
        total = len(events)
    deals: set[str] = set()
    with Progress(f"exporting to {terminal(target.name)}", out=sys.stderr) as progress:
        progress.update(0, total or 0)

        def counted() -> Any:
            add = deals.add
            for i, e in enumerate(events, 1):
                add(e.deal_id)
                if not i % 4096:
                    progress.update(i, total or 0)
                yield e

        written = write_parquet_counted(counted(), target)
        progress.update(written, total or 0)
    print(
        f"Exported {written:,} events of {len(deals):,} deals from {terminal(source.name)}: "
        + terminal(str(target))
    )
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.pipeline)
    source = EventSource(args.events, complete=False, table=args.table)
    damage = source.integrity_problems()
    if damage:
        said = "; ".join(damage[:3]) + (f"; … {len(damage) - 3:,} more" if len(damage) > 3 else "")
        raise DataError(
            f"PRAGMA integrity_check finds the database damaged ({said}); restore it from "
            "a backup, or export what still reads with salesstages.io",
            path=source.name,
        )
    events = source.read()
    _warn(source)
    problems = pipeline.check(events, guards=args.guards)
    if args.format == "json":
        rows = [
            {"deal_id": p.deal_id, "seq": p.seq, "rule": p.rule, "message": p.message}
            for p in problems
        ]
        sys.stdout.write(json.dumps({"problems": rows}, indent=2, ensure_ascii=False) + "\n")
    elif problems:
        shown = problems if args.limit == 0 else problems[: args.limit]
        print(
            table(
                ["deal", "seq", "rule", "message"],
                [
                    [p.deal_id, "–" if p.seq is None else str(p.seq), p.rule, p.message]
                    for p in shown
                ],
                align="lrll",
            )
        )
        if len(shown) < len(problems):
            print(f"… and {len(problems) - len(shown):,} more (--limit 0 or --format json: all)")
        deals = len({p.deal_id for p in problems})
        rules: dict[str, int] = {}
        for p in problems:
            rules[p.rule] = rules.get(p.rule, 0) + 1
        by_rule = ", ".join(f"{r} {n:,}" for r, n in sorted(rules.items(), key=lambda kv: -kv[1]))
        print(f"\n{len(problems):,} problems in {deals:,} deals: {by_rule}.")
    else:
        n = len({e.deal_id for e in events})
        print(
            f"No problems: {len(events):,} events of {n:,} deals follow "
            f"{terminal(repr(pipeline.name))}."
        )
    return 1 if problems else 0


def to_dot(pipeline: Pipeline) -> str:
    """The pipeline as a Graphviz ``digraph`` (entry criteria under each stage's name)."""

    def q(text: str) -> str:
        # each line with control characters shown escaped (terminal), then DOT's escapes
        lines = (
            terminal(part).replace("\\", "\\\\").replace('"', '\\"') for part in text.split("\n")
        )
        return '"' + "\\n".join(lines) + '"'

    shapes = {"open": "box", "won": "doublecircle", "lost": "circle"}
    colours = {"open": "#dbeafe", "won": "#bbf7d0", "lost": "#fecaca"}
    lines = [
        f"digraph {q(pipeline.name)} {{",
        "    rankdir=LR;",
        '    node [style="rounded,filled", fontname="Helvetica"];',
    ]
    for s in pipeline.stages:
        label = s.title
        if s.substates:
            label += "\n(" + " → ".join(s.substates) + ")"
        if s.entry is not None:
            label += "\nentry: " + describe_guard(s.entry)
        lines.append(
            f"    {q(s.name)} [label={q(label)}, shape={shapes[s.outcome]}, "
            f"fillcolor={q(colours[s.outcome])}];"
        )
    for s in pipeline.stages:
        for t in pipeline.targets(s.name):
            style = ""
            if pipeline.stage(t).is_open and pipeline.index(t) < pipeline.index(s.name):
                style = " [style=dashed]"
            lines.append(f"    {q(s.name)} -> {q(t)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _cmd_diagram(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.pipeline)
    if args.format == "dot":
        text = to_dot(pipeline)
    elif args.format == "json":
        text = json.dumps(pipeline.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = pipeline.to_mermaid()
    _emit(text, args.out)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from ..report import save_charts

    pipeline = load_pipeline(args.pipeline)
    source = EventSource(args.events, table=args.table)
    events = source.read()
    _warn(source)
    as_of = parse_as_of(args.as_of) if args.as_of else None
    _check_by(events, args.by)
    report = build_report(events, pipeline, as_of=as_of, by=args.by)
    for path in save_charts(report, args.out, fmt=args.format):
        print(terminal(str(path)))
    return 0


# -------------------------------------------------------------------- parser
_EVENTS_HELP: Final = (
    "a JSONL, CSV or Parquet events file, a SQLite store, a DuckDB file, "
    "or a postgresql:// URL (with --table)"
)


def _add_events(p: argparse.ArgumentParser, metavar: str = "EVENTS") -> None:
    p.add_argument("events", metavar=metavar, help=_EVENTS_HELP)
    p.add_argument(
        "--table",
        metavar="NAME",
        help="the events table of a DuckDB file or PostgreSQL database (default: events)",
    )


def _add_common(
    p: argparse.ArgumentParser, *, events: bool = True, metavar: str = "EVENTS"
) -> None:
    if events:
        _add_events(p, metavar)
    p.add_argument(
        "--pipeline",
        "-p",
        metavar="SPEC",
        required=True,
        help="a preset name (" + ", ".join(PRESETS) + "), module:attribute, "
        "or a .json/.toml/.yaml file in Pipeline.to_dict form",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salesstages",
        description="Model a B2B sales pipeline in code and measure it.",
        epilog="Errors exit with status 2; `check` exits 1 when the log has problems.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"salesstages {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="play a few deals, then simulate a quarter and print its report",
        description="Play a few deals through the inbound preset step by step, then "
        "simulate a realistic quarter into a SQLite store and print the full report.",
    )
    demo.add_argument(
        "--db", metavar="PATH", help="SQLite file to simulate into (default: a temporary one)"
    )
    demo.add_argument(
        "--deals", type=_positive_int, default=DEMO_DEALS, help="deals opened in the quarter"
    )
    demo.add_argument("--seed", type=int, default=7, help="random seed of the simulation")
    demo.add_argument("--html", metavar="PATH", help="also write the HTML report there")
    demo.set_defaults(func=_cmd_demo)

    report = sub.add_parser(
        "report",
        help="report the funnel, time in stage, win rate, cycle, stalls, lost reasons, forecasts",
        description="Compute every figure of the pipeline report from an event log.",
    )
    _add_common(report, metavar="SOURCE")
    report.add_argument(
        "--as-of", metavar="DATE", help="as it stood then (ISO date = end of that day, UTC)"
    )
    report.add_argument(
        "--by", metavar="ATTR", help="add a segment table by this attribute at opening"
    )
    report.add_argument("--format", "-f", choices=("text", "json", "csv", "html"), default="text")
    report.add_argument(
        "--out", "-o", metavar="PATH", help="write there instead of standard output"
    )
    report.add_argument(
        "--skips",
        choices=("imputed", "touched", "ordered"),
        default="imputed",
        help="funnel policy for skipped stages (default: imputed)",
    )
    report.add_argument(
        "--horizon",
        type=_positive_int,
        default=30,
        metavar="DAYS",
        help="forecast horizon (default 30)",
    )
    report.add_argument(
        "--engine",
        choices=ENGINES,
        help="python: read every event and compute in this process; duckdb: run the "
        "queries in DuckDB (in PostgreSQL itself for a postgresql:// source) and read "
        "back only aggregates. Default: duckdb for Parquet, DuckDB and PostgreSQL sources "
        "when salesstages[duckdb] is installed, python otherwise",
    )
    add_period_arguments(report)
    report.set_defaults(func=_cmd_report)

    export = sub.add_parser(
        "export",
        help="write an event log as a Parquet file (the canonical table)",
        description="Write every event of a log, store or table to a Parquet file with the "
        "canonical columns deal_id, seq, at, kind, stage, name, data (needs "
        "salesstages[duckdb]). A progress bar shows on a terminal.",
    )
    _add_events(export)
    export.add_argument(
        "--out", "-o", metavar="FILE", required=True, help="the Parquet file to write"
    )
    export.set_defaults(func=_cmd_export)

    check = sub.add_parser(
        "check",
        help="list every rule the event log breaks (exit 1 when there are any)",
        description="List every problem of an event log against the pipeline's rules.",
    )
    _add_common(check)
    check.add_argument(
        "--guards", action="store_true", help="also re-check each move's entry criteria"
    )
    check.add_argument("--format", "-f", choices=("text", "json"), default="text")
    check.add_argument(
        "--limit", type=int, default=50, metavar="N", help="list at most N problems (0: all)"
    )
    check.set_defaults(func=_cmd_check)

    diagram = sub.add_parser(
        "diagram",
        help="print the pipeline as a Mermaid or Graphviz diagram (or its JSON definition)",
        description="Print the pipeline's stage graph.",
    )
    _add_common(diagram, events=False)
    diagram.add_argument("--format", "-f", choices=("mermaid", "dot", "json"), default="mermaid")
    diagram.add_argument(
        "--out", "-o", metavar="PATH", help="write there instead of standard output"
    )
    diagram.set_defaults(func=_cmd_diagram)

    imp = sub.add_parser(
        "import",
        help="convert a CRM export into a canonical events file",
        description="Import a CRM export with one of the importers of salesstages.io.",
    )
    imp.add_argument("kind", metavar="KIND", choices=IMPORT_KINDS, help=" | ".join(IMPORT_KINDS))
    imp.add_argument("file", metavar="FILE", help="the export to read")
    _add_common(imp, events=False)
    imp.add_argument(
        "--mapping", "-m", metavar="MAPPING", help="a .json/.toml/.yaml file (see docs/cli.md)"
    )
    imp.add_argument(
        "--out",
        "-o",
        metavar="EVENTS",
        required=True,
        help="the events file to write (.jsonl or .csv)",
    )
    imp.add_argument(
        "--strict", action="store_true", help="stop at the first problem instead of listing them"
    )
    imp.add_argument(
        "--problems", metavar="PATH", help="write every import problem to this CSV file"
    )
    imp.set_defaults(func=_cmd_import)

    plot = sub.add_parser(
        "plot",
        help="save each chart of the report as PNG or SVG (needs salesstages[plot])",
        description="Draw the report's charts with matplotlib, one file per chart.",
    )
    _add_common(plot)
    plot.add_argument(
        "--out", "-o", metavar="DIR", required=True, help="folder for the chart files"
    )
    plot.add_argument("--format", "-f", choices=("png", "svg"), default="png")
    plot.add_argument("--as-of", metavar="DATE", help="as it stood then")
    plot.add_argument("--by", metavar="ATTR", help="segment the win-rate chart by this attribute")
    plot.set_defaults(func=_cmd_plot)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and text.startswith(("'", '"')) and text.endswith(("'", '"')):
        text = text[1:-1]  # KeyError's str() quotes its message
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on a usage or data error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print("salesstages: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader went away (``salesstages report … | head``): not an error;
        # point stdout at devnull so the interpreter's final flush stays quiet
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (SalesStagesError, OSError, ValueError, ImportError, sqlite3.Error) as exc:
        if args.debug:
            raise
        print(f"salesstages: error: {terminal(_one_line(exc))}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
