"""The ``salesstages`` command line (also ``python -m salesstages``).

Nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import sqlite3
import sys
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from .. import __version__
from .._errors import DataError, SalesStagesError
from .._events import Event
from .._files import atomic_write
from .._gc import bulk
from .._pipeline import Pipeline
from .._redact import redact
from .._simulate import simulate
from .._stores import EventStore, SqliteStore, driver_fault
from .._text import terminal, terminal_lines
from ..io import read_calls
from ..metrics._rules import check_rules
from ..presets import inbound_b2b
from ..report import (
    LIMIT,
    build_report,
    deal_lists,
    render_csv,
    render_deals_csv,
    render_html,
    render_text,
)
from ..report._build import assemble, compute
from ..report._period import parse_period
from ..report._text import table
from ._bowtie import add_success_arguments, bowtie_of_args
from ._demo import best_actions, describe_pipeline, headline, play_demo
from ._import import IMPORT_KINDS, Progress, _cmd_import
from ._output import check_outputs
from ._period import add_period_arguments, first_event, period_options, warn_planning
from ._spec import (
    ENGINES,
    PRESETS,
    CliError,
    EventSource,
    add_as_of,
    as_of_arg,
    check_as_of,
    event_source,
    is_store,
    load_pipeline,
)
from ._whatif import add_what_if

__all__ = ["main", "play_demo", "simulate_quarter", "to_dot"]


# ---------------------------------------------------------------- the quarter
#: The simulated quarter of ``salesstages demo``: deals opened, first day, length.
DEMO_DEALS: Final = 400
DEMO_START: Final = datetime(2026, 1, 1, tzinfo=UTC)
DEMO_DAYS: Final = 90.0
#: The demo reviews its quarter 16 days before it ends, against a target.
DEMO_PERIOD: Final = "2026-Q1"
DEMO_REVIEW: Final = datetime(2026, 3, 15, 23, 59, tzinfo=UTC)
DEMO_TARGET: Final = 4_000_000


def simulate_quarter(store: EventStore, *, deals: int = DEMO_DEALS, seed: int = 7) -> int:
    """Simulate a realistic quarter of the inbound preset into ``store``; return the
    number of events written."""
    pipeline = inbound_b2b()
    events = simulate(
        pipeline, deals=deals, start=DEMO_START, days=DEMO_DAYS, seed=seed, action_effect=0.6
    )  # sales plays that help deals forward, for the report's "what moves deals forward"
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
    check_outputs({"--html": args.html}, {"--db": args.db})
    pipeline = inbound_b2b()
    with tempfile.TemporaryDirectory(prefix="salesstages-demo-") as folder:
        store, path = _open_demo_store(args.db, Path(folder))
        try:
            print(
                "salesstages models a B2B sales pipeline in code: deals move through stages "
                "with entry criteria,\nevery change is an event in an append-only log, and "
                "every figure is computed from that log.",
                file=out,
            )
            print(_heading(f"1. The pipeline: {pipeline.name} (a preset)"), file=out)
            describe_pipeline(pipeline, out)
            print(
                f"Draw it: salesstages diagram --pipeline {pipeline.name} --main-path "
                "(Mermaid, the main path; drop --main-path for every move, "
                "--format dot for Graphviz)",
                file=out,
            )
            print(_heading("2. A few deals, step by step"), file=out)
            play_demo(out)
            n = simulate_quarter(store, deals=args.deals, seed=args.seed)
            print(_heading("3. A simulated quarter"), file=out)
            where = str(path) if args.db else "a SQLite store in a temporary folder"
            events = list(store.events())
        finally:
            store.close()
    problems = pipeline.check(events, guards=True)
    print(
        f"Simulated {args.deals:,} inbound deals over {DEMO_DAYS:g} days from "
        f"{DEMO_START:%Y-%m-%d} into {where} ({n:,} events); checked the log, entry "
        f"criteria included: {len(problems)} problems.",
        file=out,
    )
    report = _demo_report(events, pipeline, args)
    full = (
        f"salesstages report {args.db} -p {pipeline.name} --by lead_source "
        f"--as-of {DEMO_REVIEW:%Y-%m-%dT%H:%MZ} --period {DEMO_PERIOD} --target {DEMO_TARGET} "
        "--format html --out report.html"
        if args.db
        else "salesstages demo --html report.html"
    )
    print(_heading("4. The report, headline sections"), file=out)
    left = (parse_period(DEMO_PERIOD).end - DEMO_REVIEW).days
    deals = report.section("counts").records()[0]["deals"]
    print(
        f"A review on {DEMO_REVIEW:%d %B}, {left} days before {DEMO_PERIOD} ends: the "
        f"{deals:,} deals opened by then, against a target of "
        f"{DEMO_TARGET:,} (amounts in the deals' own currency).\nThe full report adds win rate "
        "and cycle, segments, stalled deals, time in stage, forecasts and their backtest, with "
        f"charts: {full}\n",
        file=out,
    )
    print(headline(render_text(best_actions(report))), file=out, end="")
    if args.html:
        _write(args.html, render_html(report))
        print(f"\nHTML report written to {args.html}", file=out)
    return 0


def _demo_report(events: list[Event], pipeline: Pipeline, args: argparse.Namespace) -> Any:
    """The demo quarter's report: the one place the demo sets the report's options."""
    return build_report(
        events,
        pipeline,
        by="lead_source",
        source=args.db,
        as_of=DEMO_REVIEW,
        period=DEMO_PERIOD,
        target=DEMO_TARGET,
    )


def _heading(text: str) -> str:
    return f"\n{text}\n{'#' * len(text)}"


# ------------------------------------------------------------------ commands
def _write(path: str, text: str) -> None:
    try:
        atomic_write(path, text)
    except OSError as exc:
        raise CliError(f"cannot write {path!r} ({exc.strerror}); check the folder exists") from None


def _emit(text: str, out_path: str | None) -> None:
    if out_path:
        _write(out_path, text)
    else:
        sys.stdout.write(text)


def _report_events(source: EventSource, engine: str | None) -> Any:
    """What ``report`` passes to :func:`build_report`: the events, or an Ibis table."""
    if engine is None:
        engine = source.default_engine()
    if engine == "duckdb":
        from ..metrics._ibis._checks import check_events

        table = source.ibis_table()
        check_events(table, name=source.name)  # the read rules, naming the source
        return table
    return source.read()  # an unknown ``by`` is the library's error, with its suggestion


def _inputs(args: argparse.Namespace) -> dict[str, str | None]:
    """The files a reporting command reads: SOURCE, the pipeline file, --targets."""
    return {
        "SOURCE": args.events,
        "--pipeline": args.pipeline,
        "--targets": getattr(args, "targets", None),
        "--success-log": getattr(args, "success_log", None),
        "--success-pipeline": getattr(args, "success_pipeline", None),
        "--calls": getattr(args, "calls", None),
    }


def _cmd_report(args: argparse.Namespace) -> int:
    check_outputs({"--out": args.out, "--deals-csv": args.deals_csv}, _inputs(args))
    pipeline = load_pipeline(args.pipeline)
    as_of = as_of_arg(args.as_of, force=args.force)
    with event_source(args.events, table=args.table) as source:
        events = _report_events(source, args.engine)
        _warn(source)
        if as_of is not None and not args.force:  # issue 22: an as_of before the log
            check_as_of(as_of, first_event(events))
        # the same rules, and so the same exit status, on either engine
        problems = check_rules(events, pipeline)
        with _dates_in_range():
            figures = compute(
                events,
                pipeline,
                as_of=as_of,
                by=args.by,
                skips=args.skips,
                horizon=_horizon(args.horizon),
                source=source.name,
                problems=problems,
                torn_tail=source.torn_tail,
                **period_options(args),  # the period view (issue 14)
                calls=None if args.calls is None else read_calls(args.calls),  # issue 27
            )
            figures["bowtie"] = bowtie_of_args(args, events, pipeline, figures)
    report = assemble(figures, limit=args.limit)
    warn_planning(report)
    if args.deals_csv:  # the complete lists, whatever --limit shows
        _write(args.deals_csv, render_deals_csv(deal_lists(assemble(figures, limit=None))))
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    elif args.format == "csv":
        text = render_csv(report)
    elif args.format == "html":
        text = render_html(report)
    else:
        text = terminal_lines(render_text(report))  # no raw control character gets out
    _emit(text, args.out)
    if problems and not args.lenient:
        print(
            f"salesstages: error: the log breaks the pipeline's rules ({len(problems):,} "
            "problems; `salesstages check` lists them), so the report counts moves the "
            "pipeline does not allow; fix the log, or pass --lenient to accept it",
            file=sys.stderr,
        )
        return 1
    return 0


@contextlib.contextmanager
def _dates_in_range() -> Iterator[None]:
    """A date computed past the year 9999 (the horizon after ``--as-of`` or after the
    last event) as one line saying which options to change."""
    try:
        yield
    except OverflowError:
        raise CliError(
            "a date the report computes (the forecast horizon after --as-of, or after the "
            "last event) falls after the year 9999; give a shorter --horizon or an earlier "
            "--as-of"
        ) from None


def _warn(source: EventSource) -> None:
    """Print what reading ``source`` skipped (a torn last line) on standard error."""
    for warning in source.warnings:
        print(f"salesstages: warning: {terminal(redact(warning))}", file=sys.stderr)


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
    check_outputs({"--out": args.out}, {"SOURCE": args.events})
    source = event_source(args.events, table=args.table)
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
    source = event_source(args.events, complete=False, table=args.table)
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
    if source.unverified_lines:
        print(
            f"salesstages: note: {terminal(source.name)}: {source.unverified_lines:,} lines "
            "carry no checksum (written before format 2 of the JSON Lines store), so damage "
            "to them cannot be detected; appends from now on are checksummed",
            file=sys.stderr,
        )
    _refuse_foreign_log(events, pipeline)
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


def _refuse_foreign_log(events: Sequence[Event], pipeline: Pipeline) -> None:
    """One line, as ``report`` says it, when most of the stages the log enters are not
    the pipeline's: it was written with another pipeline, and listing every event as a
    problem (some wrongly: a move judged on a stage that does not exist) helps no one.
    A log entering a few unknown stages among known ones has problems to list."""
    entered: dict[str, str] = {}  # stage -> the first deal entering it
    for e in events:
        if e.kind == "stage_entered" and e.stage is not None and e.stage not in entered:
            entered[e.stage] = e.deal_id
    unknown = [s for s in entered if s not in pipeline]
    if not unknown or 2 * len(unknown) <= len(entered):
        return
    shown = ", ".join(terminal(repr(s)) for s in unknown[:5])
    more = f" and {len(unknown) - 5:,} more" if len(unknown) > 5 else ""
    raise CliError(
        f"the log's stages are not the pipeline's: it enters {shown}{more}, which "
        f"{terminal(repr(pipeline.name))} does not have (its stages are "
        f"{', '.join(terminal(s.name) for s in pipeline.stages)}); is this the pipeline "
        "the log was written with?"
    )


def to_dot(pipeline: Pipeline, *, main_path: bool = False) -> str:
    """The pipeline as a Graphviz ``digraph`` (see :meth:`Pipeline.to_dot`)."""
    return pipeline.to_dot(main_path=main_path)


def _cmd_diagram(args: argparse.Namespace) -> int:
    check_outputs({"--out": args.out}, {"--pipeline": args.pipeline})
    pipeline = load_pipeline(args.pipeline)
    if args.format == "dot":
        text = pipeline.to_dot(main_path=args.main_path)
    elif args.format == "json":
        text = json.dumps(pipeline.to_dict(), indent=2, ensure_ascii=False) + "\n"
    else:
        text = pipeline.to_mermaid(main_path=args.main_path)
    _emit(text, args.out)
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from ..report import save_charts
    from ..report._html import CHARTS, PERIOD_CHARTS

    folder = Path(args.out)
    if folder.exists() and not folder.is_dir():
        raise CliError(f"--out {args.out!r} is a file; plot writes its charts into a folder")
    charts: dict[str, str | None] = {
        f"chart {name}.{args.format}": str(folder / f"{name}.{args.format}")
        for name in (*CHARTS, *PERIOD_CHARTS)
    }
    check_outputs(charts, _inputs(args))
    pipeline = load_pipeline(args.pipeline)
    source = event_source(args.events, table=args.table)
    events = source.read()
    _warn(source)
    as_of = as_of_arg(args.as_of, force=args.force)
    if as_of is not None and not args.force:  # issue 22: an as_of before the log
        check_as_of(as_of, first_event(events))
    report = build_report(events, pipeline, as_of=as_of, by=args.by, **period_options(args))
    warn_planning(report)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        paths = save_charts(report, args.out, fmt=args.format)
    # matplotlib's own (a glyph missing for a label's character), once each, escaped
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"salesstages: warning: {terminal(message)}", file=sys.stderr)
    for path in paths:
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
    add_as_of(report)
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
        help=f"forecast horizon (default 30, at most {MAX_HORIZON_DAYS:,})",
    )
    report.add_argument(
        "--engine",
        choices=ENGINES,
        help="python: read every event and compute in this process; duckdb: run the "
        "queries in DuckDB (in PostgreSQL itself for a postgresql:// source) and read "
        "back only aggregates. Default: duckdb for Parquet, DuckDB and PostgreSQL sources "
        "when salesstages[duckdb] is installed, python otherwise",
    )
    report.add_argument(
        "--limit",
        type=_positive_int,
        default=LIMIT,
        metavar="N",
        help=f"list at most N deals (stalled, slipping), those with the largest amounts "
        f"(default {LIMIT}); the heading keeps the total",
    )
    report.add_argument(
        "--deals-csv",
        metavar="FILE",
        help="also write the complete per-deal lists (stalled, slipping) to FILE as CSV",
    )
    add_success_arguments(report)
    report.add_argument(
        "--lenient",
        action="store_true",
        help="exit 0 even when the log breaks the pipeline's rules (`check` lists them); "
        "the report's data-quality section still names them",
    )
    add_period_arguments(report)
    report.add_argument(
        "--calls",
        metavar="FILE.csv",
        help="forecast calls (owner, period, category, amount, at) to score by owner and week",
    )
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
        "--main-path",
        action="store_true",
        help="draw only the main path: each stage to the next, the last one's won and lost "
        "exits, sub-states in order (each criterion once)",
    )
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
    add_as_of(plot)
    plot.add_argument("--by", metavar="ATTR", help="segment the win-rate chart by this attribute")
    add_period_arguments(plot)  # coverage and movement charts too
    plot.set_defaults(func=_cmd_plot)

    add_what_if(sub, _add_common)  # issue 27
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


#: The longest forecast horizon ``report --horizon`` takes, in days (a century).
MAX_HORIZON_DAYS: Final = 36_500


def _horizon(days: int) -> timedelta:
    if days > MAX_HORIZON_DAYS:
        raise CliError(
            f"--horizon {days} days is more than {MAX_HORIZON_DAYS:,} (a century); a "
            "forecast horizon is a few weeks or months"
        )
    return timedelta(days=days)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and text.startswith(("'", '"')) and text.endswith(("'", '"')):
        text = text[1:-1]  # KeyError's str() quotes its message
    return text or type(exc).__name__


def _parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser.parse_args``, but an unknown option is reported by the subcommand's own
    parser (its usage, not the top level's), with the closest option it has."""
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    sub = _subparser(parser, args.command)
    if sub is None:  # pragma: no cover - a command always has its parser
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    known = sorted(o for a in sub._actions for o in a.option_strings if o.startswith("--"))
    hints = []
    for word in extra:
        if word.startswith("-"):
            close = difflib.get_close_matches(word.split("=", 1)[0], known, n=1, cutoff=0.6)
            if close:
                hints.append(f"did you mean {close[0]}?")
    sub.error(
        f"unrecognized arguments: {' '.join(extra)}" + (f" ({' '.join(hints)})" if hints else "")
    )
    raise AssertionError("unreachable")  # pragma: no cover - error() exits


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser | None:
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser | None = action.choices.get(command)
            return found
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on a usage or data error)."""
    parser = _parser()
    args = _parse(parser, argv)
    try:
        # every command is batch work in a process of its own: the command line,
        # as the host, pauses the collector for it (the library never does)
        with bulk():
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
        print(f"salesstages: error: {terminal(redact(_one_line(exc)))}", file=sys.stderr)
        return 2
    except Exception as exc:
        # a database driver's error (psycopg's, raised while Ibis reads a postgresql://
        # source): mapped to the library's types, passwords hidden
        source = str(getattr(args, "events", "") or "")
        mapped = driver_fault(exc, source, str(getattr(args, "table", None) or "events"))
        if mapped is None or args.debug:
            raise
        print(f"salesstages: error: {terminal(redact(_one_line(mapped)))}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
