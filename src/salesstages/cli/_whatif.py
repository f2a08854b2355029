"""``salesstages what-if LOG --pipeline CURRENT --alternative PROPOSED`` (issue 27): which
past deals a proposed rule would have stopped, and how they ended."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..metrics import what_if
from ._spec import add_as_of, as_of_arg, event_source, load_pipeline

__all__ = ["add_what_if"]


def _json_value(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value.total_seconds() / 86_400  # days
    return value


def _cmd_what_if(args: argparse.Namespace) -> int:
    pipeline = load_pipeline(args.pipeline)
    alternative = load_pipeline(args.alternative)
    as_of = as_of_arg(args.as_of, force=args.force)
    with event_source(args.events, table=args.table) as source:
        events = source.read()
    result = what_if(events, pipeline, alternative, as_of=as_of)
    if args.format == "json":
        doc = {
            "groups": [{k: _json_value(v) for k, v in r.items()} for r in result.to_records()],
            "won_share": result.won_share,
            "stopped_deals": [d.to_records()[0] for d in result.stopped_deals],
        }
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        print(
            f"What {alternative.name!r} would have done to the deals of {pipeline.name!r} "
            "(median cycle of the won ones):"
        )
        print(result)
    return 0


def add_what_if(sub: Any, add_common: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add the ``what-if`` command to the command line's sub-parsers."""
    p = sub.add_parser(
        "what-if",
        help="replay the log through a proposed pipeline: which deals would it have stopped?",
        description="Replay each deal's history through an alternative pipeline (the same "
        "stages, other entry criteria or allowed moves) and show the deals it would have "
        "stopped, how they ended, and the share of the won amount they brought.",
    )
    add_common(p)
    p.add_argument(
        "--alternative",
        "-a",
        metavar="SPEC",
        required=True,
        help="the proposed pipeline, given as --pipeline is",
    )
    p.add_argument("--format", "-f", choices=("text", "json"), default="text")
    add_as_of(p)
    p.set_defaults(func=_cmd_what_if)
