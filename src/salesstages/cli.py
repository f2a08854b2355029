"""The ``salesstages`` command line (also ``python -m salesstages``).

Nothing in the library imports this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TextIO

from ._deal import Deal
from ._errors import SalesStagesError, TransitionRefused
from ._events import Event
from ._stores import MemoryStore
from .presets import PROPOSAL_SUBSTATES, inbound_b2b

__all__ = ["main"]


def _describe(event: Event) -> str:
    when = event.at.strftime("%Y-%m-%d %H:%M")
    if event.kind == "opened":
        attrs = ", ".join(f"{k}={v!r}" for k, v in event.data.items())
        return f"{when}  opened ({attrs})"
    if event.kind == "stage_entered":
        reason = event.data.get("reason")
        return f"{when}  → {event.stage}" + (f" (reason: {reason})" if reason else "")
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
    acme.move("evaluation", at=day(7))
    acme.record("document_sent", at=day(15), document="proposal")
    acme.move("formal_proposal", at=day(15))
    for i, sub in enumerate(PROPOSAL_SUBSTATES):
        acme.enter_substate(sub, at=day(16 + 3 * i))
    acme.update(at=day(26), amount=52_000)
    acme.win(at=day(30))

    # Globex: lost on price, then reopened and back in evaluation.
    globex = pipeline.open_deal(
        "GLOBEX-7", at=day(3), store=store, amount=20_000, owner="ben", lead_source="referral"
    )
    _meeting(globex, "discovery", day(4))
    globex.move("discovery", at=day(5))
    _meeting(globex, "evaluation", day(9))
    globex.move("evaluation", at=day(10))
    globex.lose(at=day(18), reason="price")
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


def _cmd_demo(args: argparse.Namespace) -> int:
    play_demo(sys.stdout)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salesstages",
        description="Model a B2B sales pipeline in code and measure it.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="play realistic deals through the inbound preset")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on a usage or data error)."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.func(args)
    except (SalesStagesError, OSError) as exc:
        if args.debug:
            raise
        print(f"salesstages: error: {exc}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
