"""``report --success-log FILE --success-pipeline SPEC``: the bow-tie section (issue 25)."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from .._pipeline import Pipeline
from ..report._revenue import bowtie_figures
from ._spec import CliError, event_source, load_pipeline

__all__ = ["add_success_arguments", "bowtie_of_args"]


def add_success_arguments(parser: argparse.ArgumentParser) -> None:
    """The report's ``--success-log`` and ``--success-pipeline`` options."""
    parser.add_argument(
        "--success-log",
        metavar="FILE",
        help="the customer-success log (journeys keyed by account): adds the bow-tie section",
    )
    parser.add_argument(
        "--success-pipeline",
        metavar="SPEC",
        help="the success log's pipeline (a preset name such as customer_success, or a file)",
    )


def bowtie_of_args(
    args: argparse.Namespace, events: Any, pipeline: Pipeline, figures: dict[str, Any]
) -> dict[str, Any] | None:
    """The bow-tie's figures with ``--success-log``, else ``None``."""
    if args.success_log is None:
        return None
    if args.success_pipeline is None:
        raise CliError("--success-log needs --success-pipeline (e.g. customer_success)")
    success_pipeline = load_pipeline(args.success_pipeline)
    with event_source(args.success_log) as success:
        success_events = success.read()
    as_of = figures.get("as_of")
    moment = None if as_of is None else datetime.fromisoformat(as_of)
    return bowtie_figures(events, pipeline, success_events, success_pipeline, moment)
